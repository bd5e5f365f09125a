"""The payments service: fee bills for dossiers, paid through a payment intermediary.

Entrypoints translate (translation.py: requests into domain commands, domain answers into
responses) and delegate to `handlers`: nameko RPC for the gateway (and `reconcile` for
the operator's command), the service's event queue, the intermediary's signed payment callback over
HTTP (served at EGOV_WEB_ADDRESS), and a timer that reconciles with the intermediary's books.
"""

import json
from datetime import timedelta
from typing import Any

from werkzeug.wrappers import Request

from egov.payments.v1 import payments_pb2
from services.common.caller import Caller
from services.common.errors import (
    DomainError,
    FailedPrecondition,
    InvalidArgument,
    NotFound,
    Unauthenticated,
    Unavailable,
)
from services.common.events.envelope import decode
from services.common.protowire import dump, parse
from services.common.runtime.entrypoints import consume_events
from services.common.runtime.probes import PodProbes
from services.common.runtime.rpc import rpc  # verifies the caller's proof (caller_proof)
from services.common.runtime.store import Store, WorkerStore
from services.common.runtime.web import bounded_http
from services.payments import handlers
from services.payments import translation as tr
from services.payments.adapters.paygate import PaygateClient
from services.payments.dependencies import Paygate, ReconcileGrace, reconcile_timer
from services.payments.domain.notice import SignedCallback
from services.payments.reconcile import reconcile

JSON = {"Content-Type": "application/json"}


def callback_status(error: DomainError) -> int:
    """What the intermediary is told: 4xx ends its retries only where retrying cannot help."""
    if isinstance(error, Unauthenticated):
        return 401
    stale = isinstance(error, FailedPrecondition) and error.field == "timestamp"
    if isinstance(error, InvalidArgument) or stale:
        return 400
    if isinstance(error, NotFound):
        return 404
    if isinstance(error, Unavailable):
        return 503     # e.g. the refund could not be made just now: the retry will make it
    return 409


class PaymentsService:
    name = "payments"
    probes = PodProbes()   # /livez, /readyz of this process (services/common/runtime/probes.py)

    store: WorkerStore = Store()
    paygate: PaygateClient = Paygate()
    reconcile_grace: timedelta = ReconcileGrace()

    @rpc  # type: ignore[untyped-decorator]
    def health(self) -> dict[str, str]:
        self.store.db.command("ping")
        return {"status": "ok"}

    # Each RPC: the request parsed into its proto, translated once into a domain command
    # (translation.py), the service layer called with it, its domain answer translated into the response.
    @rpc(expected_exceptions=DomainError)  # type: ignore[untyped-decorator]
    def get_bill(self, request: dict[str, Any], caller: dict[str, Any]) -> dict[str, Any]:
        command = tr.get_bill_command(parse(payments_pb2.GetBillRequest, request))
        return dump(tr.get_bill_response(handlers.get_bill(self.store, command, Caller.from_wire(caller))))

    @rpc(expected_exceptions=DomainError)  # type: ignore[untyped-decorator]
    def start_payment(self, request: dict[str, Any], caller: dict[str, Any]) -> dict[str, Any]:
        command = tr.start_payment_command(parse(payments_pb2.StartPaymentRequest, request))
        return dump(tr.start_payment_response(handlers.start_payment(
            self.store, self.paygate, command, Caller.from_wire(caller))))

    @rpc(expected_exceptions=DomainError)  # type: ignore[untyped-decorator]
    def reconcile(self, request: dict[str, Any], caller: dict[str, Any]) -> dict[str, Any]:
        command = tr.reconcile_command(parse(payments_pb2.ReconcileRequest, request))
        return dump(tr.reconcile_response(handlers.reconcile_now(
            self.store, self.paygate, command, Caller.from_wire(caller), self.reconcile_grace)))

    @reconcile_timer  # type: ignore[untyped-decorator]
    def reconcile_periodically(self) -> None:
        reconcile(self.store, self.paygate, self.reconcile_grace)

    @consume_events("payments")  # type: ignore[untyped-decorator]
    def on_event(self, body: bytes) -> None:
        handlers.handle_event(self.store, self.paygate, decode(body))

    @bounded_http("POST", "/callbacks/paygate")  # type: ignore[untyped-decorator]
    def paygate_callback(self, request: Request) -> tuple[int, dict[str, str], str]:
        callback = SignedCallback(
            body=request.get_data(),
            timestamp=request.headers.get("X-Paygate-Timestamp", ""),
            nonce=request.headers.get("X-Paygate-Nonce", ""),
            signature=request.headers.get("X-Paygate-Signature", ""),
        )
        try:
            recorded = handlers.receive_payment_notice(self.store, self.paygate, callback)
        except DomainError as exc:
            return callback_status(exc), JSON, json.dumps({"error": str(exc)})
        return 200, JSON, json.dumps({"result": recorded.outcome})
