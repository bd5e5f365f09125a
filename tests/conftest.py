"""Shared fixtures: real processes on the real broker (a private vhost per stack) and SecantusDB; for
the suites that need only the servers (contract suites, command lines), one SecantusDB and one
RabbitMQ vhost for the whole session, each test in a database (or queues) of its own."""

import subprocess
import sys
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from deploy.local.stack import SERVICES, Stack, free_port, wait_for_port

BIN = Path(sys.executable).parent


@pytest.fixture
def make_stack(tmp_path: Path) -> Iterator[Callable[..., Stack]]:
    """Start a stack with the given services (default: all five and the gateway); stopped after the test."""
    stacks: list[Stack] = []

    def start(services: tuple[str, ...] = tuple(SERVICES), gateway: bool = True) -> Stack:
        stack = Stack(tmp_path / f"stack{len(stacks)}")
        stacks.append(stack)
        try:
            stack.start(services=services, gateway=gateway)
        except Exception:
            for log in sorted(stack.logs.glob("*.log")):
                print(f"==== {log.name}\n{log.read_text(errors='replace')[-3000:]}")
            raise
        return stack

    yield start
    for stack in stacks:
        stack.stop()

@pytest.fixture(scope="session")
def mongo_uri(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    port = free_port()
    data = tmp_path_factory.mktemp("secantus")
    server = subprocess.Popen([str(BIN / "secantusd-py"), "--host", "127.0.0.1", "--port", str(port),
                               "--storage-path", str(data), "--log-level", "WARNING"],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_for_port(port, 60, server, "SecantusDB")
        yield f"mongodb://127.0.0.1:{port}/?directConnection=true&retryWrites=false"
    finally:
        server.terminate()
        server.wait(timeout=30)


@pytest.fixture(scope="session")
def amqp_uri() -> Iterator[str]:
    vhost = f"egov-contract-{uuid.uuid4().hex[:8]}"
    subprocess.run(["rabbitmqctl", "-q", "add_vhost", vhost], check=True, capture_output=True, timeout=60)
    subprocess.run(["rabbitmqctl", "-q", "set_permissions", "-p", vhost, "guest", ".*", ".*", ".*"], check=True,
                   capture_output=True, timeout=60)
    try:
        yield f"amqp://guest:guest@127.0.0.1:5672/{vhost}"
    finally:
        subprocess.run(["rabbitmqctl", "-q", "delete_vhost", vhost], capture_output=True, timeout=60)
