"""A thread-safe nameko RPC client for grpcio's worker threads, without eventlet.

nameko's `ClusterRpcClient` works one per thread, but each call waits for a publisher confirm and
each thread holds its own connection and reply queue. This client speaks the same AMQP protocol
(docs: nameko/rpc.py) over one connection: one I/O thread owns it, callers hand it requests and wait
on futures. Unroutable requests come back through `mandatory` (the service has no queue), so no
confirm round trip is needed to tell "unknown service" apart.

Wire format: exchange `nameko-rpc`, routing key `<service>.<method>`, JSON body
`{"args": [], "kwargs": {...}}`, `reply_to` our reply queue's routing key, `correlation_id`;
the reply is `{"result": ..., "error": {"exc_type", "value", ...} | null}`.
"""

import contextlib
import json
import logging
import threading
import time
import uuid
from collections.abc import Mapping
from concurrent.futures import Future
from concurrent.futures import TimeoutError as FutureTimeout
from typing import Any, Protocol

import pika
import pika.exceptions
from pika.adapters.blocking_connection import BlockingChannel
from pika.spec import Basic, BasicProperties

log = logging.getLogger(__name__)

RPC_EXCHANGE = "nameko-rpc"
CONTENT_TYPE = "application/json"
HEADER_PREFIX = "nameko"
# How long a call waits for the broker connection to come (back) before failing with UNAVAILABLE:
# long enough to ride out a reconnect, short enough that an outage fails fast instead of hanging.
CONNECT_WAIT_SECONDS = 2.0
RECONNECT_BACKOFF_SECONDS = (0.1, 0.5, 1.0, 2.0)


class RpcError(Exception):
    """Base of what a call can fail with (besides a remote exception)."""


class RpcTimeout(RpcError):
    def __init__(self, service: str, method: str, timeout: float) -> None:
        super().__init__(f"{service}.{method} did not answer within {timeout:.3f} s")


class ServiceUnavailable(RpcError):
    """The broker is unreachable, or no instance of the service is consuming its queue."""


class RemoteError(RpcError):
    """The service raised; `exc_type` is the exception's class name, `value` its text."""

    def __init__(self, exc_type: str, value: str) -> None:
        super().__init__(f"{exc_type}: {value}")
        self.exc_type = exc_type
        self.value = value


class RpcBackend(Protocol):
    """What the gateway needs from the bus: one blocking call to a service method."""

    def call(self, service: str, method: str, kwargs: Mapping[str, Any], timeout: float,
             context_data: Mapping[str, Any] | None = None) -> Any: ...


class _Connected:
    """One live connection and what was declared on it."""

    def __init__(self, connection: pika.BlockingConnection, channel: BlockingChannel, reply_key: str) -> None:
        self.connection = connection
        self.channel = channel
        self.reply_key = reply_key


class NamekoRpcClient:
    def __init__(self, amqp_uri: str, name: str = "gateway") -> None:
        self._parameters = pika.URLParameters(amqp_uri)
        self._parameters.client_properties = {"connection_name": f"{name}-rpc"}
        self._name = name
        self._lock = threading.Lock()
        self._pending: dict[str, Future[bytes]] = {}
        self._live: _Connected | None = None
        self._connected = threading.Event()
        self._stopping = threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"{name}-rpc-io", daemon=True)

    # -- lifecycle ------------------------------------------------------------------------------
    def start(self, wait: float = CONNECT_WAIT_SECONDS) -> bool:
        """Start the I/O thread; True once connected (the thread keeps trying if not)."""
        self._thread.start()
        return self._connected.wait(wait)

    @property
    def connected(self) -> bool:
        return self._connected.is_set()

    def close(self) -> None:
        self._stopping.set()
        with self._lock:
            live = self._live
        if live is not None:
            with contextlib.suppress(pika.exceptions.AMQPError):
                live.connection.add_callback_threadsafe(lambda: None)  # wake the loop to see the stop
        self._thread.join(timeout=10)

    # -- calls (any thread) ---------------------------------------------------------------------
    def call(self, service: str, method: str, kwargs: Mapping[str, Any], timeout: float,
             context_data: Mapping[str, Any] | None = None) -> Any:
        if timeout <= 0:
            raise RpcTimeout(service, method, timeout)
        started = time.monotonic()
        if not self._connected.wait(min(timeout, CONNECT_WAIT_SECONDS)):
            raise ServiceUnavailable("the message broker is unreachable")
        correlation_id = uuid.uuid4().hex
        body = json.dumps({"args": [], "kwargs": dict(kwargs)}).encode()
        headers = {f"{HEADER_PREFIX}.{key}": value for key, value in (context_data or {}).items()}
        remaining = timeout - (time.monotonic() - started)
        future: Future[bytes] = Future()
        with self._lock:
            live = self._live
            if live is None:
                raise ServiceUnavailable("the message broker is unreachable")
            self._pending[correlation_id] = future
        properties = BasicProperties(
            content_type=CONTENT_TYPE, content_encoding="utf-8", correlation_id=correlation_id,
            reply_to=live.reply_key, headers=headers, delivery_mode=1,
            # A request nobody picked up before the caller gave up is dropped, not run late.
            expiration=str(max(1, int(remaining * 1000))),
        )
        routing_key = f"{service}.{method}"
        def publish() -> None:
            live.channel.basic_publish(RPC_EXCHANGE, routing_key, body, properties, mandatory=True)

        try:
            live.connection.add_callback_threadsafe(publish)
        except pika.exceptions.AMQPError as exc:
            self._forget(correlation_id)
            raise ServiceUnavailable("the message broker connection was lost") from exc
        try:
            reply = future.result(timeout=max(0.0, remaining))
        except FutureTimeout:
            self._forget(correlation_id)
            raise RpcTimeout(service, method, timeout) from None
        return _result(json.loads(reply))

    def _forget(self, correlation_id: str) -> None:
        with self._lock:
            self._pending.pop(correlation_id, None)

    # -- the I/O thread -------------------------------------------------------------------------
    def _run(self) -> None:
        attempt = 0
        while not self._stopping.is_set():
            try:
                live = self._connect()
            except (pika.exceptions.AMQPError, OSError) as exc:
                delay = RECONNECT_BACKOFF_SECONDS[min(attempt, len(RECONNECT_BACKOFF_SECONDS) - 1)]
                log.warning("cannot connect to the broker (%s); retrying in %.1f s", exc, delay)
                attempt += 1
                self._stopping.wait(delay)
                continue
            attempt = 0
            try:
                while not self._stopping.is_set():
                    live.connection.process_data_events(time_limit=1)
            except (pika.exceptions.AMQPError, OSError) as exc:
                log.warning("lost the broker connection: %s", exc)
            except Exception:
                # Whatever broke, this thread must live on: without it no call is ever answered.
                log.exception("unexpected error on the broker connection; reconnecting")
            finally:
                self._disconnected(live)

    def _connect(self) -> _Connected:
        connection = pika.BlockingConnection(self._parameters)
        try:
            channel = connection.channel()
            channel.exchange_declare(RPC_EXCHANGE, exchange_type="topic", durable=True)
            reply_key = uuid.uuid4().hex
            queue = f"rpc.reply-{self._name}-{reply_key}"
            channel.queue_declare(queue, exclusive=True, auto_delete=True)
            channel.queue_bind(queue, RPC_EXCHANGE, routing_key=reply_key)
            channel.basic_consume(queue, self._on_reply, auto_ack=True)
            channel.add_on_return_callback(self._on_return)
        except BaseException:
            connection.close()
            raise
        live = _Connected(connection, channel, reply_key)
        with self._lock:
            self._live = live
        self._connected.set()
        log.info("connected to the broker; replies on %s", queue)
        return live

    def _disconnected(self, live: _Connected) -> None:
        with self._lock:
            self._live = None
            self._connected.clear()
            pending, self._pending = self._pending, {}
        for future in pending.values():
            future.set_exception(ServiceUnavailable("the message broker connection was lost"))
        if live.connection.is_open:
            with contextlib.suppress(pika.exceptions.AMQPError, OSError):
                live.connection.close()

    def _on_reply(self, channel: BlockingChannel, deliver: Basic.Deliver, properties: BasicProperties,
                  body: bytes) -> None:
        with self._lock:
            future = self._pending.pop(properties.correlation_id or "", None)
        if future is not None:
            future.set_result(body)

    def _on_return(self, channel: BlockingChannel, returned: Basic.Return, properties: BasicProperties,
                   body: bytes) -> None:
        with self._lock:
            future = self._pending.pop(properties.correlation_id or "", None)
        if future is not None:
            service = str(returned.routing_key).split(".", 1)[0]
            future.set_exception(ServiceUnavailable(f"service {service} is not running"))


def _result(reply: dict[str, Any]) -> Any:
    error = reply.get("error")
    if error:
        raise RemoteError(str(error.get("exc_type", "")), str(error.get("value", "")))
    return reply.get("result")
