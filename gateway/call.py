"""What the interceptors establish about one call and hand to the method handler.

The interceptors and the handler run in the same worker thread, one after the other, so a context
variable carries the call from the first interceptor to the handler without touching the request.
"""

import secrets
import urllib.parse
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Any

from gateway.exchange_recorder import ExchangeFacts
from services.common import telemetry
from services.common.caller import Caller, CallerKind

ANONYMOUS = Caller(CallerKind.ANONYMOUS)


@dataclass
class Call(ExchangeFacts):
    """An inbound call: the exchange's facts, and who is calling."""

    trace_id: str = field(default_factory=lambda: secrets.token_hex(16))
    caller: Caller = ANONYMOUS               # set by the authentication interceptor
    certificate: str = ""                    # SHA-256 of the client certificate presented, if any
    # The address the caller connected from (no port); "" on the agency socket. Services that limit
    # per address (identity's one-time codes, sign-in) read it from the `client_address` context header.
    client_address: str = ""

    def context_data(self) -> dict[str, Any]:
        """nameko context headers: the trace continues in the service, its logs name our request."""
        data: dict[str, Any] = {
            "traceparent": telemetry.current_traceparent() or f"00-{self.trace_id}-{secrets.token_hex(8)}-01",
            "call_id_stack": [f"gateway.{self.request_id}"],
        }
        if self.client_address:
            data["client_address"] = self.client_address
        return data


def peer_address(peer: str) -> str:
    """The address in a grpc peer string ("ipv4:1.2.3.4:5678", "ipv6:[::1]:5678"), without the port;
    "" for a unix socket (the agency front's: agency systems are told apart by certificate)."""
    kind, _, rest = urllib.parse.unquote(peer).partition(":")   # grpc may write [ and ] as %5B, %5D
    if kind == "ipv4":
        return rest.rsplit(":", 1)[0]
    if kind == "ipv6":
        return rest.rsplit(":", 1)[0].strip("[]")
    return ""


current_call: ContextVar[Call] = ContextVar("current_call")
