"""Shared fixtures: real processes on the real broker (a private vhost per stack) and SecantusDB."""

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from deploy.local.stack import SERVICES, Stack


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
