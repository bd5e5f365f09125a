"""egov-gateway: the data-sharing layer's member registry, access rights, message log and maintenance
mode, in the gateway's database (--mongo-uri, else EGOV_MONGO_URI, else `make run`'s var/run/env;
database EGOV_GATEWAY_DB). Conventions of every egov-* command: services/common/cli.py.

    egov-gateway members add GOV 000.00.15.H57 --name "Sở Tư pháp tỉnh Thừa Thiên Huế"
    egov-gateway subsystems add VN/GOV/000.00.15.H57/one-stop-desk --channel counter
    egov-gateway certs register VN/GOV/000.00.15.H57/one-stop-desk desk.pem
    egov-gateway grants add /egov.procedures.v1.ProcedureService/SubmitDossier \\
        --subsystem VN/GOV/000.00.15.H57/one-stop-desk
    egov-gateway apply -f members.yaml --dry-run
    egov-gateway log verify

A change is in force once every running gateway has loaded it; a command waits for that (at most
--wait seconds) and says which gateways confirmed. The commands only parse and print: the work is
gateway.operations (and gateway.members_file for `apply`).
"""

from typing import Annotated

import typer

from gateway.cli import apply, log, registry
from gateway.cli.context import Context
from services.common.cli import MongoUriOption, apply_connection_settings
from services.common.config import database_name

app = typer.Typer(help="Manage the gateway's member registry, access rights, message log and maintenance mode. "
                       "A change is in force once every running gateway has loaded it; commands wait for that. "
                       "Exit codes: 0 done, 1 refused or not confirmed in time, 2 usage. See docs/AGENCIES.md.",
                  no_args_is_help=True, rich_markup_mode=None, pretty_exceptions_enable=False)
registry.add_commands(app)
app.command("apply")(apply.apply)
app.add_typer(log.app, name="log")


@app.callback()
def main(
    ctx: typer.Context,
    mongo: MongoUriOption = "",
    db: Annotated[str, typer.Option("--db", help="default: EGOV_GATEWAY_DB or egov_gateway")] = "",
) -> None:
    apply_connection_settings(mongo_uri=mongo)
    context = Context(db or database_name("gateway"))
    ctx.obj = context
    ctx.call_on_close(context.close)
