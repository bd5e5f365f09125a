"""A service built on the platform runtime whose event handler always fails: to watch where a message
goes once its attempts are spent (issue 12 item 10). Only the tests run it."""

from typing import Any

from egov.events.v1.cloud_event_pb2 import CloudEvent
from services.common.events.envelope import decode
from services.common.mongo_store import Transaction
from services.common.runtime.entrypoints import consume_events
from services.common.runtime.rpc import rpc
from services.common.runtime.store import Store


def fail(tx: Transaction, payload: object, event: CloudEvent) -> None:
    tx.db["attempts"].insert_one({"event_id": event.id})     # outside the transaction: kept
    raise RuntimeError(f"handler for {event.type} always fails")


class FailingPayments:
    # Borrows the payments queue and its subscriptions: only this service runs in the test's stack.
    name = "payments"
    store = Store()

    @rpc  # type: ignore[untyped-decorator]
    def health(self) -> dict[str, Any]:
        return {"status": "ok"}

    @consume_events("payments")  # type: ignore[untyped-decorator]
    def on_event(self, body: bytes) -> None:
        self.store.handle_event(decode(body), {"egov.procedures.v1.DossierSubmitted": fail})
