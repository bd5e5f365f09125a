"""Test helpers that observe the platform from outside, as an operator would."""

import time
import uuid
from collections.abc import Callable
from typing import Any, TypeVar

from kombu import Connection, Queue

from egov.events.v1.cloud_event_pb2 import CloudEvent
from services.common.events.broker import events_exchange
from services.common.events.envelope import decode, unpack

T = TypeVar("T")


class EventTap:
    """A temporary queue bound to every event type: what the platform published while it existed."""

    def __init__(self, amqp_uri: str, routing_key: str = "#") -> None:
        self.connection = Connection(amqp_uri)
        self.queue = Queue(f"test-tap-{uuid.uuid4().hex[:8]}", exchange=events_exchange, routing_key=routing_key,
                           exclusive=True, auto_delete=True)
        self.channel = self.connection.channel()
        self.bound = self.queue(self.channel)
        self.bound.declare()
        self.events: list[CloudEvent] = []

    def drain(self) -> list[CloudEvent]:
        while (message := self.bound.get(no_ack=True)) is not None:
            self.events.append(decode(message.body))
        return self.events

    def of_type(self, event_type: str) -> list[CloudEvent]:
        return [e for e in self.drain() if e.type == event_type]

    def payloads(self, event_type: str) -> list[Any]:
        return [unpack(e) for e in self.of_type(event_type)]

    def close(self) -> None:
        self.connection.release()


def eventually(check: Callable[[], T], what: str, timeout: float = 30.0) -> T:
    """Poll `check` until it returns a truthy value (assertions inside it are retried too)."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            value = check()
            if value:
                return value
            error: Exception | None = None
        except AssertionError as exc:
            error = exc
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}") from error
        time.sleep(0.05)
