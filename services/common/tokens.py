"""Access tokens: identity signs them (EdDSA), the gateway verifies them without a call.

Header: `kid`, the RFC 7638 thumbprint of the signing key's public half, so a verifier holding several
public keys picks the right one: keys rotate without logging anyone out (docs/SECURITY.md, item 9).
Claims: `sub` (citizen ID or civil servant ID), `kind` (a CallerKind value), `agency` and `role`
for civil servants, `appointments` (their roles per agency, `role@agency-code`), `aud` (the gateway: a token
is for nothing else), `sep` (the account's session epoch: a token of an earlier epoch than the gateway's
revocation list holds is revoked), `amr` (how the person authenticated, RFC 8176: pwd, otp), `iss`, `iat`,
`exp`, `jti`.
"""

import base64
import hashlib
import json
import re
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from services.common.caller import Caller, CallerKind, appointments_from_claims
from services.common.errors import Unauthenticated

ISSUER = "egov-identity"
AUDIENCE = "egov-gateway"
ALGORITHM = "EdDSA"
_PEM_BLOCK = re.compile(rb"-----BEGIN PUBLIC KEY-----.+?-----END PUBLIC KEY-----", re.DOTALL)


def generate_key_pair() -> tuple[bytes, bytes]:
    """(private PEM, public PEM) for a new Ed25519 signing key."""
    key = Ed25519PrivateKey.generate()
    private = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                serialization.NoEncryption())
    public = key.public_key().public_bytes(serialization.Encoding.PEM,
                                           serialization.PublicFormat.SubjectPublicKeyInfo)
    return private, public


def key_id(public_key: Ed25519PublicKey) -> str:
    """RFC 7638 JWK thumbprint: the same key always has the same id, with nothing to configure."""
    raw = public_key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    x = base64.urlsafe_b64encode(raw).rstrip(b"=").decode()
    canonical = json.dumps({"crv": "Ed25519", "kty": "OKP", "x": x}, separators=(",", ":"), sort_keys=True)
    return base64.urlsafe_b64encode(hashlib.sha256(canonical.encode()).digest()).rstrip(b"=").decode()


def _private_key(private_key_pem: bytes) -> Ed25519PrivateKey:
    key = serialization.load_pem_private_key(private_key_pem, password=None)
    if not isinstance(key, Ed25519PrivateKey):
        raise ValueError("the token signing key must be an Ed25519 private key (PEM)")
    return key


def issue_token(private_key_pem: bytes, caller: Caller, ttl: timedelta, *, epoch: int = 0,
                methods: tuple[str, ...] = ("pwd",)) -> tuple[str, datetime]:
    key = _private_key(private_key_pem)
    now = datetime.now(UTC)
    expires = now + ttl
    claims = {"iss": ISSUER, "aud": AUDIENCE, "sub": caller.subject, "kind": caller.kind.value,
              "agency": caller.agency_code, "role": caller.role,
              "appointments": [a.to_claim() for a in caller.appointments], "sep": epoch, "amr": list(methods),
              "iat": now, "exp": expires, "jti": str(uuid.uuid4())}
    token = jwt.encode(claims, key, algorithm=ALGORITHM, headers={"kid": key_id(key.public_key())})
    return token, expires


def load_public_key(public_key_pem: bytes) -> Ed25519PublicKey:
    """Parse once, verify many times: parsing the PEM on every call cost the gateway measurably."""
    key = serialization.load_pem_public_key(public_key_pem)
    if not isinstance(key, Ed25519PublicKey):
        raise ValueError("the token public key must be an Ed25519 key (PEM)")
    return key


@dataclass(frozen=True)
class TokenKeys:
    """The public keys a verifier trusts, by key id: during a rotation, the old and the new."""

    by_id: Mapping[str, Ed25519PublicKey] = field(default_factory=dict)

    @classmethod
    def from_pem(cls, pem: bytes) -> "TokenKeys":
        """Every public key in a PEM file (one after another); at least one."""
        keys = [load_public_key(block) for block in _PEM_BLOCK.findall(pem)]
        if not keys:
            raise ValueError("no Ed25519 public key (PEM) found for verifying tokens")
        return cls({key_id(k): k for k in keys})

    @classmethod
    def of(cls, key: "bytes | Ed25519PublicKey | TokenKeys") -> "TokenKeys":
        if isinstance(key, TokenKeys):
            return key
        if isinstance(key, Ed25519PublicKey):
            return cls({key_id(key): key})
        return cls.from_pem(key)


@dataclass(frozen=True)
class VerifiedToken:
    caller: Caller
    epoch: int               # the session epoch it was issued in
    methods: tuple[str, ...]


def verify_access_token(keys: TokenKeys, token: str) -> VerifiedToken:
    try:
        kid = jwt.get_unverified_header(token).get("kid")
        key = keys.by_id.get(kid) if isinstance(kid, str) else None
        if key is None:
            raise jwt.InvalidTokenError("signed with a key this gateway does not hold (kid)")
        claims = jwt.decode(token, key, algorithms=[ALGORITHM], issuer=ISSUER, audience=AUDIENCE,
                            options={"require": ["exp", "iat", "sub", "iss", "aud"]})
        kind = CallerKind(claims.get("kind", ""))
        epoch = int(claims.get("sep", 0))
    except (jwt.PyJWTError, ValueError, TypeError) as exc:
        raise Unauthenticated("authorization", f"invalid access token: {exc}") from exc
    if kind not in (CallerKind.CITIZEN, CallerKind.CIVIL_SERVANT):
        raise Unauthenticated("authorization", "token is not for a citizen or civil servant")
    caller = Caller(kind, subject=str(claims["sub"]), agency_code=str(claims.get("agency", "")),
                    role=str(claims.get("role", "")),
                    appointments=appointments_from_claims(claims.get("appointments")))
    return VerifiedToken(caller, epoch, tuple(str(m) for m in claims.get("amr") or ()))


def verify_token(public_key: "bytes | Ed25519PublicKey | TokenKeys", token: str) -> Caller:
    return verify_access_token(TokenKeys.of(public_key), token).caller
