"""Who is calling (authentication) and whether they may call this method (authorization).

A caller is resolved by a list of resolvers, each reading one kind of credential. A resolver returns
None when the call carries no credential of its kind, and raises `Unauthenticated` when it carries
one that is not valid: a bad credential never falls back to anonymous. With no credential at all,
the caller is anonymous. Authorization is deny by default: the caller's kind must be admitted by the
method's `(egov.common.v1.access)` option, and a method without that option is never served; an
agency system also needs a grant of the method to its subsystem or to a group it belongs to.
"""

import re
import ssl
from collections.abc import Callable, Mapping, Sequence
from functools import lru_cache, partial
from typing import Protocol

import grpc

from gateway.agency_front import fingerprint, from_the_front, read_verdict, refuse_unverified
from gateway.call import ANONYMOUS, current_call
from gateway.errors import GatewayError
from gateway.members import CertificateRefused, Registry, SubsystemId, identify
from gateway.methods import Method
from gateway.revocations import RevocationList
from gateway.verified_tokens import VerifiedTokens
from services.common.caller import Caller, CallerKind
from services.common.errors import Unauthenticated
from services.common.tokens import TokenKeys, verify_access_token

Metadata = Mapping[str, Sequence[str]]
_BEARER = re.compile(r"Bearer +(\S+)", re.IGNORECASE)


class CallerResolver(Protocol):
    def resolve(self, metadata: Metadata, context: grpc.ServicerContext) -> Caller | None: ...


class BearerTokenResolver:
    """`authorization: Bearer <jwt>`: a token identity issued to a citizen or civil servant, signed
    with one of the keys in the public key file (several during a rotation), for this gateway, and of
    a session not revoked since. A token's signature is checked once (gateway.verified_tokens); its
    expiry and its session's revocation on every call."""

    def __init__(self, public_key_pem: bytes, revocations: RevocationList | None = None) -> None:
        self._tokens = VerifiedTokens(partial(verify_access_token, TokenKeys.from_pem(public_key_pem)))
        self._revocations = revocations or RevocationList()

    def resolve(self, metadata: Metadata, context: grpc.ServicerContext) -> Caller | None:
        values = metadata.get("authorization", ())
        if not values:
            return None
        if len(values) > 1:
            raise Unauthenticated("authorization", "more than one authorization header")
        match = _BEARER.fullmatch(values[0].strip())
        if match is None:
            raise Unauthenticated("authorization", "expected 'Bearer <access token>'")
        token = self._tokens.verify(match.group(1))
        self._revocations.check(token.caller, token.epoch)
        return token.caller


class ClientCertificateResolver:
    """An agency system: the client certificate it presented to the agency front, registered to a subsystem.

    Only calls on the agency socket are agency calls (gateway.agency_front): there a certificate is
    required, verified by the front against the trusted CA and within its validity period, and must be
    registered in the member registry and not revoked. Any other call is not an agency's, whatever
    headers it carries.
    """

    def __init__(self, registry: Callable[[], Registry], loaded: Callable[[], bool]) -> None:
        self._registry = registry
        self._loaded = loaded

    def resolve(self, metadata: Metadata, context: grpc.ServicerContext) -> Caller | None:
        if not from_the_front(context.peer()):
            return None
        verdict = read_verdict(metadata)
        presented = fingerprint(verdict.der)
        if verdict.presented:
            current_call.get().certificate = presented
        refuse_unverified(verdict)
        if not self._loaded():
            raise GatewayError(grpc.StatusCode.UNAVAILABLE, "the member registry is not loaded yet")
        registry = self._registry()
        try:
            subsystem = identify(registry, presented)
        except CertificateRefused as exc:
            raise Unauthenticated("certificate", str(exc)) from None
        return Caller(CallerKind.AGENCY, subject=str(subsystem.id), agency_code=subsystem.id.member.member_code,
                      channel=subsystem.channel.value)


@lru_cache(maxsize=4096)
def certificate_fingerprint(pem: bytes) -> str:
    """SHA-256 of the DER certificate, hex, from PEM (the outbound listener's grpcio TLS gives PEM)."""
    return fingerprint(ssl.PEM_cert_to_DER_cert(pem.decode("ascii")))


def caller_resolvers(token_public_key: bytes, registry: Callable[[], Registry] | None = None,
                     loaded: Callable[[], bool] = lambda: True,
                     revocations: RevocationList | None = None) -> list[CallerResolver]:
    """The resolvers in order of precedence: a client certificate identifies an agency system (its
    `authorization` header, if any, is not read); otherwise a bearer token a person."""
    resolvers: list[CallerResolver] = []
    if registry is not None:
        resolvers.append(ClientCertificateResolver(registry, loaded))
    resolvers.append(BearerTokenResolver(token_public_key, revocations))
    return resolvers


class Authenticator:
    def __init__(self, resolvers: Sequence[CallerResolver]) -> None:
        self._resolvers = tuple(resolvers)

    def authenticate(self, context: grpc.ServicerContext) -> Caller:
        metadata = metadata_of(context)
        for resolver in self._resolvers:
            caller = resolver.resolve(metadata, context)
            if caller is not None:
                return caller
        return ANONYMOUS


def metadata_of(context: grpc.ServicerContext) -> dict[str, list[str]]:
    metadata: dict[str, list[str]] = {}
    for key, value in context.invocation_metadata() or ():
        if isinstance(value, str):   # binary (-bin) headers carry no credentials we read
            metadata.setdefault(key.lower(), []).append(value)
    return metadata


def authorize(method: Method, caller: Caller, registry: Registry | None = None) -> None:
    """Raise unless `caller` may call `method`: its kind admitted and, for an agency, a grant in force."""
    if not method.exposed:
        raise GatewayError(grpc.StatusCode.PERMISSION_DENIED,
                           f"{method.full_name} is not served by the gateway")
    if caller.kind not in method.access:
        if caller.kind == CallerKind.ANONYMOUS:
            if method.access == {CallerKind.AGENCY}:
                raise GatewayError(grpc.StatusCode.UNAUTHENTICATED,
                                   "certificate: this method is for agency systems only: call the mutual TLS "
                                   "port with a registered client certificate")
            raise GatewayError(grpc.StatusCode.UNAUTHENTICATED,
                               "authorization: this method needs an access token")
        raise GatewayError(grpc.StatusCode.PERMISSION_DENIED,
                           f"caller: {caller.kind.value} may not call {method.full_name}")
    if caller.kind == CallerKind.AGENCY and method.grant_required and (
            registry is None or not registry.is_granted(SubsystemId.parse(caller.subject), method.full_name)):
        raise GatewayError(grpc.StatusCode.PERMISSION_DENIED,
                           f"access right: {caller.subject} has no grant of {method.full_name}")
