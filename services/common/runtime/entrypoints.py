"""`consume_events`: a nameko entrypoint reading the service's own quorum queue.

Unlike nameko's `event_handler`, a handler that raises is not acknowledged away: the message is
returned to the queue, which counts deliveries and dead-letters it after the limit (topology.py).
"""

from typing import Any

import kombu.serialization
from kombu import Queue
from nameko.messaging import Consumer

from services.common.events.broker import events_exchange
from services.common.events.envelope import CONTENT_TYPE
from services.common.topology import queue_arguments, subscription

kombu.serialization.register(
    "cloudevents-protobuf", lambda body: body, lambda body: body,
    content_type=CONTENT_TYPE, content_encoding="binary",
)


class EventConsumer(Consumer):  # type: ignore[misc]
    def __init__(self, service: str, **kwargs: Any) -> None:
        sub = subscription(service)
        from kombu import binding

        queue = Queue(
            sub.queue,
            bindings=[binding(events_exchange, routing_key=t) for t in sub.event_types],
            durable=True,
            queue_arguments=queue_arguments(sub),
        )
        super().__init__(queue, requeue_on_error=True, accept=[CONTENT_TYPE], **kwargs)


consume_events = EventConsumer.decorator
