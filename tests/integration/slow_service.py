"""A service built on the platform runtime whose event handler takes a while: to watch what SIGTERM
does to a message in flight. Only the tests run it."""

import eventlet

from egov.events.v1.cloud_event_pb2 import CloudEvent
from services.common.events.envelope import decode
from services.common.mongo_store import Transaction
from services.common.runtime.entrypoints import consume_events
from services.common.runtime.store import Store


def record_slowly(tx: Transaction, payload: object, event: CloudEvent) -> None:
    tx.db["started"].insert_one({"_id": event.id})        # outside the transaction: visible at once
    eventlet.sleep(1.5)
    tx.db["handled"].insert_one({"_id": event.id}, session=tx.session)


class SlowPayments:
    # Borrows the payments queue and its subscriptions: only this service runs in the test's stack.
    name = "payments"
    store = Store()

    @consume_events("payments")  # type: ignore[untyped-decorator]
    def on_event(self, body: bytes) -> None:
        self.store.handle_event(decode(body), {
            "egov.procedures.v1.DossierSubmitted": record_slowly,
            "egov.procedures.v1.DossierRejected": record_slowly,
        })
