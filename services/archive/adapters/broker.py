"""The broker as the archive's operator functions see it (services/archive/ports.py): queue depths,
declaring a replay's target queue, and where the archive stream ends. Short-lived blocking
connections; a broker that is restarting is waited for."""

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TypeVar

import pika
import pika.exceptions
from pika.adapters.blocking_connection import BlockingChannel

from services.common.errors import NotFound, Unavailable
from services.common.topology import ARCHIVE_STREAM

T = TypeVar("T")
RECONNECT_FOR = 30.0


class RabbitBroker:
    def __init__(self, amqp_uri: str, reconnect_for: float = RECONNECT_FOR) -> None:
        self.parameters = pika.URLParameters(amqp_uri)
        self.reconnect_for = reconnect_for

    @contextmanager
    def channel(self) -> Iterator[BlockingChannel]:
        connection = pika.BlockingConnection(self.parameters)
        try:
            yield connection.channel()
        finally:
            if connection.is_open:
                connection.close()

    def _retrying(self, work: Callable[[], T]) -> T:
        deadline = time.monotonic() + self.reconnect_for
        while True:
            try:
                return work()
            except pika.exceptions.AMQPConnectionError as exc:
                if time.monotonic() > deadline:
                    raise Unavailable("broker", f"cannot reach the broker: {exc!r}") from exc
                time.sleep(0.5)

    def depth(self, queue: str) -> int | None:
        def read() -> int | None:
            with self.channel() as channel:
                try:
                    return int(channel.queue_declare(queue, passive=True).method.message_count)
                except pika.exceptions.ChannelClosedByBroker:
                    return None
        return self._retrying(read)

    def ensure_queue(self, queue: str, create: bool) -> bool:
        def declare() -> bool:
            with self.channel() as channel:
                try:
                    channel.queue_declare(queue, passive=True)
                    return False
                except pika.exceptions.ChannelClosedByBroker:
                    if not create:
                        raise NotFound("queue", f"queue {queue} does not exist; "
                                                "has its service ever started?") from None
            with self.channel() as channel:
                channel.queue_declare(queue, durable=True, arguments={"x-queue-type": "quorum"})
            return True
        return self._retrying(declare)

    def stream_end(self, idle: float = 0.5) -> int | None:
        """Reads the stream's last chunk (`x-stream-offset: last`) and keeps its highest offset."""
        def read() -> int | None:
            last: int | None = None
            with self.channel() as channel:
                channel.basic_qos(prefetch_count=1000)
                for method, props, _body in channel.consume(ARCHIVE_STREAM, arguments={"x-stream-offset": "last"},
                                                            inactivity_timeout=idle):
                    if method is None:
                        break
                    last = max(last or 0, int(props.headers["x-stream-offset"]))
                    channel.basic_ack(method.delivery_tag)
                channel.cancel()
            return last
        return self._retrying(read)
