"""The platform under faults: every service, the gateway and the archive as real processes on a
RabbitMQ node of this module's own (tests/integration/private_broker.py), so the broker can be
restarted without touching anyone else's.

What each test proves is what a citizen or an agency would see: every dossier completes, its fee
is settled once, each e-mail arrives once, and a poison message waits in a dead-letter queue
(with its error) instead of blocking the rest.


Over 300 lines: the tests share one module-scoped stack (started once), so they stay together."""

import json
import random
import re
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar

import grpc
import pika
import pytest
from nameko.standalone.rpc import ClusterRpcClient
from pymongo import MongoClient

from bench.replay_bench import archive, raw_publish_rate, start_archive, synthetic_events
from deploy.local.journey import Citizen, Journey, one_stop_roles, read_mailbox, residents, wait_until
from deploy.local.stack import ROOT, SERVICES, Stack
from egov.gateway.v1.events_pb2 import MessageLogAnchored
from egov.procedures.v1 import procedures_pb2 as pp
from egov.procedures.v1.events_pb2 import DossierRef, DossierResultIssued
from services.common.events.envelope import CONTENT_TYPE, encode, event_type, new_event
from services.common.operator_signing import sign_as_operator
from services.common.topology import SUBSCRIPTIONS, subscription
from tests.integration.private_broker import PrivateBroker
from tests.integration.test_archive_replay import drain, egov_events
from tests.support import EventTap, eventually

T = TypeVar("T")
SERVANT_PASSWORD = "can-bo-mot-cua-2026"
TRANSIENT = (grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.DEADLINE_EXCEEDED, grpc.StatusCode.INTERNAL,
             grpc.StatusCode.UNKNOWN, grpc.StatusCode.NOT_FOUND, grpc.StatusCode.FAILED_PRECONDITION)
# Not state a replay may change: the inbox and outbox, and procedures' replicas reporting every few
# seconds which catalogue version they serve (catalogue_readers).
BOOKKEEPING = {"inbox", "outbox", "catalogue_readers"}
# A service killed inside a database transaction leaves that transaction's locks until the
# database expires it (60 s, MongoDB's and SecantusDB's transaction lifetime): the redelivered
# event waits that long for the same documents. Slow then, never lost or doubled.
PATIENCE = 150.0
SETTLED = "egov.payments.v1.PaymentSettled"


def retrying(call: Callable[[], T], what: str, timeout: float = PATIENCE) -> T:
    """A citizen's app: a call the platform could not answer just now is tried again."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            return call()
        except (grpc.RpcError, OSError) as exc:
            code = exc.code() if isinstance(exc, grpc.RpcError) else None
            if (code is not None and code not in TRANSIENT) or time.monotonic() > deadline:
                raise AssertionError(f"{what}: {exc}") from exc
            time.sleep(0.2)


@dataclass
class Platform:
    stack: Stack
    broker: PrivateBroker
    journey: Journey
    mongo: MongoClient  # type: ignore[type-arg]
    citizens: list[Citizen]
    procedure: pp.Procedure
    officer: str

    def dossier(self, code: str) -> pp.Dossier:
        return self.journey.dossier(self.officer, code)

    def run_journey(self, index: int) -> str:
        """One level-4 dossier from submission to completion; its code."""
        citizen = self.citizens[index % len(self.citizens)]
        j = self.journey
        dossier = retrying(lambda: j.submit(citizen, self.procedure), "submit")
        retrying(lambda: j.pay(citizen, dossier.code), "pay")
        retrying(lambda: self._receive(dossier.code), f"{dossier.code} accepted")
        retrying(lambda: self._work(dossier.code), f"work on {dossier.code}")
        retrying(lambda: j.wait_status(citizen.token, dossier.code, pp.DOSSIER_STATUS_COMPLETED, 10),
                 f"{dossier.code} completed")
        return str(dossier.code)

    def _receive(self, code: str) -> None:
        """The desk accepts it once the payment has settled, unless an earlier try already did."""
        def paid() -> pp.Dossier | None:
            current = self.dossier(code)
            return None if current.status == pp.DOSSIER_STATUS_AWAITING_PAYMENT else current

        if wait_until(paid, f"{code} paid", 10).status == pp.DOSSIER_STATUS_SUBMITTED:
            self.journey.receive(self.officer, code)

    def _work(self, code: str) -> None:
        """The officer's steps, unless an earlier try already did them."""
        current = retrying(lambda: self.dossier(code), "get dossier")
        if current.status == pp.DOSSIER_STATUS_IN_PROGRESS:
            self.journey.work(self.officer, code)

    def run_journeys(self, count: int, during: Callable[[], None] | None = None) -> list[str]:
        with ThreadPoolExecutor(max_workers=min(count, 6)) as pool:
            futures = [pool.submit(self.run_journey, i) for i in range(count)]
            if during is not None:
                during()
            return [f.result() for f in futures]

    # -- what users see ----------------------------------------------------------------------------
    def settled(self, code: str) -> int:
        return int(self.mongo["egov_archive"]["events"].count_documents({"type": SETTLED, "correlation_id": code}))

    def emails(self, code: str) -> list[dict[str, Any]]:
        mailbox = f"http://127.0.0.1:{self.stack.ports.mailbox_http}"
        return [m for c in self.citizens for m in read_mailbox(mailbox, f"{c.citizen_id}@example.vn")
                if code in m["subject"] + m["body"]]

    def queues_idle(self) -> bool:
        listed = self.broker.ctl("list_queues", "name", "messages")
        depths = dict(line.split("\t") for line in listed.strip().splitlines() if "\t" in line)
        return all(depths.get(sub.queue, "0") == "0" for sub in SUBSCRIPTIONS)

    def outboxes_published(self) -> bool:
        return all(self.mongo[f"egov_{name}"]["outbox"].count_documents({"published": False}) == 0
                   for name in SERVICES)

    def notifications_sent(self) -> bool:
        """Nothing left to the retry sweep: a notification a killed worker held is sent once its
        lease ends, or once the server ends the transaction that worker left open (60 s)."""
        return self.mongo["egov_notifications"]["notifications"].count_documents({"status": "PENDING"}) == 0


@pytest.fixture(scope="module")
def platform(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Platform]:
    broker = PrivateBroker(tmp_path_factory.mktemp("broker"))
    stack = Stack(tmp_path_factory.mktemp("faults"), broker_uri=broker.amqp_uri, vhost="")
    mongo: MongoClient = MongoClient(stack.mongo_uri, tz_aware=True)  # type: ignore[type-arg]
    channel: grpc.Channel | None = None
    try:
        broker.start()
        stack.start()
        start_archive(stack)
        channel = grpc.insecure_channel(f"127.0.0.1:{stack.ports.gateway}")
        journey = Journey.of(stack, channel)
        adults = [r for r in residents()[10:] if r["birth_date"] < "2000"]
        citizens = [journey.register_citizen(r) for r in adults[:4]]
        procedure = journey.pick_procedure(level=4, with_fee=True)
        servant = f"cb-{procedure.agency_code}"
        registration = {"civil_servant_id": servant, "full_name": "Trần Văn Bình",
                        "agency_code": procedure.agency_code, "role": "specialist", "password": SERVANT_PASSWORD,
                        "appointments": one_stop_roles(procedure.agency_code)}
        with ClusterRpcClient(uri=stack.amqp_uri, timeout=10) as rpc:
            appointed = rpc.identity.register_civil_servant(request=registration, caller=sign_as_operator(
                "identity", "register_civil_servant", registration, stack.env()))
        officer = journey.civil_servant_token(servant, SERVANT_PASSWORD, appointed["second_factor_uri"])
        yield Platform(stack, broker, journey, mongo, citizens, procedure, officer)
    except Exception:
        for log in sorted(stack.logs.glob("*.log")):
            print(f"==== {log.name}\n{log.read_text(errors='replace')[-3000:]}")
        raise
    finally:
        if channel is not None:
            channel.close()
        mongo.close()
        stack.stop()
        broker.remove()


def assert_each_effect_once(platform: Platform, codes: list[str], emails_per_dossier: int,
                            email_timeout: float = 30) -> None:
    for code in codes:
        assert platform.dossier(code).status == pp.DOSSIER_STATUS_COMPLETED
        assert platform.settled(code) == 1, f"{code}: PaymentSettled {platform.settled(code)} times"
    expected = emails_per_dossier
    eventually(lambda: all(len(platform.emails(c)) == expected for c in codes),
               f"every e-mail of every dossier ({expected} each)", timeout=email_timeout)
    for code in codes:
        subjects = [m["subject"] for m in platform.emails(code)]
        assert len(subjects) == expected, f"{code}: {subjects}"


@pytest.fixture(scope="module")
def emails_per_dossier(platform: Platform) -> int:
    """How many e-mails one undisturbed journey sends (the baseline the faulted ones must match)."""
    code = platform.run_journey(0)
    eventually(lambda: platform.queues_idle(), "the platform to settle")
    return len(eventually(lambda: platform.emails(code), "the e-mails"))


def park_count(platform: Platform, service: str) -> int:
    out = egov_events(platform.stack, "dlq", "list").stdout
    found = re.search(rf"{service}\W+\d+\W+(\d+)", out)
    return int(found.group(1)) if found else -1


# -- (a) poison messages -----------------------------------------------------------------------------
def test_a_malformed_event_is_tried_a_bounded_number_of_times_then_parked_while_journeys_complete(
        platform: Platform, emails_per_dossier: int) -> None:
    poison = new_event(DossierResultIssued(dossier=DossierRef(code=""), result_document_number="1/GP",
                                           delivery=pp.Delivery(method=pp.DELIVERY_METHOD_POST)),
                       source="/egov/procedures", subject="malformed", correlation_id="malformed")
    connection = pika.BlockingConnection(pika.URLParameters(platform.stack.amqp_uri))
    channel = connection.channel()
    channel.confirm_delivery()
    channel.basic_publish("", subscription("postal").queue, encode(poison), pika.BasicProperties(
        content_type=CONTENT_TYPE, content_encoding="binary", delivery_mode=2, message_id=poison.id))
    connection.close()

    codes = platform.run_journeys(3)       # while the poison is retried with back-off
    assert_each_effect_once(platform, codes, emails_per_dossier)
    eventually(lambda: park_count(platform, "postal") == 1, "the poison message to be parked")
    shown = egov_events(platform.stack, "dlq", "show", "postal").stdout
    assert poison.id in shown and "egov.procedures.v1.DossierResultIssued" in shown
    assert "InvalidArgument: dossier.applicant_citizen_id: is required" in shown
    assert re.search(rf"{poison.id}.*\W5\W", shown), shown
    log = (platform.stack.logs / "postal.log").read_text()
    assert len(re.findall(rf"event {poison.id} failed on attempt \d/5", log)) == 4
    assert "purged 1" in egov_events(platform.stack, "dlq", "purge", "postal", "--yes").stdout


def _start_postal_operator(stack: Stack) -> None:
    stack.start_component("sim-postal_operator")


def test_a_journey_parked_while_the_postal_operator_was_down_completes_after_redrive(
        platform: Platform, emails_per_dossier: int) -> None:
    platform.stack.kill("sim-postal_operator", signal.SIGTERM)
    try:
        citizen = platform.citizens[1]
        j = platform.journey
        dossier = j.submit(citizen, platform.procedure)
        j.pay(citizen, dossier.code)
        j.receive(platform.officer, dossier.code)
        issued = j.work(platform.officer, dossier.code)
        assert issued.status == pp.DOSSIER_STATUS_RESULT_ISSUED
        eventually(lambda: park_count(platform, "postal") == 1, "the booking to fail and be parked")
        shown = egov_events(platform.stack, "dlq", "show", "postal").stdout
        assert dossier.code in shown and "Unavailable: postal_operator" in shown
    finally:
        _start_postal_operator(platform.stack)
    assert platform.dossier(dossier.code).status == pp.DOSSIER_STATUS_RESULT_ISSUED
    assert "re-drove 1 message(s)" in egov_events(platform.stack, "dlq", "redrive", "postal").stdout
    j.wait_status(citizen.token, dossier.code, pp.DOSSIER_STATUS_COMPLETED, timeout=60)
    assert park_count(platform, "postal") == 0
    assert_each_effect_once(platform, [dossier.code], emails_per_dossier)


# -- (b) a service killed mid-journey -------------------------------------------------------------------
@pytest.mark.parametrize("service", ["payments", "notifications"])
def test_a_service_killed_mid_journey_and_restarted_completes_every_journey_once(
        platform: Platform, emails_per_dossier: int, service: str) -> None:
    bills = platform.mongo[f"egov_{service}"]
    busy = "bills" if service == "payments" else "notifications"
    before = bills[busy].count_documents({})

    def kill_after_its_first_write() -> None:
        eventually(lambda: bills[busy].count_documents({}) > before, f"{service} to write", timeout=60)
        platform.stack.kill(service)              # SIGKILL: no ack, no publish, no cleanup
        platform.stack.start_service(service)

    codes = platform.run_journeys(6, during=kill_after_its_first_write)
    # E-mails the killed notifications worker had claimed go out when its claim lapses
    # (services/notifications: SEND_LEASE, 60 s), not before: each still exactly once.
    assert_each_effect_once(platform, codes, emails_per_dossier, email_timeout=90)


# -- (c) the broker restarted mid-run --------------------------------------------------------------------
def test_a_broker_restart_mid_run_loses_nothing_and_nobody_restarts(
        platform: Platform, emails_per_dossier: int, tmp_path: Path) -> None:
    pids = {name: proc.pid for name, proc in platform.stack.processes.items()}
    tag = f"restart-{uuid.uuid4().hex[:6]}"
    events = synthetic_events(400, tag)
    archive(platform.stack.amqp_uri, platform.stack.mongo_uri, events)
    queue = f"agency-restart.{uuid.uuid4().hex[:6]}"
    checkpoint = tmp_path / "replay.ckpt"
    replay = subprocess.Popen([sys.executable, "-m", "services.archive.cli", "replay", "--correlation-id", tag,
                               "--to-queue", queue, "--rate", "50", "--checkpoint", str(checkpoint)], cwd=ROOT,
                              env={**platform.stack.env(), "COLUMNS": "200"}, stdout=subprocess.PIPE,
                              stderr=subprocess.STDOUT, text=True)

    def restart_mid_replay() -> None:
        eventually(lambda: checkpoint.exists() and json.loads(checkpoint.read_text())["sent"] >= 50,
                   "the replay to be under way")
        platform.broker.restart()

    try:
        codes = platform.run_journeys(4, during=restart_mid_replay)
        output, _ = replay.communicate(timeout=120)
    finally:
        if replay.poll() is None:
            replay.kill()
    assert replay.returncode == 0, output
    assert "reconnection" in output and "summary: sent" in output
    assert set(drain(platform.stack.amqp_uri, queue)) == {e.message_id for e in events}
    assert_each_effect_once(platform, codes, emails_per_dossier)
    assert {name: proc.pid for name, proc in platform.stack.processes.items()} == pids
    assert all(proc.poll() is None for proc in platform.stack.processes.values())
    later = platform.run_journey(3)                # and the archive still indexes what happens next
    eventually(lambda: platform.settled(later) == 1, "the archive to index events after the restart")


# -- (d) the whole archive replayed to every service, twice and out of order ---------------------------
# The gateway anchors its message log in the archive stream as it seals, whatever replays do: those
# events, and the stream position they move, are not the services' state.
GATEWAY_ANCHORS = {"type": {"$not": {"$regex": "^egov\\.gateway\\."}}}


def snapshot(platform: Platform) -> dict[str, dict[str, list[Any]]]:
    state: dict[str, dict[str, list[Any]]] = {}
    for service in SERVICES:
        db = platform.mongo[f"egov_{service}"]
        state[service] = {name: sorted(db[name].find(GATEWAY_ANCHORS if (service, name) == ("archive", "events")
                                                     else {}), key=lambda d: str(d["_id"]))
                          for name in sorted(db.list_collection_names())
                          if name not in BOOKKEEPING and not name.startswith("system.")
                          and (service, name) != ("archive", "stream_position")}
    return state


def unexpired(state: dict[str, dict[str, list[Any]]], at: datetime) -> dict[str, dict[str, list[Any]]]:
    """The state without the documents whose `expires_at` has passed by `at` (identity's rate counters):
    the database's TTL monitor deletes those on a clock, whatever the events do."""
    def expired(doc: dict[str, Any]) -> bool:
        when = doc.get("expires_at")
        if not isinstance(when, datetime):
            return False
        return (when if when.tzinfo else when.replace(tzinfo=UTC)) <= at

    return {service: {name: [d for d in docs if not expired(d)] for name, docs in collections.items()}
            for service, collections in state.items()}


def settled_snapshot(platform: Platform) -> dict[str, dict[str, list[Any]]]:
    eventually(platform.queues_idle, "every queue to be empty", timeout=90)
    previous: list[Any] = [None]

    def stable() -> Any:
        current = snapshot(platform)
        same = current == previous[0]
        previous[0] = current
        return same and platform.queues_idle() and platform.outboxes_published() and platform.notifications_sent() \
            and current

    state: dict[str, dict[str, list[Any]]] = eventually(stable, "the services' state to stop changing", timeout=120)
    return state


def difference(before: dict[str, list[Any]], after: dict[str, list[Any]]) -> str:
    changes = []
    for name in sorted(set(before) | set(after)):
        old = {str(d["_id"]): d for d in before.get(name, [])}
        new = {str(d["_id"]): d for d in after.get(name, [])}
        added = [new[i] for i in new.keys() - old.keys()]
        removed = [old[i] for i in old.keys() - new.keys()]
        changed = [(old[i], new[i]) for i in old.keys() & new.keys() if old[i] != new[i]]
        if added or removed or changed:
            changes.append(f"{name}: added {added[:3]}, removed {removed[:3]}, changed {changed[:2]}")
    return "; ".join(changes) or "nothing"


def test_replaying_the_whole_archive_twice_out_of_order_to_every_service_changes_nothing(
        platform: Platform) -> None:
    platform.run_journeys(2)
    before = settled_snapshot(platform)
    mails_before = len(platform.emails(""))
    archive_events = platform.mongo["egov_archive"]["events"]
    connection = pika.BlockingConnection(pika.URLParameters(platform.stack.amqp_uri))
    channel = connection.channel()
    channel.confirm_delivery()
    replayed = 0
    for sub in SUBSCRIPTIONS:
        if not sub.event_types:
            continue
        done = egov_events(platform.stack, "replay", "--to-service", sub.service).stdout
        replayed += int(re.search(r"summary: sent (\d+)", done).group(1))  # type: ignore[union-attr]
        shuffled = list(archive_events.find({"type": {"$in": list(sub.event_types)}}, {"envelope": 1}))
        random.shuffle(shuffled)
        for doc in shuffled:
            channel.basic_publish("", sub.queue, bytes(doc["envelope"]), pika.BasicProperties(
                content_type=CONTENT_TYPE, content_encoding="binary", delivery_mode=2, message_id=doc["_id"]))
    connection.close()
    assert replayed > 20
    after = settled_snapshot(platform)
    # What expired meanwhile is the TTL monitor's doing, not the replay's: left out of both.
    now = datetime.now(UTC)
    before, after = unexpired(before, now), unexpired(after, now)
    # Only what changed, so that a failure shows it rather than every document of every service.
    changed = {service: difference(before[service], after[service]) for service in SERVICES
               if after[service] != before[service]}
    assert changed == {}
    assert len(platform.emails("")) == mails_before


# -- (e) a replay aimed at one service -----------------------------------------------------------------
def test_a_replay_aimed_at_one_service_reaches_that_service_only(platform: Platform) -> None:
    code = platform.run_journey(2)
    eventually(platform.queues_idle, "the journey's events to be consumed")
    ids = [d["_id"] for d in platform.mongo["egov_archive"]["events"].find(
        {"correlation_id": code, "type": {"$in": list(subscription("notifications").event_types)}})]
    assert len(ids) >= 5
    offsets = {name: (platform.stack.logs / f"{name}.log").stat().st_size for name in SERVICES}
    tap = EventTap(platform.stack.amqp_uri)
    done = egov_events(platform.stack, "replay", "--correlation-id", code, "--to-service", "notifications").stdout
    assert f"summary: sent {len(ids)}," in done

    def seen_by(name: str) -> set[str]:
        with open(platform.stack.logs / f"{name}.log", encoding="utf-8", errors="replace") as log:
            log.seek(offsets[name])
            text = log.read()
        return {i for i in ids if i in text}

    eventually(lambda: seen_by("notifications") == set(ids), "notifications to receive each replayed event")
    eventually(platform.queues_idle, "the replay to be consumed")
    assert all(seen_by(name) == set() for name in SERVICES if name != "notifications")
    # Nothing was published because of the replay; the gateway anchors its message log every few
    # seconds whatever happens (docs/SECURITY.md, item 2), and that is not an effect of it.
    anchored = event_type(MessageLogAnchored)
    assert [e for e in tap.drain() if e.type != anchored] == []
    tap.close()


# -- (f) 10,000 archived events ------------------------------------------------------------------------
def test_replaying_ten_thousand_events_prints_progress_and_rate(platform: Platform,
                                                               capsys: pytest.CaptureFixture[str]) -> None:
    tag = f"bulk-{uuid.uuid4().hex[:6]}"
    events = synthetic_events(10_000, tag)
    archive(platform.stack.amqp_uri, platform.stack.mongo_uri, events)
    queue = f"agency-bulk.{uuid.uuid4().hex[:6]}"
    done = egov_events(platform.stack, "replay", "--correlation-id", tag, "--to-queue", queue).stdout
    assert "replaying 10000 of 10000 archived event(s)" in done
    assert re.search(r"progress 10000/10000 \(100%\)", done)
    summary = re.search(r"summary: sent 10000, skipped 0, in ([\d.]+) s: ([\d,]+) events/s", done)
    assert summary, done
    replay_rate = float(summary.group(2).replace(",", ""))
    raw = raw_publish_rate(platform.stack.amqp_uri, events, queue=f"{queue}.raw")
    with capsys.disabled():
        print(f"\nreplay of 10,000 archived events: {replay_rate:,.0f} events/s; raw windowed-confirm publish on "
              f"the same broker: {raw.rate:,.0f} events/s; ratio {replay_rate / raw.rate:.2f}")
