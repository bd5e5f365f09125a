"""The run's results against the brief's targets (docs/BRIEF §6), as rich tables and as JSON."""

from dataclasses import dataclass
from typing import Any

from rich.console import Console
from rich.table import Table

from bench.agency_bench import print_report as print_agency

GATEWAY_MIN_RATIO = 0.8
GATEWAY_P99_MS_AT_32 = 50.0
JOURNEYS_PER_S = 10.0           # issue 14; beyond it 50/s
CPU_MS_PER_JOURNEY = 150.0      # issue 14, summed over the platform's processes; beyond it 40 ms
REPLAY_MIN_RATIO = 0.8
PROCESS_MAX_MB = 150.0
UP_MAX_SECONDS = 15.0
SERVICE_PROCESSES = ("identity", "procedures", "payments", "postal", "notifications", "gateway")


@dataclass
class Target:
    name: str
    goal: str
    measured: str
    met: bool | None     # None: not measured in this run

    def row(self) -> dict[str, Any]:
        return {"target": self.name, "goal": self.goal, "measured": self.measured,
                "status": "not measured" if self.met is None else "met" if self.met else "missed"}


def targets(results: dict[str, Any]) -> list[Target]:
    found: list[Target] = []
    for op, rows in _gateway_by_operation(results).items():
        worst = min(rows, key=lambda r: r["vs_direct"])
        found.append(Target(f"gateway {op}: throughput vs direct nameko RPC",
                            f">= {GATEWAY_MIN_RATIO}x at every concurrency",
                            f"min {worst['vs_direct']:.2f}x (at {worst['concurrency']})",
                            all(r["vs_direct"] >= GATEWAY_MIN_RATIO for r in rows)))
        at32 = next((r for r in rows if r["concurrency"] == 32), None)
        if at32:
            p99 = at32["gateway"]["p99_ms"]
            found.append(Target(f"gateway {op}: p99 at 32 callers", f"< {GATEWAY_P99_MS_AT_32:.0f} ms",
                                f"{p99:.1f} ms", p99 < GATEWAY_P99_MS_AT_32))
    agency = results.get("agency")
    if agency:
        name, goal = ("agency GetDossier (mutual TLS, rights, log): throughput vs direct nameko RPC",
                      f">= {GATEWAY_MIN_RATIO}x at every concurrency")
        points = agency.get("points")
        if points:
            worst = min(points, key=lambda p: p["gateway_vs_direct"])
            found.append(Target(name, goal, f"min {worst['gateway_vs_direct']:.2f}x (at {worst['concurrency']})",
                                all(p["gateway_vs_direct"] >= GATEWAY_MIN_RATIO for p in points)))
        else:
            found.append(Target(name, goal, agency.get("missing", "not measured"), None))
    journeys = results.get("journeys")
    if journeys:
        rate = journeys["journeys_per_s"]
        found.append(Target("journeys sustained", f">= {JOURNEYS_PER_S:.0f}/s", f"{rate:.1f}/s",
                            rate >= JOURNEYS_PER_S))
        runs = results.get("journey_runs", [journeys])
        cheapest = min((r for r in runs if "cpu_ms_per_journey" in r),
                       key=lambda r: r["cpu_ms_per_journey"]["platform total"], default=None)
        if cheapest is not None:
            cpu = cheapest["cpu_ms_per_journey"]["platform total"]
            found.append(Target("CPU per journey, platform processes (load generator, simulators, RabbitMQ apart)",
                                f"<= {CPU_MS_PER_JOURNEY:.0f} ms", f"{cpu:.0f} ms ({cheapest['concurrency']} at once)",
                                cpu <= CPU_MS_PER_JOURNEY))
        if any("db_ops_missed" in r for r in runs):
            missed = sorted({line for r in runs for line in r.get("db_ops_missed", [])})
            found.append(Target("database operations per journey, per service", "within docs/BENCHMARKS.md's budget",
                                "; ".join(missed) or "every service within", not missed))
        problems = sum(sum(r["end_state"]["problems"].values()) for r in runs)
        failed = sum(r["journeys_failed"] for r in runs)
        found.append(Target("journeys: nothing lost or doubled", "0 problems, 0 failed",
                            f"{problems} problems, {failed} failed of {sum(r['journeys_started'] for r in runs)}",
                            problems == 0 and failed == 0))
    replay = results.get("replay")
    if replay and replay.get("ratio") is not None:
        found.append(Target("replay vs raw windowed-confirm publish (read from the index, the default)",
                            f">= {REPLAY_MIN_RATIO}x", f"{replay['ratio']:.2f}x", replay["ratio"] >= REPLAY_MIN_RATIO))
    else:
        found.append(Target("replay vs raw windowed-confirm publish", f">= {REPLAY_MIN_RATIO}x",
                            (replay or {}).get("missing", "bench/replay_bench.py not present"), None))
    memory = results.get("footprint", {})
    peaks = {name: max(memory.get("idle_mb", {}).get(name, 0.0), memory.get("peak_mb", {}).get(name, 0.0))
             for name in SERVICE_PROCESSES}
    if any(peaks.values()):
        biggest = max(peaks, key=lambda n: peaks[n])
        found.append(Target("resident memory per service process", f"< {PROCESS_MAX_MB:.0f} MB",
                            f"max {peaks[biggest]:.0f} MB ({biggest})",
                            all(v < PROCESS_MAX_MB for v in peaks.values())))
    up = results.get("startup", {}).get("first_served_call_s")
    if up is not None:
        found.append(Target("platform up to first served call", f"< {UP_MAX_SECONDS:.0f} s", f"{up:.1f} s",
                            up < UP_MAX_SECONDS))
    return found


def _gateway_by_operation(results: dict[str, Any]) -> dict[str, list[dict[str, Any]]]:
    by_op: dict[str, list[dict[str, Any]]] = {}
    for row in results.get("gateway", []):
        by_op.setdefault(row["operation"], []).append(row)
    return by_op


def print_cpu_per_call(results: dict[str, Any], console: Console, concurrency: int = 32) -> None:
    """Where each call's CPU goes, per process, through the gateway and direct: what the gateway adds."""
    rows = [r for r in results.get("gateway", []) if r["concurrency"] == concurrency]
    if not rows:
        return
    c = Table(title=f"CPU ms per call at {concurrency} callers, by process (gateway path / direct path)")
    c.add_column("process")
    for row in rows:
        c.add_column(row["operation"], justify="right")
    processes = sorted({p for row in rows for path in ("gateway", "direct") for p in row[path]["cpu_ms_per_call"]})
    for process in [*processes, "total"]:
        cells = []
        for row in rows:
            gw, d = row["gateway"]["cpu_ms_per_call"], row["direct"]["cpu_ms_per_call"]
            if process == "total":
                cells.append(f"{sum(gw.values()):.2f} / {sum(d.values()):.2f}")
            else:
                cells.append(f"{gw.get(process, 0):.2f} / {d.get(process, 0):.2f}")
        c.add_row(process, *cells)
    console.print(c)


def print_report(results: dict[str, Any], console: Console) -> None:
    raw = results.get("raw", {})
    t = Table(title="Raw limits of this machine (same run)")
    for c in ("what", "callers", "per s", "p50 ms", "p99 ms"):
        t.add_column(c, justify="right" if c != "what" else "left")
    for row in raw.get("grpc_echo", []) + raw.get("nameko_echo", []):
        t.add_row(row["name"], str(row["concurrency"]), f"{row['rate']:,.0f}", f"{row['p50_ms']:.2f}",
                  f"{row['p99_ms']:.2f}")
    broker = raw.get("broker")
    if broker:
        t.add_row(f"RabbitMQ publish, windowed confirms ({broker['confirm_window']})", "1",
                  f"{broker['publish_confirmed_per_s']:,}", "", "")
        t.add_row("RabbitMQ consume, one ack each", "1", f"{broker['consume_acked_per_s']:,}", "", "")
    for key, label in (("insert_per_s", "SecantusDB insert"), ("indexed_find_per_s", "SecantusDB indexed find"),
                       ("update_per_s", "SecantusDB update")):
        if key in raw.get("secantus", {}):
            t.add_row(label, "1", f"{raw['secantus'][key]:,.0f}", "", "")
    console.print(t)

    if results.get("gateway"):
        print_gateway(results, console)
    if results.get("agency", {}).get("points"):
        print_agency(results["agency"], console)
    print_journeys(results, console)

    replay = results.get("replay")
    if replay and replay.get("ratio") is not None:
        console.print(f"Replay: {replay['replay_per_s']:,.0f} events/s vs raw {replay['raw_per_s']:,.0f}/s "
                      f"= {replay['ratio']:.2f}x (read from the index, the default; from the stream "
                      f"{replay.get('ratio_from_stream', 0):.2f}x)")

    memory = results.get("footprint", {})
    if memory:
        m = Table(title="Footprint: resident memory (MB) and CPU seconds used per phase")
        cpu = memory.get("cpu_s", {})
        phases = list(cpu)
        for c in ("process", "idle MB", "peak MB", *[f"CPU s {p}" for p in phases]):
            m.add_column(c, justify="left" if c == "process" else "right")
        names = [*memory.get("idle_mb", {}), "bench (load)", "other (RabbitMQ, anything else)"]
        for name in names:
            idle, peak = memory.get("idle_mb", {}).get(name), memory.get("peak_mb", {}).get(name)
            m.add_row(name, "-" if idle is None else f"{idle:.0f}", f"{peak:.0f}" if peak else "-",
                      *[f"{cpu[p].get(name, 0):.1f}" for p in phases])
        console.print(m)
    startup = results.get("startup", {})
    if startup:
        console.print(f"Start-up: Stack.start {startup['stack_start_s']:.1f} s, first served gRPC call at "
                      f"{startup['first_served_call_s']:.1f} s")

    tt = Table(title="Targets (brief §6)")
    for c in ("target", "goal", "measured", "status"):
        tt.add_column(c)
    for target in targets(results):
        status = {None: "[yellow]not measured[/]", True: "[green]met[/]", False: "[red]missed[/]"}[target.met]
        tt.add_row(target.name, target.goal, target.measured, status)
    console.print(tt)


def print_gateway(results: dict[str, Any], console: Console) -> None:
    g = Table(title="Gateway vs direct nameko RPC (same method, request and caller) and vs grpcio echo")
    for c in ("operation", "callers", "gateway /s", "p50", "p95", "p99 ms", "direct /s", "p99 ms ", "vs direct",
              "vs echo", "errors"):
        g.add_column(c, justify="left" if c == "operation" else "right")
    for row in results.get("gateway", []):
        gw, d = row["gateway"], row["direct"]
        g.add_row(row["operation"], str(row["concurrency"]), f"{gw['rate']:,.0f}", f"{gw['p50_ms']:.1f}",
                  f"{gw['p95_ms']:.1f}", f"{gw['p99_ms']:.1f}", f"{d['rate']:,.0f}", f"{d['p99_ms']:.1f}",
                  f"{row['vs_direct']:.2f}x", f"{row['vs_grpc_echo']:.2f}x" if row["vs_grpc_echo"] else "-",
                  f"{gw['errors']}/{d['errors']}")
    console.print(g)
    print_cpu_per_call(results, console)


def print_journeys(results: dict[str, Any], console: Console) -> None:
    runs = results.get("journey_runs", [])
    if runs:
        console.print("Journey runs: " + "; ".join(
            f"{r['concurrency']} at once: {r['journeys_per_s']:.1f}/s, "
            f"journey p50 {r['stages']['total']['p50_ms']:.0f} ms"
            for r in runs))
    journeys = results.get("journeys")
    if journeys:
        j = Table(title=f"Journeys: {journeys['concurrency']} at once, {journeys['journeys_per_s']:.1f}/s sustained "
                        f"over {journeys['window_seconds']:.0f} s ({journeys['journeys_started']} started, "
                        f"{journeys['journeys_failed']} failed)")
        for c in ("stage", "p50 ms", "p95 ms", "p99 ms"):
            j.add_column(c, justify="left" if c == "stage" else "right")
        for stage, v in journeys["stages"].items():
            j.add_row(stage, f"{v['p50_ms']:.0f}", f"{v['p95_ms']:.0f}", f"{v['p99_ms']:.0f}")
        console.print(j)
        print_journey_costs(journeys, console)
        end = journeys["end_state"]
        verdict = "nothing lost or doubled" if end["nothing_lost_or_doubled"] else f"PROBLEMS {end['problems']}"
        console.print(f"End state of {end['dossiers_checked']} dossiers: {verdict}")


def print_journey_costs(journeys: dict[str, Any], console: Console) -> None:
    """Database operations and CPU per completed journey, per service/process."""
    ops = journeys.get("db_ops_per_journey")
    if ops:
        d = Table(title=f"Database operations per journey ({ops['journeys']} journeys, backlog drained; "
                        f"commits and other unattributed commands: {ops['other_commands_per_journey']:.1f})")
        for c in ("service", "find", "insert", "update", "remove", "getmore", "commands", "total", "index entries",
                  "server ms"):
            d.add_column(c, justify="left" if c == "service" else "right")
        for service, row in ops["services"].items():
            d.add_row(service, *[f"{row[k]:.1f}" for k in ("find", "insert", "update", "remove", "getmore",
                                                             "commands", "total", "index_entries")],
                      f"{row.get('server_ms', 0):.1f}")
        console.print(d)
    for line in journeys.get("db_ops_missed", []):
        console.print(f"[bold red]MISSED[/] database budget: {line}")
    cpu = journeys.get("cpu_ms_per_journey")
    if cpu:
        console.print("CPU ms per journey: " + ", ".join(f"{k} {v:.0f}" for k, v in sorted(
            cpu.items(), key=lambda kv: -kv[1]) if v >= 0.5))
