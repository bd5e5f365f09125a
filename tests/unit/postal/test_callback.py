"""Tracking reports are believed only when signed, fresh and not played back."""

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from services.common.callback_signature import sign
from services.common.errors import FailedPrecondition, InvalidArgument, Unauthenticated
from services.postal.domain.callback import StatusReport, authenticate, spend_nonce
from services.postal.domain.shipment import ShipmentStatus

SECRET = "operator-secret"
NOW = datetime(2025, 1, 2, 3, 4, 5, tzinfo=UTC)
NONCE = "0f1e2d3c4b5a69788796a5b4c3d2e1f0"


def report_body(**overrides: Any) -> bytes:
    body = {"tracking_number": "EB123456785VN", "reference": "SHP-D-1", "status": "IN_TRANSIT",
            "at": "2025-01-02T10:04:00+07:00", "location": "Trung tâm khai thác Hà Nội"}
    body.update(overrides)
    return json.dumps(body, ensure_ascii=False).encode()


def receive(body: bytes, *, signed_at: datetime = NOW, secret: str = SECRET, nonce: str = NONCE,
            signature: str | None = None) -> StatusReport:
    timestamp = str(int(signed_at.timestamp()))
    if signature is None:
        signature = sign(secret, body, timestamp, nonce)
    return authenticate(SECRET, body, timestamp=timestamp, nonce=nonce, signature=signature, now=NOW)


def test_a_signed_fresh_report_is_read() -> None:
    report = receive(report_body())
    assert report == StatusReport("EB123456785VN", "SHP-D-1", ShipmentStatus.IN_TRANSIT,
                                  "2025-01-02T03:04:00Z", "Trung tâm khai thác Hà Nội", NONCE)


def test_a_report_signed_with_another_secret_is_unauthenticated() -> None:
    with pytest.raises(Unauthenticated) as refused:
        receive(report_body(), secret="guessed")
    assert refused.value.field == "signature"


def test_a_body_changed_after_signing_is_unauthenticated() -> None:
    timestamp = str(int(NOW.timestamp()))
    signature = sign(SECRET, report_body(), timestamp, NONCE)
    with pytest.raises(Unauthenticated):
        authenticate(SECRET, report_body(status="DELIVERED"), timestamp=timestamp, nonce=NONCE,
                     signature=signature, now=NOW)


@pytest.mark.parametrize(("nonce", "signature"), [
    ("", None), (NONCE, ""), (NONCE, "zz" * 32), ("é" * 10, None),
])
def test_missing_or_malformed_headers_are_unauthenticated(nonce: str, signature: str | None) -> None:
    with pytest.raises(Unauthenticated):
        receive(report_body(), nonce=nonce, signature=signature)


@pytest.mark.parametrize("offset", [timedelta(seconds=-301), timedelta(seconds=301), timedelta(hours=-2)])
def test_a_report_signed_too_long_ago_or_ahead_is_stale(offset: timedelta) -> None:
    with pytest.raises(FailedPrecondition) as refused:
        receive(report_body(), signed_at=NOW + offset)
    assert refused.value.field == "timestamp"


@pytest.mark.parametrize("offset", [timedelta(seconds=-300), timedelta(seconds=300)])
def test_a_report_within_five_minutes_either_way_is_fresh(offset: timedelta) -> None:
    assert receive(report_body(), signed_at=NOW + offset).status == ShipmentStatus.IN_TRANSIT


@pytest.mark.parametrize(("body", "field"), [
    (report_body(status="LOST_IN_SPACE"), "status"),
    (report_body(tracking_number="EB123456784VN"), "tracking_number"),
    (report_body(at="2025-01-02T10:04:00"), "at"),
    (report_body(reference=""), "reference"),
    (b"[1, 2]", "body"),
    (b"not json", "body"),
])
def test_a_signed_but_malformed_report_names_the_field(body: bytes, field: str) -> None:
    with pytest.raises(InvalidArgument) as refused:
        receive(body)
    assert refused.value.field == field


class InMemoryNonceLedger:
    def __init__(self) -> None:
        self.spent: dict[str, datetime] = {}

    def spend(self, nonce: str, at: datetime) -> bool:
        if nonce in self.spent:
            return False
        self.spent[nonce] = at
        return True


def test_a_nonce_is_accepted_once() -> None:
    ledger = InMemoryNonceLedger()
    report = receive(report_body())
    spend_nonce(ledger, report, NOW)
    with pytest.raises(FailedPrecondition) as refused:
        spend_nonce(ledger, receive(report_body()), NOW)
    assert refused.value.field == "nonce"
    assert list(ledger.spent) == [NONCE]
