"""Declaring the topology and publishing events with publisher confirms (kombu, so it works
both inside eventlet-patched nameko processes and in plain tools)."""

import logging

import amqp.exceptions
from kombu import Connection, Exchange, Queue
from kombu.exceptions import OperationalError

from egov.events.v1.cloud_event_pb2 import CloudEvent
from services.common.events.envelope import CONTENT_TYPE, encode
from services.common.topology import (
    ARCHIVE_ARGUMENTS,
    ARCHIVE_STREAM,
    DEAD_LETTER_EXCHANGE,
    EVENTS_EXCHANGE,
    SUBSCRIPTIONS,
    Subscription,
    queue_arguments,
)

log = logging.getLogger(__name__)

events_exchange = Exchange(EVENTS_EXCHANGE, type="topic", durable=True)
dead_letter_exchange = Exchange(DEAD_LETTER_EXCHANGE, type="direct", durable=True)


class Unroutable(Exception):
    """The broker returned an event no queue was bound for: it stays in the outbox."""


def service_queue(sub: Subscription) -> Queue:
    return Queue(
        sub.queue,
        durable=True,
        queue_arguments=queue_arguments(sub),
    )


def declare_topology_where_allowed(amqp_uri: str) -> bool:
    """declare_topology, unless this broker user may not: a deployment gives each service a user
    that declares only its own queues (deploy/users.py), and there the topology job (compose) or
    init container (Kubernetes) declared everything before any service starts. False when refused."""
    try:
        declare_topology(amqp_uri)
    except amqp.exceptions.AccessRefused:
        log.info("this broker user may not declare the whole topology; the topology job's declaration stands")
        return False
    return True


def declare_topology(amqp_uri: str) -> None:
    with Connection(amqp_uri) as conn:
        channel = conn.channel()
        events_exchange.declare(channel=channel)
        dead_letter_exchange.declare(channel=channel)
        archive = Queue(ARCHIVE_STREAM, exchange=events_exchange, routing_key="#", durable=True,
                        queue_arguments=dict(ARCHIVE_ARGUMENTS))(channel)
        archive.declare()
        for sub in SUBSCRIPTIONS:
            queue = service_queue(sub)(channel)
            queue.declare()
            for event_type in sub.event_types:
                queue.bind_to(exchange=EVENTS_EXCHANGE, routing_key=event_type)
            dlq = Queue(sub.dead_letter_queue, exchange=dead_letter_exchange, routing_key=sub.service,
                        durable=True, queue_arguments={"x-queue-type": "quorum"})(channel)
            dlq.declare()
        channel.close()


class EventPublisher:
    """Publishes envelopes to the events exchange; returns only once the broker has confirmed.

    `mandatory` makes the broker return an event no queue is bound for; kombu raises then, and the
    caller keeps the event in its outbox rather than dropping it.
    """

    def __init__(self, amqp_uri: str) -> None:
        self._connection = Connection(amqp_uri, transport_options={"confirm_publish": True})
        self._producer = None

    def _ensure_producer(self):  # type: ignore[no-untyped-def]
        if self._producer is None:
            channel = self._connection.default_channel
            self._returned: list[str] = []
            channel.events["basic_return"].add(self._on_return)  # type: ignore[attr-defined]
            self._producer = self._connection.Producer(channel=channel)
        return self._producer

    def _on_return(self, exc, exchange, routing_key, message):  # type: ignore[no-untyped-def]
        self._returned.append(routing_key)

    def publish(self, event: CloudEvent) -> None:
        try:
            producer = self._ensure_producer()
            self._returned.clear()
            producer.publish(
                encode(event),
                exchange=EVENTS_EXCHANGE,
                routing_key=event.type,
                content_type=CONTENT_TYPE,
                content_encoding="binary",
                delivery_mode=2,
                mandatory=True,
                message_id=event.id,
                headers={"ce_type": event.type, "ce_source": event.source, "ce_subject": event.subject,
                         "traceparent": event.traceparent},
            )
        except (OperationalError, OSError, ConnectionError):
            self.reset()
            raise
        if self._returned:
            raise Unroutable(f"event {event.id} of type {event.type} has no queue bound")

    def reset(self) -> None:
        self._producer = None
        try:
            self._connection.release()
        except Exception:
            log.debug("closing a broken connection failed", exc_info=True)
        self._connection = self._connection.clone()

    def close(self) -> None:
        self._connection.release()


def main() -> None:
    from services.common.config import amqp_uri

    declare_topology(amqp_uri())
    print(f"declared {EVENTS_EXCHANGE}, {DEAD_LETTER_EXCHANGE} and {len(SUBSCRIPTIONS)} service queues")


if __name__ == "__main__":
    main()
