"""The services' dead-letter queues in RabbitMQ (the DeadLetterQueues port of services/archive/ports.py)."""

from collections.abc import Callable, Iterator
from contextlib import contextmanager

import pika
from pika.adapters.blocking_connection import BlockingChannel

from services.archive.ports import Choose
from services.common.events.dlq import ParkedMessage, describe, redriven_headers
from services.common.events.envelope import CONTENT_TYPE
from services.common.topology import subscription


class RabbitDeadLetters:
    def __init__(self, amqp_uri: str) -> None:
        self.parameters = pika.URLParameters(amqp_uri)

    @contextmanager
    def _channel(self) -> Iterator[BlockingChannel]:
        connection = pika.BlockingConnection(self.parameters)
        try:
            yield connection.channel()
        finally:
            if connection.is_open:
                connection.close()     # what was fetched and not acknowledged goes back, in order

    def parked(self, service: str, limit: int) -> list[ParkedMessage]:
        return self.sweep(service, lambda message: True, None, limit, lambda: None)

    # Every parked message is fetched and those not acted on are held unacknowledged until the
    # channel closes: returned together, they keep their order (a message returned alone would go
    # behind the ones never fetched).
    def sweep(self, service: str, choose: Choose, action: str | None, limit: int | None,
              before_each: Callable[[], None]) -> list[ParkedMessage]:
        sub = subscription(service)
        acted: list[ParkedMessage] = []
        with self._channel() as channel:
            channel.confirm_delivery()
            count = channel.queue_declare(sub.dead_letter_queue, passive=True).method.message_count
            for _ in range(count):     # what is parked now; a message that fails again is not looped
                method, props, body = channel.basic_get(sub.dead_letter_queue, auto_ack=False)
                if method is None:
                    break
                message = describe(props.headers, props.message_id, body)
                if (limit is not None and len(acted) >= limit) or not choose(message):
                    continue            # held unacknowledged: back in place when the channel closes
                before_each()
                if action == "redrive":
                    channel.basic_publish("", sub.queue, body, pika.BasicProperties(
                        content_type=props.content_type or CONTENT_TYPE, content_encoding=props.content_encoding,
                        delivery_mode=2, message_id=props.message_id,
                        headers=redriven_headers(props.headers or {})), mandatory=True)
                if action in ("redrive", "purge"):
                    channel.basic_ack(method.delivery_tag)
                acted.append(message)
        return acted
