"""Many level-4 journeys at once through the gateway and all five services: journeys per second
sustained, the latency of each stage, and a check that nothing was lost or done twice.

Each journey is what deploy.local.journey drives for the demo (submit, pay, accept, work, issue,
ship, deliver, complete, notify), with the citizens and civil servants signed in once and reused:
sign-in costs scrypt by design and is not part of a dossier's journey. Outcomes are awaited on the
events the platform publishes (a tap queue bound to every type, as an agency subscriber would see
them) instead of by polling the gateway, so the waiting adds no load.
"""

import threading
import time
from collections import Counter, defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import pika
from pika.adapters.blocking_connection import BlockingChannel
from pika.spec import Basic, BasicProperties
from pymongo.database import Database

from bench.measure import percentile
from deploy.local.journey import Citizen, Journey
from egov.common.v1 import caller_pb2
from egov.events.v1.cloud_event_pb2 import CloudEvent
from egov.notifications.v1.events_pb2 import NotificationSent
from egov.procedures.v1 import procedures_pb2 as pp
from services.common.events.envelope import decode, unpack
from services.common.topology import EVENTS_EXCHANGE

BILL_ISSUED = "egov.payments.v1.BillIssued"
PAYMENT_SETTLED = "egov.payments.v1.PaymentSettled"
ACCEPTED = "egov.procedures.v1.DossierAccepted"
SHIPMENT_CREATED = "egov.postal.v1.ShipmentCreated"
DELIVERED = "egov.postal.v1.ShipmentDelivered"
COMPLETED = "egov.procedures.v1.DossierCompleted"
NOTIFICATION_SENT = "egov.notifications.v1.NotificationSent"
STAGES = ("submit", "bill issued", "pay", "payment settled", "accepted", "work and issue", "shipment created",
          "delivered", "completed", "citizen told")
WAIT_SECONDS = 60.0
Predicate = Callable[[list[CloudEvent]], bool]


class EventWatcher:
    """Every event the platform publishes, grouped by correlation id (the dossier code)."""

    def __init__(self, amqp_uri: str) -> None:
        self._connection = pika.BlockingConnection(pika.URLParameters(amqp_uri))
        channel = self._connection.channel()
        queue = channel.queue_declare("", exclusive=True, auto_delete=True).method.queue
        channel.queue_bind(queue, EVENTS_EXCHANGE, routing_key="#")
        channel.basic_consume(queue, self._on_event, auto_ack=True)
        self._lock = threading.Lock()
        self._events: dict[str, list[CloudEvent]] = defaultdict(list)
        self._waiters: dict[str, list[tuple[Predicate, threading.Event]]] = defaultdict(list)
        self._stopping = threading.Event()
        self._thread = threading.Thread(target=self._run, name="event-watcher", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stopping.is_set():
            self._connection.process_data_events(time_limit=0.2)
        self._connection.close()

    def _on_event(self, channel: BlockingChannel, deliver: Basic.Deliver, properties: BasicProperties,
                  body: bytes) -> None:
        event = decode(body)
        key = event.correlation_id
        with self._lock:
            seen = self._events[key]
            seen.append(event)
            waiting = self._waiters.get(key)
            if waiting:
                still = []
                for predicate, done in waiting:
                    if predicate(seen):
                        done.set()
                    else:
                        still.append((predicate, done))
                self._waiters[key] = still

    def wait(self, key: str, predicate: Predicate, what: str, timeout: float = WAIT_SECONDS) -> list[CloudEvent]:
        done = threading.Event()
        with self._lock:
            if predicate(self._events[key]):
                return list(self._events[key])
            self._waiters[key].append((predicate, done))
        if not done.wait(timeout):
            raise TimeoutError(f"{key}: no {what} within {timeout:.0f} s")
        with self._lock:
            return list(self._events[key])

    def events(self, key: str) -> list[CloudEvent]:
        with self._lock:
            return list(self._events.get(key, ()))

    def close(self) -> None:
        self._stopping.set()
        self._thread.join(timeout=5)


def seen(event_type: str) -> Predicate:
    return lambda events: any(e.type == event_type for e in events)


def told_on(channels: frozenset[int]) -> Predicate:
    """The completion notification was sent on every chosen channel."""
    def check(events: list[CloudEvent]) -> bool:
        completed = {e.id for e in events if e.type == COMPLETED}
        if not completed:
            return False
        sent = {payload.channel for e in events if e.type == NOTIFICATION_SENT
                if (payload := unpack(e)) and isinstance(payload, NotificationSent)
                and payload.cause_event_id in completed}
        return channels <= sent

    return check


CHANNELS = frozenset({caller_pb2.NOTIFICATION_CHANNEL_EMAIL, caller_pb2.NOTIFICATION_CHANNEL_SMS})


@dataclass
class Cast:
    """Who takes part, signed in once: citizens, and a civil servant token per receiving agency."""

    citizens: list[Citizen]
    officers: dict[str, str]            # agency code -> civil servant token
    procedures: list[pp.Procedure]      # level 4, with a fee


@dataclass
class JourneyRun:
    code: str
    started: float
    finished: float = 0.0
    stages: dict[str, float] = field(default_factory=dict)
    error: str = ""


def one_journey(journey: Journey, watcher: EventWatcher, citizen: Citizen, procedure: pp.Procedure,
                officer: str) -> JourneyRun:
    run = JourneyRun(code="", started=time.perf_counter())
    last = run.started

    def stage(name: str) -> None:
        nonlocal last
        now = time.perf_counter()
        run.stages[name] = now - last
        last = now

    try:
        code = journey.submit(citizen, procedure).code
        run.code = code
        stage("submit")
        watcher.wait(code, seen(BILL_ISSUED), "bill")
        stage("bill issued")
        journey.pay(citizen, code)
        stage("pay")
        watcher.wait(code, seen(PAYMENT_SETTLED), "payment settled")
        stage("payment settled")
        journey.receive(officer, code)          # payment alone accepts nothing: the desk receives it
        watcher.wait(code, seen(ACCEPTED), "acceptance")
        stage("accepted")
        journey.work(officer, code)
        stage("work and issue")
        watcher.wait(code, seen(SHIPMENT_CREATED), "shipment")
        stage("shipment created")
        watcher.wait(code, seen(DELIVERED), "delivery")
        stage("delivered")
        watcher.wait(code, seen(COMPLETED), "completion")
        stage("completed")
        watcher.wait(code, told_on(CHANNELS), "completion notifications")
        stage("citizen told")
    except Exception as exc:   # a failed journey is counted and reported, never hidden
        run.error = f"{type(exc).__name__}: {exc}"[:300]
    run.finished = time.perf_counter()
    return run


@dataclass
class JourneyReport:
    concurrency: int
    window_seconds: float
    runs: list[JourneyRun]
    completed_in_window: int
    end_state: dict[str, Any]

    @property
    def rate(self) -> float:
        return self.completed_in_window / self.window_seconds if self.window_seconds else 0.0

    def stage_latencies(self) -> dict[str, dict[str, float]]:
        ok = [r for r in self.runs if not r.error]
        table = {}
        for name in (*STAGES, "total"):
            values = sorted((r.finished - r.started) if name == "total" else r.stages.get(name, 0.0) for r in ok)
            table[name] = {"p50_ms": round(percentile(values, 0.5) * 1000, 1),
                           "p95_ms": round(percentile(values, 0.95) * 1000, 1),
                           "p99_ms": round(percentile(values, 0.99) * 1000, 1)}
        return table

    def row(self) -> dict[str, Any]:
        errors = Counter(r.error.split(":")[0] for r in self.runs if r.error)
        return {"concurrency": self.concurrency, "window_seconds": round(self.window_seconds, 1),
                "journeys_started": len(self.runs), "journeys_failed": sum(errors.values()),
                "failures": dict(errors), "first_failure": next((r.error for r in self.runs if r.error), ""),
                "completed_in_window": self.completed_in_window, "journeys_per_s": round(self.rate, 2),
                "stages": self.stage_latencies(), "end_state": self.end_state}


def drive(journeys: Sequence[Journey], watcher: EventWatcher, cast: Cast, concurrency: int, seconds: float,
          warmup: float) -> tuple[list[JourneyRun], int, float]:
    """Closed loop: `concurrency` workers each start a new journey as soon as their last one ends,
    until `warmup + seconds` have passed; then the journeys in flight finish. Throughput counts the
    journeys that finished inside the measured window. Worker i goes through gateway i mod the
    gateways (`journeys`, one per gateway)."""
    runs: list[JourneyRun] = []
    lock = threading.Lock()
    t0 = time.perf_counter()
    window_start, window_end = t0 + warmup, t0 + warmup + seconds

    def worker(i: int) -> None:
        n = 0
        while time.perf_counter() < window_end:
            citizen = cast.citizens[(i + n) % len(cast.citizens)]
            procedure = cast.procedures[(i * 7 + n) % len(cast.procedures)]
            run = one_journey(journeys[i % len(journeys)], watcher, citizen, procedure,
                              cast.officers[procedure.agency_code])
            with lock:
                runs.append(run)
            n += 1

    threads = [threading.Thread(target=worker, args=(i,), name=f"journey-{i}", daemon=True)
               for i in range(concurrency)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    in_window = sum(1 for r in runs if not r.error and window_start <= r.finished <= window_end)
    return runs, in_window, seconds


def check_end_state(databases: Callable[[str], Database[Any]], watcher: EventWatcher,
                    codes: Sequence[str]) -> dict[str, Any]:
    """Per dossier: COMPLETED; exactly one bill, PAID; exactly one PaymentSettled event; exactly one
    shipment, DELIVERED; exactly one completion notification per chosen channel, sent. `databases`
    gives a component's database (bench.db_ops.StackDatabases)."""
    codes = [c for c in codes if c]
    dossiers = {d["_id"]: d["status"] for d in databases("procedures")["dossiers"].find(
        {"_id": {"$in": codes}}, {"status": 1})}
    bills: dict[str, list[str]] = defaultdict(list)
    for b in databases("payments")["bills"].find({"dossier_code": {"$in": codes}}, {"dossier_code": 1, "status": 1}):
        bills[b["dossier_code"]].append(b["status"])
    shipments: dict[str, list[str]] = defaultdict(list)
    for s in databases("postal")["shipments"].find({"dossier_code": {"$in": codes}},
                                                   {"dossier_code": 1, "status": 1}):
        shipments[s["dossier_code"]].append(s["status"])
    told: dict[str, Counter[str]] = defaultdict(Counter)
    for n in databases("notifications")["notifications"].find(
            {"dossier_code": {"$in": codes}, "event_type": COMPLETED}, {"dossier_code": 1, "channel": 1, "status": 1}):
        told[n["dossier_code"]][f"{n['channel']}:{n['status']}"] += 1
    problems: Counter[str] = Counter()
    for code in codes:
        if dossiers.get(code) != "DOSSIER_STATUS_COMPLETED":
            problems["dossier not completed"] += 1
        if bills.get(code) != ["BILL_STATUS_PAID"]:
            problems["not exactly one bill, paid" if len(bills.get(code, ())) <= 1 else "bill doubled"] += 1
        settled = sum(1 for e in watcher.events(code) if e.type == PAYMENT_SETTLED)
        if settled != 1:
            problems["PaymentSettled missing" if settled == 0 else "PaymentSettled doubled"] += 1
        if shipments.get(code) != ["SHIPMENT_STATUS_DELIVERED"]:
            problems["not exactly one shipment, delivered" if len(shipments.get(code, ())) <= 1
                     else "shipment doubled"] += 1
        counts = told.get(code, Counter())
        for channel in ("EMAIL", "SMS"):
            sent = sum(v for k, v in counts.items() if k.startswith(channel))
            if sent != 1 or counts.get(f"{channel}:SENT") != 1:
                problems[f"completion {channel} not sent once" if sent <= 1
                         else f"completion {channel} doubled"] += 1
    return {"dossiers_checked": len(codes), "problems": dict(problems), "nothing_lost_or_doubled": not problems}
