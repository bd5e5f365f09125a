"""RabbitMQ's raw rates on this machine, with pika: publish with a window of outstanding publisher
confirms (the way a fast, safe publisher works), and consume with one ack per message.

Both use a durable queue and persistent messages, the same durability as the platform's events.
"""

import collections
import time
import uuid
from dataclasses import dataclass

import pika
from pika.adapters.blocking_connection import BlockingChannel
from pika.channel import Channel
from pika.frame import Method
from pika.spec import Basic, BasicProperties

PERSISTENT = BasicProperties(delivery_mode=2, content_type="application/octet-stream")


@dataclass
class BrokerRates:
    messages: int
    body_bytes: int
    confirm_window: int
    publish_per_s: float
    consume_per_s: float

    def row(self) -> dict[str, object]:
        return {"messages": self.messages, "body_bytes": self.body_bytes, "confirm_window": self.confirm_window,
                "publish_confirmed_per_s": round(self.publish_per_s), "consume_acked_per_s": round(self.consume_per_s)}


class _WindowedPublisher:
    """Keeps up to `window` unconfirmed messages in flight; done when the broker confirmed them all."""

    def __init__(self, amqp_uri: str, queue: str, count: int, body: bytes, window: int) -> None:
        self.queue, self.count, self.body, self.window = queue, count, body, window
        self.sent = 0
        self.confirmed = 0
        self.nacked = 0
        self.outstanding: collections.deque[int] = collections.deque()
        self.started = 0.0
        self.finished = 0.0
        self.connection = pika.SelectConnection(pika.URLParameters(amqp_uri), on_open_callback=self._on_open,
                                                on_open_error_callback=self._on_error)
        self.channel: Channel | None = None
        self.error: str = ""

    def run(self) -> float:
        self.connection.ioloop.start()
        if self.error:
            raise RuntimeError(self.error)
        if self.nacked:
            raise RuntimeError(f"the broker refused {self.nacked} messages")
        return self.count / (self.finished - self.started)

    def _on_error(self, connection: pika.SelectConnection, exc: BaseException) -> None:
        self.error = f"cannot connect: {exc}"
        connection.ioloop.stop()

    def _on_open(self, connection: pika.SelectConnection) -> None:
        connection.channel(on_open_callback=self._on_channel)

    def _on_channel(self, channel: Channel) -> None:
        self.channel = channel
        channel.queue_declare(self.queue, durable=True, callback=lambda _: channel.confirm_delivery(
            self._on_confirm, callback=lambda _: self._start()))

    def _start(self) -> None:
        self.started = time.perf_counter()
        self._pump()

    def _pump(self) -> None:
        assert self.channel is not None
        while self.sent < self.count and len(self.outstanding) < self.window:
            self.channel.basic_publish("", self.queue, self.body, PERSISTENT)
            self.sent += 1
            self.outstanding.append(self.sent)   # delivery tags count from 1 on a confirm channel

    def _on_confirm(self, frame: Method) -> None:
        method = frame.method
        if isinstance(method, Basic.Nack):
            self.nacked += 1
        tag = method.delivery_tag
        if method.multiple:
            while self.outstanding and self.outstanding[0] <= tag:
                self.outstanding.popleft()
                self.confirmed += 1
        elif tag in self.outstanding:
            self.outstanding.remove(tag)
            self.confirmed += 1
        if self.confirmed >= self.count:
            self.finished = time.perf_counter()
            self.connection.close()
            self.connection.ioloop.stop()
        else:
            self._pump()


def publish_windowed(amqp_uri: str, queue: str, count: int, body: bytes, window: int = 500) -> float:
    """Messages per second, counting until the broker confirmed the last one."""
    return _WindowedPublisher(amqp_uri, queue, count, body, window).run()


def consume_acked(amqp_uri: str, queue: str, count: int, prefetch: int = 500) -> float:
    """Messages per second consumed from `queue`, each acknowledged on its own."""
    connection = pika.BlockingConnection(pika.URLParameters(amqp_uri))
    channel = connection.channel()
    channel.basic_qos(prefetch_count=prefetch)
    received = 0
    started = time.perf_counter()

    def on_message(ch: BlockingChannel, deliver: Basic.Deliver, properties: BasicProperties, body: bytes) -> None:
        nonlocal received
        ch.basic_ack(deliver.delivery_tag)
        received += 1
        if received >= count:
            ch.stop_consuming()

    channel.basic_consume(queue, on_message)
    channel.start_consuming()
    rate = count / (time.perf_counter() - started)
    channel.queue_delete(queue)
    connection.close()
    return rate


def measure(amqp_uri: str, count: int = 20_000, body_bytes: int = 600, window: int = 500) -> BrokerRates:
    queue = f"bench.raw-{uuid.uuid4().hex[:8]}"
    body = b"x" * body_bytes
    published = publish_windowed(amqp_uri, queue, count, body, window)
    consumed = consume_acked(amqp_uri, queue, count)
    return BrokerRates(count, body_bytes, window, published, consumed)
