"""egov-admin: operator commands over the internal bus (nameko RPC), as the operator. Conventions of
every egov-* command (exit codes, --output, --amqp-uri then EGOV_AMQP_URI then `make run`'s
var/run/env): services/common/cli.py. The work: services/identity/operations.py.

    egov-admin add-civil-servant --id cb-hue-001 --name "Trần Văn Bảo" --agency 000.00.15.H57 \\
        --role receiver --appointment specialist@000.01.31.H57 --password '...'
    egov-admin reset-second-factor --id cb-hue-001
    egov-admin dismiss-civil-servant --id cb-hue-001 --reason "..."
"""

from typing import Annotated

import typer

from services.common.cli import (
    AmqpUriOption,
    Output,
    OutputOption,
    apply_connection_settings,
    console,
    emit_one,
    refuse,
)
from services.common.config import ConfigError, amqp_uri, env_float
from services.common.errors import DomainError
from services.identity import operations

app = typer.Typer(help="Operator commands for the e-government platform. Exit codes: 0 done, 1 refused, 2 usage.",
                  no_args_is_help=True, pretty_exceptions_enable=False)


@app.callback()
def main(amqp: AmqpUriOption = "") -> None:
    """Talks to the services over the broker as the operator."""
    apply_connection_settings(amqp_uri=amqp)


@app.command("add-civil-servant")
def add_civil_servant(
    civil_servant_id: Annotated[str, typer.Option("--id", help="the civil servant's ID (login)")],
    name: Annotated[str, typer.Option("--name", help="full name, e.g. \"Trần Văn Bảo\"")],
    agency: Annotated[str, typer.Option("--agency", help="agency code, e.g. 000.00.15.H57")],
    role: Annotated[str, typer.Option("--role", help=operations.ROLES_HINT)],
    password: Annotated[str, typer.Option("--password", prompt=True, hide_input=True,
                                          confirmation_prompt=True, help="asked for when not given")],
    ecard_serial: Annotated[str, typer.Option("--ecard-serial", help="serial of their e-card")] = "",
    appointment: Annotated[list[str] | None, typer.Option(
        "--appointment", help="a further role in an agency, role@agency-code (repeatable), "
                              "e.g. leader@000.00.31.H57")] = None,
    output: OutputOption = Output.TABLE,
) -> None:
    """Register a civil servant who can then sign in at the one-stop desk with a code of their second
    factor (second_factor_uri, shown this once: scan it into an authenticator app). JSON: civil_servant_id,
    full_name, agency_code, role, ecard_serial, appointments, second_factor_uri."""
    try:
        servant = operations.register_civil_servant(_identity(), operations.CivilServant(
            civil_servant_id, name, agency, role, password, ecard_serial, tuple(appointment or ())))
    except (DomainError, ConfigError) as exc:
        refuse(exc)
    _emit_with_second_factor(servant, output, "Civil servant registered")


@app.command("reset-second-factor")
def reset_second_factor(
    civil_servant_id: Annotated[str, typer.Option("--id", help="the civil servant's ID (login)")],
    output: OutputOption = Output.TABLE,
) -> None:
    """A new second factor (lost phone): the old one stops working and every session is revoked.
    JSON: civil_servant_id, second_factor_uri."""
    try:
        reset = operations.reset_second_factor(_identity(), civil_servant_id)
    except (DomainError, ConfigError) as exc:
        refuse(exc)
    _emit_with_second_factor(reset, output, "Second factor reset")


@app.command("dismiss-civil-servant")
def dismiss_civil_servant(
    civil_servant_id: Annotated[str, typer.Option("--id", help="the civil servant's ID (login)")],
    reason: Annotated[str, typer.Option("--reason", help="why, for the record")],
    output: OutputOption = Output.TABLE,
) -> None:
    """The civil servant can no longer sign in; their tokens stop working within a gateway poll.
    JSON: civil_servant_id, dismissed_at."""
    try:
        emit_one(operations.dismiss_civil_servant(_identity(), civil_servant_id, reason), output,
                 title="Civil servant dismissed")
    except (DomainError, ConfigError) as exc:
        refuse(exc)


def _emit_with_second_factor(document: dict[str, str], output: Output, title: str) -> None:
    """For people the otpauth:// URI goes on a line of its own, whole, to copy or turn into a QR code."""
    if output is not Output.TABLE:
        emit_one(document, output)
        return
    emit_one({k: v for k, v in document.items() if k != "second_factor_uri"}, output, title=title)
    console.print("Second factor (shown this once; the civil servant scans it into an authenticator app):")
    console.print(document["second_factor_uri"], soft_wrap=True, markup=False, highlight=False)


def _identity() -> operations.RpcIdentityAdmin:
    return operations.RpcIdentityAdmin(amqp_uri(), env_float("EGOV_ADMIN_TIMEOUT_SECONDS", 10.0))


if __name__ == "__main__":
    app()
