"""The payment intermediary simulator's books: transactions, payments, voids, refunds and the
notices it delivers; the HTTP front is simulators/paygate.py. Safe to call from many threads."""

import json
import logging
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from typing import Any

from services.common.callback_signature import sign
from services.common.merchant_signature import FRESHNESS_SECONDS, SignedRequest, verify_request

log = logging.getLogger("paygate")

MAX_CALLBACK_ATTEMPTS = 10
DEFAULT_MERCHANT_CODE = "HUEGOV"
FIRST_RETRY_DELAY = 0.2
MAX_RETRY_DELAY = 5.0
CALLBACK_TIMEOUT = 5.0


class Rejected(Exception):
    def __init__(self, status: int, message: str, details: dict[str, Any] | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.details = details or {}


@dataclass
class CallbackAttempt:
    attempt: int
    at: str
    timestamp: str
    nonce: str
    signature: str
    status: int | None = None
    error: str = ""


@dataclass
class Transaction:
    transaction_id: str
    merchant_ref: str
    amount_vnd: int
    description: str
    callback_url: str
    payment_url: str
    status: str = "PENDING"
    created_at: str = ""
    paid_at: str = ""
    callback_body: str = ""
    callback_attempts: list[CallbackAttempt] = field(default_factory=list)


@dataclass
class Refund:
    refund_id: str
    merchant_ref: str
    amount_vnd: int
    idempotency_key: str
    created_at: str


def now_iso() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def _text(body: dict[str, Any], name: str, max_len: int = 256) -> str:
    value = body.get(name)
    if not isinstance(value, str) or not value or len(value) > max_len:
        raise Rejected(400, f"{name}: a non-empty string of at most {max_len} characters is required")
    return value


def _amount(body: dict[str, Any]) -> int:
    value = body.get("amount_vnd")
    if isinstance(value, str) and value.isdigit():
        value = int(value)
    if not isinstance(value, int) or isinstance(value, bool) or value <= 0:
        raise Rejected(400, "amount_vnd: a positive whole number of dong is required")
    return value


class Paygate:
    """The intermediary's books; every method is safe to call from many request threads."""

    def __init__(self, secret: str, stopping: threading.Event, merchant_code: str = DEFAULT_MERCHANT_CODE,
                 callback_attempts: int = MAX_CALLBACK_ATTEMPTS) -> None:
        self._secret = secret
        self.merchant_code = merchant_code
        self._stopping = stopping
        self._callback_attempts = callback_attempts
        self._lock = threading.Lock()
        self._transactions: dict[str, Transaction] = {}
        self._by_merchant_ref: dict[str, str] = {}
        self._refunds: dict[str, Refund] = {}
        self._request_ids: dict[str, float] = {}

    def check_merchant(self, method: str, path: str, body: bytes, signed: SignedRequest) -> None:
        """Refuse a merchant call without our merchant's credential and a fresh, unused, valid signature."""
        if not (signed.merchant_code and signed.request_id and signed.timestamp and signed.signature):
            raise Rejected(401, "merchant credential required: X-Merchant-Code, X-Request-Id, X-Request-Time "
                                "and X-Signature")
        if signed.merchant_code != self.merchant_code:
            raise Rejected(401, f"unknown merchant {signed.merchant_code[:32]}")
        if not verify_request(self._secret, method, path, body, signed):
            raise Rejected(401, "signature does not match the request under the merchant's secret")
        if not signed.timestamp.isdigit() or abs(time.time() - int(signed.timestamp)) > FRESHNESS_SECONDS:
            raise Rejected(401, f"stale: X-Request-Time is more than {FRESHNESS_SECONDS} s from now")
        with self._lock:
            horizon = time.time() - 2 * FRESHNESS_SECONDS
            for seen, at in list(self._request_ids.items()):
                if at < horizon:
                    del self._request_ids[seen]
            if signed.request_id in self._request_ids:
                raise Rejected(409, f"request id {signed.request_id[:64]} was used before")
            self._request_ids[signed.request_id] = time.time()

    def open_transaction(self, body: dict[str, Any], base_url: str) -> tuple[Transaction, bool]:
        merchant_ref = _text(body, "merchant_ref", 64)
        amount = _amount(body)
        description = str(body.get("description", ""))[:256]
        callback_url = _text(body, "callback_url", 2048)
        if urllib.parse.urlsplit(callback_url).scheme not in ("http", "https"):
            raise Rejected(400, "callback_url: must be an http(s) URL")
        with self._lock:
            existing = self._by_merchant_ref.get(merchant_ref)
            if existing is not None:
                txn = self._transactions[existing]
                if txn.amount_vnd != amount:
                    raise Rejected(409, f"merchant_ref {merchant_ref} is open for {txn.amount_vnd} VND")
                return txn, False
            transaction_id = "PG" + uuid.uuid4().hex[:16].upper()
            payment_url = f"{base_url}/transactions/{transaction_id}/pay"
            txn = Transaction(transaction_id, merchant_ref, amount, description, callback_url, payment_url,
                              created_at=now_iso())
            self._transactions[transaction_id] = txn
            self._by_merchant_ref[merchant_ref] = transaction_id
            return txn, True

    def transaction(self, transaction_id: str) -> dict[str, Any]:
        with self._lock:
            txn = self._find(transaction_id)
            return asdict(txn)

    def pay(self, transaction_id: str) -> dict[str, Any]:
        with self._lock:
            txn = self._find(transaction_id)
            if txn.status != "PENDING":
                raise Rejected(409, f"transaction {transaction_id} is {txn.status}")
            txn.status = "SUCCESS"
            txn.paid_at = now_iso()
            txn.callback_body = json.dumps({
                "transaction_id": txn.transaction_id, "merchant_ref": txn.merchant_ref,
                "amount_vnd": txn.amount_vnd, "status": "SUCCESS", "paid_at": txn.paid_at,
            })
            result = {"transaction_id": txn.transaction_id, "status": txn.status, "paid_at": txn.paid_at}
        threading.Thread(target=self._deliver_callback, args=(txn,), daemon=True,
                         name=f"callback-{transaction_id}").start()
        return result

    def void(self, body: dict[str, Any]) -> dict[str, Any]:
        """A transaction not yet paid can never be paid after this; a paid one is refunded instead."""
        merchant_ref = _text(body, "merchant_ref", 64)
        with self._lock:
            txn = self._by_ref(merchant_ref)
            if txn.status == "PENDING":
                txn.status = "VOIDED"
            if txn.status != "VOIDED":
                raise Rejected(409, f"transaction {txn.transaction_id} is {txn.status}, not voidable",
                               {"status": txn.status})
            return {"transaction_id": txn.transaction_id, "merchant_ref": merchant_ref, "status": txn.status}

    def query(self, body: dict[str, Any]) -> dict[str, Any]:
        merchant_ref = _text(body, "merchant_ref", 64)
        with self._lock:
            txn = self._by_ref(merchant_ref)
            refunded = sum(r.amount_vnd for r in self._refunds.values() if r.merchant_ref == merchant_ref)
            return {"transaction_id": txn.transaction_id, "merchant_ref": merchant_ref, "status": txn.status,
                    "amount_vnd": txn.amount_vnd, "paid_at": txn.paid_at, "refunded_vnd": refunded}

    def _by_ref(self, merchant_ref: str) -> Transaction:
        transaction_id = self._by_merchant_ref.get(merchant_ref)
        if transaction_id is None:
            raise Rejected(404, f"no transaction for merchant_ref {merchant_ref}")
        return self._transactions[transaction_id]

    def refund(self, body: dict[str, Any]) -> tuple[Refund, bool]:
        merchant_ref = _text(body, "merchant_ref", 64)
        amount = _amount(body)
        key = _text(body, "idempotency_key", 128)
        with self._lock:
            existing = self._refunds.get(key)
            if existing is not None:
                if (existing.merchant_ref, existing.amount_vnd) != (merchant_ref, amount):
                    raise Rejected(409, f"idempotency_key {key} was used for a different refund")
                return existing, False
            transaction_id = self._by_merchant_ref.get(merchant_ref)
            txn = self._transactions.get(transaction_id or "")
            if txn is None or txn.status not in ("SUCCESS", "REFUNDED"):
                raise Rejected(409, f"merchant_ref {merchant_ref} has no paid transaction")
            refunded = sum(r.amount_vnd for r in self._refunds.values() if r.merchant_ref == merchant_ref)
            if refunded + amount > txn.amount_vnd:
                raise Rejected(409, f"amount_vnd: only {txn.amount_vnd - refunded} VND is left to refund")
            refund = Refund("RF" + uuid.uuid4().hex[:16].upper(), merchant_ref, amount, key, now_iso())
            self._refunds[key] = refund
            txn.status = "REFUNDED"
            return refund, True

    def refunds(self, merchant_ref: str) -> list[dict[str, Any]]:
        with self._lock:
            return [asdict(r) for r in self._refunds.values()
                    if not merchant_ref or r.merchant_ref == merchant_ref]

    def _find(self, transaction_id: str) -> Transaction:
        txn = self._transactions.get(transaction_id)
        if txn is None:
            raise Rejected(404, f"no transaction {transaction_id}")
        return txn

    def _deliver_callback(self, txn: Transaction) -> None:
        """Sign afresh for every attempt (a new timestamp and nonce), so a late retry is not stale."""
        body = txn.callback_body.encode()
        delay = FIRST_RETRY_DELAY
        for number in range(1, self._callback_attempts + 1):
            timestamp, nonce = str(int(time.time())), uuid.uuid4().hex
            signature = sign(self._secret, body, timestamp, nonce)
            attempt = CallbackAttempt(number, now_iso(), timestamp, nonce, signature)
            request = urllib.request.Request(txn.callback_url, data=body, method="POST", headers={
                "Content-Type": "application/json",
                "X-Paygate-Timestamp": attempt.timestamp,
                "X-Paygate-Nonce": attempt.nonce,
                "X-Paygate-Signature": attempt.signature,
            })
            try:
                with urllib.request.urlopen(request, timeout=CALLBACK_TIMEOUT) as response:
                    attempt.status = response.status
            except urllib.error.HTTPError as exc:
                attempt.status = exc.code
            except OSError as exc:
                attempt.error = str(exc)
            with self._lock:
                txn.callback_attempts.append(attempt)
            if attempt.status is not None and 200 <= attempt.status < 300:
                return
            log.warning("callback %d for %s failed (%s); retrying in %.1f s", number, txn.transaction_id,
                        attempt.status or attempt.error, delay)
            if self._stopping.wait(delay):
                return
            delay = min(delay * 2, MAX_RETRY_DELAY)
        log.error("callback for %s abandoned after %d attempts", txn.transaction_id, self._callback_attempts)
