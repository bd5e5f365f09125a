"""What the agency front tells the gateway about an agency system's certificate, and the gateway's verdict.

Agency systems do not reach grpcio's TLS directly. grpcio can only require a verified client
certificate, refusing any other in the TLS handshake (the caller sees UNAVAILABLE and there is no
call to answer or log), or not ask for one. The agency front (HAProxy, deploy/agency-front/) asks for
a certificate, accepts any or none, verifies it against the trusted CA, and forwards every call to
the gateway's agency socket with two headers it always sets itself, so a caller cannot forge them:

- `x-egov-client-verify: <used>,<chain error>,<certificate error>`: 1 if a certificate was presented,
  then OpenSSL's first verification error above and at the certificate itself (0: none).
- `x-egov-client-cert: <base64 DER>`: the certificate presented (empty without one).

Only calls that come in on the agency socket (a unix socket, peer `unix:`) are read this way: the
headers mean nothing on the public TCP listener, where anybody could send them.
"""

import base64
import binascii
import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache

from cryptography import x509

from services.common.errors import Unauthenticated

VERIFY_HEADER = "x-egov-client-verify"
CERT_HEADER = "x-egov-client-cert"
AGENCY_PEER_PREFIX = "unix:"

# OpenSSL's X509_V_ERR_* codes an agency certificate is most likely to fail with; any other is named
# by its number (openssl verify -help lists them all).
_UNTRUSTED = {2: "its issuer's certificate is not trusted", 7: "its signature does not verify",
              18: "it is self-signed", 19: "its chain ends in a self-signed certificate that is not trusted",
              20: "its issuer is not a trusted CA", 21: "its signature cannot be verified",
              24: "an issuer in its chain is not a CA", 26: "it is not meant for client authentication"}
CERT_NOT_YET_VALID, CERT_HAS_EXPIRED = 9, 10


@dataclass(frozen=True)
class FrontVerdict:
    presented: bool
    chain_error: int
    certificate_error: int
    der: bytes


def from_the_front(peer: str) -> bool:
    return peer.startswith(AGENCY_PEER_PREFIX)


def read_verdict(metadata: Mapping[str, Sequence[str]]) -> FrontVerdict:
    """The front's headers, exactly one of each; anything else means a front that is not ours."""
    verify, cert = metadata.get(VERIFY_HEADER, ()), metadata.get(CERT_HEADER, ("",))
    if len(verify) != 1 or len(cert) != 1:
        raise Unauthenticated("certificate", "the agency front did not say which certificate was presented")
    return _parse(verify[0], cert[0])


@lru_cache(maxsize=4096)
def _parse(verify: str, cert: str) -> FrontVerdict:
    try:
        used, chain_error, certificate_error = (int(part) for part in verify.split(","))
        der = base64.b64decode(cert, validate=True)
    except (ValueError, binascii.Error):
        raise Unauthenticated("certificate", "the agency front's certificate headers are malformed") from None
    return FrontVerdict(used == 1 and bool(der), chain_error, certificate_error, der)


@lru_cache(maxsize=4096)
def fingerprint(der: bytes) -> str:
    """SHA-256 of the DER certificate, hex: what `egov-gateway certs register` records."""
    return hashlib.sha256(der).hexdigest()


def refuse_unverified(verdict: FrontVerdict) -> None:
    """Raise Unauthenticated unless a certificate was presented and verified against the trusted CA
    and is within its validity period."""
    if not verdict.presented:
        raise Unauthenticated("certificate", "no client certificate was presented: agency systems call this port "
                                             "with the certificate registered to their subsystem")
    error = verdict.certificate_error or verdict.chain_error
    if not error:
        return
    if error in (CERT_HAS_EXPIRED, CERT_NOT_YET_VALID):
        raise Unauthenticated("certificate", _validity(verdict.der, error))
    reason = _UNTRUSTED.get(error, f"OpenSSL verification error {error}")
    raise Unauthenticated("certificate", f"the client certificate is not trusted: {reason}")


def _validity(der: bytes, error: int) -> str:
    try:
        certificate = x509.load_der_x509_certificate(der)
    except ValueError:
        return "the client certificate is outside its validity period"
    if error == CERT_HAS_EXPIRED:
        return f"the client certificate expired at {certificate.not_valid_after_utc.isoformat()}"
    return f"the client certificate is not valid before {certificate.not_valid_before_utc.isoformat()}"
