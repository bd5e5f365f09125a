"""What the SMS and app-push simulators share: an HTTP message gateway in the shape such providers
offer, and a clean stop on SIGTERM.

`POST /messages {to, text, title?, client_ref}` -> 202 {message_id}. Like real providers, the
gateway dedupes on the client's reference: a repeated `client_ref` returns the first message_id and
is not delivered again (`submissions` counts how often it was posted). `GET /messages[?to=]` lists
what was delivered, oldest first.

Like a real provider it can serve https only (`--tls-cert/--tls-key`) and demand the client's API
key (`--api-key-file`): `Authorization: Bearer <key>` on a POST, else 401 and nothing delivered.
Reading back (GET) is the simulator's own test API and needs no key.
"""

import argparse
import hmac
import json
import signal
import ssl
import threading
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

MAX_BODY_BYTES = 64 * 1024


class Inbox:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._by_ref: dict[str, dict[str, Any]] = {}
        self._delivered: list[dict[str, Any]] = []

    def accept(self, to: str, text: str, title: str, client_ref: str) -> str:
        with self._lock:
            known = self._by_ref.get(client_ref)
            if known is not None:
                known["submissions"] += 1
                return str(known["message_id"])
            message = {"message_id": uuid.uuid4().hex, "to": to, "title": title, "text": text,
                       "client_ref": client_ref, "received_at": datetime.now(UTC).isoformat(),
                       "submissions": 1}
            self._by_ref[client_ref] = message
            self._delivered.append(message)
            return str(message["message_id"])

    def messages(self, to: str = "") -> list[dict[str, Any]]:
        with self._lock:
            return [dict(m) for m in self._delivered if not to or m["to"] == to]


class BadRequest(Exception):
    pass


def _string(payload: dict[str, Any], name: str, *, required: bool, max_len: int) -> str:
    value = payload.get(name, "")
    if not isinstance(value, str):
        raise BadRequest(f"{name} must be a string")
    if required and not value.strip():
        raise BadRequest(f"{name} is required")
    if len(value) > max_len:
        raise BadRequest(f"{name} is longer than {max_len} characters")
    return value


def add_security_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--tls-cert", help="serve https with this certificate (PEM)")
    parser.add_argument("--tls-key", help="... and this key")
    parser.add_argument("--api-key-file", help="require this API key (Authorization: Bearer) on POST")


def secure(server: ThreadingHTTPServer, tls_cert: str | None, tls_key: str | None) -> str:
    """Wraps the listening socket in TLS when a certificate is given; the URL scheme it serves."""
    if not tls_cert:
        return "http"
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(tls_cert, tls_key)
    server.socket = context.wrap_socket(server.socket, server_side=True)
    return "https"


def read_api_key(path: str | None) -> str:
    if not path:
        return ""
    with open(path) as f:
        return f.read().strip()


def make_gateway(host: str, port: int, inbox: Inbox, check_to: Callable[[str], str | None],
                 name: str, api_key: str = "") -> ThreadingHTTPServer:
    """check_to returns why a recipient is unacceptable, or None."""

    class Handler(BaseHTTPRequestHandler):
        server_version = f"{name}-simulator/1.0"

        def log_message(self, format: str, *args: Any) -> None:
            pass

        def _reply(self, status: int, body: dict[str, Any]) -> None:
            data = json.dumps(body, ensure_ascii=False).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json; charset=utf-8")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def do_GET(self) -> None:
            url = urlsplit(self.path)
            if url.path != "/messages":
                self._reply(404, {"error": f"no such resource {url.path}"})
                return
            to = parse_qs(url.query).get("to", [""])[0]
            self._reply(200, {"messages": inbox.messages(to)})

        def do_POST(self) -> None:
            if urlsplit(self.path).path != "/messages":
                self._reply(404, {"error": f"no such resource {self.path}"})
                return
            if api_key and not hmac.compare_digest(self.headers.get("Authorization", ""), f"Bearer {api_key}"):
                self._reply(401, {"error": "a valid API key is required (Authorization: Bearer <key>)"})
                return
            try:
                length = int(self.headers.get("Content-Length") or 0)
                if not 0 < length <= MAX_BODY_BYTES:
                    raise BadRequest(f"body must be 1 to {MAX_BODY_BYTES} bytes")
                payload = json.loads(self.rfile.read(length))
                if not isinstance(payload, dict):
                    raise BadRequest("body must be a JSON object")
                to = _string(payload, "to", required=True, max_len=128)
                text = _string(payload, "text", required=True, max_len=4000)
                title = _string(payload, "title", required=False, max_len=200)
                client_ref = _string(payload, "client_ref", required=True, max_len=128)
                problem = check_to(to)
                if problem:
                    raise BadRequest(f"to: {problem}")
            except (BadRequest, ValueError) as exc:
                self._reply(400, {"error": str(exc)})
                return
            self._reply(202, {"message_id": inbox.accept(to, text, title, client_ref)})

    return ThreadingHTTPServer((host, port), Handler)


def serve_until_terminated(servers: list[ThreadingHTTPServer],
                           on_stop: Callable[[], None] | None = None) -> None:
    """Serve in background threads until SIGTERM or SIGINT, then stop them all and return."""
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    threads = [threading.Thread(target=s.serve_forever, daemon=True) for s in servers]
    for thread in threads:
        thread.start()
    stop.wait()
    for server in servers:
        server.shutdown()
        server.server_close()
    if on_stop is not None:
        on_stop()
