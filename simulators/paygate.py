"""A payment intermediary (a bank or e-wallet connected to the PayGov hub), simulated.

The platform opens a transaction for a bill; the citizen's bank app pays it; the intermediary then
notifies the platform with a signed callback, retried with back-off until it is acknowledged or
`--callback-attempts` ran out (10 by default, about 31 s). Refunds are idempotent on the caller's
key, so a platform that retries never refunds twice. A transaction not yet paid can be voided: it
can then never be paid. As real intermediaries offer, the merchant can query a transaction by its
own reference, to learn of a payment whose notice it never received.

    python -m simulators.paygate --port 8101 --merchant-code HUEGOV --secret s3cret

The merchant API (signed by the merchant: services/common/merchant_signature.py; refused 401
without the merchant code, with a wrong signature or a stale time, 409 for a request id used before):
    POST /transactions              {merchant_ref, amount_vnd, description, callback_url} -> 201
    POST /transactions/void         {merchant_ref} -> 200 {status: VOIDED}; 409 {status} once paid
    POST /transactions/query        {merchant_ref} -> 200 {transaction_id, status, amount_vnd, paid_at,
                                    refunded_vnd}; status PENDING, SUCCESS, VOIDED or REFUNDED
    POST /refunds                   {merchant_ref, amount_vnd, idempotency_key} -> 201 {refund_id}
What the citizen's bank app does, and what tests inspect (unsigned):
    POST /transactions/{id}/pay
    GET  /transactions/{id}         status, the callback body and every delivery attempt
    GET  /refunds?merchant_ref=...  the refunds made for a merchant reference
"""

import argparse
import json
import logging
import signal
import threading
import urllib.parse
from dataclasses import asdict
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from services.common.merchant_signature import SignedRequest
from simulators.paygate_books import (
    DEFAULT_MERCHANT_CODE,
    MAX_CALLBACK_ATTEMPTS,
    Paygate,
    Rejected,
)

__all__ = ["Paygate", "PaygateServer", "Rejected"]

log = logging.getLogger("paygate")

MAX_BODY_BYTES = 64 * 1024
MERCHANT_ROUTES = {("POST", "/transactions"), ("POST", "/transactions/void"), ("POST", "/transactions/query"),
                   ("POST", "/refunds")}


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
            raw = self._body() if method == "POST" else b""
            if (method, url.path.rstrip("/")) in MERCHANT_ROUTES:
                paygate.check_merchant(method, url.path, raw, SignedRequest.from_headers(self.headers))
            match method, parts:
                case "POST", ["transactions"]:
                    txn, created = paygate.open_transaction(self._json(raw), self._base_url())
                    self._reply(201 if created else 200, {"transaction_id": txn.transaction_id,
                                                          "payment_url": txn.payment_url,
                                                          "amount_vnd": txn.amount_vnd})
                case "POST", ["transactions", "void"]:
                    self._reply(200, paygate.void(self._json(raw)))
                case "POST", ["transactions", "query"]:
                    self._reply(200, paygate.query(self._json(raw)))
                case "GET", ["transactions", transaction_id]:
                    self._reply(200, paygate.transaction(transaction_id))
                case "POST", ["transactions", transaction_id, "pay"]:
                    self._reply(200, paygate.pay(transaction_id))
                case "POST", ["refunds"]:
                    refund, created = paygate.refund(self._json(raw))
                    self._reply(201 if created else 200, asdict(refund))
                case "GET", ["refunds"]:
                    merchant_ref = urllib.parse.parse_qs(url.query).get("merchant_ref", [""])[0]
                    self._reply(200, {"refunds": paygate.refunds(merchant_ref)})
                case "GET", ["health"]:
                    self._reply(200, {"status": "ok"})
                case _:
                    raise Rejected(404, f"no route {method} {url.path}")
        except Rejected as exc:
            self._reply(exc.status, {"error": exc.message, **exc.details})

    def _body(self) -> bytes:
        length = int(self.headers.get("Content-Length") or 0)
        if length > MAX_BODY_BYTES:
            self.close_connection = True
            raise Rejected(413, f"body: more than {MAX_BODY_BYTES} bytes")
        return self.rfile.read(length)

    @staticmethod
    def _json(raw: bytes) -> dict[str, Any]:
        try:
            body = json.loads(raw or b"{}")
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
    parser.add_argument("--secret", required=True,
                        help="the merchant's secret: signs callbacks, verifies the merchant's calls")
    parser.add_argument("--merchant-code", default=DEFAULT_MERCHANT_CODE, help="the one merchant served")
    parser.add_argument("--callback-attempts", type=int, default=MAX_CALLBACK_ATTEMPTS,
                        help="deliveries of a payment notice before giving up")
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s paygate %(levelname)s %(message)s")

    stopping = threading.Event()
    paygate = Paygate(args.secret, stopping, args.merchant_code, args.callback_attempts)
    server = PaygateServer((args.host, args.port), paygate)
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
