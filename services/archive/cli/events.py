"""`egov-events search | show | export | tail | status`."""

import json
import sys
import time
from typing import Annotated

import typer

from services.archive.cli import common
from services.archive.operations import events
from services.archive.operations.status import status
from services.common.cli import Output, OutputOption, console, emit, emit_one, plain, refuse
from services.common.errors import DomainError

EVENT_COLUMNS = [("time", "time (UTC)"), ("type", "type"), ("id", "event id"), ("subject", "subject")]


def add_commands(app: typer.Typer) -> None:
    for command in (search, show, export, tail):
        app.command()(command)
    app.command("status")(status_command)


def _table_rows(rows: list[dict[str, object]]) -> list[dict[str, object]]:
    return [{**r, "time": events.when(r["time"])} for r in rows]  # type: ignore[arg-type]


def search(type_: common.TypeOpt = "", source: common.SourceOpt = "", subject: common.SubjectOpt = "",
           correlation_id: common.CorrelationOpt = "", since: common.SinceOpt = None, until: common.UntilOpt = None,
           from_offset: common.FromOffsetOpt = None, to_offset: common.ToOffsetOpt = None,
           limit: Annotated[int, typer.Option(min=1, help="at most this many, newest first")] = 50,
           output: OutputOption = Output.TABLE) -> None:
    """Archived events matching every filter given, newest first. JSON: {events: [{id, type, source,
    subject, correlation_id, causation_id, time, offset}], total}."""
    query = common.query(type_, source, subject, correlation_id, since, until, None, from_offset, to_offset)
    rows, total = events.search(common.archive(), query, limit)
    if output is Output.JSON:
        sys.stdout.write(json.dumps({"events": plain(rows), "total": total}, ensure_ascii=False, indent=2) + "\n")
        return
    title = f"{total} archived event(s)" + (f", newest {len(rows)} shown" if total > len(rows) else "")
    emit(_table_rows(rows) if output is Output.TABLE else rows, output, EVENT_COLUMNS, title=title)


def show(event_id: Annotated[str, typer.Argument(help="the event's id")], output: OutputOption = Output.TABLE) -> None:
    """One archived event: its envelope attributes and its payload. JSON: id, type, source, subject,
    time, correlation_id, causation_id, traceparent, spec_version, data_content_type, sequence,
    archive_offset, data."""
    try:
        event = events.show(common.archive(), event_id)
    except DomainError as exc:
        refuse(exc)
    if output is not Output.TABLE:
        emit_one(event, output)
        return
    data = event.pop("data")
    emit_one(event, output, title="envelope")
    console.print_json(json.dumps({"data": data}, ensure_ascii=False))


def export(type_: common.TypeOpt = "", source: common.SourceOpt = "", subject: common.SubjectOpt = "",
           correlation_id: common.CorrelationOpt = "", since: common.SinceOpt = None, until: common.UntilOpt = None,
           from_offset: common.FromOffsetOpt = None, to_offset: common.ToOffsetOpt = None) -> None:
    """Archived events matching every filter, in stream order, as NDJSON on standard output: one
    line per event with id, type, source, subject, correlation_id, causation_id, time, offset and
    envelope (the CloudEvent, protobuf, base64). `replay --from-file` sends such a file again."""
    query = common.query(type_, source, subject, correlation_id, since, until, None, from_offset, to_offset)
    emit(events.export(common.archive(), query), Output.NDJSON)


def tail(type_: common.TypeOpt = "", source: common.SourceOpt = "", subject: common.SubjectOpt = "",
         correlation_id: common.CorrelationOpt = "",
         last: Annotated[int, typer.Option("--last", "-n", min=0, help="the last N events first")] = 10,
         follow: Annotated[bool, typer.Option("--follow", "-f", help="then new events as they are archived, "
                                                                     "until Ctrl-C")] = False,
         output: OutputOption = Output.TABLE) -> None:
    """The last events, oldest first, one line each; with --follow, new ones as they are archived.
    NDJSON (and JSON, one object per line here too): the fields of `search`."""
    query = common.query(type_, source, subject, correlation_id)
    archive = common.archive()
    rows, after = events.tail(archive, query, last)
    for row in rows:
        _line(row, output)
    if not follow:
        return
    try:
        for row in events.follow(archive, query, after, sleep=time.sleep, keep_going=lambda: True):
            _line(row, output)
    except KeyboardInterrupt:
        raise typer.Exit(0) from None


def _line(row: dict[str, object], output: Output) -> None:
    if output is Output.TABLE:
        console.print(f"{events.when(row['time'])}  {row['offset']:>8}  {row['type']:<44} {row['subject']}  "  # type: ignore[arg-type]
                      f"{row['id']}", markup=False, highlight=False)
    else:
        sys.stdout.write(json.dumps(plain(row), ensure_ascii=False) + "\n")
        sys.stdout.flush()


def status_command(output: OutputOption = Output.TABLE) -> None:
    """How far the archive's index lags behind the archive stream, and each service's queue and
    dead-letter depth. JSON: stream_last_offset, index_position, index_lag, services [{service,
    queue, waiting, dead_letter_queue, parked}]."""
    found = status(common.broker(), common.archive())
    if output is not Output.TABLE:
        emit_one(found, output)
        return
    console.print(f"archive stream: last offset {found['stream_last_offset']}; index through "
                  f"{found['index_position']}; {found['index_lag']} event(s) not yet indexed")
    emit(found["services"], output, [("service", "service"), ("waiting", "waiting"), ("parked", "parked")],
         title="queues")
