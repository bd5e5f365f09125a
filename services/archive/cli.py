"""egov-events: the integration team's tool for the event archive, replays and dead letters.

    egov-events search --subject 000.00.15.H57-260101-0001
    egov-events show 1b0c...
    egov-events replay --type egov.payments.v1.PaymentSettled --to-service procedures --dry-run
    egov-events replay --to-queue agency-x.events --rate 500 --checkpoint agency-x.ckpt
    egov-events dlq list

Reads EGOV_AMQP_URI (the broker) and EGOV_MONGO_URI (the archive's index, database egov_archive).
See docs/INTEGRATION.md.
"""

import json
import time
from collections.abc import Iterator
from datetime import datetime
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any

import pika
import pika.exceptions
import typer
from google.protobuf.json_format import MessageToDict
from pymongo import MongoClient
from rich import box
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TaskProgressColumn, TextColumn, TimeElapsedColumn
from rich.table import Table

from services.archive.adapters.index import ArchiveIndex, archive_database
from services.archive.domain.query import EventQuery
from services.common.config import amqp_uri, mongo_uri
from services.common.errors import DomainError
from services.common.events.dlq import DeadLetters
from services.common.events.envelope import decode, unpack
from services.common.events.replay import (
    REBUILD_HEADER,
    RECONNECT_FOR,
    REPLAY_HEADER,
    WINDOW,
    BatchSource,
    Checkpoint,
    Outgoing,
    PublishStats,
    ReplayFailed,
    ReplayResult,
    Source,
    replay,
)
from services.common.topology import SUBSCRIPTIONS, subscription

app = typer.Typer(help="Search, show and replay archived events; inspect and re-drive dead letters.",
                  no_args_is_help=True, pretty_exceptions_enable=False)
dlq_app = typer.Typer(help="Dead-letter queues, one per service.", no_args_is_help=True)
app.add_typer(dlq_app, name="dlq")
console = Console()
err_console = Console(stderr=True)

TIME_FORMATS = ["%Y-%m-%d", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%d %H:%M:%S", "%Y-%m-%dT%H:%M:%S%z",
                "%Y-%m-%dT%H:%M:%S.%f%z"]
TypeOpt = Annotated[str, typer.Option("--type", help="event type, e.g. egov.payments.v1.PaymentSettled")]
SourceOpt = Annotated[str, typer.Option("--source", help="producer, e.g. /egov/payments")]
SubjectOpt = Annotated[str, typer.Option("--subject", help="dossier code, bill id, tracking number...")]
CorrelationOpt = Annotated[str, typer.Option("--correlation-id", help="the journey (a dossier code)")]
SinceOpt = Annotated[datetime | None, typer.Option("--since", formats=TIME_FORMATS,
                                                   help="from this time (UTC unless an offset is given)")]
UntilOpt = Annotated[datetime | None, typer.Option("--until", formats=TIME_FORMATS, help="before this time")]


class ReadFrom(StrEnum):
    STREAM = "stream"
    INDEX = "index"


def _index() -> ArchiveIndex:
    client: MongoClient[Any] = MongoClient(mongo_uri(), serverSelectionTimeoutMS=5000, tz_aware=True)
    return ArchiveIndex(archive_database(client))


def _fail(message: str) -> typer.Exit:
    err_console.print(f"[red]error:[/] {message}")
    return typer.Exit(1)


def _query(type_: str, source: str, subject: str, correlation_id: str, since: datetime | None,
           until: datetime | None, types: tuple[str, ...] | None = None) -> EventQuery:
    try:
        return EventQuery(type_, source, subject, correlation_id, since, until, types)
    except DomainError as exc:
        raise _fail(f"--{exc.field.replace('_', '-')}: {exc.message}") from exc


def _when(value: datetime) -> str:
    return value.strftime("%Y-%m-%d %H:%M:%S")


def _event_columns(table: Table) -> None:
    table.add_column("time (UTC)", no_wrap=True)
    table.add_column("type / event id", no_wrap=True)
    table.add_column("subject", overflow="fold", min_width=13)


def _event_row(doc: dict[str, Any]) -> tuple[str, str, str]:
    return _when(doc["time"]), f"{doc['type']}\n[dim]{doc['_id']}[/]", doc["subject"]


@app.command()
def search(type_: TypeOpt = "", source: SourceOpt = "", subject: SubjectOpt = "",
           correlation_id: CorrelationOpt = "", since: SinceOpt = None, until: UntilOpt = None,
           limit: Annotated[int, typer.Option(min=1, help="at most this many, newest first")] = 50) -> None:
    """Archived events matching every filter given, newest first."""
    query = _query(type_, source, subject, correlation_id, since, until)
    index = _index()
    found = index.search(query, limit)
    total = index.count(query)
    table = Table(title=f"{total} archived event(s)" + (f", newest {len(found)} shown" if total > len(found) else ""),
                  caption="egov-events show <event id>: the whole envelope and payload", box=box.SIMPLE_HEAD)
    _event_columns(table)
    for doc in found:
        table.add_row(*_event_row(doc))
    console.print(table)


@app.command()
def show(event_id: Annotated[str, typer.Argument(help="the event's id")]) -> None:
    """One archived event: its envelope attributes and its payload as JSON."""
    doc = _index().get(event_id)
    if doc is None:
        raise _fail(f"no archived event with id {event_id}")
    event = decode(bytes(doc["envelope"]))
    attributes = {
        "id": event.id, "type": event.type, "source": event.source, "subject": event.subject,
        "time": event.time.ToJsonString(), "correlation_id": event.correlation_id,
        "causation_id": event.causation_id, "traceparent": event.traceparent, "spec_version": event.spec_version,
        "data_content_type": event.data_content_type, "sequence": event.sequence, "archive_offset": doc["offset"],
    }
    table = Table(show_header=False, title="envelope")
    for key, value in attributes.items():
        table.add_row(key, str(value))
    console.print(table)
    try:
        payload = MessageToDict(unpack(event), preserving_proto_field_name=True)
    except ValueError as exc:
        raise _fail(f"the payload cannot be decoded: {exc}") from exc
    console.print_json(json.dumps({"data": payload}, ensure_ascii=False))


def _target_queue(to_service: str | None, to_queue: str | None) -> tuple[str, tuple[str, ...] | None]:
    """The one queue a replay goes to, and the event types it takes (None: all)."""
    if (to_service is None) == (to_queue is None):
        raise _fail("give exactly one target: --to-service <service> or --to-queue <queue>")
    if to_service is not None:
        try:
            sub = subscription(to_service)
        except KeyError as exc:
            services = ", ".join(s.service for s in SUBSCRIPTIONS)
            raise _fail(f"--to-service: no service {to_service!r} (one of: {services})") from exc
        return sub.queue, sub.event_types
    assert to_queue is not None
    if not to_queue or to_queue.startswith("amq."):
        raise _fail("--to-queue: a queue name not starting with 'amq.' is required")
    return to_queue, None


def _ensure_queue(queue: str, create: bool) -> None:
    """A service queue must exist (its service declares it); a named queue is declared if missing,
    as a durable quorum queue (what a new agency consumer needs to lose nothing). Waits for a
    broker that is restarting, as the replay itself does."""
    deadline = time.monotonic() + RECONNECT_FOR
    while True:
        try:
            _declare(queue, create)
            return
        except pika.exceptions.AMQPConnectionError as exc:
            if time.monotonic() > deadline:
                raise _fail(f"cannot reach the broker: {exc!r}") from exc
            time.sleep(0.5)


def _declare(queue: str, create: bool) -> None:
    connection = pika.BlockingConnection(pika.URLParameters(amqp_uri()))
    try:
        try:
            connection.channel().queue_declare(queue, passive=True)
        except pika.exceptions.ChannelClosedByBroker as exc:
            if not create:
                raise _fail(f"queue {queue} does not exist; has its service ever started?") from exc
            connection.channel().queue_declare(queue, durable=True, arguments={"x-queue-type": "quorum"})
            console.print(f"declared queue {queue} (durable, quorum)")
    finally:
        if connection.is_open:
            connection.close()


def _from_index(index: ArchiveIndex, query: EventQuery) -> Any:
    def read(offsets: Any) -> Source:
        def batches() -> Iterator[list[Outgoing]]:
            for docs in index.envelopes(query, offsets[0], offsets[-1]):
                yield [Outgoing(d["offset"], d["_id"], {"ce_type": d["type"], "ce_source": d["source"],
                                                        "ce_subject": d["subject"]}, bytes(d["envelope"]))
                       for d in docs]
        return BatchSource(batches())
    return read


@app.command("replay")
def replay_command(
    type_: TypeOpt = "", source: SourceOpt = "", subject: SubjectOpt = "", correlation_id: CorrelationOpt = "",
    since: SinceOpt = None, until: UntilOpt = None,
    to_service: Annotated[str | None, typer.Option(
        "--to-service", help="straight into this service's queue (only the types it consumes)")] = None,
    to_queue: Annotated[str | None, typer.Option(
        "--to-queue", help="into this queue (declared, durable, if missing)")] = None,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="count and sample; send nothing")] = False,
    rate: Annotated[float | None, typer.Option("--rate", min=0.1, help="at most this many events per second")] = None,
    checkpoint: Annotated[Path | None, typer.Option(
        "--checkpoint", help="file recording progress; a rerun with it skips what was sent")] = None,
    rebuild: Annotated[bool, typer.Option(
        "--rebuild", help="consumers reprocess even events they have processed (docs/INTEGRATION.md)")] = False,
    read_from: Annotated[ReadFrom, typer.Option(
        "--read-from", help="index: the envelopes the index keeps (faster); stream: the archive stream itself")
    ] = ReadFrom.INDEX,
    window: Annotated[int, typer.Option("--window", min=1, help="publishes awaiting confirmation")] = WINDOW,
) -> None:
    """Send archived events again, in archive order, to exactly one queue; never to the exchange,
    so no other consumer sees them."""
    queue, types = _target_queue(to_service, to_queue)
    query = _query(type_, source, subject, correlation_id, since, until, types)
    index = _index()
    if dry_run:
        _dry_run(index, query, queue)
        return
    _ensure_queue(queue, create=to_queue is not None)
    offsets = index.offsets(query)
    replay_key = {"query": query.describe(), "queue": queue, "rebuild": rebuild}
    try:
        progress_file = Checkpoint.open(checkpoint, replay_key) if checkpoint else None
    except ReplayFailed as exc:
        raise _fail(str(exc)) from exc
    headers: dict[str, Any] = {REPLAY_HEADER: datetime.now().astimezone().isoformat(timespec="seconds")}
    if rebuild:
        headers[REBUILD_HEADER] = True
    already = len([o for o in offsets if progress_file and o <= progress_file.through_offset])
    console.print(f"replaying {len(offsets) - already} of {len(offsets)} archived event(s) to {queue}"
                  + (f" ({already} already sent per {checkpoint})" if already else "")
                  + (", rebuild mode" if rebuild else "") + (f", at most {rate:g}/s" if rate else ""))
    read = _from_index(index, query) if read_from is ReadFrom.INDEX else None
    with _ReplayProgress(len(offsets) - already) as progress:
        result = replay(amqp_uri(), offsets, queue, read=read, extra_headers=headers, rate=rate,
                        checkpoint=progress_file, window=window, on_tick=progress.update)
        progress.update(result.stats)
    _summary(result, checkpoint)


def _dry_run(index: ArchiveIndex, query: EventQuery, queue: str) -> None:
    counts = index.counts_by_type(query)
    table = Table(title=f"dry run: {sum(counts.values())} event(s) would go to {queue}")
    table.add_column("type")
    table.add_column("events", justify="right")
    for event_type, n in counts.items():
        table.add_row(event_type, str(n))
    console.print(table)
    sample = Table(title="sample (newest first)", box=box.SIMPLE_HEAD)
    _event_columns(sample)
    for doc in index.search(query, 5):
        sample.add_row(*_event_row(doc))
    console.print(sample)
    console.print("nothing sent (--dry-run)")


class _ReplayProgress:
    """A progress bar on a terminal; a plain line a second otherwise (logs, CI)."""

    def __init__(self, total: int) -> None:
        self.total = total
        self.last_line = 0.0
        self.bar = Progress(TextColumn("replay"), BarColumn(), MofNCompleteColumn(), TaskProgressColumn(),
                            TextColumn("{task.fields[rate]}"), TimeElapsedColumn(), console=console)
        self.task = self.bar.add_task("replay", total=total, rate="")

    def __enter__(self) -> "_ReplayProgress":
        if console.is_terminal:
            self.bar.start()
        return self

    def __exit__(self, *exc: object) -> None:
        if console.is_terminal:
            self.bar.stop()

    def update(self, stats: PublishStats) -> None:
        rate = f"{stats.rate:,.0f} events/s"
        if console.is_terminal:
            self.bar.update(self.task, completed=stats.confirmed, rate=rate)
        elif time.monotonic() - self.last_line >= 1.0 or stats.confirmed >= self.total:
            self.last_line = time.monotonic()
            share = stats.confirmed / self.total if self.total else 1.0
            console.print(f"progress {stats.confirmed}/{self.total} ({share:.0%}) {rate}")


def _summary(result: ReplayResult, checkpoint: Path | None) -> None:
    stats = result.stats
    line = (f"sent {stats.confirmed}, skipped {result.skipped}, in {stats.elapsed:.2f} s: "
            f"{stats.rate:,.0f} events/s")
    extra = [f"{stats.republished} sent again after a lost connection or a nack"] if stats.republished else []
    if stats.reconnects:
        extra.append(f"{stats.reconnects} reconnection(s)")
    console.print("summary: " + line + (f" ({'; '.join(extra)})" if extra else ""))
    if stats.error:
        raise _fail(f"replay stopped: {stats.error}" + (f"; rerun with --checkpoint {checkpoint} to resume"
                                                        if checkpoint else ""))
    if stats.interrupted:
        err_console.print("[yellow]interrupted[/]" + (f": rerun with --checkpoint {checkpoint} to resume"
                                                       if checkpoint else ""))
        raise typer.Exit(130)


# -- dead letters ----------------------------------------------------------------------------------
def _service(name: str) -> str:
    try:
        return subscription(name).service
    except KeyError as exc:
        raise _fail(f"no service {name!r} (one of: {', '.join(s.service for s in SUBSCRIPTIONS)})") from exc


@dlq_app.command("list")
def dlq_list() -> None:
    """Per service: messages waiting in its queue and messages parked in its dead-letter queue."""
    table = Table(title="dead letters")
    for column in ("service", "waiting", "parked"):
        table.add_column(column, justify="right" if column != "service" else "left")
    for depth in DeadLetters(amqp_uri()).depths():
        table.add_row(depth.service, str(depth.waiting), f"[red]{depth.parked}[/]" if depth.parked else "0")
    console.print(table)


@dlq_app.command("show")
def dlq_show(service: Annotated[str, typer.Argument(help="the service, e.g. payments")],
             limit: Annotated[int, typer.Option(min=1)] = 100) -> None:
    """Each parked message: its event, the error of its last attempt and how many attempts it had."""
    parked = DeadLetters(amqp_uri()).show(_service(service), limit)
    table = Table(title=f"{len(parked)} parked in egov.{service}.events.dlq", show_lines=True)
    table.add_column("event (id, type, subject)", no_wrap=True)
    table.add_column("attempts", justify="right")
    table.add_column("last error", overflow="fold", min_width=30)
    table.add_column("failed at (UTC)", overflow="fold")
    for message in parked:
        failed_at = message.failed_at[:19].replace("T", " ")
        table.add_row(f"{message.event_id}\n{message.type}\n{message.subject}", str(message.attempts), message.error,
                      failed_at)
    console.print(table)


@dlq_app.command("redrive")
def dlq_redrive(service: Annotated[str, typer.Argument(help="the service, e.g. payments")]) -> None:
    """Move every parked message back to the service's queue, with a fresh attempt count."""
    name = _service(service)
    moved = DeadLetters(amqp_uri()).redrive(name)
    console.print(f"re-drove {moved} message(s) to {subscription(name).queue}")


@dlq_app.command("purge")
def dlq_purge(service: Annotated[str, typer.Argument(help="the service, e.g. payments")],
              yes: Annotated[bool, typer.Option("--yes", help="really delete the parked messages")] = False) -> None:
    """Delete every parked message of the service (they stay in the archive)."""
    name = _service(service)
    if not yes:
        raise _fail("purging deletes the parked messages; add --yes to confirm")
    purged = DeadLetters(amqp_uri()).purge(name)
    console.print(f"purged {purged} message(s) from {subscription(name).dead_letter_queue}")


if __name__ == "__main__":
    app()
