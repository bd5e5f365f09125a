"""nameko dependency providers of notifications: each builds its clients once, at container setup."""

from typing import Any

from nameko.containers import WorkerContext
from nameko.extensions import DependencyProvider
from pymongo import MongoClient

from services.common.config import ConfigError, database_name, env, mongo_uri
from services.notifications.adapters.providers import (
    HttpMessageSender,
    Sender,
    SmtpSender,
    parse_sender_address,
)
from services.notifications.adapters.repository import ensure_indexes
from services.notifications.domain.contacts import Channel
from services.notifications.domain.notification import SENDER_NAME

DEFAULT_SMTP_FROM = f"{SENDER_NAME} <khong-tra-loi@hue.gov.vn>"


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
        self.senders: dict[Channel, Sender] = {
            Channel.EMAIL: SmtpSender(env("EGOV_SMTP_HOST", "127.0.0.1"), int(raw_port), sender),
            Channel.SMS: HttpMessageSender(env("EGOV_SMS_URL", "http://127.0.0.1:8071"), Channel.SMS),
            Channel.PUSH: HttpMessageSender(env("EGOV_PUSH_URL", "http://127.0.0.1:8072"), Channel.PUSH),
        }

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
