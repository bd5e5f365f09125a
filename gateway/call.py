"""What the interceptors establish about one call and hand to the method handler.

The interceptors and the handler run in the same worker thread, one after the other, so a context
variable carries the call from the first interceptor to the handler without touching the request.
"""

import secrets
import time
import uuid
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Any

from services.common import telemetry
from services.common.caller import Caller, CallerKind

ANONYMOUS = Caller(CallerKind.ANONYMOUS)


@dataclass
class Call:
    method: str
    deadline: float                          # time.monotonic() by which the answer is due
    trace_id: str = field(default_factory=lambda: secrets.token_hex(16))
    request_id: str = field(default_factory=lambda: uuid.uuid4().hex)
    caller: Caller = ANONYMOUS               # set by the authentication interceptor
    certificate: str = ""                    # SHA-256 of the client certificate presented, if any
    forwarded: bool = False                  # the request was handed to a service

    def remaining(self) -> float:
        return self.deadline - time.monotonic()

    def context_data(self) -> dict[str, Any]:
        """nameko context headers: the trace continues in the service, its logs name our request."""
        return {
            "traceparent": telemetry.current_traceparent() or f"00-{self.trace_id}-{secrets.token_hex(8)}-01",
            "call_id_stack": [f"gateway.{self.request_id}"],
        }


current_call: ContextVar[Call] = ContextVar("current_call")
