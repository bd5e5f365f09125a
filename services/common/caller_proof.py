"""Signed caller contexts: services believe who is calling only when the gateway (or, for operator
commands, an operator key) signed it for this very call.

Without it, any process on the broker could put `{"kind": "CALLER_KIND_OPERATOR"}` or a citizen's
identity in the `caller` of an RPC, and a compromised service could act as anyone. Now the caller
travels with a proof:

    {"kind": ..., "subject": ..., "agency_code": ..., "role": ..., "channel": ...,
     "proof": {"issuer": "gateway" | "operator", "key_id": ..., "expires": <unix seconds>,
               "signature": <Ed25519, base64>}}

The signature covers the caller, the issuer, the target `<service>.<method>`, the SHA-256 of the
request's canonical JSON and the expiry, so a service that receives a signed caller cannot replay it
to another service, another method or with another request, nor after it expires. The gateway signs
citizens', civil servants' and agencies' callers with its key (EGOV_GATEWAY_CALLER_KEY_FILE) and never
an operator; operator commands sign operator callers with a key of their own (EGOV_OPERATOR_KEY_FILE),
which no service holds. Services verify with the two public keys. An anonymous caller needs no proof:
it asks for nothing anyone may not.
"""

import base64
import hashlib
import json
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from services.common.caller import Caller, CallerKind
from services.common.errors import Unauthenticated

PROOF = "proof"
GATEWAY = "gateway"
OPERATOR = "operator"
# Clocks of the gateway's and the services' pods may differ by this much.
SKEW_SECONDS = 60.0
_FIELDS = ("kind", "subject", "agency_code", "role", "channel")


def _canonical(value: Any) -> bytes:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def _signed(caller: Mapping[str, Any], issuer: str, service: str, method: str, request: Any, expires: int) -> bytes:
    request_sha256 = hashlib.sha256(_canonical(request)).hexdigest()
    return _canonical({"caller": {k: str(caller.get(k, "")) for k in _FIELDS}, "issuer": issuer,
                       "target": f"{service}.{method}", "request_sha256": request_sha256, "expires": expires})


def _raw(key: Ed25519PublicKey) -> bytes:
    return key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)


def key_id(key: Ed25519PublicKey) -> str:
    return hashlib.sha256(_raw(key)).hexdigest()[:16]


class CallerSigner:
    """Signs callers as `issuer` ("gateway" or "operator")."""

    def __init__(self, key: Ed25519PrivateKey, issuer: str) -> None:
        if issuer not in (GATEWAY, OPERATOR):
            raise ValueError(f"unknown caller issuer {issuer!r}")
        self._key = key
        self.issuer = issuer
        self.public_key = key.public_key()
        self.key_id = key_id(self.public_key)

    @classmethod
    def from_pem(cls, pem: bytes, issuer: str) -> "CallerSigner":
        key = serialization.load_pem_private_key(pem, password=None)
        if not isinstance(key, Ed25519PrivateKey):
            raise ValueError("a caller signing key must be an Ed25519 private key (PEM)")
        return cls(key, issuer)

    @classmethod
    def from_file(cls, path: Path, issuer: str) -> "CallerSigner":
        return cls.from_pem(path.read_bytes(), issuer)

    def sign(self, caller: Caller, service: str, method: str, request: Any, valid_seconds: float = 60.0,
             now: float | None = None) -> dict[str, Any]:
        """`caller` on the wire, with its proof for `<service>.<method>(request=request)`."""
        if (caller.kind is CallerKind.OPERATOR) != (self.issuer == OPERATOR):
            raise ValueError(f"the {self.issuer} key does not sign {caller.kind.value} callers")
        wire: dict[str, Any] = caller.to_wire()
        expires = int((now if now is not None else time.time()) + valid_seconds + 1)
        signature = self._key.sign(_signed(wire, self.issuer, service, method, request, expires))
        wire[PROOF] = {"issuer": self.issuer, "key_id": self.key_id, "expires": expires,
                       "signature": base64.b64encode(signature).decode()}
        return wire


def public_key_from_pem(pem: bytes) -> Ed25519PublicKey:
    key = serialization.load_pem_public_key(pem)
    if not isinstance(key, Ed25519PublicKey):
        raise ValueError("a caller verification key must be an Ed25519 public key (PEM)")
    return key


@dataclass(frozen=True)
class CallerVerifier:
    """Believes a caller only with a valid proof from the issuer allowed to sign its kind."""

    gateway: Ed25519PublicKey
    operator: Ed25519PublicKey

    def verify(self, wire: Mapping[str, Any] | None, service: str, method: str, request: Any,
               now: float | None = None) -> Caller:
        """The caller of `<service>.<method>(request=request)`, or Unauthenticated."""
        caller = Caller.from_wire(dict(wire or {}))
        proof = (wire or {}).get(PROOF)
        if proof is None:
            if caller.kind is CallerKind.ANONYMOUS:
                return caller
            raise Unauthenticated("caller", f"a {caller.kind.value} caller must be signed by the "
                                            f"{OPERATOR if caller.kind is CallerKind.OPERATOR else GATEWAY}")
        if not isinstance(proof, Mapping):
            raise Unauthenticated("caller", "the caller's proof is malformed")
        issuer = proof.get("issuer")
        allowed = OPERATOR if caller.kind is CallerKind.OPERATOR else GATEWAY
        if issuer != allowed:
            raise Unauthenticated("caller", f"a {caller.kind.value} caller must be signed by the {allowed}, "
                                            f"not the {issuer}")
        key = self.operator if issuer == OPERATOR else self.gateway
        try:
            expires = int(proof["expires"])
            key.verify(base64.b64decode(str(proof["signature"])),
                       _signed(wire or {}, str(issuer), service, method, request, expires))
        except (KeyError, ValueError, TypeError, InvalidSignature):
            raise Unauthenticated("caller", f"the caller's signature does not verify for {service}.{method} "
                                            "and this request") from None
        if expires + SKEW_SECONDS < (now if now is not None else time.time()):
            raise Unauthenticated("caller", "the caller's proof has expired")
        return caller

