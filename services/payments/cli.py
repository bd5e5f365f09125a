"""egov-payments: the payments team's operator commands (conventions: services/common/cli.py).

    egov-payments reconcile                      # what the service's timer does, now
    egov-payments reconcile --grace-seconds 0 --output json

`reconcile` asks the payments service (nameko RPC, as the operator) to check every bill due for it
against the intermediary's books (services/payments/reconcile.py does the work); it prints each
difference found and what was done about it. JSON: {"bills_checked": n, "findings": [{bill_id,
dossier_code, finding, action, resolved, detail}]}; NDJSON: one finding per line. Exit 0 when it
ran (findings or not: `resolved: false` rows are for a person), 1 when the service refused or could
not be reached, 2 for bad arguments.
"""

from typing import Annotated, Any

import typer
from nameko.exceptions import RemoteError
from nameko.standalone.rpc import ClusterRpcClient

from egov.payments.v1 import payments_pb2 as pb
from services.common.cli import AmqpUriOption, Output, OutputOption, apply_connection_settings, emit, emit_one, refuse
from services.common.config import ConfigError, amqp_uri, env_float
from services.common.operator_signing import sign_as_operator
from services.common.protowire import dump

app = typer.Typer(help="Operator commands for payments.", no_args_is_help=True, pretty_exceptions_enable=False)
COLUMNS = (("bill_id", "bill"), ("finding", "finding"), ("action", "action"), ("resolved", "resolved"),
           ("detail", "detail"))
FIELDS = ("bill_id", "dossier_code", "finding", "action", "resolved", "detail")


@app.callback()
def main() -> None:
    """Talks to the payments service over EGOV_AMQP_URI as the operator."""


def call_payments(method: str, request: dict[str, Any]) -> dict[str, Any]:
    timeout = env_float("EGOV_ADMIN_TIMEOUT_SECONDS", 120.0)
    with ClusterRpcClient(uri=amqp_uri(), timeout=timeout) as rpc:
        response: dict[str, Any] = getattr(rpc.payments, method)(
            request=request, caller=sign_as_operator("payments", method, request))    # the operators' own key
        return response


@app.command()
def reconcile(
    grace_seconds: Annotated[int, typer.Option("--grace-seconds", min=0,
                                               help="leave bills whose payment started more recently than "
                                                    "this to their notice (0: the service's setting)")] = 0,
    output: OutputOption = Output.TABLE,
    amqp: AmqpUriOption = "",
) -> None:
    """Check bills against the intermediary's books; settle, refund or void what a rule allows."""
    apply_connection_settings(amqp_uri=amqp)
    try:
        reply = call_payments("reconcile", dump(pb.ReconcileRequest(grace_seconds=grace_seconds)))
    except RemoteError as exc:
        refuse(f"{exc.exc_type}: {exc.value}")
    except ConfigError as exc:
        refuse(exc)
    except Exception as exc:  # the broker or the service away: nothing was done
        refuse(f"payments: not reachable: {exc}")
    findings = [{name: row.get(name, False if name == "resolved" else "") for name in FIELDS}
                for row in reply.get("findings", [])]
    checked = int(reply.get("bills_checked", 0))
    if output is Output.JSON:
        emit_one({"bills_checked": checked, "findings": findings}, output)
    elif output is Output.NDJSON:
        emit(findings, output)
    else:
        emit(findings, output, COLUMNS, title=f"{checked} bill(s) checked, {len(findings)} finding(s)")


if __name__ == "__main__":
    app()
