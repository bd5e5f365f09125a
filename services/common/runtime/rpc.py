"""`rpc`: nameko's RPC entrypoint, with the caller verified before any worker runs.

An entrypoint whose method takes a `caller` gets it only after services.common.caller_proof has
verified its proof for this service, this method and this request; the method then receives the
caller without its proof (`Caller.from_wire` reads it as before). A caller that does not verify is
answered `Unauthenticated` (UNAUTHENTICATED at the gateway) and no worker runs. Methods without a
`caller` (health, the archive's reads) are served as nameko serves them.

The two public keys come from EGOV_GATEWAY_CALLER_PUBLIC_KEY_FILE and EGOV_OPERATOR_PUBLIC_KEY_FILE;
a service without them does not start.
"""

import inspect
import os
from functools import cache
from pathlib import Path
from typing import Any

from nameko.rpc import Rpc

from services.common.caller_proof import CallerVerifier, public_key_from_pem
from services.common.config import ConfigError

GATEWAY_PUBLIC_KEY = "EGOV_GATEWAY_CALLER_PUBLIC_KEY_FILE"
OPERATOR_PUBLIC_KEY = "EGOV_OPERATOR_PUBLIC_KEY_FILE"


@cache
def caller_verifier() -> CallerVerifier:
    def key(variable: str) -> Any:
        name = os.environ.get(variable, "")
        if not name:
            raise ConfigError(f"environment variable {variable} is not set: this service cannot tell who calls it")
        try:
            return public_key_from_pem(Path(name).read_bytes())
        except (OSError, ValueError) as exc:
            raise ConfigError(f"{variable}: cannot read an Ed25519 public key from {name}: {exc}") from exc

    return CallerVerifier(gateway=key(GATEWAY_PUBLIC_KEY), operator=key(OPERATOR_PUBLIC_KEY))


class CallerCheckedRpc(Rpc):  # type: ignore[misc]   # nameko has no type hints
    def setup(self) -> None:
        method = getattr(self.container.service_cls, self.method_name)
        self._takes_caller = "caller" in inspect.signature(method).parameters
        if self._takes_caller:
            self._verifier = caller_verifier()      # a missing key stops the service at start-up
        super().setup()

    def handle_message(self, body: Any, message: Any) -> None:
        if self._takes_caller and isinstance(body, dict) and isinstance(body.get("kwargs"), dict):
            kwargs = body["kwargs"]
            caller = self._verifier.verify(kwargs.get("caller"), self.container.service_name, self.method_name,
                                           kwargs.get("request"))
            body = {**body, "kwargs": {**kwargs, "caller": caller.to_wire()}}
        super().handle_message(body, message)


rpc = CallerCheckedRpc.decorator
