"""Access tokens: identity signs them (EdDSA), the gateway verifies them without a call.

Claims: `sub` (citizen ID or civil servant ID), `kind` (a CallerKind value), `agency` and `role`
for civil servants, `iss`, `iat`, `exp`, `jti`.
"""

import uuid
from datetime import UTC, datetime, timedelta

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from services.common.caller import Caller, CallerKind
from services.common.errors import Unauthenticated

ISSUER = "egov-identity"
ALGORITHM = "EdDSA"


def generate_key_pair() -> tuple[bytes, bytes]:
    """(private PEM, public PEM) for a new Ed25519 signing key."""
    key = Ed25519PrivateKey.generate()
    private = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                serialization.NoEncryption())
    public = key.public_key().public_bytes(serialization.Encoding.PEM,
                                           serialization.PublicFormat.SubjectPublicKeyInfo)
    return private, public


def issue_token(private_key_pem: bytes, caller: Caller, ttl: timedelta) -> tuple[str, datetime]:
    now = datetime.now(UTC)
    expires = now + ttl
    claims = {"iss": ISSUER, "sub": caller.subject, "kind": caller.kind.value, "agency": caller.agency_code,
              "role": caller.role, "iat": now, "exp": expires, "jti": str(uuid.uuid4())}
    return jwt.encode(claims, private_key_pem, algorithm=ALGORITHM), expires


def load_public_key(public_key_pem: bytes) -> Ed25519PublicKey:
    """Parse once, verify many times: parsing the PEM on every call cost the gateway measurably."""
    key = serialization.load_pem_public_key(public_key_pem)
    if not isinstance(key, Ed25519PublicKey):
        raise ValueError("the token public key must be an Ed25519 key (PEM)")
    return key


def verify_token(public_key: bytes | Ed25519PublicKey, token: str) -> Caller:
    try:
        claims = jwt.decode(token, public_key, algorithms=[ALGORITHM], issuer=ISSUER,
                            options={"require": ["exp", "iat", "sub", "iss"]})
        kind = CallerKind(claims.get("kind", ""))
    except (jwt.PyJWTError, ValueError) as exc:
        raise Unauthenticated("authorization", f"invalid access token: {exc}") from exc
    if kind not in (CallerKind.CITIZEN, CallerKind.CIVIL_SERVANT):
        raise Unauthenticated("authorization", "token is not for a citizen or civil servant")
    return Caller(kind, subject=str(claims["sub"]), agency_code=str(claims.get("agency", "")),
                  role=str(claims.get("role", "")))
