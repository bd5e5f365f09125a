"""The postal nameko service: translates RPC (translation.py: a request into its domain command, the
answer into the response), events and the operator's HTTP callbacks, and delegates."""

from typing import Any

from werkzeug.wrappers import Request

from egov.postal.v1.postal_pb2 import GetShipmentRequest
from services.common import protowire
from services.common.caller import Caller
from services.common.errors import (
    DomainError,
    FailedPrecondition,
    InvalidArgument,
    NotFound,
    Unauthenticated,
)
from services.common.events.envelope import decode
from services.common.runtime.entrypoints import consume_events
from services.common.runtime.probes import PodProbes
from services.common.runtime.rpc import rpc  # verifies the caller's proof (caller_proof)
from services.common.runtime.store import Store, WorkerStore
from services.common.runtime.web import bounded_http
from services.postal import handlers
from services.postal import translation as tr
from services.postal.adapters.postal_operator import PostalOperatorClient
from services.postal.dependencies import CallbackSecret, PostalOperator, ShipmentIndexes

# What the operator is told about a refused report: retrying makes sense only for a 404 (a report
# that outran our booking) or a 5xx; the rest will never be accepted.
CALLBACK_STATUS: dict[type[DomainError], int] = {
    Unauthenticated: 401,
    FailedPrecondition: 400,
    InvalidArgument: 400,
    NotFound: 404,
}


class PostalService:
    name = "postal"
    probes = PodProbes()   # /livez, /readyz of this process (services/common/runtime/probes.py)

    store: WorkerStore = Store()
    operator: PostalOperatorClient = PostalOperator()
    callback_secret: str = CallbackSecret()
    indexes = ShipmentIndexes()

    @consume_events("postal")  # type: ignore[untyped-decorator]
    def on_event(self, body: bytes) -> None:
        handlers.handle_event(self.store, self.operator, decode(body))

    @bounded_http("POST", "/callbacks/postal")  # type: ignore[untyped-decorator]
    def postal_callback(self, request: Request) -> tuple[int, str]:
        try:
            handlers.receive_status_report(
                self.store, self.callback_secret, request.get_data(),
                timestamp=request.headers.get("X-Postal-Timestamp", ""),
                nonce=request.headers.get("X-Postal-Nonce", ""),
                signature=request.headers.get("X-Postal-Signature", ""),
            )
        except DomainError as exc:
            return CALLBACK_STATUS.get(type(exc), 400), f"{exc}\n"
        return 200, "ok\n"

    @rpc(expected_exceptions=DomainError)  # type: ignore[untyped-decorator]
    def get_shipment(self, request: dict[str, Any], caller: dict[str, Any]) -> dict[str, Any]:
        # The request parsed into its proto, translated once into a domain command (translation.py),
        # the service layer called with it, the shipment it answers translated into the response.
        command = tr.get_shipment_command(protowire.parse(GetShipmentRequest, request))
        return protowire.dump(tr.get_shipment_response(handlers.get_shipment(self.store, command,
                                                                             Caller.from_wire(caller))))

    @rpc  # type: ignore[untyped-decorator]
    def health(self) -> dict[str, str]:
        self.store.db.command("ping")
        return {"status": "ok"}
