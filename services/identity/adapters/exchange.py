"""How identity reaches other agencies' systems: through the gateway's outbound exchange, with its
own client certificate, so that every call is granted, logged and traced there.

EGOV_OUTBOUND_ADDRESS is the gateway's outbound listener; EGOV_OUTBOUND_TLS_CERT, _KEY and _CA
identify identity (its certificate, CN `VN/GOV/HUE/identity`) and verify the gateway. Without them
the channel is plaintext and identity names itself in `x-egov-client` (EGOV_OUTBOUND_SUBSYSTEM),
which a gateway accepts only in its plaintext development mode.

A stack without a gateway (a service tested on its own) sets no EGOV_OUTBOUND_ADDRESS but the
external system's own address (e.g. EGOV_POPULATION_ADDRESS): the call then goes there directly, in
plaintext, and the log says so at start-up. When both are set the exchange wins.
"""

import logging
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import eventlet.semaphore
import grpc

from services.common import telemetry
from services.common.config import ConfigError

log = logging.getLogger(__name__)
DEFAULT_OUTBOUND_ADDRESS = "127.0.0.1:50053"
# One outbound gRPC call at a time per process: concurrent grpcio calls made from eventlet's tpool
# threads parked forever (found by the benchmark: concurrent registrations hung identity).
ONE_CALL_AT_A_TIME = eventlet.semaphore.Semaphore(1)
DEFAULT_SUBSYSTEM = "VN/GOV/HUE/identity"
TLS_VARIABLES = ("EGOV_OUTBOUND_TLS_CERT", "EGOV_OUTBOUND_TLS_KEY", "EGOV_OUTBOUND_TLS_CA")


@dataclass(frozen=True)
class Endpoint:
    address: str
    certificate: bytes | None = None      # identity's client certificate, PEM
    key: bytes | None = None
    ca: bytes | None = None               # what the gateway's server certificate is verified against
    self_named: str = ""                  # subsystem id sent in x-egov-client (plaintext exchange only)

    @classmethod
    def from_env(cls, direct_variable: str) -> "Endpoint":
        outbound = os.environ.get("EGOV_OUTBOUND_ADDRESS", "")
        direct = os.environ.get(direct_variable, "")
        if direct and not outbound:
            log.warning("%s is set and EGOV_OUTBOUND_ADDRESS is not: calling %s directly, not through the "
                        "gateway (no grant, no message log); for a stack without a gateway only",
                        direct_variable, direct)
            return cls(direct)
        files = [_read(name) for name in TLS_VARIABLES]
        address = outbound or DEFAULT_OUTBOUND_ADDRESS
        if not any(files):
            return cls(address, self_named=os.environ.get("EGOV_OUTBOUND_SUBSYSTEM", "") or DEFAULT_SUBSYSTEM)
        missing = [name for name, value in zip(TLS_VARIABLES, files, strict=True) if not value]
        if missing:
            raise ConfigError(f"identity's client certificate needs all of {', '.join(TLS_VARIABLES)}; "
                              f"missing: {', '.join(missing)}")
        certificate, key, ca = files
        return cls(address, certificate, key, ca)

    def channel(self) -> grpc.Channel:
        if self.ca is None:
            return grpc.insecure_channel(self.address)
        return grpc.secure_channel(self.address, grpc.ssl_channel_credentials(
            root_certificates=self.ca, private_key=self.key, certificate_chain=self.certificate))

    def metadata(self, caller_traceparent: str = "") -> Sequence[tuple[str, str]]:
        """Per call, in the calling green thread (the current trace context does not follow the call
        into the tpool thread that makes it): the active span's context, else the one the RPC's caller
        sent (when tracing is off no span is active, but the trace id still joins the log records)."""
        traceparent = telemetry.current_traceparent() or caller_traceparent
        headers = [("traceparent", traceparent)] if traceparent else []
        if self.self_named:
            headers.append(("x-egov-client", self.self_named))
        return headers


def refused(code: grpc.StatusCode | None) -> bool:
    """The exchange (or the system) refused identity itself, as opposed to being unreachable: a grant
    or registration the operator must restore, not something a retry cures."""
    return code in (grpc.StatusCode.PERMISSION_DENIED, grpc.StatusCode.UNAUTHENTICATED,
                    grpc.StatusCode.UNIMPLEMENTED)


def _read(variable: str) -> bytes | None:
    name = os.environ.get(variable, "")
    if not name:
        return None
    try:
        return Path(name).read_bytes()
    except OSError as exc:
        raise ConfigError(f"{variable}: cannot read {name}: {exc.strerror}") from exc
