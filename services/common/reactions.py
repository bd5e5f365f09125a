"""Event handlers that call a third party, in one shape for every service (postal books a shipment
with the operator; payments refunds a paid bill and voids a closed one's transaction).

A call to a third party cannot join the database transaction, and the worker may die at any moment.
So a `Reaction` handles one event in up to three steps, always in this order:

1. `prepare(store, port, payload)`, before the transaction: the third-party call whose answer the
   transaction records (a tracking number, a refund id). Its idempotency key comes from the event's
   business identity (the shipment id, the bill id), never from the attempt: if the worker dies after
   the third party acted but before the transaction committed, the redelivered event's `prepare`
   gets the first answer back instead of a second effect. It reads committed state first, so a
   redelivery after the commit calls nobody.
2. `apply(tx, payload, event, prepared)`, the transaction: the state change, the events it emits and
   the inbox record of the event commit together or not at all, once per event id.
3. `follow_up(store, port, payload)`, after the transaction: a third-party call owed because of the
   state just committed (a closed bill whose transaction is still open at the intermediary must be
   voided: `Bill.needs_void`). It is decided from committed state alone, never from what `prepare`
   saw, so it acts on a change that happened, not on one that may yet fail and be retried; and it can
   run any number of times. It runs on every delivery, a duplicate included, because the worker may
   die between the commit and the follow-up; what it cannot finish now (a third party away) is left
   to a periodic sweep that applies the same rule (payments' reconciliation).

If `prepare` or `apply` raises, nothing is committed and no follow-up runs: the event is delivered
again. An event handled without a third party is `Reaction.in_transaction(handler)`.
"""

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Protocol

from egov.events.v1.cloud_event_pb2 import CloudEvent
from services.common.events.envelope import unpack
from services.common.mongo_store import Transaction

EventHandler = Callable[[Transaction, Any, CloudEvent], None]


class EventStore(Protocol):
    """The store's exactly-once processing (runtime/store.py WorkerStore, memory_store.InMemoryStore)."""

    def handle_event(self, event: CloudEvent, handlers: Mapping[str, EventHandler]) -> bool: ...


def nothing_to_prepare(store: Any, port: Any, payload: Any) -> None:
    return None


@dataclass(frozen=True)
class Reaction:
    apply: Callable[[Transaction, Any, CloudEvent, Any], None]
    prepare: Callable[[Any, Any, Any], Any] = nothing_to_prepare
    follow_up: Callable[[Any, Any, Any], None] | None = None

    @classmethod
    def in_transaction(cls, handler: EventHandler) -> "Reaction":
        """An event whose handling calls no third party: only the transaction."""
        return cls(apply=lambda tx, payload, event, _prepared: handler(tx, payload, event))


def react(store: EventStore, port: Any, event: CloudEvent, reactions: Mapping[str, Reaction]) -> bool:
    """Handle one incoming event by its reaction; False if it was a duplicate or not ours."""
    reaction = reactions.get(event.type)
    if reaction is None:
        return store.handle_event(event, {})
    payload = unpack(event)
    prepared = reaction.prepare(store, port, payload)

    def apply(tx: Transaction, payload: Any, incoming: CloudEvent) -> None:
        reaction.apply(tx, payload, incoming, prepared)

    processed = store.handle_event(event, {event.type: apply})
    if reaction.follow_up is not None:
        reaction.follow_up(store, port, payload)    # on a duplicate too: see step 3 above
    return processed
