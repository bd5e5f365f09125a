"""One compose stack for the suite: `make up` on a project name and ports of its own, timed from the
command to the first call the gateway served through the containers; always `make down` at the end."""

import time
from collections.abc import Iterator

import grpc
import pytest

from egov.procedures.v1 import procedures_pb2 as pp
from egov.procedures.v1 import procedures_pb2_grpc
from tests.compose.stack import ComposeStack

TIMINGS: dict[str, float] = {}
FAILED_TO_START: list[str] = []


@pytest.fixture(scope="session")
def stack() -> Iterator[ComposeStack]:
    if FAILED_TO_START:   # pytest would run a failed session fixture again for every test
        pytest.fail(f"the stack did not come up (see the first test's error): {FAILED_TO_START[0][:300]}")
    compose = ComposeStack()
    started = time.monotonic()
    try:
        try:
            compose.interrupted_up()     # a half-finished `make up` that the next one must resume
            TIMINGS["make up (images built) until interrupted at its first container"] = time.monotonic() - started
            compose.up()
        except Exception as exc:   # whatever stopped it: the next tests must not start it again
            FAILED_TO_START.append(f"{type(exc).__name__}: {exc}")
            raise
        TIMINGS["make up again, resuming it until the stack is healthy"] = compose.up_seconds
        with compose.gateway_channel() as channel:
            procedures = procedures_pb2_grpc.ProcedureServiceStub(channel)
            deadline = time.monotonic() + 60
            while True:
                try:
                    procedures.ListProcedures(pp.ListProceduresRequest(service_level=4), timeout=5)
                    break
                except grpc.RpcError:
                    if time.monotonic() > deadline:
                        raise
                    time.sleep(0.2)
        TIMINGS["make up to the first call served through the gateway's published port"] = time.monotonic() - started
        yield compose
    finally:
        if compose.leftovers()["containers"]:
            (compose.workdir / "ps.txt").write_text(compose.ps())
            compose.down()


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    for what, seconds in TIMINGS.items():
        terminalreporter.write_line(f"compose: {what}: {seconds:.0f} s")
