"""`egov-events dlq list | show | redrive | purge`: thin over services/archive/operations/dead_letters.py."""

from datetime import datetime
from typing import Annotated, Any

import typer

from services.archive.cli import common
from services.archive.cli.common import TIME_FORMATS
from services.archive.operations import dead_letters
from services.archive.operations.pace import Pace
from services.common.cli import Output, OutputOption, console, emit, emit_one, refuse
from services.common.errors import DomainError, InvalidArgument

app = typer.Typer(help="Dead-letter queues, one per service.", no_args_is_help=True)
Service = Annotated[str, typer.Argument(help="the service, e.g. payments")]
EventIds = Annotated[list[str] | None, typer.Option("--event-id", help="only this event (repeatable)")]
Types = Annotated[list[str] | None, typer.Option("--type", help="only this event type (repeatable)")]
Since = Annotated[datetime | None, typer.Option("--since", formats=TIME_FORMATS, help="parked at or after (UTC)")]
Until = Annotated[datetime | None, typer.Option("--until", formats=TIME_FORMATS, help="parked before (UTC)")]
Limit = Annotated[int | None, typer.Option("--limit", min=1, help="at most this many")]
DryRun = Annotated[bool, typer.Option("--dry-run", help="list what would be chosen; change nothing")]
Rate = Annotated[float | None, typer.Option("--rate", min=0.1, help="at most this many messages per second")]
PARKED_COLUMNS = [("event_id", "event id"), ("type", "type"), ("subject", "subject"), ("attempts", "attempts"),
                  ("error", "last error"), ("failed_at", "failed at (UTC)")]


@app.command("list")
def dlq_list(output: OutputOption = Output.TABLE) -> None:
    """Per service: messages waiting in its queue and parked in its dead-letter queue. JSON:
    {services: [{service, queue, waiting, dead_letter_queue, parked}]}."""
    try:
        rows = dead_letters.depths(common.broker())
    except DomainError as exc:
        refuse(exc)
    emit(rows, output, [("service", "service"), ("waiting", "waiting"), ("parked", "parked")], title="dead letters",
         key="services")


@app.command("show")
def dlq_show(service: Service, limit: Annotated[int, typer.Option(min=1)] = 100,
             output: OutputOption = Output.TABLE) -> None:
    """Each parked message: its event, the error of its last attempt and how many attempts it had.
    JSON: {messages: [{event_id, type, subject, error, attempts, failed_at}]}."""
    try:
        rows = dead_letters.show(common.dead_letters(), service, limit)
    except DomainError as exc:
        refuse(exc)
    emit(rows, output, PARKED_COLUMNS, title=f"{len(rows)} parked in egov.{service}.events.dlq", key="messages")


def _selection(event_id: list[str] | None, type_: list[str] | None, since: datetime | None,
               until: datetime | None) -> dead_letters.Selection:
    from datetime import UTC

    def utc(value: datetime | None) -> datetime | None:
        return value.replace(tzinfo=UTC) if value is not None and value.tzinfo is None else value

    return dead_letters.Selection(frozenset(event_id or ()), frozenset(type_ or ()), utc(since), utc(until))


def _report(done: dict[str, Any], output: Output) -> None:
    if output is not Output.TABLE:
        emit_one(done, output)
        return
    verb = {"redrive": "re-drove", "purge": "purged"}[done["action"]]
    if done["dry_run"]:
        would = "re-driven" if done["action"] == "redrive" else "purged"
        emit(done["messages"], output, PARKED_COLUMNS, title=f"dry run: {done['count']} message(s) would be {would}")
        console.print("nothing changed (--dry-run)")
    elif done["action"] == "redrive":
        console.print(f"{verb} {done['count']} message(s) to {done['to_queue']}")
    else:
        console.print(f"{verb} {done['count']} message(s) from {done['from_queue']}")


@app.command("redrive")
def dlq_redrive(service: Service, event_id: EventIds = None, type_: Types = None, since: Since = None,
                until: Until = None, limit: Limit = None, dry_run: DryRun = False, rate: Rate = None,
                output: OutputOption = Output.TABLE) -> None:
    """Move parked messages back to the service's queue with a fresh attempt count: all of them, or
    those chosen by every filter given. JSON: service, action, dry_run, count, from_queue, to_queue,
    messages."""
    try:
        done = dead_letters.redrive(common.dead_letters(), service, _selection(event_id, type_, since, until),
                                    limit=limit, dry_run=dry_run, pace=Pace(rate))
    except DomainError as exc:
        refuse(exc)
    _report(done, output)


@app.command("purge")
def dlq_purge(service: Service, event_id: EventIds = None, type_: Types = None, since: Since = None,
              until: Until = None, limit: Limit = None, dry_run: DryRun = False, rate: Rate = None,
              yes: Annotated[bool, typer.Option("--yes", help="really delete the parked messages")] = False,
              output: OutputOption = Output.TABLE) -> None:
    """Delete parked messages of the service (they stay in the archive): all, or those chosen by
    every filter given. JSON as redrive's."""
    try:
        if not yes and not dry_run:
            raise InvalidArgument("yes", "purging deletes the parked messages; add --yes to confirm")
        done = dead_letters.purge(common.dead_letters(), service, _selection(event_id, type_, since, until),
                                  limit=limit, dry_run=dry_run, pace=Pace(rate))
    except DomainError as exc:
        refuse(exc)
    _report(done, output)
