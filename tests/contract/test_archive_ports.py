"""One contract per archive port, held by the real adapter and its in-memory twin alike: the index
(MongoDB vs InMemoryArchive), the broker and the dead-letter queues (RabbitMQ vs InMemoryBroker,
InMemoryDeadLetters), the sender (the windowed-confirm engine vs RecordingSender)."""

import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import pika
import pytest

from egov.payments.v1.events_pb2 import PaymentSettled
from services.archive.adapters.broker import RabbitBroker
from services.archive.adapters.dead_letters import RabbitDeadLetters
from services.archive.adapters.index import ArchiveIndex
from services.archive.adapters.sender import BrokerSender
from services.archive.domain.query import EventQuery
from services.archive.fakes import InMemoryArchive, InMemoryBroker, InMemoryDeadLetters, RecordingSender
from services.archive.ports import Broker, DeadLetterQueues, EventArchive, Sender
from services.archive.replay.publisher import Outgoing
from services.archive.replay.sources import BatchSource
from services.common.errors import NotFound
from services.common.events.broker import declare_topology
from services.common.events.dlq import parked_headers
from services.common.events.envelope import CONTENT_TYPE, encode, new_event
from services.common.topology import subscription
from tests.contract.scratch import scratch_database
from tests.support import eventually

SETTLED = "egov.payments.v1.PaymentSettled"


def settled(code: str) -> bytes:
    return encode(new_event(PaymentSettled(dossier_code=code), source="/egov/payments", subject=code,
                            correlation_id=code))


# -- the index ---------------------------------------------------------------------------------------

@pytest.fixture(params=["memory", "mongo"])
def archive(request: pytest.FixtureRequest) -> Iterator[EventArchive]:
    if request.param == "memory":
        yield InMemoryArchive()
        return
    with scratch_database(request.getfixturevalue("mongo_uri")) as db:
        index = ArchiveIndex(db)
        index.ensure_indexes()
        yield index


def test_the_index_records_once_and_answers_every_question(archive: EventArchive) -> None:
    bodies = [settled(f"A-{i}") for i in range(5)]
    assert archive.position() is None
    assert archive.record(list(enumerate(bodies))) == 5
    assert archive.record([(0, bodies[0])]) == 0            # the same message again changes nothing
    assert archive.position() == 4
    everything = EventQuery()
    assert archive.count(everything) == 5 and archive.counts_by_type(everything) == {SETTLED: 5}
    assert [d["subject"] for d in archive.search(everything, 2)] == ["A-4", "A-3"]
    assert "envelope" not in archive.search(everything, 1)[0]
    assert archive.offsets(EventQuery(from_offset=1, to_offset=3)) == [1, 2, 3]
    assert archive.offsets(EventQuery(correlation_id="A-2")) == [2]
    batches = list(archive.envelopes(everything, 1, 4, batch=2))
    assert [[d["offset"] for d in b] for b in batches] == [[1, 2], [3, 4]]
    assert bytes(batches[0][0]["envelope"]) == bodies[1]
    assert [d["offset"] for d in archive.in_order(everything, after=2)] == [3, 4]
    assert [d["offset"] for d in archive.in_order(everything, after=-1, limit=2)] == [0, 1]
    first = archive.in_order(everything, limit=1)[0]
    assert archive.get(first["_id"])["offset"] == 0          # type: ignore[index]
    assert archive.get("nope") is None


# -- the broker and the dead letters -------------------------------------------------------------------

@dataclass
class Plumbing:
    broker: Broker
    dead_letters: DeadLetterQueues
    park: Callable[[str, bytes, dict[str, Any], str], None]
    drain: Callable[[str], list[dict[str, Any]]]


@pytest.fixture(params=["memory", "rabbitmq"])
def plumbing(request: pytest.FixtureRequest) -> Plumbing:
    if request.param == "memory":
        broker = InMemoryBroker()
        dlq = InMemoryDeadLetters(broker)

        def drain_memory(queue: str) -> list[dict[str, Any]]:
            taken, broker.queues[queue] = broker.queues[queue], []
            return [m.headers for m in taken]
        return Plumbing(broker, dlq, dlq.park, drain_memory)
    return rabbit_plumbing(request.getfixturevalue("amqp_uri"))


def rabbit_plumbing(amqp_uri: str) -> Plumbing:
    declare_topology(amqp_uri)
    for sub in ("procedures", "payments"):
        for queue in (subscription(sub).queue, subscription(sub).dead_letter_queue):
            _channel_do(amqp_uri, lambda ch, q=queue: ch.queue_purge(q))

    def park(service: str, body: bytes, headers: dict[str, Any], message_id: str) -> None:
        properties = pika.BasicProperties(content_type=CONTENT_TYPE, headers=headers, message_id=message_id,
                                          delivery_mode=2)
        _channel_do(amqp_uri, lambda ch: ch.basic_publish("", subscription(service).dead_letter_queue, body,
                                                          properties))

    def drain(queue: str) -> list[dict[str, Any]]:
        found: list[dict[str, Any]] = []

        def take(ch: Any) -> None:
            while (got := ch.basic_get(queue, auto_ack=True))[0] is not None:
                found.append(got[1].headers or {})
        _channel_do(amqp_uri, take)
        return found

    return Plumbing(RabbitBroker(amqp_uri), RabbitDeadLetters(amqp_uri), park, drain)


def _channel_do(amqp_uri: str, work: Callable[[Any], Any]) -> None:
    connection = pika.BlockingConnection(pika.URLParameters(amqp_uri))
    try:
        work(connection.channel())
    finally:
        connection.close()


def park_some(plumbing: Plumbing, count: int) -> None:
    for i in range(count):
        headers = parked_headers({"ce_type": SETTLED}, service="procedures", error=f"boom {i}", attempts=5)
        plumbing.park("procedures", settled(f"P-{i}"), headers, f"P-{i}")


def test_depths_and_queues(plumbing: Plumbing) -> None:
    assert plumbing.broker.depth("egov.procedures.events.dlq") == 0
    assert plumbing.broker.depth(f"no-such-{uuid.uuid4().hex[:6]}") is None
    with pytest.raises(NotFound):
        plumbing.broker.ensure_queue(f"no-such-{uuid.uuid4().hex[:6]}", create=False)
    name = f"agency-{uuid.uuid4().hex[:6]}"
    assert plumbing.broker.ensure_queue(name, create=True) is True
    assert plumbing.broker.ensure_queue(name, create=True) is False
    assert plumbing.broker.depth(name) == 0


def test_a_sweep_acts_on_the_chosen_and_keeps_the_rest_in_order(plumbing: Plumbing) -> None:
    park_some(plumbing, 4)
    shown = plumbing.dead_letters.parked("procedures", 10)
    assert [(m.subject, m.error, m.attempts) for m in shown][:2] == [("P-0", "boom 0", 5), ("P-1", "boom 1", 5)]
    paced: list[str] = []
    chosen = plumbing.dead_letters.sweep("procedures", lambda m: m.subject != "P-0", "redrive", 2,
                                         lambda: paced.append("tick"))
    assert [m.subject for m in chosen] == ["P-1", "P-2"] and paced == ["tick", "tick"]
    # What a sweep put back is visible again once the broker has requeued it (a moment on RabbitMQ).
    eventually(lambda: [m.subject for m in plumbing.dead_letters.parked("procedures", 10)] == ["P-0", "P-3"],
               "the messages the sweep left to be parked again, in order")
    redriven = plumbing.drain("egov.procedures.events")
    assert len(redriven) == 2 and all("egov-error" not in h and "egov-redriven-at" in h for h in redriven)
    assert [m.subject for m in plumbing.dead_letters.sweep("procedures", lambda m: True, None, None, lambda: None)] \
        == ["P-0", "P-3"]                                   # a dry run changes nothing
    assert plumbing.broker.depth("egov.procedures.events.dlq") == 2
    plumbing.dead_letters.sweep("procedures", lambda m: m.subject == "P-3", "purge", None, lambda: None)
    eventually(lambda: [m.subject for m in plumbing.dead_letters.parked("procedures", 10)] == ["P-0"],
               "only P-0 left parked after the purge")
    assert plumbing.drain("egov.procedures.events") == []


# -- the sender ------------------------------------------------------------------------------------------

@pytest.fixture(params=["memory", "rabbitmq"])
def sending(request: pytest.FixtureRequest) -> tuple[Sender, Plumbing]:
    if request.param == "memory":
        broker = InMemoryBroker()
        return RecordingSender(broker), Plumbing(broker, InMemoryDeadLetters(broker), lambda *a: None,
                                                 lambda q: [m.headers for m in broker.queues.pop(q, [])])
    amqp_uri = request.getfixturevalue("amqp_uri")
    return BrokerSender(amqp_uri, stop_on_signals=False), rabbit_plumbing(amqp_uri)


def test_a_sender_delivers_the_offsets_in_order_with_the_headers(sending: tuple[Sender, Plumbing]) -> None:
    sender, plumbing = sending
    queue = f"replay-{uuid.uuid4().hex[:6]}"
    plumbing.broker.ensure_queue(queue, create=True)
    items = {o: Outgoing(o, f"m-{o}", {"ce_type": SETTLED, "ce_subject": f"S-{o}"}, settled(f"S-{o}"))
             for o in (3, 5, 8)}

    def read(offsets: Any) -> BatchSource:
        return BatchSource([[items[o] for o in offsets]])

    result = sender.send(queue, [3, 5, 8], read, headers={"egov-replay": "now"}, rate=None, checkpoint=None,
                         window=10, on_tick=None)
    assert (result.selected, result.stats.confirmed, result.skipped) == (3, 3, 0)
    delivered = plumbing.drain(queue)
    assert [h["ce_subject"] for h in delivered] == ["S-3", "S-5", "S-8"]
    assert all(h["egov-replay"] == "now" for h in delivered)


def test_the_stream_end_is_the_last_offset_published(amqp_uri: str) -> None:
    fake = InMemoryBroker()
    assert fake.stream_end() is None
    fake.stream.extend([0, 1, 2])
    real = RabbitBroker(amqp_uri)
    declare_topology(amqp_uri)
    before = real.stream_end()
    bodies = [settled(f"T-{i}") for i in range(3)]
    _channel_do(amqp_uri, lambda ch: [ch.basic_publish("egov.events", SETTLED, body, pika.BasicProperties(
        content_type=CONTENT_TYPE, delivery_mode=2)) for body in bodies])
    after = real.stream_end()
    assert after is not None and after == (before if before is not None else -1) + 3
    assert fake.stream_end() == 2
