"""The reader process: consumes the archive stream from the first wanted offset and hands batches of
the wanted messages to the publishing process through a pipe; reconnects on its own."""

import contextlib
import multiprocessing
import signal
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from multiprocessing.connection import Connection as Pipe
from typing import Any

import pika
import pika.exceptions

from services.archive.replay.publisher import READ_BATCH, RECONNECT_FOR, Feed, Outgoing, ReplayFailed
from services.common.topology import ARCHIVE_STREAM


def read_stream(amqp_uri: str, offsets: Sequence[int], pipe: Pipe, stream: str = ARCHIVE_STREAM,
                reconnect_for: float = RECONNECT_FOR, idle_timeout: float = 10.0) -> None:
    """Consume the stream from the first wanted offset; send batches of the wanted messages
    (in offset order) through `pipe`, then None, or an exception if it cannot finish."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)    # the parent decides when to stop
    state = _ReadState()
    disconnected_since: float | None = None
    try:
        while state.sent < len(offsets):
            try:
                _read_from(amqp_uri, stream, offsets, state, pipe, idle_timeout)
                disconnected_since = None
            except (pika.exceptions.AMQPConnectionError, pika.exceptions.AMQPChannelError,
                    ConnectionError) as exc:
                now = time.monotonic()
                disconnected_since = disconnected_since or now
                if now - disconnected_since > reconnect_for:
                    raise ReplayFailed(f"the stream reader could not reach the broker: {exc}") from exc
                time.sleep(0.5)
        pipe.send(None)
    except Exception as exc:  # handed to the publisher, which reports it
        pipe.send(ReplayFailed(str(exc)))
    finally:
        pipe.close()


@dataclass
class _ReadState:
    sent: int = 0             # offsets[:sent] are in the pipe: a reconnection resumes after them


def _read_from(amqp_uri: str, stream: str, offsets: Sequence[int], state: _ReadState, pipe: Pipe,
               idle_timeout: float) -> None:
    parameters = pika.URLParameters(amqp_uri)
    parameters.heartbeat = 0        # the reader blocks on the pipe when the publisher is behind
    connection = pika.BlockingConnection(parameters)
    last = len(offsets)
    position = state.sent
    batch: list[Outgoing] = []
    unacked = 0
    idle_since = time.monotonic()
    try:
        channel = connection.channel()
        channel.basic_qos(prefetch_count=2 * READ_BATCH)

        def delivered(ch: Any, method: Any, props: Any, body: bytes) -> None:
            nonlocal position, unacked, idle_since
            headers = props.headers
            offset = headers["x-stream-offset"]
            while position < last and offsets[position] < offset:
                position += 1      # truncated by retention: that offset no longer exists
            if position < last and offsets[position] == offset:
                batch.append(Outgoing(offset, props.message_id or "", headers, body))
                position += 1
            unacked += 1
            if unacked >= READ_BATCH:
                ch.basic_ack(method.delivery_tag, multiple=True)
                unacked = 0
            if len(batch) >= READ_BATCH or (position >= last and batch):
                pipe.send(batch)
                batch.clear()
                state.sent = position
            idle_since = time.monotonic()

        channel.basic_consume(stream, delivered, arguments={"x-stream-offset": offsets[position]})
        while state.sent < last:
            connection.process_data_events(time_limit=1)
            if time.monotonic() - idle_since > idle_timeout:
                raise ReplayFailed(f"the stream ended before offset {offsets[position]}; "
                                   "it is missing from the archive stream")
    finally:
        # Closing cancels the consumer, and pika rejects what it had buffered, which a stream
        # refuses with a connection error: harmless, the stream keeps every message anyway.
        with contextlib.suppress(pika.exceptions.AMQPError):
            connection.close()



class StreamSource:
    """The archive stream, read by a separate process (see the module docstring)."""

    def __init__(self, amqp_uri: str, offsets: Sequence[int]) -> None:
        ctx = multiprocessing.get_context("spawn")
        self._receiving, sending = ctx.Pipe(duplex=False)
        self._reader = ctx.Process(target=read_stream, args=(amqp_uri, list(offsets), sending), daemon=True,
                                   name="egov-replay-reader")
        self._sending = sending

    def start(self, feed: Feed, wake: Callable[[], None]) -> None:
        self._reader.start()
        self._sending.close()

        def pass_on() -> None:
            while True:
                try:
                    batch = self._receiving.recv()
                except (EOFError, OSError):
                    batch = ReplayFailed("the stream reader stopped unexpectedly")
                feed.put(batch)
                wake()
                if not isinstance(batch, list):
                    return

        threading.Thread(target=pass_on, daemon=True, name="egov-replay-feed").start()

    def close(self) -> None:
        if self._reader.is_alive():
            self._reader.terminate()
        self._reader.join(timeout=10)
        self._receiving.close()


