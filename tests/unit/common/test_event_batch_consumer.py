"""The batch entrypoint (services/common/runtime/batches.py): the messages waiting while a batch runs
become the next batch, a replay for a rebuild never shares a batch with live events, acks follow a
batch that succeeded, and a batch that failed is handed out again a message at a time, each then
retried or parked on its own. On a container double that starts workers when told to."""

from collections.abc import Callable
from typing import Any

import eventlet

from services.common.events.envelope import REBUILD_HEADER
from services.common.runtime.batches import EventBatchConsumer


class Pool:
    def free(self) -> int:
        return 10


class Container:
    """What the entrypoint asks of nameko's container: a pool, threads, workers (kept, not run)."""

    def __init__(self) -> None:
        self._worker_pool = Pool()
        self.batches: list[list[bytes]] = []
        self.results: list[Callable[..., Any]] = []
        self.contexts: list[dict[str, Any]] = []

    def spawn_managed_thread(self, fn: Callable[[], None], identifier: str = "") -> None:
        eventlet.spawn(fn)

    def spawn_worker(self, entrypoint: Any, args: Any, kwargs: Any, context_data: Any = None,
                     handle_result: Callable[..., Any] | None = None) -> None:
        assert handle_result is not None
        self.batches.append(list(args[0]))
        self.contexts.append(context_data)
        self.results.append(handle_result)


class Message:
    def __init__(self, body: bytes, rebuild: bool = False) -> None:
        self.body = body
        self.headers: dict[str, Any] = {f"nameko.{REBUILD_HEADER}": True} if rebuild else {}


class Broker:
    def __init__(self) -> None:
        self.acked: list[bytes] = []
        self.requeued: list[bytes] = []

    def ack_message(self, message: Message) -> None:
        self.acked.append(message.body)

    def requeue_message(self, message: Message) -> None:
        self.requeued.append(message.body)

    def stop(self) -> None:
        pass


def consumer(batch: int = 3) -> tuple[EventBatchConsumer, Container, Broker, list[bytes]]:
    entrypoint = EventBatchConsumer("supervision", batch=batch)
    container, broker = Container(), Broker()
    entrypoint.container = container
    entrypoint.consumer = broker
    entrypoint.method_name = "on_events"
    alone: list[bytes] = []      # what went to the one-message retry/park path, and with what
    entrypoint.handle_message_processed = lambda m, result=None, exc_info=None: alone.append(m.body)  # type: ignore
    return entrypoint, container, broker, alone


def settle() -> None:
    for _ in range(20):
        eventlet.sleep(0)


def deliver(entrypoint: EventBatchConsumer, *messages: Message) -> None:
    for m in messages:
        entrypoint.handle_message(m.body, m)
    settle()


def failed() -> tuple[type[BaseException], BaseException, None]:
    return RuntimeError, RuntimeError("the database is away"), None


def test_messages_waiting_while_a_batch_runs_form_the_next_batch_and_are_acked_after_it() -> None:
    entrypoint, container, broker, _ = consumer(batch=3)
    deliver(entrypoint, *(Message(b"e%d" % i) for i in range(6)))
    assert container.batches == [[b"e0"]]             # the first one alone: nothing else was waiting
    container.results[0]("worker-1")
    settle()
    assert container.batches[1] == [b"e1", b"e2", b"e3"]  # at most `batch`, in order
    assert broker.acked == [b"e0"]
    container.results[1]("worker-2")
    settle()
    assert container.batches[2] == [b"e4", b"e5"]
    assert broker.acked == [b"e0", b"e1", b"e2", b"e3"]


def test_a_replay_for_a_rebuild_never_shares_a_batch_with_live_events() -> None:
    entrypoint, container, _, _ = consumer(batch=10)
    deliver(entrypoint, Message(b"first"), Message(b"live"), Message(b"r1", rebuild=True),
            Message(b"r2", rebuild=True), Message(b"live2"))
    container.results[0]("worker-1")
    settle()
    assert container.batches[1] == [b"live"] and REBUILD_HEADER not in container.contexts[1]
    container.results[1]("worker-2")
    settle()
    assert container.batches[2] == [b"r1", b"r2"] and container.contexts[2][REBUILD_HEADER] is True
    container.results[2]("worker-3")
    settle()
    assert container.batches[3] == [b"live2"]


def test_a_failed_batch_is_handed_out_again_one_message_at_a_time_each_retried_on_its_own() -> None:
    entrypoint, container, broker, alone = consumer(batch=3)
    deliver(entrypoint, Message(b"first"), Message(b"a"), Message(b"bad"), Message(b"c"))
    container.results[0]("worker-1")
    settle()
    container.results[1]("worker-2", exc_info=failed())       # the batch a, bad, c
    settle()
    assert alone == [] and broker.acked == [b"first"]
    assert container.batches[2:] == [[b"a"]]
    container.results[2]("worker-3")
    settle()
    container.results[3]("worker-4", exc_info=failed())       # bad, alone: to the retry path
    settle()
    container.results[4]("worker-5")
    settle()
    assert container.batches[2:] == [[b"a"], [b"bad"], [b"c"]]
    assert alone == [b"bad"] and broker.acked == [b"first", b"a", b"c"]


def test_on_stop_what_waits_goes_back_to_the_queue_for_the_next_instance() -> None:
    entrypoint, container, broker, _ = consumer(batch=3)
    entrypoint._parking = None           # set up by setup(), which needs a broker
    deliver(entrypoint, Message(b"running"), Message(b"w1"), Message(b"w2"))
    entrypoint.stop()
    deliver(entrypoint, Message(b"late"))
    assert broker.requeued == [b"w1", b"w2", b"late"]
    container.results[0]("worker-1")     # the batch already running finishes and is acked
    settle()
    assert broker.acked == [b"running"] and len(container.batches) == 1
