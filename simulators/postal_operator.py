"""A postal operator (VNPost-like), simulated. Over 300 lines: one small HTTP server whose booking,
walk and signed, retried callbacks share one lock and one table of shipments.

The platform books a shipment; the operator answers with an S10 tracking number, then walks the
item through PICKED_UP, IN_TRANSIT and DELIVERED, telling the platform each step with a signed
callback, retried with back-off until acknowledged. Bookings are idempotent on `reference`.
A street containing "không có người nhận" (nobody there to receive it) ends FAILED instead of DELIVERED:
the scenario of a result the post brings back to the desk.

    python -m simulators.postal_operator --port 8103 --secret s3cret [--step-delay 0.05]

HTTP, JSON bodies:
    POST /shipments                       {reference, recipient_name, recipient_phone,
                                           address{street, commune, district, province}, callback_url}
                                          -> 201 {tracking_number} (200 for a reference already booked)
    GET  /shipments/{tracking_number}     status, and every callback with its delivery attempts
    POST /shipments/{tracking_number}/resend
                                          sends every callback made so far again (freshly signed),
                                          answers once they are delivered, with their HTTP statuses
    GET  /health
"""

import argparse
import json
import logging
import random
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

log = logging.getLogger("postal_operator")

UNDELIVERABLE = "không có người nhận"
SERVICE_CODE = "EB"   # EMS, the express service results are returned by
COUNTRY = "VN"
S10_WEIGHTS = (8, 6, 4, 2, 3, 5, 9, 7)
MAX_CALLBACK_ATTEMPTS = 10
FIRST_RETRY_DELAY = 0.1
MAX_RETRY_DELAY = 2.0
CALLBACK_TIMEOUT = 5.0


class Rejected(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


@dataclass
class Attempt:
    at: str
    nonce: str
    status: int | None = None
    error: str = ""


@dataclass
class Callback:
    status: str
    at: str
    location: str
    attempts: list[Attempt] = field(default_factory=list)
    acknowledged: bool = False


@dataclass
class Shipment:
    tracking_number: str
    reference: str
    recipient_name: str
    recipient_phone: str
    address: dict[str, str]
    callback_url: str
    status: str = "ACCEPTED"
    booked_at: str = ""
    callbacks: list[Callback] = field(default_factory=list)


def s10_tracking_number(serial: str) -> str:
    """UPU S10: service code, 8-digit serial, check digit (weights above, modulo 11), country."""
    check = 11 - sum(int(d) * w for d, w in zip(serial, S10_WEIGHTS, strict=True)) % 11
    digit = {10: 0, 11: 5}.get(check, check)
    return f"{SERVICE_CODE}{serial}{digit}{COUNTRY}"


def now_iso() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def _text(body: dict[str, Any], name: str, max_len: int, required: bool = True) -> str:
    value = body.get(name, "")
    if not isinstance(value, str) or len(value) > max_len or (required and not value.strip()):
        raise Rejected(400, f"{name}: a{' non-empty' if required else ''} string of at most {max_len} "
                            "characters is required")
    return value


def _address(body: dict[str, Any]) -> dict[str, str]:
    address = body.get("address")
    if not isinstance(address, dict):
        raise Rejected(400, "address: an object is required")
    return {"street": _text(address, "street", 200, required=False),
            **{name: _text(address, name, 100) for name in ("commune", "district", "province")}}


class PostalOperator:
    """The operator's books; every method is safe to call from many request threads."""

    def __init__(self, secret: str, step_delay: float, stopping: threading.Event) -> None:
        self._secret = secret
        self._step_delay = step_delay
        self._stopping = stopping
        self._lock = threading.Lock()
        self._shipments: dict[str, Shipment] = {}
        self._by_reference: dict[str, str] = {}
        self._serials = random.Random()

    def book(self, body: dict[str, Any]) -> tuple[Shipment, bool]:
        reference = _text(body, "reference", 64)
        recipient_name = _text(body, "recipient_name", 120)
        recipient_phone = _text(body, "recipient_phone", 20, required=False)
        address = _address(body)
        callback_url = _text(body, "callback_url", 2048)
        if urllib.parse.urlsplit(callback_url).scheme not in ("http", "https"):
            raise Rejected(400, "callback_url: must be an http(s) URL")
        with self._lock:
            existing = self._by_reference.get(reference)
            if existing is not None:
                return self._shipments[existing], False
            number = self._new_tracking_number()
            shipment = Shipment(number, reference, recipient_name, recipient_phone, address, callback_url,
                                booked_at=now_iso())
            self._shipments[number] = shipment
            self._by_reference[reference] = number
        threading.Thread(target=self._walk, args=(shipment,), daemon=True, name=f"walk-{number}").start()
        return shipment, True

    def shipment(self, number: str) -> dict[str, Any]:
        with self._lock:
            return asdict(self._find(number))

    def resend(self, number: str) -> list[dict[str, Any]]:
        with self._lock:
            shipment = self._find(number)
            callbacks = list(shipment.callbacks)
        delivered = []
        for callback in callbacks:
            attempt = self._deliver(shipment, callback)
            delivered.append({"status": callback.status, "http_status": attempt.status,
                              "error": attempt.error})
        return delivered

    def _new_tracking_number(self) -> str:
        while True:
            number = s10_tracking_number(f"{self._serials.randrange(10**8):08d}")
            if number not in self._shipments:
                return number

    def _find(self, number: str) -> Shipment:
        shipment = self._shipments.get(number)
        if shipment is None:
            raise Rejected(404, f"no shipment {number}")
        return shipment

    def _walk(self, shipment: Shipment) -> None:
        address = shipment.address
        steps = (
            ("PICKED_UP", f"Bưu cục {address['district']}"),
            ("IN_TRANSIT", f"Trung tâm khai thác {address['province']}"),
            ("DELIVERED", f"{address['commune']}, {address['district']}"),
        )
        if UNDELIVERABLE in address["street"].lower():
            steps = (*steps[:2], ("FAILED", f"{address['commune']}, {address['district']}: không có người nhận"))
        for status, location in steps:
            if self._stopping.wait(self._step_delay):
                return
            callback = Callback(status, now_iso(), location)
            with self._lock:
                shipment.status = status
                shipment.callbacks.append(callback)
            self._deliver_until_acknowledged(shipment, callback)

    def _deliver_until_acknowledged(self, shipment: Shipment, callback: Callback) -> None:
        delay = FIRST_RETRY_DELAY
        for number in range(1, MAX_CALLBACK_ATTEMPTS + 1):
            attempt = self._deliver(shipment, callback)
            if callback.acknowledged:
                return
            log.warning("callback %s %s attempt %d failed (%s); retrying in %.1f s", shipment.tracking_number,
                        callback.status, number, attempt.status or attempt.error, delay)
            if self._stopping.wait(delay):
                return
            delay = min(delay * 2, MAX_RETRY_DELAY)
        log.error("callback %s %s abandoned after %d attempts", shipment.tracking_number, callback.status,
                  MAX_CALLBACK_ATTEMPTS)

    def _deliver(self, shipment: Shipment, callback: Callback) -> Attempt:
        """One signed delivery; every attempt gets a fresh timestamp and nonce, so a retry is never stale."""
        body = json.dumps({"tracking_number": shipment.tracking_number, "reference": shipment.reference,
                           "status": callback.status, "at": callback.at, "location": callback.location},
                          ensure_ascii=False).encode()
        timestamp, nonce = str(int(time.time())), uuid.uuid4().hex
        attempt = Attempt(now_iso(), nonce)
        request = urllib.request.Request(shipment.callback_url, data=body, method="POST", headers={
            "Content-Type": "application/json; charset=utf-8",
            "X-Postal-Timestamp": timestamp,
            "X-Postal-Nonce": nonce,
            "X-Postal-Signature": sign(self._secret, body, timestamp, nonce),
        })
        try:
            with urllib.request.urlopen(request, timeout=CALLBACK_TIMEOUT) as response:
                attempt.status = response.status
        except urllib.error.HTTPError as exc:
            attempt.status = exc.code
        except OSError as exc:
            attempt.error = str(exc)
        with self._lock:
            callback.attempts.append(attempt)
            if attempt.status is not None and 200 <= attempt.status < 300:
                callback.acknowledged = True
        return attempt


class Handler(BaseHTTPRequestHandler):
    server: "PostalOperatorServer"

    def do_GET(self) -> None:
        self._dispatch("GET")

    def do_POST(self) -> None:
        self._dispatch("POST")

    def _dispatch(self, method: str) -> None:
        parts = [p for p in urllib.parse.urlsplit(self.path).path.split("/") if p]
        operator = self.server.operator
        try:
            match method, parts:
                case "POST", ["shipments"]:
                    shipment, created = operator.book(self._json())
                    self._reply(201 if created else 200, {"tracking_number": shipment.tracking_number})
                case "GET", ["shipments", number]:
                    self._reply(200, operator.shipment(number))
                case "POST", ["shipments", number, "resend"]:
                    self._reply(200, {"callbacks": operator.resend(number)})
                case "GET", ["health"]:
                    self._reply(200, {"status": "ok"})
                case _:
                    raise Rejected(404, f"no route {method} {self.path}")
        except Rejected as exc:
            self._reply(exc.status, {"error": exc.message})

    def _json(self) -> dict[str, Any]:
        length = int(self.headers.get("Content-Length") or 0)
        if length > 64 * 1024:
            raise Rejected(413, "body too large")
        try:
            body = json.loads(self.rfile.read(length) or b"{}")
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            raise Rejected(400, f"body is not JSON: {exc}") from exc
        if not isinstance(body, dict):
            raise Rejected(400, "body must be a JSON object")
        return body

    def _reply(self, status: int, payload: dict[str, Any]) -> None:
        data = json.dumps(payload, ensure_ascii=False).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json; charset=utf-8")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, format: str, *args: Any) -> None:
        log.info("%s %s", self.address_string(), format % args)


class PostalOperatorServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, address: tuple[str, int], operator: PostalOperator) -> None:
        super().__init__(address, Handler)
        self.operator = operator


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--secret", required=True, help="shared secret for callback signatures")
    parser.add_argument("--step-delay", type=float, default=0.05,
                        help="seconds between the delivery steps of a shipment")
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s postal_operator %(levelname)s %(message)s")

    stopping = threading.Event()
    operator = PostalOperator(args.secret, args.step_delay, stopping)
    server = PostalOperatorServer((args.host, args.port), operator)
    signal.signal(signal.SIGTERM, lambda *_: stopping.set())
    signal.signal(signal.SIGINT, lambda *_: stopping.set())
    threading.Thread(target=server.serve_forever, name="http", daemon=True).start()
    log.info("listening on %s:%d", args.host, args.port)
    stopping.wait()
    server.shutdown()
    server.server_close()
    log.info("stopped")


if __name__ == "__main__":
    main()
