"""`consume_event_batches`: `consume_events` for a read model, many messages per worker.

Messages wait in a buffer while a batch runs; the next batch takes up to `batch` of those waiting,
all replayed for a rebuild or all not (the worker's context, with the rebuild header, is the first
message's). Batches run one at a time in a process, so they never conflict with each other. Under
load the buffer fills while a batch runs and batches grow; at a trickle each message is a batch of
one, handled as soon as it arrives.

A batch that fails is handed out again a message at a time, so the back-off, retries and parking
of `consume_events` (entrypoints.py) apply to each message on its own: one bad event costs its
batch one failed try, then only itself. Acks follow the commit; a crash before them delivers the
batch again, and the store's inbox drops what was already processed.
"""

import logging
from functools import partial
from typing import Any

from kombu.message import Message
from nameko.containers import WorkerContext
from nameko.exceptions import ContainerBeingKilled
from nameko.messaging import decode_from_headers

from services.common.events.envelope import REBUILD_HEADER
from services.common.runtime.entrypoints import EventConsumer, ExcInfo, error_text

log = logging.getLogger(__name__)

BATCH = 1000


def _rebuild(message: Message) -> bool:
    return bool(decode_from_headers(message.headers or {}).get(REBUILD_HEADER))


class EventBatchConsumer(EventConsumer):
    """The entrypoint's method takes a list of message bodies."""

    def __init__(self, service: str, batch: int = BATCH, **kwargs: Any) -> None:
        super().__init__(service, prefetch_count=2 * batch, **kwargs)
        self.batch = batch
        self._waiting: list[Message] = []
        self._alone: list[Message] = []     # of a failed batch: one per worker from now on
        self._busy = False

    def stop(self) -> None:
        self._stopping = True
        waiting, self._alone, self._waiting = self._alone + self._waiting, [], []
        for message in waiting:            # the next instance takes them
            self.consumer.requeue_message(message)
        super().stop()

    def handle_message(self, body: bytes, message: Message) -> None:
        if self._stopping:
            self.consumer.requeue_message(message)
            return
        self._waiting.append(message)
        self._next_batch()

    def _next_batch(self) -> None:
        if self._busy or self._stopping:
            return
        if self._alone:
            messages = [self._alone.pop(0)]
        elif self._waiting:
            rebuild, n = _rebuild(self._waiting[0]), 1
            while n < min(self.batch, len(self._waiting)) and _rebuild(self._waiting[n]) == rebuild:
                n += 1
            messages, self._waiting[:] = self._waiting[:n], self._waiting[n:]
        else:
            return
        self._busy = True
        self.container.spawn_managed_thread(partial(self._spawn, messages),
                                            identifier=f"wait_for_worker[{self.method_name}]")

    def _spawn(self, messages: list[Message]) -> None:
        self._wait_for_a_free_worker()
        try:
            if self._stopping:
                raise ContainerBeingKilled()
            self.container.spawn_worker(self, ([m.body for m in messages],), {},
                                        context_data=decode_from_headers(messages[0].headers or {}),
                                        handle_result=partial(self._batch_done, messages))
        except ContainerBeingKilled:
            self._busy = False
            for message in messages:
                self.consumer.requeue_message(message)

    def _batch_done(self, messages: list[Message], worker_ctx: WorkerContext, result: Any = None,
                    exc_info: ExcInfo | None = None) -> tuple[Any, Any]:
        self._busy = False
        if exc_info is None:
            for message in messages:
                self.consumer.ack_message(message)
        elif len(messages) > 1:
            log.warning("a batch of %d events failed (%s); handling them one at a time",
                        len(messages), error_text(exc_info))
            self._alone.extend(messages)
            messages = []
        self._next_batch()
        if exc_info is not None and messages:
            self.handle_message_processed(messages[0], result, exc_info)   # retried or parked, alone
        return result, exc_info


consume_event_batches = EventBatchConsumer.decorator
