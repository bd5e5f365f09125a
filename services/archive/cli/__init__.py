"""egov-events: the integration team's tool for the event archive, replays and dead letters.
Conventions of every egov-* command (exit codes, --output, --amqp-uri/--mongo-uri, `make run`'s
var/run/env): services/common/cli.py. The work: services/archive/operations/.

    egov-events search --subject 000.00.15.H57-260101-0001 --output json
    egov-events replay --type egov.payments.v1.PaymentSettled --to-service procedures --dry-run
    egov-events export --correlation-id 000.00.15.H57-260101-0001 > journey.ndjson
    egov-events dlq redrive postal --type egov.procedures.v1.DossierResultIssued --limit 10 --rate 5
    egov-events status

See docs/INTEGRATION.md.
"""

import typer

from services.archive.cli import dlq, events, replay
from services.common.cli import AmqpUriOption, MongoUriOption, apply_connection_settings

app = typer.Typer(help="Search, show, export, tail and replay archived events; inspect, re-drive and purge dead "
                       "letters; status. Exit codes: 0 done, 1 refused or failed, 2 usage, 130 interrupted. "
                       "See docs/INTEGRATION.md.",
                  no_args_is_help=True, pretty_exceptions_enable=False, rich_markup_mode=None)
events.add_commands(app)
replay.add_commands(app)
app.add_typer(dlq.app, name="dlq")


@app.callback()
def main(amqp: AmqpUriOption = "", mongo: MongoUriOption = "") -> None:
    apply_connection_settings(amqp_uri=amqp, mongo_uri=mongo)
