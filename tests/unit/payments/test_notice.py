import json
from datetime import UTC, datetime, timedelta

import pytest

from services.common.callback_signature import sign, verify
from services.common.errors import DomainError, FailedPrecondition, InvalidArgument, NotFound, Unauthenticated
from services.payments.domain.notice import SignedCallback, authenticate, is_first_use
from services.payments.service import callback_status

SECRET = "shared-secret"
NOW = datetime(2026, 3, 2, 9, 30, tzinfo=UTC)
BODY = {"transaction_id": "PG1", "merchant_ref": "BILL-H57-260302-0001", "amount_vnd": 50_000,
        "status": "SUCCESS", "paid_at": "2026-03-02T09:29:58+00:00"}


def callback(body: object = BODY, *, sent: datetime = NOW, nonce: str = "n-1", secret: str = SECRET,
             timestamp: str | None = None) -> SignedCallback:
    raw = body if isinstance(body, bytes) else json.dumps(body).encode()
    ts = timestamp if timestamp is not None else str(int(sent.timestamp()))
    return SignedCallback(raw, ts, nonce, sign(secret, raw, ts, nonce))


def test_a_notice_signed_by_the_intermediary_is_read() -> None:
    notice = authenticate(callback(), SECRET, NOW)
    assert (notice.transaction_id, notice.merchant_ref) == ("PG1", "BILL-H57-260302-0001")
    assert notice.amount_vnd == 50_000


def test_the_simulator_and_the_service_agree_on_the_signature() -> None:
    signed = callback()
    assert verify(SECRET, signed.body, signed.timestamp, signed.nonce, signed.signature)
    assert not verify(SECRET, signed.body + b" ", signed.timestamp, signed.nonce, signed.signature)


def test_a_notice_signed_with_another_secret_is_forged() -> None:
    with pytest.raises(Unauthenticated) as err:
        authenticate(callback(secret="guessed"), SECRET, NOW)
    assert err.value.field == "signature"


@pytest.mark.parametrize("change", ["body", "timestamp", "nonce"])
def test_changing_anything_signed_breaks_the_signature(change: str) -> None:
    signed = callback()
    tampered = SignedCallback(
        signed.body.replace(b"50000", b"5000") if change == "body" else signed.body,
        str(int(signed.timestamp) + 1) if change == "timestamp" else signed.timestamp,
        "n-2" if change == "nonce" else signed.nonce,
        signed.signature,
    )
    with pytest.raises(Unauthenticated):
        authenticate(tampered, SECRET, NOW)


def test_a_notice_without_signature_headers_is_refused() -> None:
    with pytest.raises(Unauthenticated):
        authenticate(SignedCallback(json.dumps(BODY).encode(), "", "", ""), SECRET, NOW)


@pytest.mark.parametrize("offset", [timedelta(seconds=-301), timedelta(seconds=301), timedelta(days=-1)])
def test_a_notice_sent_more_than_five_minutes_away_is_stale(offset: timedelta) -> None:
    with pytest.raises(FailedPrecondition) as err:
        authenticate(callback(sent=NOW + offset), SECRET, NOW)
    assert err.value.field == "timestamp"
    assert "stale" in err.value.message


@pytest.mark.parametrize("offset", [timedelta(seconds=-300), timedelta(seconds=299)])
def test_a_notice_within_five_minutes_is_fresh(offset: timedelta) -> None:
    assert authenticate(callback(sent=NOW + offset), SECRET, NOW).amount_vnd == 50_000


def test_a_signed_timestamp_that_is_not_unix_seconds_is_malformed() -> None:
    with pytest.raises(InvalidArgument) as err:
        authenticate(callback(timestamp="2026-03-02T09:30:00Z"), SECRET, NOW)
    assert err.value.field == "timestamp"


@pytest.mark.parametrize(("body", "field"), [
    (b"not json", "body"),
    ([1, 2], "body"),
    ({**BODY, "amount_vnd": "50000"}, "amount_vnd"),
    ({**BODY, "status": "FAILED"}, "status"),
    ({**BODY, "transaction_id": ""}, "transaction_id"),
    ({**BODY, "paid_at": "yesterday"}, "paid_at"),
])
def test_a_signed_but_malformed_notice_names_the_field(body: object, field: str) -> None:
    with pytest.raises(InvalidArgument) as err:
        authenticate(callback(body), SECRET, NOW)
    assert err.value.field == field


def test_a_nonce_never_seen_is_a_first_use() -> None:
    assert is_first_use(callback(), None) is True


def test_the_same_notice_seen_again_is_a_duplicate() -> None:
    signed = callback()
    assert is_first_use(signed, signed.digest) is False


def test_a_nonce_replayed_with_another_notice_is_refused() -> None:
    first = callback()
    other = callback({**BODY, "transaction_id": "PG2"})
    with pytest.raises(Unauthenticated) as err:
        is_first_use(other, first.digest)
    assert err.value.field == "nonce"


@pytest.mark.parametrize(("error", "status"), [
    (Unauthenticated("signature", "forged"), 401),
    (FailedPrecondition("timestamp", "stale"), 400),
    (InvalidArgument("body", "not JSON"), 400),
    (NotFound("merchant_ref", "no bill"), 404),
    (FailedPrecondition("amount_vnd", "paid less"), 409),
    (FailedPrecondition("transaction_id", "another one"), 409),
])
def test_the_intermediary_is_told_why_a_callback_was_refused(error: DomainError, status: int) -> None:
    assert callback_status(error) == status
