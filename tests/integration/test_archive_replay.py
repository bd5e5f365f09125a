"""The archive service, `egov-events` (search, show, replay, dlq) and the consumer runtime's retries,
dead letters and rebuild mode, as real processes on the real broker (a vhost of their own).

The consumer here is a probe service (below) standing in as "identity", whose queue no event is
bound to: it counts how often its handler ran for each event, and refuses a "refuse" payload
while a fault switch is on in its database, so nothing in the platform's services is changed for
a test.


Over 300 lines: the tests share one module-scoped stack (started once), so they stay together."""

import json
import re
import signal
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pika
import pytest
from nameko.rpc import rpc
from pymongo import MongoClient

from bench.replay_bench import start_archive
from deploy.local.stack import BIN, ROOT, Stack
from egov.events.v1.cloud_event_pb2 import CloudEvent
from egov.notifications.v1.events_pb2 import NotificationSent
from egov.payments.v1.events_pb2 import PaymentSettled
from services.common.events.broker import EventPublisher
from services.common.events.envelope import CONTENT_TYPE, decode, encode, event_type, new_event
from services.common.mongo_store import OUTBOX, Transaction
from services.common.runtime.entrypoints import consume_events
from services.common.runtime.store import Store
from tests.support import EventTap, eventually

PROBE = "identity"
PROBE_QUEUE = "egov.identity.events"
PROBE_DB = "egov_identity"


# -- the probe consumer (runs in its own nameko process) ------------------------------------------------
def count_run(tx: Transaction, payload: NotificationSent, event: CloudEvent) -> None:
    if payload.template == "refuse" and tx.db["faults"].find_one({"_id": "refuse"}, session=tx.session):
        raise ValueError(f"notification {payload.notification_id} refused while the fault is on")
    tx.db["runs"].update_one({"_id": event.id}, {"$inc": {"n": 1}}, upsert=True, session=tx.session)
    tx.emit(NotificationSent(notification_id=f"echo-{payload.notification_id}", template="echo"),
            subject=f"echo-{event.subject}", correlation_id="echo")   # not in the tests' replay selections


PROBE_HANDLERS = {event_type(NotificationSent): count_run}


class ReplayProbe:
    name = PROBE
    store = Store()

    @rpc  # type: ignore[untyped-decorator]
    def health(self) -> dict[str, str]:
        self.store.db.command("ping")
        return {"status": "ok"}

    @consume_events(PROBE)  # type: ignore[untyped-decorator]
    def on_event(self, body: bytes) -> None:
        self.store.handle_event(decode(body), PROBE_HANDLERS)


# -- helpers shared with test_faults.py ------------------------------------------------------------
def egov_events(stack: Stack, *args: str, check: bool = True, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    """The CLI as the integration team runs it (wide, so tables do not wrap ids)."""
    env = {**stack.env(), "COLUMNS": "250"}
    done = subprocess.run([sys.executable, "-m", "services.archive.cli", *args], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=timeout)
    if check and done.returncode != 0:
        raise AssertionError(f"egov-events {' '.join(args)} exited {done.returncode}:\n{done.stdout}\n{done.stderr}")
    return done


def publish(stack: Stack, events: list[CloudEvent]) -> None:
    publisher = EventPublisher(stack.amqp_uri)
    try:
        for event in events:
            publisher.publish(event)
    finally:
        publisher.close()


def indexed(stack: Stack, events: list[CloudEvent]) -> None:
    archive: Any = MongoClient(stack.mongo_uri)["egov_archive"]["events"]
    ids = [e.id for e in events]
    eventually(lambda: archive.count_documents({"_id": {"$in": ids}}) == len(ids), "the archive to index them")


def drain(amqp_uri: str, queue: str) -> list[str]:
    """The message ids in the queue, in order (removed)."""
    connection = pika.BlockingConnection(pika.URLParameters(amqp_uri))
    ids: list[str] = []
    try:
        channel = connection.channel()
        while True:
            method, props, _body = channel.basic_get(queue, auto_ack=True)
            if method is None:
                return ids
            ids.append(props.message_id)
    finally:
        connection.close()


def ready_count(amqp_uri: str, queue: str) -> int:
    connection = pika.BlockingConnection(pika.URLParameters(amqp_uri))
    try:
        return int(connection.channel().queue_declare(queue, passive=True).method.message_count)
    finally:
        connection.close()


def notification(subject: str, correlation_id: str, template: str = "dossier_accepted") -> CloudEvent:
    return new_event(NotificationSent(notification_id=uuid.uuid4().hex[:8], template=template, dossier_code=subject),
                     source="/egov/notifications", subject=subject, correlation_id=correlation_id)


# -- fixtures --------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    stack = Stack(tmp_path_factory.mktemp("archive"))
    try:
        stack.start(services=(), gateway=False)
        start_archive(stack)
        stack.spawn(PROBE, [str(BIN / "nameko"), "run", "--config", str(ROOT / "deploy" / "nameko.yaml"),
                             "tests.integration.test_archive_replay:ReplayProbe"], stack.service_env(PROBE))
        stack.wait_for_service(PROBE)
        yield stack
    except Exception:
        for log in sorted(stack.logs.glob("*.log")):
            print(f"==== {log.name}\n{log.read_text(errors='replace')[-3000:]}")
        raise
    finally:
        stack.stop()


@pytest.fixture(scope="module")
def probe_db(stack: Stack) -> Any:
    client: MongoClient[Any] = MongoClient(stack.mongo_uri)
    yield client[PROBE_DB]
    client.close()


def runs(probe_db: Any, events: list[CloudEvent]) -> list[int]:
    found = {d["_id"]: d["n"] for d in probe_db["runs"].find({"_id": {"$in": [e.id for e in events]}})}
    return [found.get(e.id, 0) for e in events]


# -- search and show ---------------------------------------------------------------------------------
def test_every_event_is_archived_and_found_by_each_filter(stack: Stack) -> None:
    journey = f"000.00.15.H57-{uuid.uuid4().hex[:6]}"
    bill = f"B-{uuid.uuid4().hex[:6]}"
    notices = [notification(journey, journey) for _ in range(3)]
    settled = new_event(PaymentSettled(bill_id=bill, dossier_code=journey, amount_vnd=50_000, intermediary="paygate"),
                        source="/egov/payments", subject=bill, correlation_id=journey)
    unrelated = notification("another", "another")
    publish(stack, [*notices, settled, unrelated])
    indexed(stack, [*notices, settled, unrelated])

    by_journey = egov_events(stack, "search", "--correlation-id", journey).stdout
    assert "4 archived event(s)" in by_journey
    assert all(e.id in by_journey for e in [*notices, settled]) and unrelated.id not in by_journey
    by_subject = egov_events(stack, "search", "--subject", bill).stdout
    assert settled.id in by_subject and "1 archived event(s)" in by_subject
    by_type = egov_events(stack, "search", "--type", "egov.payments.v1.PaymentSettled", "--source",
                          "/egov/payments", "--correlation-id", journey).stdout
    assert settled.id in by_type and notices[0].id not in by_type
    future = egov_events(stack, "search", "--correlation-id", journey, "--since", "2100-01-01").stdout
    assert "0 archived event(s)" in future
    refused = egov_events(stack, "search", "--since", "2026-02-01", "--until", "2026-01-01", check=False)
    assert refused.returncode == 1 and "--since" in refused.stderr

    shown = egov_events(stack, "show", settled.id).stdout
    assert "egov.payments.v1.PaymentSettled" in shown and f"{journey}" in shown
    payload = json.loads(shown[shown.index("{"):])
    assert payload["data"]["bill_id"] == bill and payload["data"]["amount_vnd"] == "50000"
    missing = egov_events(stack, "show", "no-such-event", check=False)
    assert missing.returncode == 1 and "no archived event" in missing.stderr


# -- replay ------------------------------------------------------------------------------------------
@pytest.mark.parametrize("read_from", ["index", "stream"])
def test_replay_sends_the_selection_in_archive_order_to_one_queue_only(stack: Stack, read_from: str) -> None:
    journey = f"J-{uuid.uuid4().hex[:6]}"
    events = [notification(f"{journey}-{i}", journey) for i in range(20)]
    publish(stack, events)
    indexed(stack, events)
    queue = f"agency-x.{uuid.uuid4().hex[:6]}"

    dry = egov_events(stack, "replay", "--correlation-id", journey, "--to-queue", queue, "--dry-run").stdout
    assert "20 event(s) would go to" in dry and "egov.notifications.v1.NotificationSent" in dry
    assert "nothing sent" in dry
    refused = egov_events(stack, "replay", "--correlation-id", journey, "--dry-run", check=False)
    assert refused.returncode == 1 and "exactly one target" in refused.stderr

    tap = EventTap(stack.amqp_uri)
    done = egov_events(stack, "replay", "--correlation-id", journey, "--to-queue", queue,
                       "--read-from", read_from).stdout
    assert "summary: sent 20, skipped 0" in done and f"declared queue {queue}" in done
    assert drain(stack.amqp_uri, queue) == [e.id for e in events]
    assert tap.drain() == []        # nothing went through the events exchange
    tap.close()


def _replay_argv(journey: str, queue: str, checkpoint: Path, *extra: str) -> list[str]:
    return [sys.executable, "-m", "services.archive.cli", "replay", "--correlation-id", journey, "--to-queue", queue,
            "--checkpoint", str(checkpoint), *extra]


@pytest.mark.parametrize("interruption", [signal.SIGINT, signal.SIGKILL], ids=["ctrl-c", "kill"])
def test_an_interrupted_replay_resumes_from_its_checkpoint(stack: Stack, tmp_path: Path,
                                                           interruption: signal.Signals) -> None:
    journey = f"J-{uuid.uuid4().hex[:6]}"
    events = [notification(f"{journey}-{i}", journey) for i in range(300)]
    publish(stack, events)
    indexed(stack, events)
    queue = f"agency-y.{uuid.uuid4().hex[:6]}"
    checkpoint = tmp_path / "replay.ckpt"
    env = {**stack.env(), "COLUMNS": "250"}

    # Read from the stream here, the index elsewhere: both sources resume the same way.
    slow = subprocess.Popen(_replay_argv(journey, queue, checkpoint, "--rate", "100", "--read-from", "stream"),
                            cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        eventually(lambda: checkpoint.exists() and json.loads(checkpoint.read_text())["sent"] >= 50,
                   "the first 50 to be sent")
        slow.send_signal(interruption)
        output, _ = slow.communicate(timeout=30)
    finally:
        if slow.poll() is None:
            slow.kill()
    sent_before = json.loads(checkpoint.read_text())["sent"]
    assert 50 <= sent_before < 300
    if interruption == signal.SIGINT:
        assert slow.returncode == 130 and "interrupted" in output and f"summary: sent {sent_before}," in output

    resumed = subprocess.run(_replay_argv(journey, queue, checkpoint), cwd=ROOT, env=env, capture_output=True,
                             text=True, timeout=60)
    assert resumed.returncode == 0, resumed.stdout + resumed.stderr
    skipped = int(re.search(r"skipped (\d+)", resumed.stdout).group(1))  # type: ignore[union-attr]
    assert skipped == sent_before
    received = drain(stack.amqp_uri, queue)
    assert set(received) == {e.id for e in events}
    if interruption == signal.SIGINT:
        assert received == [e.id for e in events]      # a graceful stop leaves nothing unconfirmed
    else:
        # A kill loses at most what was confirmed after the last checkpoint write: sent again.
        assert len(received) - len(events) <= 100


def test_a_replayed_event_changes_nothing_unless_rebuild_mode_asks(stack: Stack, probe_db: Any) -> None:
    journey = f"J-{uuid.uuid4().hex[:6]}"
    events = [notification(f"{journey}-{i}", journey) for i in range(3)]
    publish(stack, events)
    indexed(stack, events)
    outbox_before = probe_db[OUTBOX].count_documents({})

    egov_events(stack, "replay", "--correlation-id", journey, "--to-queue", PROBE_QUEUE)
    eventually(lambda: runs(probe_db, events) == [1, 1, 1], "the probe to handle each once")
    echoes = probe_db[OUTBOX].count_documents({})
    assert echoes == outbox_before + 3

    egov_events(stack, "replay", "--correlation-id", journey, "--to-queue", PROBE_QUEUE)
    eventually(lambda: ready_count(stack.amqp_uri, PROBE_QUEUE) == 0, "the duplicates to be consumed")
    rebuilt = egov_events(stack, "replay", "--correlation-id", journey, "--to-queue", PROBE_QUEUE, "--rebuild").stdout
    assert "rebuild mode" in rebuilt
    # Delivered after the plain duplicates, the rebuild copies run the handler once more each; the
    # duplicates before them changed nothing, and the rebuild's own emitted events are dropped.
    eventually(lambda: runs(probe_db, events) == [2, 2, 2], "the rebuild to reprocess each once")
    assert probe_db[OUTBOX].count_documents({}) == echoes
    assert probe_db["inbox"].count_documents({"_id": {"$in": [f"{PROBE}:{e.id}" for e in events]},
                                              "rebuilt_at": {"$exists": True}}) == 3


# -- retries and dead letters ------------------------------------------------------------------------
def _to_probe(stack: Stack, events: list[CloudEvent]) -> None:
    connection = pika.BlockingConnection(pika.URLParameters(stack.amqp_uri))
    channel = connection.channel()
    channel.confirm_delivery()
    for event in events:
        channel.basic_publish("", PROBE_QUEUE, encode(event), pika.BasicProperties(
            content_type=CONTENT_TYPE, content_encoding="binary", delivery_mode=2, message_id=event.id))
    connection.close()


def test_a_failing_handler_backs_off_then_parks_with_its_error_and_redrive_completes_it(
        stack: Stack, probe_db: Any) -> None:
    probe_db["faults"].replace_one({"_id": "refuse"}, {"_id": "refuse"}, upsert=True)
    poison = notification("P-1", "P-1", template="refuse")
    others = [notification(f"O-{i}", "O") for i in range(5)]
    _to_probe(stack, [poison, *others])

    eventually(lambda: runs(probe_db, others) == [1] * 5, "the other messages to be handled")
    assert runs(probe_db, [poison]) == [0]
    def parked_listing() -> str:
        out = egov_events(stack, "dlq", "list").stdout
        return out if re.search(r"identity\W+\d+\W+1\b", out) else ""

    listing = eventually(parked_listing, "the poison message to be parked")
    assert re.search(r"payments\W+\d+\W+0\b", listing)
    shown = egov_events(stack, "dlq", "show", PROBE).stdout
    assert poison.id in shown and "egov.notifications.v1.NotificationSent" in shown
    assert "ValueError: notification" in shown and "refused while the fault is on" in shown
    assert re.search(rf"{poison.id}.*\W5\W", shown)
    log = (stack.logs / f"{PROBE}.log").read_text()
    planned = re.findall(rf"event {poison.id} failed on attempt (\d)/5 .* retrying in ([\d.]+) s", log)
    assert planned == [("1", "0.2"), ("2", "0.4"), ("3", "0.8"), ("4", "1.6")]

    probe_db["faults"].delete_one({"_id": "refuse"})
    assert "re-drove 1 message(s)" in egov_events(stack, "dlq", "redrive", PROBE).stdout
    eventually(lambda: runs(probe_db, [poison]) == [1], "the re-driven message to be handled")
    assert "0 parked" in egov_events(stack, "dlq", "show", PROBE).stdout


def test_purging_dead_letters_needs_yes(stack: Stack, probe_db: Any) -> None:
    probe_db["faults"].replace_one({"_id": "refuse"}, {"_id": "refuse"}, upsert=True)
    try:
        _to_probe(stack, [notification("P-2", "P-2", template="refuse")])
        eventually(lambda: "1 parked" in egov_events(stack, "dlq", "show", PROBE).stdout, "a parked message")
    finally:
        probe_db["faults"].delete_one({"_id": "refuse"})
    refused = egov_events(stack, "dlq", "purge", PROBE, check=False)
    assert refused.returncode == 1 and "--yes" in refused.stderr
    assert "1 parked" in egov_events(stack, "dlq", "show", PROBE).stdout
    assert "purged 1 message(s)" in egov_events(stack, "dlq", "purge", PROBE, "--yes").stdout
    unknown = egov_events(stack, "dlq", "show", "nobody", check=False)
    assert unknown.returncode == 1 and "no service" in unknown.stderr
