"""`egov-gateway log verify | seal | resume | archive`: thin over gateway.message_log_admin."""

import os
from pathlib import Path
from typing import Annotated

import typer

from gateway import log_archive, message_log_admin
from gateway.cli.context import current
from gateway.message_log import SEAL
from gateway.message_log_verify import Verdict
from services.common.cli import REFUSED, console, err_console, refuse
from services.common.config import amqp_uri
from services.common.errors import DomainError

app = typer.Typer(help="The message log: verify, seal, resume, archive.", no_args_is_help=True)

Chain = Annotated[str, typer.Option("--chain", help="default: EGOV_GATEWAY_LOG_CHAIN or gateway")]
PublicKeys = Annotated[list[Path] | None, typer.Option(
    "--public-key", help="trusted seal key (PEM, public or private; repeatable); "
                         "default: EGOV_GATEWAY_SEAL_KEY_FILE")]
AmqpUri = Annotated[str, typer.Option("--amqp-uri", help="the broker, to reach the anchors in the archive "
                                                         "(default: EGOV_AMQP_URI, then var/run/env)")]


@app.command("verify")
def log_verify(ctx: typer.Context, chain: Chain = "", public_key: PublicKeys = None,
               file: Annotated[Path | None, typer.Option(
                   "--file", exists=True, dir_okay=False, help="verify an archive file instead")] = None,
               every_chain: Annotated[bool, typer.Option("--all", help="every chain in the database or anchored "
                                                                       "outside it")] = False,
               amqp: AmqpUri = "",
               skip_anchors: Annotated[bool, typer.Option(
                   "--skip-anchors", help="do not check the anchors outside the database (then a deleted chain or "
                                          "tail is not found)")] = False,
               ) -> None:
    """Recompute the hash chain, check every MAC and seal, and the chain against its anchors outside
    the database; name the first broken record."""
    keys, secrets = _trusted_keys(public_key), message_log_admin.LogSecrets.from_env()
    if file is not None:
        _report(log_archive.verify_file(file, keys, secrets.record_key), str(file))
        return
    chains = [] if every_chain else [_chain(chain)]
    anchors = None
    if not skip_anchors:
        try:
            anchors = message_log_admin.read_anchors(amqp or amqp_uri(), chains)
        except Exception as exc:
            err_console.print(f"not verified: cannot read the anchors outside the database ({exc}); "
                              "--skip-anchors verifies the database alone")
            raise typer.Exit(code=REFUSED) from None
    broken = False
    for report in message_log_admin.verify_log(current(ctx).log, chains, keys, secrets, anchors):
        try:
            _report(report.verdict, f"chain {report.chain!r} from record {report.start}")
        except typer.Exit:
            broken = True
    if broken:
        raise typer.Exit(code=REFUSED)


def _report(verdict: Verdict, what: str) -> None:
    for note in verdict.notes:
        console.print(f"note: {note}")
    if verdict.problem is not None:
        console.print(f"BROKEN: {what}: first broken record {verdict.problem.seq}: {verdict.problem.reason}")
        raise typer.Exit(code=REFUSED)
    console.print(f"intact: {what}: {verdict.records} records, {verdict.seals} seals, "
                  f"last record {verdict.last_seq}")


@app.command("seal")
def log_seal(ctx: typer.Context, chain: Chain = "", timeout: Annotated[float, typer.Option()] = 10.0) -> None:
    """Ask the running gateway to seal its chain now, and wait for the seal."""
    chain = _chain(chain)
    store = current(ctx).log
    try:
        message_log_admin.ask_writer(store, chain, "seal", timeout)
    except message_log_admin.NotAnswered as exc:
        err_console.print(str(exc))
        raise typer.Exit(code=REFUSED) from None
    seal = store.last(chain, SEAL)
    if seal is None:
        console.print(f"nothing to seal: chain {chain!r} is empty")
        return
    console.print(f"sealed: chain {chain!r} records {seal['first_seq']}..{seal['last_seq']} by seal "
                  f"{seal['seq']} ({seal['hash']})")


@app.command("resume")
def log_resume(ctx: typer.Context, chain: Chain = "", timeout: Annotated[float, typer.Option()] = 10.0) -> None:
    """Ask a gateway whose log halted to check its chain again (after you set aside what it found),
    and resume only if the chain is consistent."""
    try:
        outcome = message_log_admin.ask_writer(current(ctx).log, _chain(chain), "resume", timeout)
    except message_log_admin.NotAnswered as exc:
        err_console.print(str(exc))
        raise typer.Exit(code=REFUSED) from None
    console.print(f"chain {_chain(chain)!r}: {outcome or 'not halted'}")
    if outcome.startswith("still halted"):
        raise typer.Exit(code=REFUSED)


@app.command("archive")
def log_archive_command(ctx: typer.Context,
                        out: Annotated[Path, typer.Option("--out", help="directory for the archive file")],
                        chain: Chain = "", public_key: PublicKeys = None, amqp: AmqpUri = "") -> None:
    """Move every sealed record into a file that verifies on its own, anchor the archive outside the
    database, then delete the records from the database."""
    try:
        archived = message_log_admin.archive_chain(current(ctx).log, _chain(chain), out, _trusted_keys(public_key),
                                                   message_log_admin.LogSecrets.from_env(), amqp or amqp_uri())
    except log_archive.NothingToArchive as exc:
        console.print(str(exc))
        return
    except log_archive.ChainBroken as exc:
        _report(exc.verdict, "not archived")
        return
    except DomainError as exc:
        refuse(exc)
    console.print(f"archived records {archived.first_seq}..{archived.last_seq} ({archived.records}) to "
                  f"{archived.file}; {archived.deleted} deleted from the database")


def _chain(chain: str) -> str:
    return chain or os.environ.get("EGOV_GATEWAY_LOG_CHAIN", "") or "gateway"


def _trusted_keys(files: list[Path] | None) -> list[bytes]:
    paths = list(files or [])
    if not paths and os.environ.get("EGOV_GATEWAY_SEAL_KEY_FILE"):
        paths = [Path(os.environ["EGOV_GATEWAY_SEAL_KEY_FILE"])]
    try:
        return message_log_admin.trusted_keys(paths)
    except DomainError as exc:
        err_console.print(str(exc))
        raise typer.Exit(code=REFUSED) from None
