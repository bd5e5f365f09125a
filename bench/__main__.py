"""`python -m bench` (`make bench`): start the platform, measure it against this machine's raw limits
in one run, print the tables and write var/bench/results.json. See docs/BENCHMARKS.md.

`--profile` also records py-spy flame graphs of the gateway and the busiest services while the
gateway and journey benchmarks run (numbers from a profiled run are a little lower).

Over 300 lines: the order of the phases and the report of one run, read top to bottom; each phase
itself lives in its own module (bench/*.py).
"""

import argparse
import importlib.util
import json
import os
import platform
import shutil
import statistics
import time
from pathlib import Path
from typing import Any

import grpc
from rich.console import Console

from bench import agency_bench, broker_limits, catalogue_bench, raw_limits, supervision_bench
from bench.cast import gateway_operations, make_cast
from bench.db_ops import DatabaseCounters, StackDatabases, over_budget, read_budget
from bench.footprint import OTHER, CpuMeter, PeakSampler, snapshot
from bench.gateway_bench import caller_signer, compare, wait_until_quiet
from bench.journeys import Cast, EventWatcher, JourneyReport, check_end_state, drive
from bench.limits import BENCH_ENV
from bench.measure import Result, platform_for, quiet_logs
from bench.profiling import Profiler
from bench.report import print_report, targets
from deploy.local.journey import Journey
from deploy.local.stack import ROOT, Stack
from egov.procedures.v1 import procedures_pb2 as pp
from gateway.rpc_client import NamekoRpcClient

# Wide enough for the gateway table when the output is a file or a pipe, not a terminal.
console = Console(width=None if Console().is_terminal else 160)
OUT = ROOT / "var" / "bench"


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument("--seconds", type=float, default=5.0, help="measured seconds per load point")
    parser.add_argument("--concurrency", type=int, nargs="+", default=[1, 8, 32, 64])
    parser.add_argument("--journeys", type=int, nargs="+", default=[8, 24],
                        help="journeys in flight at once, one run each; the best rate is the sustained rate")
    parser.add_argument("--journey-seconds", type=float, default=30.0, help="measured window of each journey run")
    parser.add_argument("--citizens", type=int, default=16, help="citizens registered and reused by the journeys")
    parser.add_argument("--profile", action="store_true", help="record py-spy profiles (var/bench/*.svg)")
    parser.add_argument("--skip", nargs="*", default=[],
                        choices=["raw", "gateway", "agency", "journeys", "replay", "catalogue", "supervision"])
    parser.add_argument("--replicas", type=int, default=1,
                        help="run every service but the archive, and the gateway, this many times (journeys "
                             "spread over the gateways)")
    parser.add_argument("--supervision-dossiers", type=int, default=1500,
                        help="SYNTHETIC dossiers for the supervision index phase (the issue's scale: 1,000,000; "
                             "1,500 keeps the whole run under 10 minutes: 5,000 took 10 of a 16-minute run)")
    parser.add_argument("--separate-databases", action="store_true",
                        help="each component's database on a SecantusDB server of its own (mongo-<component>), "
                             "as production may give each its own MongoDB; default: one server for all")
    parser.add_argument("--mongo-uri-options", default="",
                        help="experiment: options appended to every process's MongoDB URI, e.g. retryWrites=false")
    args = parser.parse_args()
    quiet_logs()
    OUT.mkdir(parents=True, exist_ok=True)
    started = time.monotonic()
    results: dict[str, Any] = {"machine": machine(), "settings": vars(args),
                               "environment": {k: v for k, v in os.environ.items() if k.startswith("MALLOC_")}}

    workdir = OUT / "stack"
    shutil.rmtree(workdir, ignore_errors=True)
    stack = Stack(workdir, replicas=args.replicas, extra_env=BENCH_ENV, separate_databases=args.separate_databases)
    if args.mongo_uri_options:
        stack.mongo_uri += "&" + args.mongo_uri_options
    with platform_for(stack, "benchmark", console.print):
        with console.status("starting the platform..."):
            results["startup"] = start(stack)
        console.print(f"platform up: first served call {results['startup']['first_served_call_s']:.1f} s after start")
        run(stack, args, results)
    results["total_seconds"] = round(time.monotonic() - started, 1)
    results["targets"] = [t.row() for t in targets(results)]
    (OUT / "results.json").write_text(json.dumps(results, indent=2, ensure_ascii=False))
    console.print()
    print_report(results, console)
    console.print(f"whole run {results['total_seconds']:.0f} s; results in {OUT / 'results.json'}")
    return 0


def start(stack: Stack) -> dict[str, float]:
    """Stack.start (database, simulators, five services, gateway) and the first call it serves."""
    t0 = time.monotonic()
    stack.start()
    started = time.monotonic() - t0
    with grpc.insecure_channel(f"127.0.0.1:{stack.ports.gateway}") as channel:
        list_procedures = channel.unary_unary("/egov.procedures.v1.ProcedureService/ListProcedures",
                                              request_serializer=pp.ListProceduresRequest.SerializeToString,
                                              response_deserializer=pp.ListProceduresResponse.FromString)
        list_procedures(pp.ListProceduresRequest(service_level=4), timeout=10, wait_for_ready=True)
    return {"stack_start_s": round(started, 2), "first_served_call_s": round(time.monotonic() - t0, 2)}


def run(stack: Stack, args: argparse.Namespace, results: dict[str, Any]) -> None:
    footprint: dict[str, Any] = {"idle_mb": {}, "peak_mb": {}, "cpu_s": {}}
    results["footprint"] = footprint
    channel = grpc.insecure_channel(f"127.0.0.1:{stack.ports.gateway}")
    rpc = NamekoRpcClient(stack.amqp_uri, name="bench")
    rpc.start(wait=10)
    journey = Journey.of(stack, channel)
    try:
        echo = measure_raw(stack, args, results) if "raw" not in args.skip else {}
        with console.status("registering citizens and civil servants..."):
            cast = make_cast(journey, rpc, args.citizens, stack.env())
            wait_until_quiet(stack.amqp_uri)
        footprint["idle_mb"] = snapshot(stack.processes)
        if "gateway" not in args.skip:
            console.print("[bold]gateway vs direct nameko RPC[/]")
            operations = gateway_operations(journey, cast.citizens[0], public_key(stack))
            with phase(stack, "gateway", footprint, results, args.profile,
                       ("gateway", "procedures", stack.database_server("procedures"))):
                results["gateway"] = [c.row() for op in operations for c in compare(
                    channel, rpc, caller_signer(stack.env()), stack.amqp_uri, stack.processes, op,
                    tuple(args.concurrency), args.seconds, echo,
                    progress=console.print)]
            wait_until_quiet(stack.amqp_uri)
        if "agency" not in args.skip:
            console.print("[bold]agency calls (mutual TLS, rights, message log) vs direct nameko RPC[/]")
            try:
                dossier = agency_bench.submit_dossier(journey, cast.citizens[0])
                results["agency"] = agency_bench.run_on(stack, dossier, args.seconds, agency_bench.CONCURRENCY,
                                                        args.profile)
            except Exception as exc:   # the gateway's agency side is still moving: report, go on
                results["agency"] = {"missing": f"agency benchmark failed: {type(exc).__name__}: {exc}"[:300]}
                console.print(f"[red]{results['agency']['missing']}[/]")
            wait_until_quiet(stack.amqp_uri)
        if "journeys" not in args.skip:
            others = [grpc.insecure_channel(a) for a in stack.gateway_addresses()[1:]]
            journeys = [journey, *(Journey.of(stack, c) for c in others)]
            runs = [measure_journeys(stack, journeys, cast, n, args, results) for n in args.journeys]
            for c in others:
                c.close()
            results["journey_runs"] = runs
            results["journeys"] = max(runs, key=lambda r: r["journeys_per_s"])
        if "replay" not in args.skip:
            console.print("[bold]replay vs raw publish[/]")
            try:
                results["replay"] = measure_replay(stack)
            except Exception as exc:   # the replay tool is another issue's, still moving: report, go on
                results["replay"] = {"missing": f"replay benchmark failed: {type(exc).__name__}: {exc}"[:300]}
                console.print(f"[red]{results['replay']['missing']}[/]")
        if "catalogue" not in args.skip:
            results["catalogue"] = catalogue_bench.run_on(stack, args.seconds, console.print)
        if "supervision" not in args.skip:
            results["supervision"] = supervision_bench.run_on(stack, args.supervision_dossiers, console.print)
    finally:
        rpc.close()
        channel.close()


def measure_journeys(stack: Stack, journeys: list[Journey], cast: Cast, concurrency: int, args: argparse.Namespace,
                     results: dict[str, Any]) -> dict[str, Any]:
    console.print(f"[bold]journeys[/]: {concurrency} at once for {args.journey_seconds:.0f} s through "
                  f"{len(journeys)} gateway(s), {stack.replicas} replica(s) of each service")
    watcher = EventWatcher(stack.amqp_uri)
    databases = StackDatabases(stack)
    counters = DatabaseCounters(stack.mongo_uris())
    name = f"journeys x{concurrency}"
    try:
        before = counters.snapshot()
        # The phase ends when the event backlog has drained: the CPU and the database operations per
        # journey include the work the journeys left queued behind them.
        with phase(stack, name, results["footprint"], results, args.profile,
                   ("gateway", "procedures", "notifications", stack.database_server("procedures"))):
            runs, in_window, window = drive(journeys, watcher, cast, concurrency, args.journey_seconds, warmup=5.0)
            drained = wait_until_quiet(stack.amqp_uri)
        done = sum(1 for r in runs if not r.error)
        db_ops = counters.per_journey(before, counters.snapshot(), done)
        report = JourneyReport(concurrency, window, runs, in_window,
                               check_end_state(databases, watcher, [r.code for r in runs]))
        row = report.row()
        row["backlog_drain_s"] = round(drained, 1)
        row["replicas"] = stack.replicas
        row["db_ops_per_journey"] = db_ops
        row["cpu_ms_per_journey"] = cpu_per_journey(results["footprint"]["cpu_s"][name], done)
        row["db_ops_missed"] = over_budget(db_ops["services"], read_budget(ROOT / "docs" / "BENCHMARKS.md"))
        console.print(f"  {report.rate:.1f} journeys/s, {len(runs)} started, {row['journeys_failed']} failed, "
                      f"event backlog drained {drained:.0f} s after the last journey")
        for line in row["db_ops_missed"]:
            console.print(f"  [bold red]MISSED database budget[/]: {line}")
        return row
    finally:
        counters.close()
        watcher.close()
        databases.close()


def cpu_per_journey(cpu_s: dict[str, float], journeys: int) -> dict[str, float]:
    """CPU ms per completed journey, per process, with the platform's sum; the load generator, the
    simulators (third parties) and the rest of the machine (RabbitMQ, other sessions) apart."""
    n = max(journeys, 1)
    per = {name: round(1000 * s / n, 1) for name, s in cpu_s.items()}
    apart = {name for name in per if name.startswith("sim-") or name in ("bench (load)", OTHER)}
    per["platform total"] = round(sum(v for k, v in per.items() if k not in apart), 1)
    return per


class phase:
    """Around one benchmark: CPU seconds per process, peak RSS, and optionally py-spy profiles."""

    def __init__(self, stack: Stack, name: str, footprint: dict[str, Any], results: dict[str, Any], profile: bool,
                 profiled: tuple[str, ...]) -> None:
        self.stack, self.name, self.footprint, self.results = stack, name, footprint, results
        self.cpu = CpuMeter(stack.processes)
        self.peaks = PeakSampler(stack.processes)
        self.profiler = Profiler(OUT, name) if profile else None
        self.profiled = profiled

    def __enter__(self) -> "phase":
        if self.profiler is not None:
            if not self.profiler.available:
                console.print("[yellow]py-spy not installed: no profiles (pip install py-spy)[/]")
            for name in self.profiled:
                self.profiler.start(name, self.stack.processes[name].pid)
        self.cpu.start()
        self.peaks.__enter__()
        return self

    def __exit__(self, *exc: object) -> None:
        self.peaks.__exit__(None, None, None)
        self.footprint["cpu_s"][self.name] = self.cpu.stop()
        for name, peak in self.peaks.peaks.items():
            self.footprint["peak_mb"][name] = max(self.footprint["peak_mb"].get(name, 0.0), peak)
        if self.profiler is not None:
            self.results.setdefault("profiles", {})[self.name] = self.profiler.stop()


def measure_raw(stack: Stack, args: argparse.Namespace, results: dict[str, Any]) -> dict[int, Result]:
    console.print("[bold]raw limits[/]")
    raw: dict[str, Any] = {}
    results["raw"] = raw
    server = raw_limits.GrpcEcho()
    try:
        echo = {n: server.measure(n, args.seconds) for n in args.concurrency}
    finally:
        server.close()
    raw["grpc_echo"] = [r.row() for r in echo.values()]
    nameko = raw_limits.NamekoEcho(stack.amqp_uri, stack.env())
    try:
        rows = [nameko.measure_shared_client(n, args.seconds) for n in args.concurrency]
        rows.append(nameko.measure(8, args.seconds))
    finally:
        nameko.close()
    raw["nameko_echo"] = [r.row() for r in rows]
    raw["broker"] = measure_broker(stack)
    raw["secantus"] = {k: round(v) for k, v in raw_limits.secantus(stack.mongo_uri).items()}
    for r in [*echo.values(), *rows]:
        console.print(f"  {r.name:<36} x{r.concurrency:<3} {r.rate:8.0f}/s p99 {r.p99_ms:6.2f} ms")
    console.print(f"  RabbitMQ {raw['broker']}")
    console.print(f"  SecantusDB {raw['secantus']}")
    return echo


def replay_bench() -> Any | None:
    """bench/replay_bench.py (the replay issue's benchmark) when this tree has it."""
    if importlib.util.find_spec("bench.replay_bench") is None:
        return None
    from bench import replay_bench

    return replay_bench


def measure_broker(stack: Stack) -> dict[str, Any]:
    """Publish with windowed confirms and consume with acks. The publisher is the replay's own raw
    publisher when bench/replay_bench.py exists (so "raw" means the same thing in both tables)."""
    count = 20_000
    replay = replay_bench()
    if replay is None:
        return broker_limits.measure(stack.amqp_uri, count).row()
    events = replay.synthetic_events(count, f"raw-{time.time_ns()}")
    published = replay.raw_publish_rate(stack.amqp_uri, events).rate
    consumed = broker_limits.consume_acked(stack.amqp_uri, replay.TARGET, count)
    return {"messages": count, "body_bytes": len(events[0].body), "confirm_window": "replay's window",
            "publisher": "services.archive.replay.publisher.WindowedPublisher (quorum queue)",
            "publish_confirmed_per_s": round(published), "consume_acked_per_s": round(consumed)}


def measure_replay(stack: Stack, events: int = 5000, rounds: int = 3) -> dict[str, Any]:
    replay = replay_bench()
    if replay is None:
        return {"missing": "bench/replay_bench.py not present in this tree"}
    from services.archive.domain.query import EventQuery

    if "archive" not in stack.processes:
        replay.start_archive(stack)
    tag = f"bench-{time.time_ns()}"
    archived = replay.synthetic_events(events, tag)
    archive_uri = stack.database_uri("archive")
    replay.archive(stack.amqp_uri, archive_uri, archived)
    comparison = replay.compare(stack.amqp_uri, archive_uri, archived, EventQuery(correlation_id=tag), rounds)
    console.print(comparison.report(events))
    # The headline is what `egov-events replay` does by default: read the envelopes from the index.
    return {"events": events, "rounds": rounds, "raw_per_s": round(statistics.median(comparison.raw)),
            "replay_per_s": round(statistics.median(comparison.index)),
            "replay_from_stream_per_s": round(statistics.median(comparison.stream)),
            "ratio": round(comparison.ratio(comparison.index), 3),
            "ratio_from_stream": round(comparison.ratio(comparison.stream), 3)}


def public_key(stack: Stack) -> bytes:
    return Path(stack.env()["EGOV_TOKEN_PUBLIC_KEY_FILE"]).read_bytes()


def machine() -> dict[str, Any]:
    cpu = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                if line.startswith("model name")), platform.processor())
    mem_kb = next(int(line.split()[1]) for line in Path("/proc/meminfo").read_text().splitlines()
                  if line.startswith("MemTotal"))
    return {"nproc": os.cpu_count(), "cpu": cpu, "ram_gb": round(mem_kb / 1024 / 1024, 1),
            "python": platform.python_version(), "kernel": platform.release()}


if __name__ == "__main__":
    raise SystemExit(main())
