"""The payment intermediary simulator: idempotent transactions and refunds, signed callbacks retried."""

import json
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from services.common.callback_signature import verify
from simulators.paygate import Paygate, Rejected

SECRET = "shared-secret"


class Receiver(ThreadingHTTPServer):
    """A merchant endpoint that refuses the first `failures` callbacks."""

    def __init__(self, failures: int) -> None:
        self.failures = failures
        self.received: list[tuple[bool, dict[str, Any]]] = []

        class Handler(BaseHTTPRequestHandler):
            def do_POST(handler) -> None:  # `self` is the receiver
                body = handler.rfile.read(int(handler.headers["Content-Length"]))
                signed = verify(SECRET, body, handler.headers["X-Paygate-Timestamp"],
                                handler.headers["X-Paygate-Nonce"], handler.headers["X-Paygate-Signature"])
                self.received.append((signed, json.loads(body)))
                handler.send_response(503 if len(self.received) <= self.failures else 200)
                handler.send_header("Content-Length", "0")
                handler.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        super().__init__(("127.0.0.1", 0), Handler)


@pytest.fixture
def paygate() -> Iterator[Paygate]:
    stopping = threading.Event()
    yield Paygate(SECRET, stopping)
    stopping.set()


def open_for(paygate: Paygate, merchant_ref: str = "BILL-1", amount: int = 50_000,
             callback_url: str = "http://127.0.0.1:9/cb") -> dict[str, Any]:
    body = {"merchant_ref": merchant_ref, "amount_vnd": amount, "description": "fee",
            "callback_url": callback_url}
    txn, _ = paygate.open_transaction(body, "http://paygate.test")
    return paygate.transaction(txn.transaction_id)


def test_the_same_merchant_reference_opens_the_same_transaction(paygate: Paygate) -> None:
    first, again = open_for(paygate), open_for(paygate)
    assert first["transaction_id"] == again["transaction_id"]
    assert first["payment_url"] == f"http://paygate.test/transactions/{first['transaction_id']}/pay"
    with pytest.raises(Rejected) as err:
        open_for(paygate, amount=60_000)
    assert err.value.status == 409


@pytest.mark.parametrize("body", [{"merchant_ref": "B", "amount_vnd": 0, "callback_url": "http://x/cb"},
                                  {"merchant_ref": "", "amount_vnd": 1, "callback_url": "http://x/cb"},
                                  {"merchant_ref": "B", "amount_vnd": 1, "callback_url": "file:///etc/passwd"}])
def test_malformed_transactions_are_refused(paygate: Paygate, body: dict[str, Any]) -> None:
    with pytest.raises(Rejected) as err:
        paygate.open_transaction(body, "http://paygate.test")
    assert err.value.status == 400


def test_a_payment_is_notified_signed_and_retried_until_acknowledged(paygate: Paygate) -> None:
    receiver = Receiver(failures=2)
    threading.Thread(target=receiver.serve_forever, daemon=True).start()
    try:
        txn = open_for(paygate, callback_url=f"http://127.0.0.1:{receiver.server_address[1]}/cb")
        paygate.pay(txn["transaction_id"])
        with pytest.raises(Rejected):
            paygate.pay(txn["transaction_id"])
        deadline = time.monotonic() + 30
        while len(paygate.transaction(txn["transaction_id"])["callback_attempts"]) < 3:
            assert time.monotonic() < deadline, "the callback was not retried"
            time.sleep(0.05)
    finally:
        receiver.shutdown()
        receiver.server_close()
    attempts = paygate.transaction(txn["transaction_id"])["callback_attempts"]
    assert [a["status"] for a in attempts] == [503, 503, 200]
    assert len({a["nonce"] for a in attempts}) == 3
    assert all(signed for signed, _ in receiver.received)
    assert receiver.received[0][1] == {"transaction_id": txn["transaction_id"], "merchant_ref": "BILL-1",
                                       "amount_vnd": 50_000, "status": "SUCCESS",
                                       "paid_at": receiver.received[0][1]["paid_at"]}


def test_a_refund_is_made_once_per_idempotency_key_and_never_beyond_what_was_paid(paygate: Paygate) -> None:
    txn = open_for(paygate)
    refund = {"merchant_ref": "BILL-1", "amount_vnd": 50_000, "idempotency_key": "BILL-1"}
    with pytest.raises(Rejected) as err:
        paygate.refund(refund)
    assert err.value.status == 409   # nothing paid yet
    paygate.pay(txn["transaction_id"])
    first, created = paygate.refund(refund)
    again, created_again = paygate.refund(refund)
    assert (created, created_again, again.refund_id) == (True, False, first.refund_id)
    with pytest.raises(Rejected):
        paygate.refund({**refund, "idempotency_key": "other-key"})
    assert [r["refund_id"] for r in paygate.refunds("BILL-1")] == [first.refund_id]


def test_a_voided_transaction_can_never_be_paid_and_a_paid_one_cannot_be_voided(paygate: Paygate) -> None:
    txn = open_for(paygate)
    assert paygate.void({"merchant_ref": "BILL-1"})["status"] == "VOIDED"
    assert paygate.void({"merchant_ref": "BILL-1"})["status"] == "VOIDED"      # idempotent
    with pytest.raises(Rejected) as err:
        paygate.pay(txn["transaction_id"])
    assert err.value.status == 409
    paid = open_for(paygate, merchant_ref="BILL-2")
    paygate.pay(paid["transaction_id"])
    with pytest.raises(Rejected) as err:
        paygate.void({"merchant_ref": "BILL-2"})
    assert (err.value.status, err.value.details) == (409, {"status": "SUCCESS"})
    with pytest.raises(Rejected) as err:
        paygate.void({"merchant_ref": "BILL-NONE"})
    assert err.value.status == 404


def test_a_transaction_is_queried_by_the_merchant_reference(paygate: Paygate) -> None:
    txn = open_for(paygate)
    assert paygate.query({"merchant_ref": "BILL-1"})["status"] == "PENDING"
    paygate.pay(txn["transaction_id"])
    paygate.refund({"merchant_ref": "BILL-1", "amount_vnd": 50_000, "idempotency_key": "k"})
    answer = paygate.query({"merchant_ref": "BILL-1"})
    assert {k: answer[k] for k in ("transaction_id", "status", "amount_vnd", "refunded_vnd")} == {
        "transaction_id": txn["transaction_id"], "status": "REFUNDED", "amount_vnd": 50_000, "refunded_vnd": 50_000}
    assert answer["paid_at"]
