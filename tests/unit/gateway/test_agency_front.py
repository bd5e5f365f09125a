"""The gateway's reading of the agency front's headers (gateway/agency_front.py)."""

import base64
from datetime import UTC, datetime, timedelta

import pytest
from cryptography.hazmat.primitives.serialization import Encoding

from deploy.certs import issue, make_ca
from gateway.agency_front import (
    CERT_HEADER,
    VERIFY_HEADER,
    from_the_front,
    read_verdict,
    refuse_unverified,
)
from services.common.errors import Unauthenticated

CA = make_ca()
NOW = datetime.now(UTC)
EXPIRED = issue(CA, "VN/GOV/x/expired", not_before=NOW - timedelta(days=9), not_after=NOW - timedelta(days=1))
FUTURE = issue(CA, "VN/GOV/x/future", not_before=NOW + timedelta(days=1), not_after=NOW + timedelta(days=9))


def headers(verify: str, der: bytes = b"") -> dict[str, list[str]]:
    return {VERIFY_HEADER: [verify], CERT_HEADER: [base64.b64encode(der).decode()]}


def refusal(verify: str, der: bytes = b"x") -> str:
    with pytest.raises(Unauthenticated) as refused:
        refuse_unverified(read_verdict(headers(verify, der)))
    assert refused.value.field == "certificate"
    return str(refused.value)


def test_only_calls_on_the_unix_socket_come_from_the_front() -> None:
    assert from_the_front("unix:") and from_the_front("unix:/run/egov/agency/gateway.sock")
    assert not from_the_front("ipv4:127.0.0.1:50000") and not from_the_front("ipv6:[::1]:50000")


def test_a_verified_certificate_passes() -> None:
    verdict = read_verdict(headers("1,0,0", b"der"))
    refuse_unverified(verdict)
    assert verdict.presented and verdict.der == b"der"


@pytest.mark.parametrize(("verify", "says"), [
    ("0,0,0", "no client certificate was presented"),
    ("1,0,20", "the client certificate is not trusted: its issuer is not a trusted CA"),
    ("1,19,0", "the client certificate is not trusted: its chain ends in a self-signed certificate"),
    ("1,0,18", "the client certificate is not trusted: it is self-signed"),
    ("1,0,77", "the client certificate is not trusted: OpenSSL verification error 77"),
])
def test_each_failure_is_named(verify: str, says: str) -> None:
    assert says in refusal(verify)


def test_a_certificate_said_to_be_presented_but_empty_counts_as_none() -> None:
    assert "no client certificate" in refusal("1,0,0", b"")


def test_validity_failures_give_the_dates() -> None:
    expired_der = EXPIRED.certificate.public_bytes(Encoding.DER)
    assert refusal("1,0,10", expired_der).endswith(
        f"expired at {EXPIRED.certificate.not_valid_after_utc.isoformat()}")
    future_der = FUTURE.certificate.public_bytes(Encoding.DER)
    assert refusal("1,0,9", future_der).endswith(
        f"is not valid before {FUTURE.certificate.not_valid_before_utc.isoformat()}")


@pytest.mark.parametrize("metadata", [
    {},                                                               # no front at all
    {VERIFY_HEADER: ["1,0,0", "1,0,0"], CERT_HEADER: ["eA=="]},       # doubled
    {VERIFY_HEADER: ["yes"], CERT_HEADER: ["eA=="]},                  # not ours
    {VERIFY_HEADER: ["1,0,0"], CERT_HEADER: ["not base64!"]},
])
def test_headers_not_written_by_the_front_are_refused(metadata: dict[str, list[str]]) -> None:
    with pytest.raises(Unauthenticated):
        read_verdict(metadata)


def test_the_front_presets_the_gateways_default_size_bound() -> None:
    from deploy.local.agency_front import CONFIG
    from gateway.config import DEFAULT_MAX_MESSAGE_BYTES
    assert f"presetenv EGOV_GATEWAY_MAX_MESSAGE_BYTES {DEFAULT_MAX_MESSAGE_BYTES}" in CONFIG.read_text()
