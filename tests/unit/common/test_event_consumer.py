"""The event entrypoint's `concurrency` (services/common/runtime/entrypoints.py): at most that many of
its workers at once, the next message taking the slot a finished worker gives back, the rest of the
worker pool left to the other entrypoints. On a container double that starts workers when told to."""

from collections.abc import Callable
from typing import Any

import eventlet

from services.common.runtime.entrypoints import EventConsumer


class Pool:
    def free(self) -> int:
        return 10


class Container:
    """What the entrypoint asks of nameko's container: a pool, threads, workers (kept, not run)."""

    def __init__(self) -> None:
        self._worker_pool = Pool()
        self.workers: list[Callable[..., Any]] = []

    def spawn_managed_thread(self, fn: Callable[[], None], identifier: str = "") -> None:
        eventlet.spawn(fn)

    def spawn_worker(self, entrypoint: Any, args: Any, kwargs: Any, context_data: Any = None,
                     handle_result: Callable[..., Any] | None = None) -> None:
        assert handle_result is not None
        self.workers.append(handle_result)


class Message:
    headers: dict[str, Any] = {}


def consumer(concurrency: int) -> tuple[EventConsumer, Container, list[str]]:
    entrypoint = EventConsumer("supervision", concurrency=concurrency)
    container = Container()
    entrypoint.container = container
    entrypoint.method_name = "on_event"
    finished: list[str] = []
    entrypoint.handle_result = lambda message, ctx, result=None, exc_info=None: finished.append(ctx)  # type: ignore
    return entrypoint, container, finished


def settle() -> None:
    for _ in range(20):
        eventlet.sleep(0)


def test_at_most_concurrency_workers_and_the_next_takes_a_freed_slot() -> None:
    entrypoint, container, finished = consumer(1)
    for _ in range(3):
        entrypoint.handle_message(b"event", Message())
    settle()
    assert len(container.workers) == 1
    container.workers[0]("worker-1")
    settle()
    assert finished == ["worker-1"] and len(container.workers) == 2
    container.workers[1]("worker-2")
    settle()
    assert len(container.workers) == 3


def test_without_a_limit_every_message_gets_a_worker_the_pool_allows() -> None:
    entrypoint, container, _ = consumer(0)
    for _ in range(3):
        entrypoint.handle_message(b"event", Message())
    settle()
    assert len(container.workers) == 3
