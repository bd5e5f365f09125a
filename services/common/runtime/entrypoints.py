"""`consume_events`: a nameko entrypoint reading the service's own quorum queue.

Unlike nameko's `event_handler`, a handler that raises is not acknowledged away. Attempt n
(counted by the quorum queue's `x-delivery-count`) that fails waits EGOV_RETRY_BASE_SECONDS
(0.2 s) * 2**(n-1) in its own green thread, then returns the message to the queue; other messages keep flowing
meanwhile, because the queue delivers up to the prefetch count at once. The last attempt parks
the message: a copy carrying the error and the attempt count goes to the service's dead-letter
queue (services/common/events/dlq.py), published `mandatory` with publisher confirms, and the
original is acknowledged only once the copy is confirmed and routed (else it is returned to its queue). The queue's own
delivery limit remains the backstop for a message whose consumer dies on every attempt.

nameko's own acks and requeues (of every entrypoint, RPC included) give up quietly only on
py-amqp's ConnectionError; a broker that dies mid-ack raises a socket error instead, which kills
the service's container. `tolerate_lost_connections` makes them give up quietly on that too: the
broker delivers an unacknowledged message again anyway.

On stop (SIGTERM) it takes no new work: a message still waiting for a free worker goes back to the
queue for the next instance, while the messages already being handled finish and are acknowledged.
"""

import logging
import traceback
from functools import partial
from types import TracebackType
from typing import Any

import amqp.exceptions
import eventlet
import kombu.serialization
from eventlet.semaphore import Semaphore
from kombu import Connection, Queue, binding
from kombu.message import Message
from nameko import config
from nameko.amqp.consume import Consumer as ConsumerCore
from nameko.constants import AMQP_URI_CONFIG_KEY
from nameko.exceptions import ContainerBeingKilled
from nameko.messaging import Consumer, decode_from_headers

from services.common.config import env_float
from services.common.events.broker import Unroutable, dead_letter_exchange, events_exchange
from services.common.events.dlq import parked_headers
from services.common.events.envelope import CONTENT_TYPE
from services.common.runtime import event_metrics
from services.common.topology import DELIVERY_LIMIT, queue_arguments, subscription

log = logging.getLogger(__name__)

kombu.serialization.register(
    "cloudevents-protobuf", lambda body: body, lambda body: body,
    content_type=CONTENT_TYPE, content_encoding="binary",
)

LOST_CONNECTION = (OSError, amqp.exceptions.ConnectionError, amqp.exceptions.RecoverableConnectionError)


def tolerate_lost_connections() -> None:
    def quietly(settle: Any) -> Any:
        def settle_unless_disconnected(core: Any, message: Message) -> None:
            try:
                settle(core, message)
            except LOST_CONNECTION as exc:
                log.warning("the connection closed before %s of message %s (%s); the broker delivers it again",
                            settle.__name__, message.properties.get("message_id"), exc)
        settle_unless_disconnected.tolerates_lost_connections = True  # type: ignore[attr-defined]
        return settle_unless_disconnected

    for name in ("ack_message", "requeue_message"):
        if not getattr(getattr(ConsumerCore, name), "tolerates_lost_connections", False):
            setattr(ConsumerCore, name, quietly(getattr(ConsumerCore, name)))


tolerate_lost_connections()

MAX_ATTEMPTS = DELIVERY_LIMIT          # parked by us on this attempt, before the broker's limit
ExcInfo = tuple[type[BaseException], BaseException, TracebackType | None]


def attempt_of(message: Message) -> int:
    """1 for the first delivery; the quorum queue counts the returns in x-delivery-count."""
    return int((message.headers or {}).get("x-delivery-count", 0)) + 1


def retry_delay(attempt: int, base: float) -> float:
    return base * 2 ** (attempt - 1)


def error_text(exc_info: ExcInfo) -> str:
    return "".join(traceback.format_exception_only(exc_info[0], exc_info[1])).strip()


class EventConsumer(Consumer):  # type: ignore[misc]
    def __init__(self, service: str, **kwargs: Any) -> None:
        sub = subscription(service)
        self.service = service
        queue = Queue(
            sub.queue,
            bindings=[binding(events_exchange, routing_key=t) for t in sub.event_types],
            durable=True,
            queue_arguments=queue_arguments(sub),
        )
        super().__init__(queue, requeue_on_error=True, accept=[CONTENT_TYPE], **kwargs)
        self._stopping = False

    def setup(self) -> None:
        super().setup()
        self.retry_base = env_float("EGOV_RETRY_BASE_SECONDS", 0.2)
        self._parking_lock = Semaphore()
        self._parking: Connection | None = None

    def stop(self) -> None:
        self._stopping = True
        super().stop()
        if self._parking is not None:
            self._parking.release()

    def handle_message(self, body: bytes, message: Any) -> None:
        # nameko's own version waits for a free worker in a thread that cannot be told to give
        # up; this one waits in a way that hands the message back when the service is stopping.
        def spawn_when_free() -> None:
            self._wait_for_a_free_worker()
            if self._stopping:
                self.consumer.requeue_message(message)
                return
            try:
                self.container.spawn_worker(self, (body,), {}, context_data=decode_from_headers(message.headers),
                                            handle_result=partial(self.handle_result, message))
            except ContainerBeingKilled:
                self.consumer.requeue_message(message)

        self.container.spawn_managed_thread(spawn_when_free, identifier=f"wait_for_worker[{self.method_name}]")

    def _wait_for_a_free_worker(self) -> None:
        """Until the worker pool has room, or the service is stopping."""
        pool = self.container._worker_pool
        while pool.free() == 0 and not self._stopping:
            eventlet.sleep(0.005)

    def handle_message_processed(self, message: Message, result: Any = None, exc_info: ExcInfo | None = None) -> None:
        if exc_info is None:
            self.consumer.ack_message(message)
            return
        attempt = attempt_of(message)
        error = error_text(exc_info)
        labels = {"service": self.service, "type": str((message.headers or {}).get("ce_type", ""))}
        if attempt < MAX_ATTEMPTS:
            event_metrics.failed.add(1, {**labels, "outcome": "retried"})
            delay = retry_delay(attempt, self.retry_base)
            log.warning("event %s failed on attempt %d/%d (%s); retrying in %.1f s",
                        message.properties.get("message_id"), attempt, MAX_ATTEMPTS, error, delay)
            eventlet.sleep(delay)
            self.consumer.requeue_message(message)
            return
        try:
            self._park(message, error, attempt)
        except Exception:  # the broker may be away, or returned the copy: not acked; the next attempt parks it
            log.exception("parking event %s failed; returned to the queue", message.properties.get("message_id"))
            event_metrics.failed.add(1, {**labels, "outcome": "park_failed"})
            self.consumer.requeue_message(message)
            return
        log.error("event %s parked in %s after %d attempts: %s", message.properties.get("message_id"),
                  subscription(self.service).dead_letter_queue, attempt, error)
        event_metrics.failed.add(1, {**labels, "outcome": "dead_lettered"})
        self.consumer.ack_message(message)

    def _park(self, message: Message, error: str, attempt: int) -> None:
        """Publish the parked copy `mandatory`, with publisher confirms: returns only once the broker
        confirmed it and routed it to the dead-letter queue. A copy it returned (no dead-letter queue
        bound: a topology not declared, a queue deleted) or nacked raises, and the original is not
        acknowledged: it goes back to its queue, and the next attempt parks it or, at the queue's
        delivery limit, the broker dead-letters it itself."""
        headers = parked_headers(message.headers or {}, service=self.service, error=error, attempts=attempt)
        returned: list[str] = []
        with self._parking_lock:
            if self._parking is None:
                self._parking = Connection(config[AMQP_URI_CONFIG_KEY],
                                           transport_options={"confirm_publish": True})
            try:
                producer = self._parking.Producer(
                    on_return=lambda exc, exchange, routing_key, returned_message: returned.append(str(exc)))
                producer.publish(
                    message.body, exchange=dead_letter_exchange, routing_key=self.service,
                    content_type=message.content_type or CONTENT_TYPE, content_encoding="binary",
                    delivery_mode=2, message_id=message.properties.get("message_id"), headers=headers,
                    mandatory=True, retry=False)
            except Exception:
                self._parking.release()
                self._parking = None
                raise
            finally:
                # The handler belongs to this publish: the next one registers its own.
                if self._parking is not None:
                    self._parking.default_channel.events["basic_return"].clear()  # type: ignore[attr-defined]
        if returned:
            raise Unroutable(f"the parked copy of event {message.properties.get('message_id')} was returned: "
                             f"no dead-letter queue is bound for {self.service} ({returned[0]})")


consume_events = EventConsumer.decorator
