"""The payments service: fee bills for dossiers, paid through a payment intermediary.

Entrypoints translate and delegate to `handlers`: nameko RPC for the gateway, the service's event
queue, and the intermediary's signed payment callback over HTTP (served at EGOV_WEB_ADDRESS).
"""

import json
from typing import Any

from nameko.rpc import rpc
from nameko.web.handlers import http
from werkzeug.exceptions import RequestEntityTooLarge
from werkzeug.wrappers import Request

from egov.payments.v1 import payments_pb2
from services.common.caller import Caller
from services.common.errors import DomainError, FailedPrecondition, InvalidArgument, NotFound, Unauthenticated
from services.common.events.envelope import decode
from services.common.protowire import dump, parse
from services.common.runtime.entrypoints import consume_events
from services.common.runtime.store import Store, WorkerStore
from services.payments import handlers
from services.payments.adapters.paygate import PaygateClient
from services.payments.dependencies import Paygate
from services.payments.domain.notice import SignedCallback

CALLBACK_MAX_BYTES = 16 * 1024
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
    return 409


class PaymentsService:
    name = "payments"

    store: WorkerStore = Store()
    paygate: PaygateClient = Paygate()

    @rpc  # type: ignore[untyped-decorator]
    def health(self) -> dict[str, str]:
        self.store.db.command("ping")
        return {"status": "ok"}

    @rpc(expected_exceptions=DomainError)  # type: ignore[untyped-decorator]
    def get_bill(self, request: dict[str, Any], caller: dict[str, Any]) -> dict[str, Any]:
        response = handlers.get_bill(self.store.db, parse(payments_pb2.GetBillRequest, request),
                                     Caller.from_wire(caller))
        return dump(response)

    @rpc(expected_exceptions=DomainError)  # type: ignore[untyped-decorator]
    def start_payment(self, request: dict[str, Any], caller: dict[str, Any]) -> dict[str, Any]:
        command = parse(payments_pb2.StartPaymentRequest, request)
        response = handlers.start_payment(self.store, self.paygate, command, Caller.from_wire(caller))
        return dump(response)

    @consume_events("payments")  # type: ignore[untyped-decorator]
    def on_event(self, body: bytes) -> None:
        handlers.handle_event(self.store, self.paygate, decode(body))

    @http("POST", "/callbacks/paygate")  # type: ignore[untyped-decorator]
    def paygate_callback(self, request: Request) -> tuple[int, dict[str, str], str]:
        request.max_content_length = CALLBACK_MAX_BYTES
        try:
            body = request.get_data(cache=False)
        except RequestEntityTooLarge:
            return 413, JSON, json.dumps({"error": f"body: more than {CALLBACK_MAX_BYTES} bytes"})
        callback = SignedCallback(
            body=body,
            timestamp=request.headers.get("X-Paygate-Timestamp", ""),
            nonce=request.headers.get("X-Paygate-Nonce", ""),
            signature=request.headers.get("X-Paygate-Signature", ""),
        )
        try:
            settled = handlers.receive_payment_notice(self.store, self.paygate.notice_secret, callback)
        except DomainError as exc:
            return callback_status(exc), JSON, json.dumps({"error": str(exc)})
        return 200, JSON, json.dumps({"result": "settled" if settled else "duplicate"})
