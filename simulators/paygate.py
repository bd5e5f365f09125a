"""A payment intermediary (a bank or e-wallet connected to the PayGov hub), simulated.

The platform opens a transaction for a bill; the citizen's bank app pays it; the intermediary then
notifies the platform with a signed callback, retried with back-off until it is acknowledged.
Refunds are idempotent on the caller's key, so a platform that retries never refunds twice.

    python -m simulators.paygate --port 8101 --secret s3cret

HTTP, JSON bodies:
    POST /transactions              {merchant_ref, amount_vnd, description, callback_url} -> 201
    GET  /transactions/{id}         status, the callback body and every delivery attempt
    POST /transactions/{id}/pay     what the citizen's bank app does
    POST /refunds                   {merchant_ref, amount_vnd, idempotency_key} -> 201 {refund_id}
    GET  /refunds?merchant_ref=...  the refunds made for a merchant reference
"""

import argparse
import json
import logging
import signal
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from services.common.callback_signature import sign

log = logging.getLogger("paygate")

MAX_CALLBACK_ATTEMPTS = 10
FIRST_RETRY_DELAY = 0.2
MAX_RETRY_DELAY = 5.0
CALLBACK_TIMEOUT = 5.0


class Rejected(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


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

    def __init__(self, secret: str, stopping: threading.Event) -> None:
        self._secret = secret
        self._stopping = stopping
        self._lock = threading.Lock()
        self._transactions: dict[str, Transaction] = {}
        self._by_merchant_ref: dict[str, str] = {}
        self._refunds: dict[str, Refund] = {}

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
        for number in range(1, MAX_CALLBACK_ATTEMPTS + 1):
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
        log.error("callback for %s abandoned after %d attempts", txn.transaction_id, MAX_CALLBACK_ATTEMPTS)


class Handler(BaseHTTPRequestHandler):
    server: "PaygateServer"

    def do_GET(self) -> None:
        self._dispatch("GET")

    def do_POST(self) -> None:
        self._dispatch("POST")

    def _dispatch(self, method: str) -> None:
        url = urllib.parse.urlsplit(self.path)
        parts = [p for p in url.path.split("/") if p]
        paygate = self.server.paygate
        try:
            match method, parts:
                case "POST", ["transactions"]:
                    txn, created = paygate.open_transaction(self._json(), self._base_url())
                    self._reply(201 if created else 200, {"transaction_id": txn.transaction_id,
                                                          "payment_url": txn.payment_url,
                                                          "amount_vnd": txn.amount_vnd})
                case "GET", ["transactions", transaction_id]:
                    self._reply(200, paygate.transaction(transaction_id))
                case "POST", ["transactions", transaction_id, "pay"]:
                    self._reply(200, paygate.pay(transaction_id))
                case "POST", ["refunds"]:
                    refund, created = paygate.refund(self._json())
                    self._reply(201 if created else 200, asdict(refund))
                case "GET", ["refunds"]:
                    merchant_ref = urllib.parse.parse_qs(url.query).get("merchant_ref", [""])[0]
                    self._reply(200, {"refunds": paygate.refunds(merchant_ref)})
                case "GET", ["health"]:
                    self._reply(200, {"status": "ok"})
                case _:
                    raise Rejected(404, f"no route {method} {url.path}")
        except Rejected as exc:
            self._reply(exc.status, {"error": exc.message})

    def _json(self) -> dict[str, Any]:
        length = int(self.headers.get("Content-Length") or 0)
        if length > 64 * 1024:
            raise Rejected(413, "body too large")
        try:
            body = json.loads(self.rfile.read(length) or b"{}")
        except json.JSONDecodeError as exc:
            raise Rejected(400, f"body is not JSON: {exc}") from exc
        if not isinstance(body, dict):
            raise Rejected(400, "body must be a JSON object")
        return body

    def _base_url(self) -> str:
        host = self.headers.get("Host") or f"127.0.0.1:{self.server.server_address[1]}"
        return f"http://{host}"

    def _reply(self, status: int, payload: dict[str, Any]) -> None:
        data = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, format: str, *args: Any) -> None:
        log.info("%s %s", self.address_string(), format % args)


class PaygateServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, address: tuple[str, int], paygate: Paygate) -> None:
        super().__init__(address, Handler)
        self.paygate = paygate


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--secret", required=True, help="shared secret for callback signatures")
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s paygate %(levelname)s %(message)s")

    stopping = threading.Event()
    server = PaygateServer((args.host, args.port), Paygate(args.secret, stopping))
    signal.signal(signal.SIGTERM, lambda *_: stopping.set())
    signal.signal(signal.SIGINT, lambda *_: stopping.set())
    serving = threading.Thread(target=server.serve_forever, name="http", daemon=True)
    serving.start()
    log.info("listening on %s:%d", args.host, args.port)
    stopping.wait()
    server.shutdown()
    server.server_close()
    log.info("stopped")


if __name__ == "__main__":
    main()
