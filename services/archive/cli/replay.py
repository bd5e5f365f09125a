"""`egov-events replay` (and `rebuild`): thin over services/archive/operations/replaying.py."""

import time
from pathlib import Path
from typing import Annotated, Any

import typer
from rich import box
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TaskProgressColumn, TextColumn, TimeElapsedColumn
from rich.table import Table

from services.archive.cli import common
from services.archive.operations import events, replaying
from services.archive.replay.publisher import WINDOW, PublishStats, ReplayFailed
from services.common.cli import REFUSED, Output, OutputOption, console, emit_one, err_console, refuse
from services.common.errors import DomainError, InvalidArgument

INTERRUPTED = 130


def add_commands(app: typer.Typer) -> None:
    app.command("replay")(replay_command)


def replay_command(
    type_: common.TypeOpt = "", source: common.SourceOpt = "", subject: common.SubjectOpt = "",
    correlation_id: common.CorrelationOpt = "", since: common.SinceOpt = None, until: common.UntilOpt = None,
    from_offset: common.FromOffsetOpt = None, to_offset: common.ToOffsetOpt = None,
    from_file: Annotated[Path | None, typer.Option(
        "--from-file", help="send the events of an `egov-events export` file instead of the archive's")] = None,
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
    read_from: Annotated[str, typer.Option(
        "--read-from", help="index: the envelopes the index keeps (faster); stream: the archive stream itself")
    ] = "index",
    window: Annotated[int, typer.Option("--window", min=1, help="publishes awaiting confirmation")] = WINDOW,
    output: OutputOption = Output.TABLE,
) -> None:
    """Send archived events again, in archive order, to exactly one queue; never to the exchange,
    so no other consumer sees them. JSON (dry run): queue, selected, by_type, sample; JSON (sent):
    queue, declared_queue, selected, sent, skipped, republished, reconnects, interrupted, error,
    seconds, rate_per_s."""
    try:
        to = replaying.target(to_service, to_queue)
        if from_file is not None:
            try:
                lines = from_file.read_text(encoding="utf-8").splitlines()
            except OSError as exc:
                raise InvalidArgument("from_file", f"cannot read {from_file}: {exc.strerror}") from None
            selection = replaying.from_export(events.read_export(lines), to.types, str(from_file))
        else:
            query = common.query(type_, source, subject, correlation_id, since, until, to.types, from_offset,
                                 to_offset)
            selection = replaying.from_index(common.archive(), query, read_from)
        if dry_run:
            _dry_run(replaying.dry_run(selection, to.queue), output)
            return
        progress = _ReplayProgress(output)
        options = replaying.Options(rate, window, checkpoint, rebuild, read_from, progress.started, progress.update)
        with progress:
            if rebuild and to_service is not None and from_file is None:
                summary = replaying.rebuild(common.broker(), common.sender(), common.archive(), to_service,
                                            common.query(type_, source, subject, correlation_id, since, until, None,
                                                         from_offset, to_offset), options)
            else:
                summary = replaying.replay(common.broker(), common.sender(), selection, to, options)
    except DomainError as exc:
        refuse(exc)
    except ReplayFailed as exc:
        refuse(str(exc))
    _summary(summary, checkpoint, output)


def _dry_run(plan: dict[str, Any], output: Output) -> None:
    if output is not Output.TABLE:
        emit_one(plan, output)
        return
    table = Table(title=f"dry run: {plan['selected']} event(s) would go to {plan['queue']}")
    table.add_column("type")
    table.add_column("events", justify="right")
    for event_type, n in plan["by_type"].items():
        table.add_row(event_type, str(n))
    console.print(table)
    sample = Table(title="sample (newest first)", box=box.SIMPLE_HEAD)
    for column in ("time (UTC)", "type / event id", "subject"):
        sample.add_column(column, no_wrap=column != "subject")
    for row in plan["sample"]:
        sample.add_row(events.when(row["time"]) if "time" in row else "", f"{row['type']}\n{row['id']}", row["subject"])
    console.print(sample)
    console.print("nothing sent (--dry-run)")


class _ReplayProgress:
    """A progress bar on a terminal; a plain line a second otherwise (logs, CI); nothing for JSON."""

    def __init__(self, output: Output) -> None:
        self.quiet = output is not Output.TABLE
        self.total = 0
        self.last_line = 0.0
        self.bar = Progress(TextColumn("replay"), BarColumn(), MofNCompleteColumn(), TaskProgressColumn(),
                            TextColumn("{task.fields[rate]}"), TimeElapsedColumn(), console=console)
        self.task = self.bar.add_task("replay", total=0, rate="")
        self.live = console.is_terminal and not self.quiet

    def started(self, plan: dict[str, Any]) -> None:
        self.total = plan["selected"] - plan["already_sent"]
        self.bar.update(self.task, total=self.total)
        if plan["declared_queue"] and not self.quiet:
            console.print(f"declared queue {plan['queue']} (durable, quorum)")
        if not self.quiet:
            console.print(f"replaying {self.total} of {plan['selected']} archived event(s) to {plan['queue']}"
                          + (f" ({plan['already_sent']} already sent per the checkpoint)" if plan["already_sent"]
                             else "") + (", rebuild mode" if plan["rebuild"] else "")
                          + (f", at most {plan['rate']:g}/s" if plan["rate"] else ""))
        if self.live:
            self.bar.start()

    def __enter__(self) -> "_ReplayProgress":
        return self

    def __exit__(self, *exc: object) -> None:
        if self.live:
            self.bar.stop()

    def update(self, stats: PublishStats) -> None:
        if self.quiet:
            return
        rate = f"{stats.rate:,.0f} events/s"
        if self.live:
            self.bar.update(self.task, completed=stats.confirmed, rate=rate)
        elif time.monotonic() - self.last_line >= 1.0 or stats.confirmed >= self.total:
            self.last_line = time.monotonic()
            share = stats.confirmed / self.total if self.total else 1.0
            console.print(f"progress {stats.confirmed}/{self.total} ({share:.0%}) {rate}")


def _summary(summary: dict[str, Any], checkpoint: Path | None, output: Output) -> None:
    resume = f"; rerun with --checkpoint {checkpoint} to resume" if checkpoint else ""
    if output is not Output.TABLE:
        emit_one(summary, output)
    else:
        extra = [f"{summary['republished']} sent again after a lost connection or a nack"] \
            if summary["republished"] else []
        if summary["reconnects"]:
            extra.append(f"{summary['reconnects']} reconnection(s)")
        console.print(f"summary: sent {summary['sent']}, skipped {summary['skipped']}, in {summary['seconds']:.2f} s: "
                      f"{summary['rate_per_s']:,.0f} events/s" + (f" ({'; '.join(extra)})" if extra else ""))
    if summary["error"]:
        err_console.print(f"replay stopped: {summary['error']}{resume}", markup=False)
        raise typer.Exit(REFUSED)
    if summary["interrupted"]:
        err_console.print(f"interrupted{': ' + resume[2:] if resume else ''}", markup=False)
        raise typer.Exit(INTERRUPTED)
