"""Merchant calls to the intermediary: the simulator refuses what the merchant did not sign."""

import threading
import time
import uuid

import pytest

from services.common.callback_signature import sign
from services.common.merchant_signature import SignedRequest, sign_request, verify_request
from simulators.paygate import Paygate, Rejected

SECRET = "merchant-secret"
BODY = b'{"merchant_ref": "BILL-1"}'


@pytest.fixture
def paygate() -> Paygate:
    return Paygate(SECRET, threading.Event(), merchant_code="HUEGOV")


def signed(secret: str = SECRET, merchant: str = "HUEGOV", path: str = "/transactions/query",
           at: float | None = None, request_id: str | None = None) -> SignedRequest:
    return sign_request(secret, "POST", path, merchant, str(int(at or time.time())), request_id or uuid.uuid4().hex,
                        BODY)


def test_a_signed_call_is_accepted_once(paygate: Paygate) -> None:
    call = signed()
    paygate.check_merchant("POST", "/transactions/query", BODY, call)
    with pytest.raises(Rejected) as err:
        paygate.check_merchant("POST", "/transactions/query", BODY, call)     # played again
    assert err.value.status == 409


@pytest.mark.parametrize("call, why", [
    (SignedRequest("", "", "", ""), "merchant credential required"),
    (signed(merchant="OTHER"), "unknown merchant"),
    (signed(secret="guessed"), "signature does not match"),
    (signed(path="/refunds"), "signature does not match"),          # signed for another operation
    (signed(at=time.time() - 3600), "stale"),
], ids=["unsigned", "another merchant", "wrong secret", "another path", "stale"])
def test_unsigned_or_wrongly_signed_calls_are_refused(paygate: Paygate, call: SignedRequest, why: str) -> None:
    with pytest.raises(Rejected) as err:
        paygate.check_merchant("POST", "/transactions/query", BODY, call)
    assert err.value.status == 401
    assert why in err.value.message


def test_a_callback_signature_never_verifies_as_a_merchant_call() -> None:
    timestamp, nonce = str(int(time.time())), uuid.uuid4().hex
    callback = sign(SECRET, BODY, timestamp, nonce)
    forged = SignedRequest("HUEGOV", nonce, timestamp, callback)
    assert not verify_request(SECRET, "POST", "/transactions/query", BODY, forged)
    # ... while the body changed by one byte breaks a real one.
    real = signed()
    assert verify_request(SECRET, "POST", "/transactions/query", BODY, real)
    assert not verify_request(SECRET, "POST", "/transactions/query", BODY + b" ", real)
