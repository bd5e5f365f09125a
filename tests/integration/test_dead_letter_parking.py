"""Issue 12 item 10 on the real broker: a message is acknowledged only once its parked copy is
confirmed and routed to the dead-letter queue, and one unroutable event does not stop the outbox
relay. A vhost of the test's own on the shared broker; one always-failing service (failing_service.py)."""

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from kombu import Connection
from pymongo import MongoClient
from pymongo.database import Database

from deploy.local.stack import BIN, ROOT, Stack
from egov.payments.v1.events_pb2 import BillIssued
from egov.payments.v1.payments_pb2 import Bill
from egov.procedures.v1.events_pb2 import DossierRef, DossierSubmitted
from services.common.events.broker import EventPublisher
from services.common.events.envelope import encode, new_event
from services.common.topology import ARCHIVE_STREAM, subscription
from tests.support import eventually


class Running:
    def __init__(self, stack: Stack, db: Database) -> None:  # type: ignore[type-arg]
        self.stack, self.db = stack, db

    def delete_queue(self, name: str) -> None:
        with Connection(self.stack.amqp_uri) as connection:
            connection.channel().queue_delete(name)

    def queued(self, name: str) -> int:
        with Connection(self.stack.amqp_uri) as connection:
            return int(connection.channel().queue_declare(name, passive=True).message_count)


@pytest.fixture(scope="module")
def running(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Running]:
    stack = Stack(Path(tmp_path_factory.mktemp("parking")))
    stack.start(services=(), gateway=False)
    mongo: MongoClient = MongoClient(stack.mongo_uri, tz_aware=True)  # type: ignore[type-arg]
    try:
        argv = [str(BIN / "nameko"), "run", "--config", str(ROOT / "deploy" / "nameko.yaml"),
                "tests.integration.failing_service:FailingPayments"]
        stack.spawn("payments", argv, {**stack.service_env("payments"), "EGOV_RETRY_BASE_SECONDS": "0.01",
                                       "EGOV_OUTBOX_RELAY_SECONDS": "0.2"})
        stack.wait_for_service("payments")        # its Store has declared the topology by now
        yield Running(stack, mongo["egov_payments"])
    finally:
        mongo.close()
        stack.stop()


def test_a_message_whose_attempts_are_spent_is_parked_in_its_dead_letter_queue(running: Running) -> None:
    """The ordinary path, `mandatory` included: the copy is routed, confirmed, and the original acked."""
    dlq = subscription("payments").dead_letter_queue
    event = new_event(DossierSubmitted(dossier=DossierRef(code="X-parked")), source="/test", subject="X-parked")
    publisher = EventPublisher(running.stack.amqp_uri)
    publisher.publish(event)
    publisher.close()
    eventually(lambda: running.queued(dlq) == 1, "the parked copy in the dead-letter queue", timeout=60)
    assert running.db["attempts"].count_documents({"event_id": event.id}) == 5
    assert running.queued(subscription("payments").queue) == 0


def test_a_message_whose_parked_copy_is_returned_is_not_acknowledged(running: Running) -> None:
    """No dead-letter queue bound: the copy parked on the last attempt comes back (`mandatory`), so
    the original is returned to its queue and delivered once more, instead of being acknowledged
    and lost. (Past the queue's own delivery limit the broker dead-letters it itself.)"""
    running.delete_queue(subscription("payments").dead_letter_queue)
    event = new_event(DossierSubmitted(dossier=DossierRef(code="X-parking")), source="/test", subject="X-parking")
    publisher = EventPublisher(running.stack.amqp_uri)
    publisher.publish(event)
    publisher.close()
    limit = 5                                     # services.common.topology.DELIVERY_LIMIT: parked on attempt 5
    eventually(lambda: running.db["attempts"].count_documents({"event_id": event.id}) > limit,
               "a delivery after the parked copy was returned", timeout=60)


def test_an_unroutable_event_does_not_block_the_outbox_relay(running: Running) -> None:
    """Without the archive stream (bound to every type) an event of a type nobody subscribes to is
    returned by the broker. The relay sets it aside with a back-off and publishes the events after it."""
    running.delete_queue(ARCHIVE_STREAM)
    queued_before = running.queued(subscription("notifications").queue)
    old = datetime.now(UTC) - timedelta(minutes=5)
    # payments' own types (its broker user publishes nothing else): a Bill is no event, so no queue
    # is bound for its type; notifications' queue takes BillIssued.
    nobody = new_event(Bill(dossier_code="X-nobody"), source="/test", subject="X-nobody")
    routed = new_event(BillIssued(dossier_code="X-routed"), source="/test", subject="X-routed")
    running.db["outbox"].insert_many([
        {"_id": e.id, "type": e.type, "body": encode(e), "published": False, "created_at": old + timedelta(seconds=i)}
        for i, e in enumerate((nobody, routed))])
    eventually(lambda: (running.db["outbox"].find_one({"_id": routed.id}) or {}).get("published") is True,
               "the routable event after the unroutable one published", timeout=30)
    set_aside = running.db["outbox"].find_one({"_id": nobody.id}) or {}     # set aside before the others were marked
    assert set_aside["published"] is False and set_aside["unroutable_count"] >= 1
    assert set_aside["relay_not_before"] > datetime.now(UTC)          # tried again only after a back-off
    assert running.queued(subscription("notifications").queue) == queued_before + 1     # the routed one


def test_an_event_the_service_may_not_publish_is_set_aside_and_the_rest_go(running: Running) -> None:
    """With its own broker user (the local stack's, as in compose and Kubernetes) payments may publish
    only egov.payments.v1.*: an event of another type in its outbox is refused, set aside, and the
    events after it still go."""
    old = datetime.now(UTC) - timedelta(minutes=5)
    forbidden = new_event(DossierSubmitted(dossier=DossierRef(code="X-forbidden")), source="/test", subject="X-f")
    routed = new_event(BillIssued(dossier_code="X-after"), source="/test", subject="X-after")
    queued_before = running.queued(subscription("notifications").queue)
    running.db["outbox"].insert_many([
        {"_id": e.id, "type": e.type, "body": encode(e), "published": False, "created_at": old + timedelta(seconds=i)}
        for i, e in enumerate((forbidden, routed))])
    eventually(lambda: (running.db["outbox"].find_one({"_id": routed.id}) or {}).get("published") is True,
               "the event after the refused one published", timeout=30)
    set_aside = running.db["outbox"].find_one({"_id": forbidden.id}) or {}
    assert set_aside["published"] is False and set_aside["unroutable_count"] >= 1
    assert running.queued(subscription("notifications").queue) == queued_before + 1
