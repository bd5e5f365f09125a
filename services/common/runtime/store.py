"""The `Store` dependency: a service's MongoDB database, its transactional outbox and inbox.

Workers change state inside `transaction()`, which writes the events they emit to the outbox in
the same MongoDB transaction. They are published (with broker confirms) in `worker_result`, which
nameko calls just after the entrypoint has replied or acked; so a crash in between leaves them in
the outbox, and a background relay publishes whatever stays unpublished longer than RELAY_AFTER.
The relay also marks confirmed events as published: one update per round (EGOV_OUTBOX_RELAY_SECONDS)
for every worker's events of the round, not one per worker.

Rebuild mode: an event delivered with the `egov-rebuild` header (`egov-events replay --rebuild`)
is processed even if the inbox has it, and the events its handler emits are dropped (downstream
services received the originals already). Only handlers that are safe to run again (those that
write read models by upsert, not those that insert, count or call third parties) may be rebuilt.
"""

import logging
import queue
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar

import amqp.exceptions
import eventlet
from google.protobuf.message import Message
from nameko.containers import WorkerContext
from nameko.extensions import DependencyProvider
from pymongo import MongoClient, UpdateOne
from pymongo.database import Database

from egov.events.v1.cloud_event_pb2 import CloudEvent
from services.common.config import amqp_uri, database_name, env_float, mongo_uri
from services.common.events.broker import EventPublisher, Unroutable, declare_topology_where_allowed
from services.common.events.envelope import REBUILD_HEADER, unpack
from services.common.mongo_store import (
    INBOX,
    OUTBOX,
    AlreadyProcessed,
    Cause,
    MongoStore,
    Transaction,
    inbox_record,
)
from services.common.runtime import event_metrics, tracing
from services.common.runtime.entrypoints import tolerate_lost_connections
from services.common.telemetry import current_traceparent

log = logging.getLogger(__name__)
T = TypeVar("T")
R = TypeVar("R")

EventHandler = Callable[[Transaction, Any, CloudEvent], None]
BatchProjector = Callable[[Transaction, list[CloudEvent]], None]
RELAY_AFTER = timedelta(seconds=3)


class WorkerStore:
    """What a worker sees: reads through `db`, writes through `transaction`."""

    def __init__(self, provider: "Store", worker_ctx: WorkerContext) -> None:
        self._provider = provider
        self._worker_ctx = worker_ctx
        self.db: Database[Any] = provider.store.db
        # What the last event's handler recorded for after the commit (Transaction.recorded).
        self.recorded: list[Any] = []

    def repository(self, kind: Callable[[Database[Any]], R]) -> R:
        """The repository `kind` for reads outside a transaction (Transaction.repository inside one)."""
        return kind(self.db)

    def transaction(self, fn: Callable[[Transaction], T], cause: Cause | None = None) -> T:
        result, emitted = self._provider.store.transaction(fn, cause or self._cause())
        self._provider.pending.setdefault(self._worker_ctx.call_id, []).extend(emitted)
        return result

    def handle_event(self, event: CloudEvent, handlers: Mapping[str, EventHandler]) -> bool:
        """Process one incoming event exactly once; False if it was a duplicate or not ours."""
        handler = handlers.get(event.type)
        consumer = self._provider.service_name
        labels = {"service": consumer, "type": event.type}
        if handler is None:
            log.warning("no handler for %s (event %s); acknowledged", event.type, event.id)
            event_metrics.consumed.add(1, {**labels, "outcome": "ignored"})
            return False
        payload: Message = unpack(event)
        rebuild = bool(self._worker_ctx.context_data.get(REBUILD_HEADER))
        attempts: list[Transaction] = []

        def apply(tx: Transaction) -> None:
            attempts.append(tx)
            if rebuild:
                _mark_reprocessed(tx, event, consumer)
            else:
                tx.mark_processed(event, consumer)
            handler(tx, payload, event)
            if rebuild and tx.emitted:
                tx.db[OUTBOX].delete_many({"_id": {"$in": [e.id for e in tx.emitted]}}, session=tx.session)
                tx.emitted.clear()

        cause = Cause(correlation_id=event.correlation_id, causation_id=event.id,
                      traceparent=current_traceparent() or event.traceparent)
        try:
            self.transaction(apply, cause)
        except AlreadyProcessed:
            log.info("event %s (%s) already processed; acknowledged", event.id, event.type)
            event_metrics.consumed.add(1, {**labels, "outcome": "duplicate"})
            return False
        event_metrics.consumed.add(1, {**labels, "outcome": "rebuilt" if rebuild else "processed"})
        self.recorded = attempts[-1].recorded   # the attempt that committed
        return True

    def handle_events(self, events: Sequence[CloudEvent], project: BatchProjector) -> int:
        """Process a batch of incoming events in one transaction, each once: `project` gets the ones
        the inbox has not seen (every one in rebuild mode), in order, and the inbox records them all
        in one write. For read models that emit nothing: one event per transaction is handle_event.
        Returns how many were processed."""
        if not events:
            return 0
        consumer = self._provider.service_name
        rebuild = bool(self._worker_ctx.context_data.get(REBUILD_HEADER))
        distinct = list({e.id: e for e in events}.values())

        def apply(tx: Transaction) -> list[CloudEvent]:
            now = datetime.now(UTC)
            records = [inbox_record(consumer, e, now) for e in distinct]
            if rebuild:
                fresh = distinct
                tx.db[INBOX].bulk_write([_reprocessed(r, now) for r in records], ordered=False, session=tx.session)
            else:
                keys = [r["_id"] for r in records]
                seen = {d["_id"] for d in tx.db[INBOX].find({"_id": {"$in": keys}}, {"_id": 1}, session=tx.session)}
                fresh = [e for r, e in zip(records, distinct, strict=True) if r["_id"] not in seen]
                if fresh:
                    tx.db[INBOX].insert_many([r for r in records if r["_id"] not in seen], ordered=False,
                                             session=tx.session)
            project(tx, fresh)
            if tx.emitted:
                raise RuntimeError("a batch of events emitted events: process such events one by one (handle_event)")
            return fresh

        fresh = self.transaction(apply, Cause())
        fresh_ids = {e.id for e in fresh}
        for event in events:
            outcome = ("rebuilt" if rebuild else "processed") if event.id in fresh_ids else "duplicate"
            fresh_ids.discard(event.id)
            event_metrics.consumed.add(1, {"service": consumer, "type": event.type, "outcome": outcome})
        return len(fresh)

    def _cause(self) -> Cause:
        data = self._worker_ctx.context_data
        return Cause(correlation_id=str(data.get("correlation_id", "")),
                     causation_id=str(data.get("call_id", self._worker_ctx.call_id)),
                     traceparent=current_traceparent() or str(data.get("traceparent", "")))


def _reprocessed(record: dict[str, Any], now: datetime) -> UpdateOne:
    """The inbox record of a rebuilt event (the key of Transaction.mark_processed), kept or made."""
    return UpdateOne({"_id": record["_id"]},
                     {"$set": {"rebuilt_at": now}, "$setOnInsert": {k: v for k, v in record.items() if k != "_id"}},
                     upsert=True)


def _mark_reprocessed(tx: Transaction, event: CloudEvent, consumer: str) -> None:
    now = datetime.now(UTC)
    tx.db[INBOX].bulk_write([_reprocessed(inbox_record(consumer, event, now), now)], session=tx.session)


class Store(DependencyProvider):  # type: ignore[misc]
    def __init__(self, publish: bool = True) -> None:
        tolerate_lost_connections()   # every service has a Store, not every one consumes events
        self.publish_events = publish
        self.pending: dict[str, list[CloudEvent]] = {}
        self._publishers: queue.LifoQueue[EventPublisher] = queue.LifoQueue()

    @property
    def service_name(self) -> str:
        return str(self.container.service_name)

    def setup(self) -> None:
        tracing.instrument(self.service_name)
        client: MongoClient[Any] = MongoClient(mongo_uri(), serverSelectionTimeoutMS=10000, tz_aware=True)
        self.store = MongoStore(client, database_name(self.service_name), f"/egov/{self.service_name}")
        self._amqp_uri = amqp_uri()
        self._relay_interval = env_float("EGOV_OUTBOX_RELAY_SECONDS", 1.0)
        self._confirmed: list[str] = []

    def start(self) -> None:
        declare_topology_where_allowed(self._amqp_uri)
        self.store.ensure_indexes()
        self.container.spawn_managed_thread(self._relay_forever, identifier="outbox-relay")

    def stop(self) -> None:
        try:
            self.mark_confirmed()
        except Exception:   # the relay publishes them again; consumers drop the duplicates
            log.warning("marking confirmed events as published failed at stop", exc_info=True)
        while not self._publishers.empty():
            self._publishers.get_nowait().close()

    def get_dependency(self, worker_ctx: WorkerContext) -> WorkerStore:
        return WorkerStore(self, worker_ctx)

    def worker_result(self, worker_ctx: WorkerContext, result: Any = None, exc_info: Any = None) -> None:
        events = self.pending.pop(worker_ctx.call_id, [])
        if events:
            try:
                self.publish(events)
            except Exception:
                log.exception("publishing %d events failed; the outbox relay will retry", len(events))

    def worker_teardown(self, worker_ctx: WorkerContext) -> None:
        self.pending.pop(worker_ctx.call_id, None)

    def publish(self, events: list[CloudEvent]) -> None:
        """Publish in order, each confirmed and routed. An event the broker returns (no queue bound
        for its type) is set aside in the outbox with a back-off and counted
        (`egov.outbox.unroutable`); the events after it still go: one such event never blocks a
        batch, nor the relay after it."""
        try:
            published, unroutable = self._publish(events, self._pooled_publisher())
        except Exception:  # a pooled connection the broker closed (a restart): one fresh try
            log.info("publishing through a pooled connection failed; trying a new connection", exc_info=True)
            published, unroutable = self._publish(events, EventPublisher(self._amqp_uri))
        for event in unroutable:
            returned = self.store.mark_unroutable(event.id)
            event_metrics.unroutable.add(1, {"service": self.service_name, "type": event.type})
            log.error("event %s of type %s was returned (no queue bound) or refused (not this service's to publish) "
                      "%d time(s); set aside in the outbox, retried after a back-off", event.id, event.type, returned)
        # Marked by the relay's next round, with every other worker's confirmed events in one update
        # (at most one write per round instead of one per worker). Until then they look unpublished;
        # the relay marks them before it looks, so it never republishes them.
        self._confirmed.extend(e.id for e in published)
        for event in published:
            event_metrics.published.add(1, {"service": self.service_name, "type": event.type})

    def _pooled_publisher(self) -> EventPublisher:
        try:
            return self._publishers.get_nowait()
        except queue.Empty:
            return EventPublisher(self._amqp_uri)

    def _publish(self, events: list[CloudEvent],
                 publisher: EventPublisher) -> tuple[list[CloudEvent], list[CloudEvent]]:
        """(published, set aside: returned as unroutable or refused by the broker's permissions);
        raises on anything else, having published a prefix
        that the retry or the relay publishes again (consumers drop duplicates by their inbox)."""
        published: list[CloudEvent] = []
        unroutable: list[CloudEvent] = []
        try:
            for event in events:
                try:
                    publisher.publish(event)
                except Unroutable:       # confirmed and returned: the channel is fine, go on
                    unroutable.append(event)
                    continue
                except amqp.exceptions.AccessRefused:
                    # This component's broker user may not publish the type (topic permissions,
                    # deploy/users.py): set it aside too; the broker closed the channel, so go on
                    # with a new connection.
                    unroutable.append(event)
                    _discard(publisher)
                    publisher = EventPublisher(self._amqp_uri)
                    continue
                published.append(event)
        except BaseException:
            # Whatever broke, this publisher is not reused: the next publish opens a fresh connection.
            _discard(publisher)
            raise
        self._publishers.put(publisher)
        return published, unroutable

    def mark_confirmed(self) -> int:
        """Mark every event the broker confirmed since the last call as published, in one update."""
        confirmed, self._confirmed = self._confirmed, []
        try:
            self.store.mark_published(confirmed)
        except BaseException:
            self._confirmed.extend(confirmed)
            raise
        return len(confirmed)

    def relay_pending(self) -> int:
        self.mark_confirmed()
        events = list(self.store.unpublished(older_than=RELAY_AFTER))
        event_metrics.outbox_backlog.set(len(events), {"service": self.service_name})
        if events:
            log.warning("relaying %d events left unpublished", len(events))
            self.publish(events)
        return len(events)

    def _relay_forever(self) -> None:
        while True:
            eventlet.sleep(self._relay_interval)
            try:
                self.relay_pending()
            except Exception:
                log.exception("outbox relay failed")


def _discard(publisher: EventPublisher) -> None:
    try:
        publisher.close()
    except Exception:  # it is being thrown away anyway
        log.debug("closing a broken publisher failed", exc_info=True)
