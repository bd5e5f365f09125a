"""nameko dependency providers of notifications: each builds its clients once, at container setup."""

import os
import ssl
from pathlib import Path
from typing import Any

from nameko.containers import WorkerContext
from nameko.extensions import DependencyProvider
from pymongo import MongoClient

from services.common.config import ConfigError, database_name, env, mongo_uri
from services.notifications.adapters.providers import (
    HttpMessageSender,
    Sender,
    SmtpLogin,
    SmtpSecurity,
    SmtpSender,
    parse_sender_address,
)
from services.notifications.adapters.repository import ensure_indexes
from services.notifications.domain.contacts import Channel
from services.notifications.domain.notification import SENDER_NAME

DEFAULT_SMTP_FROM = f"{SENDER_NAME} <khong-tra-loi@hue.gov.vn>"


def secret_file(variable: str) -> str:
    """The content of the file the variable names (a mounted Secret), stripped; "" when unset."""
    name = os.environ.get(variable, "")
    if not name:
        return ""
    try:
        value = Path(name).read_text().strip()
    except OSError as exc:
        raise ConfigError(f"{variable}: cannot read {name}: {exc.strerror}") from exc
    if not value:
        raise ConfigError(f"{variable}: {name} is empty")
    return value


def provider_tls() -> ssl.SSLContext:
    """Verifies the providers' certificates against EGOV_NOTIFICATIONS_CA_FILE, else the system's CAs."""
    ca_file = os.environ.get("EGOV_NOTIFICATIONS_CA_FILE", "")
    try:
        return ssl.create_default_context(cafile=ca_file or None)
    except (OSError, ssl.SSLError) as exc:
        raise ConfigError(f"EGOV_NOTIFICATIONS_CA_FILE: cannot load {ca_file}: {exc}") from exc


def smtp_security(port: int) -> SmtpSecurity:
    """EGOV_SMTP_TLS, by default what the port means: 465 implicit TLS, 587 STARTTLS, else none."""
    default = {465: SmtpSecurity.TLS, 587: SmtpSecurity.STARTTLS}.get(port, SmtpSecurity.NONE)
    raw = os.environ.get("EGOV_SMTP_TLS", "").strip().lower() or default.value
    try:
        return SmtpSecurity(raw)
    except ValueError:
        raise ConfigError(f"environment variable EGOV_SMTP_TLS must be starttls, tls or none, got {raw!r}") from None


class MessageProviders(DependencyProvider):  # type: ignore[misc]
    """The SMTP relay and the SMS and push gateways, configured once; a bad setting stops the
    service at start-up rather than at the first message."""

    def setup(self) -> None:
        try:
            sender = parse_sender_address(env("EGOV_SMTP_FROM", DEFAULT_SMTP_FROM))
        except ValueError as exc:
            raise ConfigError(f"EGOV_SMTP_FROM: {exc}") from exc
        raw_port = env("EGOV_SMTP_PORT", "25")
        if not raw_port.isdigit() or not 0 < int(raw_port) < 65536:
            raise ConfigError(f"environment variable EGOV_SMTP_PORT must be a TCP port, got {raw_port!r}")
        username = os.environ.get("EGOV_SMTP_USERNAME", "")
        password = secret_file("EGOV_SMTP_PASSWORD_FILE")
        if bool(username) != bool(password):
            raise ConfigError("an SMTP login needs both EGOV_SMTP_USERNAME and EGOV_SMTP_PASSWORD_FILE")
        tls = provider_tls()
        try:
            self.senders: dict[Channel, Sender] = {
                Channel.EMAIL: SmtpSender(env("EGOV_SMTP_HOST", "127.0.0.1"), int(raw_port), sender,
                                          security=smtp_security(int(raw_port)), tls=tls,
                                          login=SmtpLogin(username, password) if username else None),
                Channel.SMS: HttpMessageSender(env("EGOV_SMS_URL", "http://127.0.0.1:8071"), Channel.SMS,
                                               api_key=secret_file("EGOV_SMS_API_KEY_FILE"), tls=tls),
                Channel.PUSH: HttpMessageSender(env("EGOV_PUSH_URL", "http://127.0.0.1:8072"), Channel.PUSH,
                                                api_key=secret_file("EGOV_PUSH_API_KEY_FILE"), tls=tls),
            }
        except ValueError as exc:
            raise ConfigError(str(exc)) from exc

    def get_dependency(self, worker_ctx: WorkerContext) -> dict[Channel, Sender]:
        return self.senders


class NotificationIndexes(DependencyProvider):  # type: ignore[misc]
    """Creates the notifications indexes at setup, which every extension finishes before any starts,
    so no event is handled before the unique (event, channel) index exists. Workers get nothing."""

    def setup(self) -> None:
        client: MongoClient[Any] = MongoClient(mongo_uri(), serverSelectionTimeoutMS=10000)
        try:
            ensure_indexes(client[database_name("notifications")])
        finally:
            client.close()

    def get_dependency(self, worker_ctx: WorkerContext) -> None:
        return None
