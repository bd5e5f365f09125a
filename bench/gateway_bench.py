"""The gateway against direct nameko RPC: the same service method, the same request dict and caller
dict the gateway would send, at the same concurrency, from the same load generator.

The direct baseline uses the gateway's own RPC client class (gateway.rpc_client.NamekoRpcClient),
one instance shared by all caller threads as in the gateway, so the ratio measures what the
gateway adds (gRPC, token check, validation, proto <-> dict) and not a slower client.
"""

import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from subprocess import Popen
from typing import Any

import grpc
import pika
from google.protobuf.message import Message

from bench.footprint import CpuMeter
from bench.measure import Result, closed_loop
from gateway.methods import Method, build_method_table
from gateway.rpc_client import NamekoRpcClient
from services.common import protowire
from services.common.caller import Caller
from services.common.caller_proof import GATEWAY, CallerSigner
from services.common.topology import SUBSCRIPTIONS

CALL_TIMEOUT = 10.0
# One fixed context, shaped as the gateway's (gateway.call.Call.context_data).
CONTEXT = {"traceparent": f"00-{uuid.uuid4().hex}-{uuid.uuid4().hex[:16]}-01", "call_id_stack": ["bench.direct"]}


@dataclass(frozen=True)
class Operation:
    label: str            # "read", "write"
    method: Method
    request: Message
    token: str
    caller: Caller        # what the gateway makes of `token`

    @property
    def name(self) -> str:
        return f"{self.label} {self.method.rpc_name}"


def operation(label: str, full_name: str, request: Message, token: str, caller: Caller) -> Operation:
    return Operation(label, build_method_table()[full_name], request, token, caller)


def via_gateway(channel: grpc.Channel, op: Operation) -> Callable[[], Callable[[], object]]:
    call = channel.unary_unary(op.method.full_name, request_serializer=op.method.request_class.SerializeToString,
                               response_deserializer=op.method.response_class.FromString)
    metadata = (("authorization", f"Bearer {op.token}"),)

    def make() -> Callable[[], object]:
        return lambda: call(op.request, metadata=metadata, timeout=CALL_TIMEOUT)

    return make


def caller_signer(env: Mapping[str, str]) -> CallerSigner:
    """The gateway's caller key of a stack: services believe a caller only if it signed it for the very
    call (services/common/caller_proof.py), so the direct baseline signs as the gateway does."""
    return CallerSigner.from_file(Path(env["EGOV_GATEWAY_CALLER_KEY_FILE"]), GATEWAY)


def direct(client: NamekoRpcClient, op: Operation, signer: CallerSigner) -> Callable[[], Callable[[], object]]:
    wire = protowire.dump(op.request)
    service, method = op.method.service, op.method.method

    def call() -> object:       # signed per call, as the gateway does (the signature covers the request)
        caller = signer.sign(op.caller, service, method, wire, valid_seconds=CALL_TIMEOUT)
        return client.call(service, method, {"request": wire, "caller": caller}, timeout=CALL_TIMEOUT,
                           context_data=CONTEXT)

    def make() -> Callable[[], object]:
        return call

    return make


def wait_until_quiet(amqp_uri: str, timeout: float = 90.0) -> float:
    """Wait until every service's event queue is empty (the work a write left behind is done), so
    the next measurement does not pay for the previous one. Returns the seconds waited."""
    started = time.monotonic()
    connection = pika.BlockingConnection(pika.URLParameters(amqp_uri))
    try:
        channel = connection.channel()
        empty_polls = 0
        while empty_polls < 3 and time.monotonic() - started < timeout:
            ready = 0
            for sub in SUBSCRIPTIONS:
                ready += channel.queue_declare(sub.queue, passive=True).method.message_count
            empty_polls = empty_polls + 1 if ready == 0 else 0
            time.sleep(0.2)
    finally:
        connection.close()
    return time.monotonic() - started


@dataclass
class Measured:
    result: Result
    cpu_ms_per_call: dict[str, float]    # CPU each process spent per call, warm-up included

    def row(self) -> dict[str, Any]:
        return {**self.result.row(), "cpu_ms_per_call": self.cpu_ms_per_call}


def measured(processes: Mapping[str, Popen[bytes]], name: str, make_call: Callable[[], Callable[[], object]],
             concurrency: int, seconds: float, warmup: float = 0.5) -> Measured:
    meter = CpuMeter(processes).start()
    result = closed_loop(name, make_call, concurrency, seconds, warmup)
    used = meter.stop()
    calls = result.calls * (seconds + warmup) / seconds   # the warm-up's calls used CPU too
    per_call = {process: round(1000 * cpu / calls, 2) for process, cpu in used.items()
                if calls and 1000 * cpu / calls >= 0.05}
    return Measured(result, per_call)


@dataclass
class Comparison:
    operation: str
    concurrency: int
    gateway_run: Measured
    direct_run: Measured
    echo: Result | None

    @property
    def gateway(self) -> Result:
        return self.gateway_run.result

    @property
    def direct(self) -> Result:
        return self.direct_run.result

    def row(self) -> dict[str, Any]:
        return {
            "operation": self.operation, "concurrency": self.concurrency,
            "gateway": self.gateway_run.row(), "direct": self.direct_run.row(),
            "vs_direct": round(ratio(self.gateway.rate, self.direct.rate), 3),
            "vs_grpc_echo": round(ratio(self.gateway.rate, self.echo.rate), 3) if self.echo else None,
        }


def ratio(a: float, b: float) -> float:
    return a / b if b else 0.0


def compare(channel: grpc.Channel, client: NamekoRpcClient, signer: CallerSigner, amqp_uri: str,
            processes: Mapping[str, Popen[bytes]], op: Operation, concurrencies: tuple[int, ...], seconds: float,
            echo: dict[int, Result], progress: Callable[[str], None] = print) -> list[Comparison]:
    """For each concurrency: direct first, then through the gateway, each after the queues are quiet."""
    rows = []
    for n in concurrencies:
        wait_until_quiet(amqp_uri)
        direct_run = measured(processes, f"direct {op.name}", direct(client, op, signer), n, seconds)
        wait_until_quiet(amqp_uri)
        gateway_run = measured(processes, f"gateway {op.name}", via_gateway(channel, op), n, seconds)
        rows.append(Comparison(op.name, n, gateway_run, direct_run, echo.get(n)))
        through, baseline = gateway_run.result, direct_run.result
        progress(f"  {op.name:<22} x{n:<3} gateway {through.rate:7.1f}/s p99 {through.p99_ms:6.1f} ms | "
                 f"direct {baseline.rate:7.1f}/s p99 {baseline.p99_ms:6.1f} ms | "
                 f"ratio {ratio(through.rate, baseline.rate):.2f}"
                 + (f" | errors {through.errors}/{baseline.errors}" if through.errors or baseline.errors else ""))
    return rows

