"""Agency calls through the gateway with mutual TLS, access rights and the message log, against
direct nameko RPC to the same service method (issue 4's benchmark; a script, not a test). Over 300
lines: the setup, the measurement, the profile and the report of one benchmark, read together.

    python -m bench.agency_bench [--seconds 4.5] [--concurrency 1 8 32] [--profile]

It starts its own platform (deploy/local/stack.py: SecantusDB, simulators, services, gateway) on a
private RabbitMQ vhost, with the gateway's TLS files from deploy/certs.py and its agency (mutual
TLS) listener. The one-stop desk system is registered the way an operator does it, through the
operator layer (deploy/registrations.py, what `egov-gateway apply` does): its member, its
subsystem, its client certificate, then a grant of `ProcedureService/GetDossier` (checked: refused
before the grant, served after it). A citizen files
one dossier; then, at each concurrency (1, 8, 32 callers, bench/measure.py's closed loop), in three
rounds of 1.5 s per column, the order reversed every other round, side by side:

- direct: the same nameko method with the gateway's own RPC client class, the request dict and the
  caller dict the gateway sends for the desk (bench/gateway_bench.py's baseline);
- gateway: `GetDossier` on the agency port with the desk's client certificate: handshake-verified
  certificate, registry lookup, grant check, member limits, validation, message log record written
  before the answer is released (EGOV_GATEWAY_LOG_DURABLE on, the default);
- log not waited: a second gateway process started the same way but with EGOV_GATEWAY_LOG_DURABLE=false
  (on its own log chain): it still writes every record, but answers without waiting for the write.
  The difference between the two gateway columns is what waiting for the log costs.

Both gateways are extra processes on the stack (their own ports and message log chains), stopped at
the end; the stack's own plaintext gateway stays up, idle. Rates and percentiles are the medians of
the rounds; CPU per call per process (from /proc, RabbitMQ included) is over all rounds.

The desk's member is registered with limits above the load (the defaults, 200 calls/s and 32
concurrent calls per member, would measure the policy, not the gateway); the limiter still runs on
every call. Results: a table on the terminal and var/bench/agency.json. `--profile` adds one more
run at the highest concurrency with py-spy on the gateway and SecantusDB (not in the table).
"""

import argparse
import json
import os
import signal
import statistics
import time
import urllib.parse
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

import grpc
from pymongo import MongoClient
from rich.console import Console
from rich.table import Table

from bench.cast import counter_submission, procedures
from bench.footprint import OTHER
from bench.gateway_bench import CALL_TIMEOUT, CONTEXT, Measured, caller_signer, measured, ratio, wait_until_quiet
from bench.limits import BENCH_ENV
from bench.measure import platform_for, quiet_logs
from bench.profiling import RATE_HZ, Profiler, read_stacks
from deploy.certs import file_name
from deploy.local.journey import Citizen, Journey, bearer, residents
from deploy.local.stack import ROOT, Stack, free_port
from deploy.registrations import DESK, GET_DOSSIER, one_stop_desk
from egov.procedures.v1 import procedures_pb2 as pp
from gateway.members import Channel, MemberId
from gateway.message_log import EXCHANGE
from gateway.message_log_store import MongoLogStore
from gateway.rpc_client import NamekoRpcClient
from services.common import protowire
from services.common.caller import Caller, CallerKind

console = Console(width=None if Console().is_terminal else 160)
OUT = ROOT / "var" / "bench"
METHOD = GET_DOSSIER
SERVICE, RPC_METHOD = "procedures", "get_dossier"
GATEWAY_DB = "egov_gateway"
BROKER = "rabbitmq (shared)"
# Member limits for the desk, above anything this load generator can reach (see the module doc).
DESK_LIMITS = {"rate_per_second": 1_000_000, "burst": 1_000_000, "concurrency": 1024}
CONCURRENCY = (1, 8, 32)
ROUNDS = 3
# (key in the results, column title)
MODES = (("direct", "direct"), ("gateway", "gateway"), ("not_durable", "log not waited"))


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.agency_bench", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=4.5,
                        help=f"measured seconds per column and concurrency, in {ROUNDS} rounds")
    parser.add_argument("--concurrency", type=int, nargs="+", default=list(CONCURRENCY))
    parser.add_argument("--profile", action="store_true",
                        help="one more run at the highest concurrency with py-spy on the gateway, SecantusDB "
                             "and procedures (var/bench/agency-*.svg)")
    args = parser.parse_args()
    quiet_logs()
    started = time.monotonic()
    results = run(args.seconds, tuple(args.concurrency), args.profile)
    results["total_seconds"] = round(time.monotonic() - started, 1)
    OUT.mkdir(parents=True, exist_ok=True)
    (OUT / "agency.json").write_text(json.dumps(results, indent=2, ensure_ascii=False))
    console.print()
    print_report(results, console)
    console.print(f"whole run {results['total_seconds']:.0f} s; results in {OUT / 'agency.json'}")
    return 0


def run(seconds: float, concurrencies: tuple[int, ...], profile: bool = False) -> dict[str, Any]:
    """Start a platform of its own, file a dossier, measure, stop."""
    stack = Stack(OUT / f"agency-{uuid.uuid4().hex[:8]}", extra_env=BENCH_ENV)
    with platform_for(stack, "agency benchmark", console.print):
        with console.status("starting the platform..."):
            stack.start()
        with console.status("filing a dossier to read..."):
            dossier = file_a_dossier(stack)
        return run_on(stack, dossier, seconds, concurrencies, profile)


def run_on(stack: Stack, dossier_code: str, seconds: float, concurrencies: tuple[int, ...],
           profile: bool = False) -> dict[str, Any]:
    """On a running stack (its certificates in <workdir>/certs, as Stack.start makes them): two more
    gateway processes with mutual TLS, the desk registered and granted, the measurements; the two
    gateways are stopped again at the end."""
    certs = stack.workdir / "certs"
    results: dict[str, Any] = {"method": METHOD, "client": DESK, "dossier": dossier_code, "settings": {
        "seconds": seconds, "concurrency": list(concurrencies), "desk_member_limits": DESK_LIMITS}}
    ports: dict[str, int] = {}
    started = time.monotonic()
    try:
        with console.status("starting two gateways with mutual TLS..."):
            ports = {mode: start_mtls_gateway(stack, mode) for mode in GATEWAYS}
        with console.status("registering the desk, its certificate and its grant..."):
            setup = Setup(stack, certs, ports, dossier_code)
        try:
            results["rights_check"] = setup.refused_before_grant
            console.print(f"agency calls: before the grant, {setup.refused_before_grant}")
            results["points"] = measure_all(stack, setup, concurrencies, seconds)
            results["message_log"] = setup.log_counts
            if profile:
                results["profile"] = profile_gateway(stack, setup, max(concurrencies), seconds)
        finally:
            setup.close()
    finally:
        for mode in ports:
            if GATEWAYS[mode].process in stack.pids():
                stack.kill(GATEWAYS[mode].process, signal.SIGTERM)
    results["phase_seconds"] = round(time.monotonic() - started, 1)
    return results


@dataclass(frozen=True)
class GatewayVariant:
    process: str       # its name among the stack's processes (and its log file)
    chain: str         # its message log chain (one writer per chain)
    durable: bool      # EGOV_GATEWAY_LOG_DURABLE


GATEWAYS = {"gateway": GatewayVariant("gateway-mtls", "agency-bench", True),
            "not_durable": GatewayVariant("gateway-mtls-not-waited", "agency-bench-not-waited", False)}


def start_mtls_gateway(stack: Stack, mode: str) -> int:
    """A gateway process with the TLS files of deploy/certs.py and its agency front (mutual TLS), on
    ports and a log chain of its own; returns the front's port."""
    variant, certs, agency_port = GATEWAYS[mode], stack.workdir / "certs", free_port()
    env = {**stack.env(),
           "EGOV_GATEWAY_TLS_CERT": str(certs / "gateway.pem"), "EGOV_GATEWAY_TLS_KEY": str(certs / "gateway.key"),
           "EGOV_GATEWAY_TLS_CLIENT_CA": str(certs / "ca.pem"),
           "EGOV_GATEWAY_ADDRESS": f"127.0.0.1:{free_port()}",
           "EGOV_GATEWAY_AGENCY_ADDRESS": f"127.0.0.1:{agency_port}",
           "EGOV_GATEWAY_OUTBOUND_ADDRESS": f"127.0.0.1:{free_port()}",
           "EGOV_GATEWAY_LOG_CHAIN": variant.chain,
           "EGOV_GATEWAY_LOG_DURABLE": "true" if variant.durable else "false"}
    stack.start_gateway(variant.process, env)
    return agency_port


class Setup:
    """The desk registered, a client for each path, the message log's counts."""

    def __init__(self, stack: Stack, certs: Path, agency_ports: dict[str, int], dossier_code: str) -> None:
        self.stack = stack
        self.mongo: MongoClient[dict[str, Any]] = MongoClient(stack.database_uri("gateway"))
        self.log = MongoLogStore(self.mongo, GATEWAY_DB)
        desk_pem = certs / "agencies" / f"{file_name(DESK)}.pem"
        stack.register(one_stop_desk(DESK_LIMITS, grants=()))
        credentials = grpc.ssl_channel_credentials((certs / "ca.pem").read_bytes(),
                                                   (certs / "agencies" / f"{file_name(DESK)}.key").read_bytes(),
                                                   desk_pem.read_bytes())
        self.channels = {mode: grpc.secure_channel(f"127.0.0.1:{port}", credentials)
                         for mode, port in agency_ports.items()}
        self.request = pp.GetDossierRequest(code=dossier_code)
        self.refused_before_grant = self._refused()
        stack.register(one_stop_desk(DESK_LIMITS))
        for mode in self.channels:    # served now, by both gateways
            self.call(mode)()
        # What the gateway makes of the desk's certificate (gateway.auth), for the direct calls.
        self.caller = Caller(CallerKind.AGENCY, subject=DESK, agency_code=MemberId.parse(DESK.rsplit("/", 1)[0])
                             .member_code, channel=Channel.COUNTER.value)
        self.rpc = NamekoRpcClient(stack.amqp_uri, name="agency-bench")
        self.rpc.start(wait=10)
        self.log_counts: dict[str, dict[str, int]] = {}

    def _refused(self) -> str:
        try:
            self.call("gateway")()
        except grpc.RpcError as error:
            if error.code() != grpc.StatusCode.PERMISSION_DENIED:
                raise
            return f"{error.code().name} {error.details()}"
        raise RuntimeError(f"{DESK} could call {METHOD} without a grant: rights are not checked")

    def call(self, mode: str) -> Callable[[], object]:
        stub = self.channels[mode].unary_unary(METHOD, request_serializer=pp.GetDossierRequest.SerializeToString,
                                               response_deserializer=pp.GetDossierResponse.FromString)
        request = self.request
        return lambda: stub(request, timeout=CALL_TIMEOUT)

    def make_call(self, mode: str) -> Callable[[], Callable[[], object]]:
        if mode == "direct":       # signed per call as the gateway signs (services believe nothing else)
            wire, rpc, signer = protowire.dump(self.request), self.rpc, caller_signer(self.stack.env())

            def direct() -> object:
                caller = signer.sign(self.caller, SERVICE, RPC_METHOD, wire, valid_seconds=CALL_TIMEOUT)
                return rpc.call(SERVICE, RPC_METHOD, {"request": wire, "caller": caller}, timeout=CALL_TIMEOUT,
                                context_data=CONTEXT)

            return lambda: direct
        return lambda: self.call(mode)

    def log_head(self, mode: str) -> int:
        """The last sequence number of the mode's message log chain (records and seals)."""
        last = self.log.last(GATEWAYS[mode].chain)
        return int(last["seq"]) if last else 0

    def exchanges(self, mode: str, after: int) -> int:
        """The desk's successful exchanges the chain recorded after `after`, read as `log verify` reads them."""
        return sum(1 for r in self.log.records(GATEWAYS[mode].chain, after)
                   if r.get("kind") == EXCHANGE and r.get("method") == METHOD and r.get("client") == DESK
                   and r.get("status") == "OK")

    def close(self) -> None:
        self.rpc.close()
        for channel in self.channels.values():
            channel.close()
        self.mongo.close()


def file_a_dossier(stack: Stack) -> str:
    """A citizen registers and files a no-fee dossier through the stack's own gateway."""
    channel = grpc.insecure_channel(f"127.0.0.1:{stack.ports.gateway}")
    try:
        journey = Journey.of(stack, channel)
        return submit_dossier(journey, journey.register_citizen(residents()[0]))
    finally:
        channel.close()


def submit_dossier(journey: Journey, citizen: Citizen) -> str:
    """A no-fee dossier collected at the desk (bench/cast.py's write) for a procedure the desk's own
    agency is competent for: an agency system reads only the dossiers its member received, is
    competent for or handled."""
    member = MemberId.parse(DESK.rsplit("/", 1)[0]).member_code
    own = [p for p in procedures(journey, 3, with_fee=False) if p.agency_code == member]
    if not own:
        raise RuntimeError(f"the catalogue has no level-3 procedure without a fee that {member} settles")
    request = counter_submission(own[0])
    deadline = time.monotonic() + 30
    while True:   # procedures learns of a new citizen from identity's CitizenRegistered event
        try:
            reply = journey.api.procedures.SubmitDossier(request, metadata=bearer(citizen.token), timeout=10)
            return str(reply.dossier.code)
        except grpc.RpcError as error:
            if error.code() != grpc.StatusCode.FAILED_PRECONDITION or time.monotonic() > deadline:
                raise
            time.sleep(0.1)


def measure_all(stack: Stack, setup: Setup, concurrencies: Iterable[int], seconds: float,
                rounds: int = ROUNDS) -> list[dict[str, Any]]:
    """For each concurrency, `rounds` rounds of the three columns back to back (the order reversed
    every other round, so that a drift in the machine's load hits them alike), each column
    `seconds / rounds` per round; a column's rate and percentiles are the medians of its rounds."""
    points = []
    for n in concurrencies:
        runs: dict[str, list[Measured]] = {mode: [] for mode, _ in MODES}
        for r in range(rounds):
            wait_until_quiet(stack.amqp_uri)
            for mode, _ in (MODES if r % 2 == 0 else MODES[::-1]):
                head = setup.log_head(mode) if mode != "direct" else 0
                run = measured(metered(stack), f"{mode} GetDossier", setup.make_call(mode), n, seconds / rounds)
                runs[mode].append(run)
                if mode != "direct":
                    counts = setup.log_counts.setdefault(mode, {"measured_calls": 0, "records": 0})
                    counts["measured_calls"] += run.result.calls
                    counts["records"] += setup.exchanges(mode, head)
        point: dict[str, Any] = {"concurrency": n, **{mode: combined(runs[mode]) for mode, _ in MODES}}
        point["gateway_vs_direct"] = round(ratio(point["gateway"]["rate"], point["direct"]["rate"]), 3)
        point["not_durable_vs_direct"] = round(ratio(point["not_durable"]["rate"], point["direct"]["rate"]), 3)
        points.append(point)
        console.print(f"  x{n:<3} " + " | ".join(
            f"{title} {point[mode]['rate']:7.1f}/s p50 {point[mode]['p50_ms']:5.1f} p99 "
            f"{point[mode]['p99_ms']:6.1f} ms" for mode, title in MODES)
            + f" | ratio {point['gateway_vs_direct']:.2f} ({point['not_durable_vs_direct']:.2f} log not waited)")
    return points


def combined(runs: list[Measured]) -> dict[str, Any]:
    """One column at one concurrency: medians of its rounds; CPU per call over all of them."""
    calls = sum(run.result.calls for run in runs)
    processes = {name for run in runs for name in run.cpu_ms_per_call}
    return {
        "rate": round(statistics.median(run.result.rate for run in runs), 1),
        "p50_ms": round(statistics.median(run.result.p50_ms for run in runs), 2),
        "p99_ms": round(statistics.median(run.result.p99_ms for run in runs), 2),
        "calls": calls, "errors": sum(run.result.errors for run in runs),
        **({"first_error": errors[0]} if (errors := [r.result.first_error for r in runs if r.result.first_error])
           else {}),
        "cpu_ms_per_call": {name: round(sum(run.cpu_ms_per_call.get(name, 0.0) * run.result.calls for run in runs)
                                        / calls, 2) if calls else 0.0 for name in sorted(processes)},
        "rounds": [run.row() for run in runs],
    }


@dataclass(frozen=True)
class _Pid:
    pid: int


def metered(stack: Stack) -> dict[str, Any]:
    """The stack's processes and the RabbitMQ server it uses (shared with other sessions)."""
    processes: dict[str, Any] = {name: _Pid(pid) for name, pid in stack.pids().items()}
    pid = listening_pid(urllib.parse.urlsplit(stack.amqp_uri).port or 5672)
    if pid is not None:
        processes[BROKER] = _Pid(pid)
    return processes


@lru_cache(maxsize=8)
def listening_pid(port: int) -> int | None:
    """The process listening on TCP `port` (other sessions may run brokers of their own: the right
    one is the one on our port). None if it cannot be told (not our user's process, no /proc)."""
    inodes = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            lines = Path(table).read_text().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            fields = line.split()
            if int(fields[1].rsplit(":", 1)[1], 16) == port and fields[3] == "0A":   # LISTEN
                inodes.add(f"socket:[{fields[9]}]")
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            if any(os.readlink(fd) in inodes for fd in (entry / "fd").iterdir()):
                return int(entry.name)
        except OSError:
            continue
    return None


def profile_gateway(stack: Stack, setup: Setup, concurrency: int, seconds: float) -> dict[str, Any]:
    """One more run of the mTLS gateway (durable log) with py-spy on the gateway, SecantusDB and
    procedures; its numbers are not the table's (sampling takes CPU from what it measures)."""
    profiler = Profiler(OUT, f"agency-x{concurrency}")
    if not profiler.available:
        console.print("[yellow]py-spy not installed: no profile (pip install py-spy)[/]")
        return {}
    wait_until_quiet(stack.amqp_uri)
    processes = {"gateway": GATEWAYS["gateway"].process, "mongo": stack.database_server("gateway"),
                 "procedures": "procedures"}
    for name, process in processes.items():
        profiler.start(name, stack.pids()[process])
    profiled_seconds = max(3 * seconds, 12.0)
    run = measured(metered(stack), "gateway GetDossier (profiled)", setup.make_call("gateway"), concurrency,
                   profiled_seconds)
    summaries = profiler.stop()
    calls = run.result.calls * (profiled_seconds + 0.5) / profiled_seconds     # warm-up included, as measured()
    console.print(f"[bold]profiled run[/] at {concurrency} callers: {run.result.rate:.0f} calls/s "
                  "(py-spy takes CPU too: not comparable with the table)")
    for name, summary in summaries.items():
        process = processes[name]
        cpu = run.cpu_ms_per_call.get(process, 0.0) * calls / 1000
        gil = int(summary["samples"]) / RATE_HZ   # type: ignore[call-overload]
        summary["cpu_seconds"], summary["gil_seconds"] = round(cpu, 2), round(gil, 2)
        console.print(f"  {name}: {summary['samples']} samples = {gil:.1f} s holding the GIL, of {cpu:.1f} s CPU; "
                      f"{summary['flamegraph']}")
        raw = OUT / f"agency-x{concurrency}-{name}.txt"
        if raw.exists():
            parts = shares(read_stacks(raw))
            summary["parts"] = parts
            for label, share in parts.items():
                console.print(f"    {share:5.1f} %  {label}")
    return {"run": run.row(), "seconds": profiled_seconds, "processes": summaries}


# Samples are attributed to the deepest frame in one of these source trees, by its module file: the
# breakdown follows the code as it is, and names no function that a refactoring may rename.
OWN_CODE = ("gateway/", "services/", "secantus/", "pymongo/", "grpc/", "pika/")


def shares(stacks: list[tuple[list[str], int]], top: int = 10) -> dict[str, float]:
    """Per cent of the samples by module (the deepest frame in OWN_CODE), the `top` largest, "other" the rest."""
    total = sum(count for _, count in stacks)
    found: dict[str, int] = {}
    for frames, count in stacks:
        module = next((m for frame in reversed(frames) if (m := _module(frame)).startswith(OWN_CODE)), "other")
        found[module] = found.get(module, 0) + count
    ranked = sorted(((n, m) for m, n in found.items() if m != "other"), reverse=True)
    result = {m: round(100 * n / total, 1) for n, m in ranked[:top]} if total else {}
    rest = total - sum(n for n, _ in ranked[:top])
    result["other"] = round(100 * rest / total, 1) if total else 0.0
    return result


def _module(frame: str) -> str:
    """`name (path/file.py)` or `name (path/file.py:12)` -> `path/file.py`."""
    inside = frame.rpartition("(")[2].rstrip(")")
    return inside.split(":", 1)[0]


# -- report -----------------------------------------------------------------------------------------

def print_report(results: dict[str, Any], out: Console) -> None:
    table = Table(title=f"Agency calls: {results['method'].rsplit('/', 1)[1]} by {results['client']} through the "
                        "gateway (mutual TLS, rights, message log) vs direct nameko RPC")
    table.add_column("callers", justify="right")
    for _, title in MODES:
        table.add_column(f"{title} /s", justify="right")
        table.add_column("p50", justify="right")
        table.add_column("p99 ms", justify="right")
    table.add_column("gateway / direct", justify="right")
    table.add_column("not waited / direct", justify="right")
    table.add_column("errors", justify="right")
    table.add_column("other cores", justify="right")
    for p in results["points"]:
        cells = [str(p["concurrency"])]
        for mode, _ in MODES:
            cells += [f"{p[mode]['rate']:,.0f}", f"{p[mode]['p50_ms']:.1f}", f"{p[mode]['p99_ms']:.1f}"]
        cells += [f"{p['gateway_vs_direct']:.2f}x", f"{p['not_durable_vs_direct']:.2f}x",
                  "/".join(str(p[mode]["errors"]) for mode, _ in MODES),
                  "/".join(f"{other_cores(p[mode]):.1f}" for mode, _ in MODES)]
        table.add_row(*cells)
    out.print(table)
    out.print("other cores: CPU used by anything but the platform, RabbitMQ and the load generator during each "
              "column's run (direct/gateway/not waited), in cores of the machine's two: other sessions' load")
    top = max(results["points"], key=lambda p: p["concurrency"])
    cpu = Table(title=f"CPU ms per agency call at {top['concurrency']} callers, by process")
    cpu.add_column("process")
    for _, title in MODES:
        cpu.add_column(title, justify="right")
    names = sorted({name for mode, _ in MODES for name in top[mode]["cpu_ms_per_call"]}, key=_process_order)
    for name in [*names, "total"]:
        cells = [sum(top[mode]["cpu_ms_per_call"].values()) if name == "total"
                 else top[mode]["cpu_ms_per_call"].get(name, 0.0) for mode, _ in MODES]
        cpu.add_row("other (anything else on the machine)" if name == OTHER else name, *(f"{c:.2f}" for c in cells))
    out.print(cpu)
    out.print(f"rights: before the grant the desk got {results['rights_check']}")
    for mode, counts in results.get("message_log", {}).items():
        out.print(f"message log ({dict(MODES)[mode]}): {counts['records']:,} exchange records for "
                  f"{counts['measured_calls']:,} measured calls (+ warm-up calls)")


def other_cores(run: dict[str, Any]) -> float:
    """CPU of whatever else ran on the machine, in cores, during a measured run."""
    return float(run["cpu_ms_per_call"].get(OTHER, 0.0)) * float(run["rate"]) / 1000


def _process_order(name: str) -> tuple[int, str]:
    return (1 if name == OTHER else 0, name)


if __name__ == "__main__":
    raise SystemExit(main())
