"""`consume_events`: a nameko entrypoint reading the service's own quorum queue.

Unlike nameko's `event_handler`, a handler that raises is not acknowledged away: the message is
returned to the queue, which counts deliveries and dead-letters it after the limit (topology.py).

On stop (SIGTERM) it takes no new work: a message still waiting for a free worker goes back to the
queue for the next instance, while the messages already being handled finish and are acknowledged.
"""

from typing import Any

import eventlet
import kombu.serialization
from kombu import Queue, binding
from nameko.exceptions import ContainerBeingKilled
from nameko.messaging import Consumer, decode_from_headers

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
        queue = Queue(
            sub.queue,
            bindings=[binding(events_exchange, routing_key=t) for t in sub.event_types],
            durable=True,
            queue_arguments=queue_arguments(sub),
        )
        super().__init__(queue, requeue_on_error=True, accept=[CONTENT_TYPE], **kwargs)
        self._stopping = False

    def stop(self) -> None:
        self._stopping = True
        super().stop()

    def handle_message(self, body: bytes, message: Any) -> None:
        # nameko's own version waits for a free worker in a thread that cannot be told to give
        # up; this one waits in a way that hands the message back when the service is stopping.
        def spawn_when_free() -> None:
            pool = self.container._worker_pool
            while pool.free() == 0 and not self._stopping:
                eventlet.sleep(0.005)
            if self._stopping:
                self.consumer.requeue_message(message)
                return
            try:
                self.container.spawn_worker(
                    self, (body,), {}, context_data=decode_from_headers(message.headers),
                    handle_result=lambda worker_ctx, result=None, exc_info=None: self.handle_result(
                        message, worker_ctx, result, exc_info))
            except ContainerBeingKilled:
                self.consumer.requeue_message(message)

        self.container.spawn_managed_thread(spawn_when_free, identifier=f"wait_for_worker[{self.method_name}]")


consume_events = EventConsumer.decorator
