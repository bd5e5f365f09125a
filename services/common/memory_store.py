"""The in-memory twin of a worker's store (services/common/runtime/store.py over mongo_store.py), for
handler unit tests: `transaction` runs a function against the service's in-memory repositories
(its `fakes.py`) and keeps all of its changes, with the events it emitted, or none of them when it
raises; `handle_event` processes an incoming event once, as the inbox does.

Handlers reach repositories only through `tx.repository(Kind)` (and `store.repository(Kind)` for
reads outside a transaction), so here they get the fake registered for `Kind`. The contract suites
in tests/contract/ hold each fake to its MongoDB adapter's behaviour.
"""

import copy
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any, TypeVar, cast

from google.protobuf.message import Message

from egov.events.v1.cloud_event_pb2 import CloudEvent
from services.common.events.envelope import new_event, unpack
from services.common.mongo_store import AlreadyProcessed, Cause, Transaction

T = TypeVar("T")
R = TypeVar("R")
EventHandler = Callable[[Transaction, Any, CloudEvent], None]


class InMemoryTransaction(Transaction):
    """A Transaction without a database: `db` and `session` are never set, so a handler that reaches
    past `repository()` to MongoDB fails its unit test."""

    def __init__(self, store: "InMemoryStore", cause: Cause) -> None:  # no dataclass __init__: no db
        self.source = store.source
        self.cause = cause
        self.emitted = []
        self.recorded = []
        self._store = store

    def repository(self, kind: Callable[..., R]) -> R:
        return self._store.repository(kind)

    def emit(self, payload: Message, *, subject: str, correlation_id: str = "") -> CloudEvent:
        event = new_event(payload, source=self.source, subject=subject,
                          correlation_id=correlation_id or self.cause.correlation_id or subject,
                          causation_id=self.cause.causation_id, traceparent=self.cause.traceparent)
        event.sequence = time.time_ns()
        self.emitted.append(event)
        return event

    def remember_trace(self, key: str) -> None:
        if self.cause.traceparent:
            self._store.traces[key] = self.cause.traceparent

    def resume_trace(self, key: str) -> None:
        if key in self._store.traces:
            self.cause.traceparent = self._store.traces[key]

    def mark_processed(self, event: CloudEvent, consumer: str) -> None:
        key = f"{consumer}:{event.id}"
        if key in self._store.inbox:
            raise AlreadyProcessed(event.id)
        self._store.inbox.add(key)


class InMemoryStore:
    """`repositories` maps each MongoDB adapter class to its in-memory fake."""

    def __init__(self, service: str, repositories: Mapping[Any, object]) -> None:
        self.service = service
        self.source = f"/egov/{service}"
        self.repositories = dict(repositories)
        self.inbox: set[str] = set()
        self.traces: dict[str, str] = {}
        self.published: list[CloudEvent] = []   # every event a committed transaction emitted, in order

    def repository(self, kind: Callable[..., R]) -> R:
        return cast(R, self.repositories[kind])

    def transaction(self, fn: Callable[[Transaction], T], cause: Cause | None = None) -> T:
        saved = copy.deepcopy((self.repositories, self.inbox, self.traces))
        tx = InMemoryTransaction(self, cause or Cause())
        try:
            result = fn(tx)
        except BaseException:
            repositories, self.inbox, self.traces = saved
            for kind, fake in self.repositories.items():   # the same objects the test holds, rolled back
                fake.__dict__.clear()
                fake.__dict__.update(repositories[kind].__dict__)
            raise
        self.published.extend(tx.emitted)
        return result

    def handle_event(self, event: CloudEvent, handlers: Mapping[str, EventHandler]) -> bool:
        """Process one incoming event exactly once; False if it was a duplicate or not ours."""
        handler = handlers.get(event.type)
        if handler is None:
            return False
        payload = unpack(event)

        def apply(tx: Transaction) -> None:
            tx.mark_processed(event, self.service)
            handler(tx, payload, event)

        try:
            self.transaction(apply, Cause(correlation_id=event.correlation_id, causation_id=event.id,
                                          traceparent=event.traceparent))
        except AlreadyProcessed:
            return False
        return True

    def handle_events(self, events: Sequence[CloudEvent],
                      project: Callable[[Transaction, list[CloudEvent]], None]) -> int:
        """A batch in one transaction, each event once (runtime/store.py's WorkerStore.handle_events)."""
        distinct = list({e.id: e for e in events}.values())

        def apply(tx: Transaction) -> list[CloudEvent]:
            fresh = [e for e in distinct if f"{self.service}:{e.id}" not in self.inbox]
            self.inbox.update(f"{self.service}:{e.id}" for e in fresh)
            project(tx, fresh)
            if tx.emitted:
                raise RuntimeError("a batch of events emitted events: process such events one by one (handle_event)")
            return fresh

        return len(self.transaction(apply))

    def events(self, payload_type: type[Message] | None = None) -> list[Any]:
        """The payloads of the events published so far (of one type, if given)."""
        payloads = [unpack(e) for e in self.published]
        return [p for p in payloads if payload_type is None or isinstance(p, payload_type)]
