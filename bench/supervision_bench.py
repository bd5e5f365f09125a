"""The supervision index at scale, on SYNTHETIC dossiers (bench/dossier_history.py) spread over every
unit and department of the catalogue edition procedures imports, over the last 12 months:

- projection rate: the events sent to the supervision service's queue (as a replay to that one
  service sends them), and its inbox counted until it has them all (events/s, end to end: consume,
  fold, counters, inbox, commit; a batch of queued events per transaction). The events are made as
  they are sent, at most AHEAD of the projection, so a million dossiers (4.6 million events) need
  neither the memory nor a broker queue to hold them all;
- raw consume rate of the broker in the same run: the same envelopes (the first RAW_SAMPLE of them)
  in a scratch quorum queue, read and acknowledged by a bare pika consumer doing nothing else;
- database operations per projected event, from the server's own counters (bench/db_ops.py: the
  `top` command), per kind and per collection of egov_supervision, with the commits apart; and the
  CPU ms per event of the supervision service and of SecantusDB (/proc: what the projection costs,
  whatever the neighbours on the machine take, which moves the rate);
- GetIndex for the whole province over a year (13 months, the page's default), through the gateway,
  one caller after the other: p50 and p99.

`--profile` records py-spy flame graphs of the supervision service and SecantusDB while the
projection runs (var/bench/supervision-*.svg; the rates of a profiled run are a little lower).

Run by `make bench` (a phase of bench/__main__.py), or alone:

    .venv/bin/python -m bench.supervision_bench --dossiers 5000 [--profile]

The issue's scale, `--dossiers 1000000`, took 1 h 48 min on this machine's SecantusDB (706.8 events/s;
docs/BENCHMARKS.md).
"""

import argparse
import itertools
import json
import queue
import statistics
import time
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import grpc
import pika
from pymongo import MongoClient

from bench.db_ops import DatabaseCounters
from bench.dossier_history import Place, dossier_events
from bench.footprint import OTHER, CpuMeter
from bench.limits import BENCH_ENV
from bench.measure import percentile
from bench.profiling import Profiler
from deploy.local.stack import ROOT, Stack
from egov.supervision.v1 import supervision_pb2 as pb
from egov.supervision.v1 import supervision_pb2_grpc
from services.archive.replay.publisher import READ_BATCH, Feed, Outgoing, WindowedPublisher, memory_feed
from services.archive.replay.sources import BatchSource
from services.common.caller import Caller, CallerKind
from services.common.events.envelope import encode
from services.common.mongo_store import INBOX, inbox_key
from services.common.roles import Appointment, Role
from services.common.tokens import issue_token
from services.common.topology import subscription
from services.procedures.domain.units import UnitTree
from services.supervision.adapters.units import load_units

RAW_QUEUE = "bench.supervision-raw"
RAW_SAMPLE = 200_000
# At most this many events sent and not yet projected: a million dossiers' 4.6 million events are made
# as they are sent, never held in memory or queued in the broker all at once.
AHEAD = 50_000


def places(tree: UnitTree) -> list[Place]:
    """Every unit (its People's Committee) and every other agency, each with its chain of units."""
    def chain(code: str) -> tuple[str, ...]:
        return (code, *(u.code for u in tree.ancestors(code)))

    return [Place(chain(a.unit), a.agency_code) for a in sorted(tree.agencies.values(), key=lambda a: a.agency_code)]


def raw_consume_rate(amqp_uri: str, bodies: list[bytes]) -> float:
    """Fill a scratch quorum queue with the envelopes, then read and ack them all: events/s (on at
    most RAW_SAMPLE of the run's events: the rate does not need millions in the broker at once)."""
    connection = pika.BlockingConnection(pika.URLParameters(amqp_uri))
    try:
        channel = connection.channel()
        channel.queue_delete(RAW_QUEUE)
        channel.queue_declare(RAW_QUEUE, durable=True, arguments={"x-queue-type": "quorum"})
        filled = WindowedPublisher(amqp_uri, RAW_QUEUE).run(
            memory_feed([Outgoing(offset, "", {}, body) for offset, body in enumerate(bodies)]))
        if filled.error or filled.confirmed != len(bodies):
            raise RuntimeError(f"filling {RAW_QUEUE} failed: {filled}")
        channel.basic_qos(prefetch_count=500)
        started = time.perf_counter()
        for seen, (method, _props, _body) in enumerate(channel.consume(RAW_QUEUE), start=1):
            if seen % 100 == 0 or seen == len(bodies):
                channel.basic_ack(method.delivery_tag, multiple=True)
            if seen == len(bodies):
                break
        elapsed = time.perf_counter() - started
        channel.cancel()
        channel.queue_delete(RAW_QUEUE)
        return len(bodies) / elapsed
    finally:
        connection.close()


def projection_rate(stack: Stack, events: Iterator[Any], say: Callable[[str], None],
                    timeout: float = 4 * 3600) -> tuple[float, int]:
    """Events/s from the first publish until the inbox holds them all, and how many. They go straight
    to the service's queue with up to 1,000 unconfirmed, as `egov-events replay --to-service
    supervision` sends them, so the publisher (tens of thousands a second) does not bound what is
    measured; the events are made as they are sent, at most AHEAD of the projection."""
    client: MongoClient[Any] = MongoClient(stack.database_uri("supervision"))
    inbox = client["egov_supervision"][INBOX]
    before = inbox.estimated_document_count()
    sent = Sent()

    def projected() -> int:
        return inbox.estimated_document_count() - before

    def batches() -> Iterator[list[Outgoing]]:
        marks: deque[tuple[int, str]] = deque()     # (events sent up to it, the batch's last event)
        for chunk in iter(lambda: list(itertools.islice(events, READ_BATCH)), []):
            # Wait for the inbox record of a batch sent AHEAD ago, by _id: counting the inbox would
            # scan it, and slowed the projection by a fifth when polled here.
            while marks and sent.count - marks[0][0] >= AHEAD:
                while inbox.find_one({"_id": inbox_key("supervision", marks[0][1])}, {"_id": 1}) is None:
                    time.sleep(0.2)
                marks.popleft()
            yield [Outgoing(sent.count + i, e.id, {}, encode(e)) for i, e in enumerate(chunk)]
            sent.count += len(chunk)
            sent.last_id = chunk[-1].id
            marks.append((sent.count, sent.last_id))

    feed: Feed = queue.Queue()
    publisher = WindowedPublisher(stack.amqp_uri, subscription("supervision").queue)
    source = BatchSource(batches())
    started = time.perf_counter()
    source.start(feed, publisher.wake)
    try:
        stats = publisher.run(feed)
    finally:
        source.close()
    if stats.error or stats.confirmed != sent.count:
        raise RuntimeError(f"publishing the events failed: {stats}")
    say(f"  published {stats.confirmed:,} events at {stats.rate:,.0f}/s, at most {AHEAD:,} ahead of the projection")
    # Counting the inbox scans it on SecantusDB (a third of its CPU at 100,000 dossiers, polled every
    # 0.2 s): poll for the last event's record by _id, and count only for progress and at the end.
    last_key, last_said = inbox_key("supervision", sent.last_id), time.perf_counter()
    while True:
        if inbox.find_one({"_id": last_key}, {"_id": 1}) is not None and projected() >= sent.count:
            break
        if time.perf_counter() - last_said > 30:
            say(f"  projected {projected():,} of {sent.count:,} events")
            last_said = time.perf_counter()
        if time.perf_counter() - started > timeout:
            raise TimeoutError(f"projected {projected()} of {sent.count} events in {timeout:.0f} s")
        time.sleep(0.2)
    elapsed = time.perf_counter() - started
    client.close()
    return sent.count / elapsed, sent.count


@dataclass
class Sent:
    count: int = 0
    last_id: str = ""


def get_index_latency(stack: Stack, calls: int = 60) -> dict[str, float]:
    private_key = Path(stack.env()["EGOV_TOKEN_PRIVATE_KEY_FILE"]).read_bytes()
    caller = Caller(CallerKind.CIVIL_SERVANT, subject="bench-supervisor",
                    appointments=(Appointment("46", Role.SUPERVISOR),))
    token, _ = issue_token(private_key, caller, timedelta(minutes=30))
    today = date.today()
    request = pb.GetIndexRequest(scope=pb.Scope(kind=pb.SCOPE_KIND_UNIT, code="46"),
                                 from_month=f"{date(today.year - 1, today.month, 1):%Y-%m}", to_month=f"{today:%Y-%m}")
    channel = grpc.insecure_channel(f"127.0.0.1:{stack.ports.gateway}")
    api = supervision_pb2_grpc.SupervisionServiceStub(channel)
    metadata = (("authorization", f"Bearer {token}"),)
    latencies = []
    try:
        answer = api.GetIndex(request, metadata=metadata, timeout=30)     # warm-up
        for _ in range(calls):
            started = time.perf_counter()
            api.GetIndex(request, metadata=metadata, timeout=30)
            latencies.append((time.perf_counter() - started) * 1000)
    finally:
        channel.close()
    latencies.sort()
    return {"calls": calls, "p50_ms": round(statistics.median(latencies), 1),
            "p99_ms": round(percentile(latencies, 0.99), 1), "received": answer.index.figures.received,
            "children": len(answer.children)}


def projection_cost(stack: Stack, events: Iterator[Any], say: Callable[[str], None],
                    profiler: Profiler | None = None) -> tuple[float, int, dict[str, Any]]:
    """The projection rate; per event, the database operations the server counted meanwhile and the CPU
    time of the supervision service and SecantusDB."""
    counters = DatabaseCounters(stack.mongo_uris())
    server = stack.database_server("supervision")
    try:
        before = counters.snapshot()
        if profiler is not None:
            for name, process in (("supervision", "supervision"), ("mongo", server)):
                profiler.start(name, stack.processes[process].pid)
        cpu = CpuMeter({"supervision": stack.processes["supervision"], "mongo": stack.processes[server]}).start()
        try:
            rate, count = projection_rate(stack, events, say)
        finally:
            used = cpu.stop()
            profiles = profiler.stop() if profiler is not None else {}
        per_event = counters.per_journey(before, counters.snapshot(), count)
    finally:
        counters.close()
    ops = per_event["services"].get("supervision", {})
    collections = {ns.split(".", 1)[1]: {k: v for k, v in row.items() if k in ("find", "insert", "update", "commands")}
                   for ns, row in per_event["collections"].items() if ns.startswith("egov_supervision.")}
    return rate, count, {"operations": ops.get("total", 0.0), "by_kind": {k: v for k, v in ops.items() if k in (
                  "find", "insert", "update", "remove", "commands") and v},
                  "by_collection": collections, "commits_and_other": per_event["other_commands_per_journey"],
                  "cpu_ms": {name: round(1000 * seconds / count, 2) for name, seconds in used.items()
                             if name != "bench (load)"},
                  "neighbours_cpu_share": round(used[OTHER] / max(sum(used.values()), 1e-9), 2),
                  **({"profiles": profiles} if profiles else {})}


def run_on(stack: Stack, dossiers: int, say: Callable[[str], None] = print,
           profiler: Profiler | None = None) -> dict[str, Any]:
    tree = load_units()
    where = places(tree)
    today = date.today()
    say(f"supervision: generating {dossiers:,} SYNTHETIC dossiers over {len(where)} agencies of {tree.version}")
    def events() -> Iterator[Any]:
        return dossier_events(dossiers, where, date(today.year - 1, today.month, 1), today, "SYN-bench", seed=766)

    bodies = [encode(e) for e in itertools.islice(events(), RAW_SAMPLE)]
    say(f"supervision: raw consume rate on {len(bodies):,} of the events")
    raw = raw_consume_rate(stack.amqp_uri, bodies)
    del bodies
    say(f"supervision: raw {raw:,.0f} events/s; projecting")
    projected, count, per_event = projection_cost(stack, events(), say, profiler)
    client: MongoClient[Any] = MongoClient(stack.database_uri("supervision"))
    counters = client["egov_supervision"]["counters"].count_documents({})
    client.close()
    latency = get_index_latency(stack)
    result = {"synthetic": True, "dossiers": dossiers, "events": count, "agencies": len(where),
              "units_version": tree.version, "raw_consume_per_s": round(raw), "projection_per_s": round(projected, 1),
              "projection_vs_raw": round(projected / raw, 4), "per_event": per_event,
              "counter_documents": counters, "get_index": latency}
    say("supervision: " + json.dumps(result, ensure_ascii=False))
    return result


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--dossiers", type=int, default=5000, help="SYNTHETIC dossiers (the issue's scale: 1,000,000)")
    parser.add_argument("--profile", action="store_true",
                        help="py-spy flame graphs of supervision and SecantusDB (var/bench/supervision-*.svg)")
    args = parser.parse_args()
    out = ROOT / "var" / "bench"
    out.mkdir(parents=True, exist_ok=True)
    stack = Stack(out / "supervision-stack", extra_env=BENCH_ENV)
    stack.remove()     # an empty read model: the same dossiers projected again would change nothing
    try:
        stack.start(services=("supervision",), gateway=True)
        result = run_on(stack, args.dossiers, profiler=Profiler(out, "supervision") if args.profile else None)
    finally:
        stack.stop()
    (out / "supervision.json").write_text(json.dumps(result, indent=2, ensure_ascii=False))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
