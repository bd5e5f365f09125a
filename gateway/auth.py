"""Who is calling (authentication) and whether they may call this method (authorization).

A caller is resolved by a list of resolvers, each reading one kind of credential. A resolver returns
None when the call carries no credential of its kind, and raises `Unauthenticated` when it carries
one that is not valid: a bad credential never falls back to anonymous. With no credential at all,
the caller is anonymous. Authorization is deny by default: the caller's kind must be granted by the
method's `(egov.common.v1.access)` option, and a method without that option is never served.
"""

import re
from collections.abc import Mapping, Sequence
from typing import Protocol

import grpc

from gateway.call import ANONYMOUS
from gateway.errors import GatewayError
from gateway.methods import Method
from services.common.caller import Caller, CallerKind
from services.common.errors import Unauthenticated
from services.common.tokens import verify_token

Metadata = Mapping[str, Sequence[str]]
_BEARER = re.compile(r"Bearer +(\S+)", re.IGNORECASE)


class CallerResolver(Protocol):
    def resolve(self, metadata: Metadata, context: grpc.ServicerContext) -> Caller | None: ...


class BearerTokenResolver:
    """`authorization: Bearer <jwt>`: a token identity issued to a citizen or civil servant."""

    def __init__(self, public_key_pem: bytes) -> None:
        self._public_key = public_key_pem

    def resolve(self, metadata: Metadata, context: grpc.ServicerContext) -> Caller | None:
        values = metadata.get("authorization", ())
        if not values:
            return None
        if len(values) > 1:
            raise Unauthenticated("authorization", "more than one authorization header")
        match = _BEARER.fullmatch(values[0].strip())
        if match is None:
            raise Unauthenticated("authorization", "expected 'Bearer <access token>'")
        return verify_token(self._public_key, match.group(1))


def caller_resolvers(token_public_key: bytes) -> list[CallerResolver]:
    """The resolvers in order of precedence.

    Slot for mutual TLS (the next issue): an agency system's identity comes from its client
    certificate, read from `context.auth_context()` once the server listens with
    `grpc.ssl_server_credentials(..., require_client_auth=True)`. Its resolver maps the certificate to
    the registered member `VN/GOV/<member code>/<subsystem>` and returns
    `Caller(CallerKind.AGENCY, subject=<subsystem>, agency_code=<member code>)`; it goes first in this
    list. Until it exists no call is ever CALLER_KIND_AGENCY, so grants to agencies serve nobody.
    """
    return [BearerTokenResolver(token_public_key)]


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


def authorize(method: Method, caller: Caller) -> None:
    """Raise unless `caller` may call `method`."""
    if not method.exposed:
        raise GatewayError(grpc.StatusCode.PERMISSION_DENIED,
                           f"{method.full_name} is not served by the gateway")
    if caller.kind in method.access:
        return
    if caller.kind == CallerKind.ANONYMOUS:
        raise GatewayError(grpc.StatusCode.UNAUTHENTICATED,
                           "authorization: this method needs an access token")
    raise GatewayError(grpc.StatusCode.PERMISSION_DENIED,
                       f"caller: {caller.kind.value} may not call {method.full_name}")
