"""egov-admin: operator commands run inside the cluster, over the internal bus (nameko RPC).

    egov-admin add-civil-servant --id cb-hue-001 --name "Trần Văn Bảo" --agency 000.00.15.H57 \
        --role receiver --password '...'
"""

from typing import Annotated, Any

import typer
from nameko.exceptions import RemoteError
from nameko.standalone.rpc import ClusterRpcClient
from rich.console import Console
from rich.table import Table

from egov.identity.v1 import identity_pb2 as pb
from services.common.caller import OPERATOR
from services.common.config import amqp_uri, env_float
from services.common.protowire import dump

app = typer.Typer(help="Operator commands for the e-government platform.", no_args_is_help=True)
console = Console()
err_console = Console(stderr=True)


@app.callback()
def main() -> None:
    """Talks to the services over EGOV_AMQP_URI as the operator."""


def _call_identity(method: str, request: dict[str, Any]) -> dict[str, Any]:
    with ClusterRpcClient(uri=amqp_uri(), timeout=env_float("EGOV_ADMIN_TIMEOUT_SECONDS", 10.0)) as rpc:
        response: dict[str, Any] = getattr(rpc.identity, method)(request=request, caller=OPERATOR.to_wire())
        return response


@app.command("add-civil-servant")
def add_civil_servant(
    civil_servant_id: Annotated[str, typer.Option("--id", help="the civil servant's ID (login)")],
    name: Annotated[str, typer.Option("--name", help="full name, e.g. \"Trần Văn Bảo\"")],
    agency: Annotated[str, typer.Option("--agency", help="agency code, e.g. 000.00.15.H57")],
    role: Annotated[str, typer.Option("--role", help="receiver, specialist, approver...")],
    password: Annotated[str, typer.Option("--password", prompt=True, hide_input=True,
                                          confirmation_prompt=True, help="asked for when not given")],
    ecard_serial: Annotated[str, typer.Option("--ecard-serial", help="serial of their e-card")] = "",
) -> None:
    """Register a civil servant who can then sign in at the one-stop desk."""
    request = pb.RegisterCivilServantRequest(civil_servant_id=civil_servant_id, full_name=name,
                                             agency_code=agency, role=role, ecard_serial=ecard_serial,
                                             password=password)
    try:
        response = _call_identity("register_civil_servant", dump(request))
    except RemoteError as exc:
        err_console.print(f"[red]refused[/red] ({exc.exc_type}): {exc.value}")
        raise typer.Exit(code=1) from None
    servant = response["civil_servant"]
    table = Table(title="Civil servant registered", show_header=False)
    for label, key in (("ID", "civil_servant_id"), ("Name", "full_name"), ("Agency", "agency_code"),
                       ("Role", "role"), ("E-card", "ecard_serial")):
        table.add_row(label, str(servant.get(key, "")))
    console.print(table)


if __name__ == "__main__":
    app()
