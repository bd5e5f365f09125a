"""What the egov-events commands share: the filter options and the adapters behind the ports."""

from datetime import datetime
from typing import Annotated, Any

import typer
from pymongo import MongoClient

from services.archive.adapters.broker import RabbitBroker
from services.archive.adapters.dead_letters import RabbitDeadLetters
from services.archive.adapters.index import ArchiveIndex, archive_database
from services.archive.adapters.sender import BrokerSender
from services.archive.domain.query import EventQuery
from services.common.cli import refuse
from services.common.config import amqp_uri, mongo_uri
from services.common.errors import DomainError

TIME_FORMATS = ["%Y-%m-%d", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%d %H:%M:%S", "%Y-%m-%dT%H:%M:%S%z",
                "%Y-%m-%dT%H:%M:%S.%f%z"]
TypeOpt = Annotated[str, typer.Option("--type", help="event type, e.g. egov.payments.v1.PaymentSettled")]
SourceOpt = Annotated[str, typer.Option("--source", help="producer, e.g. /egov/payments")]
SubjectOpt = Annotated[str, typer.Option("--subject", help="dossier code, bill id, tracking number...")]
CorrelationOpt = Annotated[str, typer.Option("--correlation-id", help="the journey (a dossier code)")]
SinceOpt = Annotated[datetime | None, typer.Option("--since", formats=TIME_FORMATS,
                                                   help="from this time (UTC unless an offset is given)")]
UntilOpt = Annotated[datetime | None, typer.Option("--until", formats=TIME_FORMATS, help="before this time")]
FromOffsetOpt = Annotated[int | None, typer.Option("--from-offset", help="from this archive stream offset")]
ToOffsetOpt = Annotated[int | None, typer.Option("--to-offset", help="through this archive stream offset")]


def query(type_: str = "", source: str = "", subject: str = "", correlation_id: str = "",
          since: datetime | None = None, until: datetime | None = None, types: tuple[str, ...] | None = None,
          from_offset: int | None = None, to_offset: int | None = None) -> EventQuery:
    try:
        return EventQuery(type_, source, subject, correlation_id, since, until, types, from_offset, to_offset)
    except DomainError as exc:
        refuse(f"--{exc.field.replace('_', '-')}: {exc.message}")     # the option at fault


def archive() -> ArchiveIndex:
    client: MongoClient[Any] = MongoClient(mongo_uri(), serverSelectionTimeoutMS=5000, tz_aware=True)
    return ArchiveIndex(archive_database(client))


def broker() -> RabbitBroker:
    return RabbitBroker(amqp_uri())


def dead_letters() -> RabbitDeadLetters:
    return RabbitDeadLetters(amqp_uri())


def sender() -> BrokerSender:
    return BrokerSender(amqp_uri())
