"""Publishing a feed of archived events to one queue with up to `window` publishes unconfirmed.

Over 300 lines because it is one state machine (pika's asynchronous connection: connect, confirm,
nack, return, reconnect, rate, stop) whose callbacks only make sense read together.
"""

import logging
import queue
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pika
import pika.exceptions
from pika.adapters.select_connection import IOLoop, SelectConnection
from pika.channel import Channel
from pika.spec import Basic, BasicProperties

from services.common.events.envelope import CONTENT_TYPE

log = logging.getLogger(__name__)

WINDOW = 1000                 # unconfirmed publishes in flight
READ_BATCH = 500              # messages per hand-over from a reader
STOP_GRACE = 5.0              # seconds to await confirms after an interruption
RECONNECT_FOR = 120.0         # seconds either side keeps trying to reach the broker
# Headers the stream adds on delivery or that describe one particular delivery: not replayed.
DELIVERY_HEADERS = ("x-stream-offset", "x-delivery-count", "x-death", "x-first-death-exchange",
                    "x-first-death-queue", "x-first-death-reason")


@dataclass
class Outgoing:
    """One message to publish; `offset` is its place in the archive stream."""

    offset: int
    message_id: str
    headers: dict[str, Any]
    body: bytes


Feed = queue.Queue[list[Outgoing] | None | Exception]


@dataclass
class PublishStats:
    confirmed: int = 0
    republished: int = 0            # sent again after a nack or a lost connection
    reconnects: int = 0
    started: float = 0.0
    finished: float = 0.0
    interrupted: bool = False
    error: str = ""

    @property
    def elapsed(self) -> float:
        return max(self.finished - self.started, 1e-9) if self.started else 0.0

    @property
    def rate(self) -> float:
        return self.confirmed / self.elapsed if self.started else 0.0


class ReplayFailed(RuntimeError):
    pass


class WindowedPublisher:
    """Publishes a feed through the default exchange to one queue, keeping up to `window`
    publishes unconfirmed, optionally no faster than `rate` per second.

    `on_confirmed(item)` is called for the last message of every confirmed prefix of the feed, so
    a caller can record "everything through this offset is at the broker". `on_tick(stats)` runs
    every 0.2 s on the same thread (progress, checkpoints). `stop()` may be called from a signal
    handler: publishing stops, what is in flight is awaited, then `run` returns.
    """

    def __init__(self, amqp_uri: str, routing_key: str, *, window: int = WINDOW, rate: float | None = None,
                 extra_headers: dict[str, Any] | None = None,
                 on_confirmed: Callable[[Outgoing], None] | None = None,
                 on_tick: Callable[[PublishStats], None] | None = None,
                 reconnect_for: float = RECONNECT_FOR) -> None:
        self.parameters = pika.URLParameters(amqp_uri)
        self.routing_key = routing_key
        self.window = window
        self.rate = rate
        self.extra_headers = extra_headers or {}
        self.on_confirmed = on_confirmed
        self.on_tick = on_tick
        self.reconnect_for = reconnect_for
        self.stats = PublishStats()
        self._ioloop = IOLoop()
        self._connection: SelectConnection | None = None
        self._channel: Channel | None = None
        self._backlog: deque[Outgoing] = deque()
        self._inflight: deque[tuple[int, Outgoing]] = deque()
        self._acked_out_of_order: set[int] = set()
        self._seq = 0
        self._published = 0
        self._feed: Feed | None = None
        self._feed_done = False
        self._stop_requested = False
        self._closing = False
        self._disconnected_since: float | None = None
        self._rate_timer: Any = None
        self._stop_seen = 0.0

    # -- public -----------------------------------------------------------------------------------
    def run(self, feed: Feed) -> PublishStats:
        self._feed = feed
        self._connect()
        self._ioloop.call_later(0.2, self._tick)
        self._ioloop.start()
        self._ioloop.close()
        if not self.stats.finished:
            self.stats.finished = time.perf_counter()
        return self.stats

    def wake(self) -> None:
        """Thread-safe: the feed has more."""
        self._ioloop.add_callback_threadsafe(self._pump)

    def stop(self) -> None:
        """Signal-safe: finish what is in flight, then return from `run`."""
        self._stop_requested = True

    # -- connection -------------------------------------------------------------------------------
    def _connect(self) -> None:
        self._connection = SelectConnection(self.parameters, on_open_callback=self._on_open,
                                            on_open_error_callback=self._on_open_error,
                                            on_close_callback=self._on_closed, custom_ioloop=self._ioloop)

    def _on_open(self, connection: SelectConnection) -> None:
        connection.channel(on_open_callback=self._on_channel)

    def _on_channel(self, channel: Channel) -> None:
        channel.add_on_return_callback(self._on_return)
        channel.add_on_close_callback(self._on_channel_closed)
        channel.confirm_delivery(self._on_confirm, callback=lambda _frame: self._ready(channel))

    def _ready(self, channel: Channel) -> None:
        self._channel = channel
        self._seq = 0
        self._acked_out_of_order.clear()
        self._disconnected_since = None
        self._pump()

    def _on_open_error(self, _connection: SelectConnection, error: BaseException) -> None:
        self._retry_connect(f"cannot reach the broker: {error}")

    def _on_channel_closed(self, _channel: Channel, reason: BaseException) -> None:
        self._channel = None
        if not self._closing and self._connection is not None and self._connection.is_open:
            self._fail(f"the broker closed the channel: {reason}")

    def _on_closed(self, _connection: SelectConnection, reason: BaseException) -> None:
        self._channel = None
        if self._closing:
            self._ioloop.stop()
            return
        self._retry_connect(f"connection lost: {reason}")

    def _retry_connect(self, why: str) -> None:
        now = time.monotonic()
        if self._disconnected_since is None:
            self._disconnected_since = now
            log.warning("%s; reconnecting", why)
        if now - self._disconnected_since > self.reconnect_for:
            self.stats.error = f"{why}; gave up after {self.reconnect_for:.0f} s"
            self._ioloop.stop()
            return
        # What was unconfirmed may or may not have arrived: send it again, in order.
        if self._inflight:
            self.stats.republished += len(self._inflight)
            self._backlog.extendleft(item for _seq, item in reversed(self._inflight))
            self._inflight.clear()
        self.stats.reconnects += 1
        self._ioloop.call_later(0.5, self._connect)

    def _fail(self, error: str) -> None:
        self.stats.error = error
        self._close()

    def _close(self) -> None:
        self._closing = True
        if self._connection is not None and not (self._connection.is_closed or self._connection.is_closing):
            self._connection.close()
        else:
            self._ioloop.stop()

    # -- publishing -------------------------------------------------------------------------------
    def _fill(self) -> bool:
        assert self._feed is not None
        while not self._backlog and not self._feed_done:
            try:
                batch = self._feed.get_nowait()
            except queue.Empty:
                return False
            if batch is None:
                self._feed_done = True
            elif isinstance(batch, Exception):
                self._feed_done = True
                self._fail(str(batch))
            else:
                self._backlog.extend(batch)
        return bool(self._backlog)

    def _allowed_now(self) -> int:
        if self.rate is None:
            return self.window
        elapsed = time.perf_counter() - self.stats.started if self.stats.started else 0.0
        return int(self.rate * elapsed) + 1 - self._published

    def _pump(self) -> None:
        channel = self._channel
        if channel is None or self._closing or self._stop_requested:
            self._maybe_finish()
            return
        while len(self._inflight) < self.window:
            if not self._backlog and not self._fill():
                break
            if self._allowed_now() <= 0:
                if self._rate_timer is None:
                    self._rate_timer = self._ioloop.call_later(1.0 / (self.rate or 1.0), self._rate_tick)
                break
            item = self._backlog.popleft()
            if not self.stats.started:
                self.stats.started = time.perf_counter()
            headers = {k: v for k, v in item.headers.items() if k not in DELIVERY_HEADERS}
            headers.update(self.extra_headers)
            self._seq += 1
            channel.basic_publish("", self.routing_key, item.body, BasicProperties(
                content_type=CONTENT_TYPE, content_encoding="binary", delivery_mode=2,
                message_id=item.message_id, headers=headers), mandatory=True)
            self._inflight.append((self._seq, item))
            self._published += 1
        self._maybe_finish()

    def _rate_tick(self) -> None:
        self._rate_timer = None
        self._pump()

    def _on_confirm(self, frame: Any) -> None:
        method = frame.method
        tag = int(method.delivery_tag)
        if isinstance(method, Basic.Nack):
            self._requeue_nacked(tag, bool(method.multiple))
        elif method.multiple:
            while self._inflight and self._inflight[0][0] <= tag:
                self._confirm(self._inflight.popleft()[1])
        else:
            self._acked_out_of_order.add(tag)
            while self._inflight and self._inflight[0][0] in self._acked_out_of_order:
                seq, item = self._inflight.popleft()
                self._acked_out_of_order.discard(seq)
                self._confirm(item)
        self._pump()

    def _confirm(self, item: Outgoing) -> None:
        self.stats.confirmed += 1
        self.stats.finished = time.perf_counter()
        if self.on_confirmed is not None:
            self.on_confirmed(item)

    def _requeue_nacked(self, tag: int, multiple: bool) -> None:
        nacked = [(s, i) for s, i in self._inflight if s == tag or (multiple and s <= tag)]
        nacked_seqs = {s for s, _i in nacked}
        self._inflight = deque((s, i) for s, i in self._inflight if s not in nacked_seqs)
        self.stats.republished += len(nacked)
        self._backlog.extendleft(item for _seq, item in reversed(nacked))

    def _on_return(self, _channel: Channel, _method: Any, _props: Any, _body: bytes) -> None:
        self._fail(f"the broker returned a message: no queue named {self.routing_key!r}")

    def _maybe_finish(self) -> None:
        if self._closing or self._inflight:
            return
        if self._stop_requested:
            self.stats.interrupted = True
            self._close()
        elif self._feed_done and not self._backlog:
            self._close()

    def _tick(self) -> None:
        if self.on_tick is not None:
            self.on_tick(self.stats)
        if self._stop_requested:
            self._stop_seen = self._stop_seen or time.monotonic()
            if time.monotonic() - self._stop_seen > STOP_GRACE:
                self.stats.interrupted = True      # in flight still unconfirmed: sent again on resume
                self._close()
                return
            self._pump()
        if not self._closing:
            self._ioloop.call_later(0.2, self._tick)




def memory_feed(items: list[Outgoing], batch: int = READ_BATCH) -> Feed:
    """A feed already complete in memory (the raw-rate benchmark)."""
    feed: Feed = queue.Queue()
    for start in range(0, len(items), batch):
        feed.put(items[start:start + batch])
    feed.put(None)
    return feed

