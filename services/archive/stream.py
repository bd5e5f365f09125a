"""`archive_stream`: a nameko entrypoint reading the archive stream in order, a batch per worker.

A stream is read with a prefetch, manual acks (only credit: the stream keeps every message) and
the `x-stream-offset` consumer argument. The index records the offset through which it is
complete in the same write as each batch, and batches run one at a time in stream order, so on
start and after every reconnection reading resumes right after that offset: nothing is skipped,
and what is read twice is indexed once.
"""

from collections.abc import Callable
from functools import partial
from typing import Any

import eventlet
from kombu import Queue
from kombu.message import Message
from nameko import config
from nameko.amqp.consume import Consumer as ConsumerCore
from nameko.constants import AMQP_URI_CONFIG_KEY
from nameko.containers import WorkerContext
from nameko.exceptions import ContainerBeingKilled
from nameko.messaging import Consumer

from services.common.events.broker import declare_topology_where_allowed
from services.common.events.envelope import CONTENT_TYPE
from services.common.runtime import entrypoints  # noqa: F401 - registers the envelope content type
from services.common.topology import ARCHIVE_STREAM

BATCH = 500
PREFETCH = 2 * BATCH
RETRY_SECONDS = 1.0


class _ResumingConsumer(ConsumerCore):  # type: ignore[misc]
    """Asks where to resume every time it (re)connects."""

    def __init__(self, *args: Any, resume_offset: Callable[[], int | str], on_connect: Callable[[], None],
                 **kwargs: Any) -> None:
        self.resume_offset = resume_offset
        self.on_connect = on_connect
        super().__init__(*args, **kwargs)

    def get_consumers(self, consumer_cls: Any, channel: Any) -> list[Any]:
        self.on_connect()
        queue = Queue(ARCHIVE_STREAM, no_declare=True,  # type: ignore[no-untyped-call]
                      consumer_arguments={"x-stream-offset": self.resume_offset()})
        consumer = consumer_cls(queues=[queue], callbacks=[self.on_message], accept=self.accept,
                                **self.consumer_options)
        consumer.qos(prefetch_count=self.prefetch_count)
        return [consumer]


class ArchiveStream(Consumer):  # type: ignore[misc]
    consumer_cls = _ResumingConsumer

    def __init__(self, resume_after: Callable[[Any], int | None], **kwargs: Any) -> None:
        """`resume_after(container)`: the last offset already handled, or None for none."""
        super().__init__(Queue(ARCHIVE_STREAM, no_declare=True),  # type: ignore[no-untyped-call]
                         accept=[CONTENT_TYPE], prefetch_count=PREFETCH,
                         **kwargs)
        self.resume_after = resume_after
        self._buffer: list[Message] = []
        self._busy = False

    def setup(self) -> None:
        self.consumer_options["resume_offset"] = self._resume_offset
        self.consumer_options["on_connect"] = self._buffer.clear   # redelivered from the position
        super().setup()

    def start(self) -> None:
        declare_topology_where_allowed(config[AMQP_URI_CONFIG_KEY])
        super().start()

    def _resume_offset(self) -> int | str:
        last = self.resume_after(self.container)
        return "first" if last is None else last + 1

    def handle_message(self, body: bytes, message: Message) -> None:
        self._buffer.append(message)
        self._next_batch()

    def _next_batch(self) -> None:
        if self._busy or not self._buffer:
            return
        self._busy = True
        messages, self._buffer[:] = self._buffer[:BATCH], self._buffer[BATCH:]
        batch = [(int(m.headers["x-stream-offset"]), m.body) for m in messages]

        def spawn() -> None:
            try:
                self.container.spawn_worker(self, (batch,), {}, context_data={},
                                            handle_result=partial(self._batch_done, messages))
            except ContainerBeingKilled:
                self._busy = False

        self.container.spawn_managed_thread(spawn, identifier="archive_stream.spawn_batch")

    def _batch_done(self, messages: list[Message], worker_ctx: WorkerContext, result: Any = None,
                    exc_info: Any = None) -> tuple[Any, Any]:
        if exc_info is None:
            for message in messages:
                self.consumer.ack_message(message)
        else:
            # Keep the order: the same batch again, after a pause (the database may be away).
            eventlet.sleep(RETRY_SECONDS)
            self._buffer[:0] = messages
        self._busy = False
        self._next_batch()
        return result, exc_info


archive_stream = ArchiveStream.decorator
