"""SMTP mailbox simulator: `python -m simulators.mailbox --smtp-port N --http-port M`.

An SMTP server (aiosmtpd) that keeps every message it receives in memory, and an HTTP JSON API to
read them back: `GET /messages[?to=addr]` -> {"messages": [{from, to, subject, body, message_id,
headers, received_at, submissions}]}, with headers and body decoded (UTF-8 text).

Like the mail services citizens use, it shows a message once per Message-ID: the same message
delivered again (a sender's retry) only raises its `submissions` count.

Like a submission server (port 587), it can require STARTTLS (`--tls-cert/--tls-key`) and then
AUTH PLAIN/LOGIN (`--auth-user`, `--auth-password-file`): before STARTTLS only EHLO, STARTTLS and
QUIT are answered, and no mail is taken before a successful login.
"""

import argparse
import json
import re
import ssl
import threading
import uuid
from datetime import UTC, datetime
from email import message_from_bytes, policy
from email.header import decode_header, make_header
from email.message import EmailMessage
from email.utils import getaddresses
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, AuthResult, Envelope, LoginPassword, Session

from simulators.http_inbox import serve_until_terminated


class Mailbox:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._by_message_id: dict[str, dict[str, Any]] = {}
        self._messages: list[dict[str, Any]] = []

    def receive(self, mail_from: str, rcpt_tos: list[str], raw: bytes) -> None:
        parsed = message_from_bytes(raw, policy=policy.default)
        assert isinstance(parsed, EmailMessage)   # policy.default always makes EmailMessage
        message_id = str(parsed.get("Message-ID", "")).strip()
        with self._lock:
            known = self._by_message_id.get(message_id) if message_id else None
            if known is not None:
                known["submissions"] += 1
                return
            body_part = parsed.get_body(preferencelist=("plain", "html"))
            body = body_part.get_content() if isinstance(body_part, EmailMessage) else ""
            headers: dict[str, str] = {}
            for name, raw_value in parsed.raw_items():
                value = _decoded(raw_value)
                headers[name] = f"{headers[name]}\n{value}" if name in headers else value
            message = {
                "id": uuid.uuid4().hex,
                "mail_from": mail_from,
                "from": headers.get("From", ""),
                "to": list(rcpt_tos),
                "subject": headers.get("Subject", ""),
                "body": body,
                "message_id": message_id,
                "headers": headers,
                "received_at": datetime.now(UTC).isoformat(),
                "submissions": 1,
            }
            if message_id:
                self._by_message_id[message_id] = message
            self._messages.append(message)

    def messages(self, to: str = "") -> list[dict[str, Any]]:
        wanted = to.strip().lower()
        with self._lock:
            return [dict(m) for m in self._messages if not wanted or wanted in _recipients(m)]


def _decoded(raw_value: str) -> str:
    """RFC 2047 decoding of an unfolded header. (email.policy.default's address parser keeps the
    space between two encoded-words that split a word, which RFC 2047 says to drop.)"""
    unfolded = re.sub(r"\r?\n[ \t]+", " ", str(raw_value))
    return str(make_header(decode_header(unfolded)))


def _recipients(message: dict[str, Any]) -> set[str]:
    addresses = {a.lower() for a in message["to"]}
    addresses |= {addr.lower() for _, addr in getaddresses([message["headers"].get("To", "")]) if addr}
    return addresses


class SmtpHandler:
    def __init__(self, mailbox: Mailbox) -> None:
        self.mailbox = mailbox

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        content = envelope.original_content or envelope.content
        raw = content if isinstance(content, bytes) else str(content).encode()
        self.mailbox.receive(str(envelope.mail_from), [str(r) for r in envelope.rcpt_tos], raw)
        return "250 Message accepted for delivery"


class Login:
    """aiosmtpd authenticator accepting exactly one user and password."""

    def __init__(self, user: str, password: str) -> None:
        self.user, self.password = user.encode(), password.encode()

    def __call__(self, server: SMTP, session: Session, envelope: Envelope, mechanism: str,
                 auth_data: Any) -> AuthResult:
        ok = isinstance(auth_data, LoginPassword) and (auth_data.login, auth_data.password) == (
            self.user, self.password)
        return AuthResult(success=ok, handled=False)


def make_api(host: str, port: int, mailbox: Mailbox) -> ThreadingHTTPServer:
    class Handler(BaseHTTPRequestHandler):
        server_version = "mailbox-simulator/1.0"

        def log_message(self, format: str, *args: Any) -> None:
            pass

        def do_GET(self) -> None:
            url = urlsplit(self.path)
            body: dict[str, Any]
            if url.path == "/messages":
                status, body = 200, {"messages": mailbox.messages(parse_qs(url.query).get("to", [""])[0])}
            else:
                status, body = 404, {"error": f"no such resource {url.path}"}
            data = json.dumps(body, ensure_ascii=False).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json; charset=utf-8")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

    return ThreadingHTTPServer((host, port), Handler)


def main() -> None:
    parser = argparse.ArgumentParser(description="SMTP mailbox simulator with an HTTP API to read it")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--smtp-port", type=int, required=True)
    parser.add_argument("--http-port", type=int, required=True)
    parser.add_argument("--tls-cert", help="require STARTTLS, with this certificate (PEM)")
    parser.add_argument("--tls-key", help="... and this key")
    parser.add_argument("--auth-user", help="require AUTH (after STARTTLS) as this user")
    parser.add_argument("--auth-password-file", help="... with the password in this file")
    args = parser.parse_args()
    if bool(args.auth_user) != bool(args.auth_password_file) or (args.auth_user and not args.tls_cert):
        parser.error("--auth-user needs --auth-password-file and --tls-cert (AUTH only after STARTTLS)")
    security: dict[str, Any] = {}
    if args.tls_cert:
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(args.tls_cert, args.tls_key)
        security = {"tls_context": context, "require_starttls": True}
    if args.auth_user:
        with open(args.auth_password_file) as f:
            password = f.read().strip()
        security |= {"authenticator": Login(args.auth_user, password), "auth_required": True,
                     "auth_require_tls": True}
    mailbox = Mailbox()
    smtp = Controller(SmtpHandler(mailbox), hostname=args.host, port=args.smtp_port, enable_SMTPUTF8=True,
                      **security)
    smtp.start()
    api = make_api(args.host, args.http_port, mailbox)
    print(f"mailbox simulator: SMTP on {args.host}:{args.smtp_port}, "
          f"messages at http://{args.host}:{args.http_port}/messages", flush=True)
    serve_until_terminated([api], on_stop=smtp.stop)


if __name__ == "__main__":
    main()
