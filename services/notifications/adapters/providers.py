"""Clients of the message providers: an SMTP relay for e-mail, HTTP gateways for SMS and app push.

Each send carries the notification ID as its idempotency key (the e-mail's Message-ID, the
gateways' `client_ref`), so a retry after a crash is recognised as the same message.

Security, as configured (services/notifications/dependencies.py): the SMTP relay over STARTTLS or
implicit TLS, the server's certificate verified, and AUTH when a user is given (never over a clear
connection); the HTTP gateways over https with the provider's API key as a bearer token. A provider
that refuses our credentials is a configuration fault, not the message's: retried, not given up on.
"""

import json
import smtplib
import ssl
import urllib.error
import urllib.request
from dataclasses import dataclass
from email.header import Header
from email.headerregistry import Address
from email.mime.text import MIMEText
from email.utils import format_datetime, formataddr, parseaddr
from enum import StrEnum
from typing import Protocol

from services.notifications.domain.contacts import Channel
from services.notifications.domain.notification import Notification, email_message_id

TIMEOUT_SECONDS = 10.0


class SendFailed(Exception):
    """The provider did not take the message. `permanent`: retrying cannot help (bad address...)."""

    def __init__(self, message: str, *, permanent: bool) -> None:
        super().__init__(message)
        self.permanent = permanent


class Sender(Protocol):
    def send(self, notification: Notification) -> str:
        """Hand the message to the provider; return the provider's message ID."""


def parse_sender_address(value: str) -> Address:
    name, addr = parseaddr(value)
    if "@" not in addr:
        raise ValueError(f"not an e-mail address: {value!r}")
    username, domain = addr.rsplit("@", 1)
    return Address(display_name=name, username=username, domain=domain)


class SmtpSecurity(StrEnum):
    NONE = "none"              # a relay on the same host or a trusted network only
    STARTTLS = "starttls"      # submission, port 587: upgraded before anything else is said
    TLS = "tls"                # implicit TLS, port 465


@dataclass(frozen=True)
class SmtpLogin:
    username: str
    password: str


class SmtpSender:
    def __init__(self, host: str, port: int, sender: Address, timeout: float = TIMEOUT_SECONDS, *,
                 security: SmtpSecurity = SmtpSecurity.NONE, tls: ssl.SSLContext | None = None,
                 login: SmtpLogin | None = None) -> None:
        if login is not None and security is SmtpSecurity.NONE:
            raise ValueError("an SMTP login needs STARTTLS or TLS: the password would cross the network in clear")
        self.host = host
        self.port = port
        self.sender = sender
        self.timeout = timeout
        self.security = security
        self.tls = tls or ssl.create_default_context()
        self.login = login

    def _connect(self) -> smtplib.SMTP:
        if self.security is SmtpSecurity.TLS:
            return smtplib.SMTP_SSL(self.host, self.port, timeout=self.timeout, context=self.tls)
        smtp = smtplib.SMTP(self.host, self.port, timeout=self.timeout)
        if self.security is SmtpSecurity.STARTTLS:
            try:
                smtp.ehlo()
                if not smtp.has_extn("starttls"):
                    raise smtplib.SMTPNotSupportedError("the relay does not offer STARTTLS")
                smtp.starttls(context=self.tls)
                smtp.ehlo()
            except BaseException:
                smtp.close()
                raise
        return smtp

    def build(self, n: Notification) -> MIMEText:
        # The compat32 classes with explicit RFC 2047 headers: EmailMessage's header folding of a
        # Vietnamese subject took half the service's CPU (measured in bench/, 4.9 ms vs 0.2 ms).
        message = MIMEText(n.body, "plain", "utf-8")
        message["From"] = formataddr((self.sender.display_name, self.sender.addr_spec), charset="utf-8")
        message["To"] = n.recipient
        message["Subject"] = Header(n.subject, "utf-8").encode()
        message["Date"] = format_datetime(n.created_at)
        message["Message-ID"] = email_message_id(n.notification_id)
        message["Auto-Submitted"] = "auto-generated"   # RFC 3834: no auto-replies, please
        message["Content-Language"] = "vi"
        return message

    def send(self, notification: Notification) -> str:
        message = self.build(notification)
        try:
            with self._connect() as smtp:
                if self.login is not None:
                    smtp.login(self.login.username, self.login.password)
                smtp.send_message(message)
        except smtplib.SMTPAuthenticationError as exc:
            raise SendFailed(f"SMTP relay {self.host}:{self.port} refused our login: {exc.smtp_code}",
                             permanent=False) from exc
        except smtplib.SMTPRecipientsRefused as exc:
            codes = [code for code, _ in exc.recipients.values()]
            raise SendFailed(f"recipient refused: {exc.recipients}",
                             permanent=all(500 <= c < 600 for c in codes)) from exc
        except smtplib.SMTPResponseException as exc:
            raise SendFailed(f"SMTP {exc.smtp_code}: {exc.smtp_error!r}",
                             permanent=500 <= exc.smtp_code < 600) from exc
        except (smtplib.SMTPException, OSError) as exc:
            raise SendFailed(f"SMTP relay {self.host}:{self.port}: {exc}", permanent=False) from exc
        return str(message["Message-ID"])


class HttpMessageSender:
    """SMS and push gateways: `POST /messages {to, text, title?, client_ref}` -> 202 {message_id}."""

    def __init__(self, base_url: str, channel: Channel, timeout: float = TIMEOUT_SECONDS, *,
                 api_key: str = "", tls: ssl.SSLContext | None = None) -> None:
        if api_key and not base_url.startswith("https://"):
            raise ValueError(f"{channel.value} gateway: an API key is sent over https only, not to {base_url}")
        self.url = base_url.rstrip("/") + "/messages"
        self.channel = channel
        self.timeout = timeout
        self.api_key = api_key
        self.tls = tls
        # Built once: urlopen(context=...) builds a new opener, with all its handlers, per message.
        self._opener = urllib.request.build_opener(urllib.request.HTTPSHandler(context=tls))

    def send(self, notification: Notification) -> str:
        payload: dict[str, str] = {"to": notification.recipient, "text": notification.body,
                                   "client_ref": notification.notification_id}
        if self.channel is Channel.PUSH:
            payload["title"] = notification.subject
        headers = {"Content-Type": "application/json; charset=utf-8"}
        if self.api_key:
            headers["Authorization"] = f"Bearer {self.api_key}"
        request = urllib.request.Request(self.url, data=json.dumps(payload, ensure_ascii=False).encode(),
                                         headers=headers, method="POST")
        try:
            with self._opener.open(request, timeout=self.timeout) as response:
                answer = json.loads(response.read())
        except urllib.error.HTTPError as exc:
            # 408 and 429 ask to come back later, 401 and 403 refuse our credentials (fixed by the
            # operator, then retried); any other 4xx means this message will never be taken.
            permanent = 400 <= exc.code < 500 and exc.code not in (401, 403, 408, 429)
            detail = exc.read()[:300].decode(errors="replace")
            raise SendFailed(f"{self.channel.value} gateway HTTP {exc.code}: {detail}",
                             permanent=permanent) from exc
        except (TimeoutError, urllib.error.URLError, OSError, ValueError) as exc:
            raise SendFailed(f"{self.channel.value} gateway {self.url}: {exc}", permanent=False) from exc
        message_id = answer.get("message_id") if isinstance(answer, dict) else None
        if not message_id:
            raise SendFailed(f"{self.channel.value} gateway answered without message_id", permanent=False)
        return str(message_id)
