"""`make run`: the whole platform on this machine, a demo through the gateway, then serving until
Ctrl-C, supervised: a process that exits is restarted with back-off (deploy/local/runner.py), said on
the console and in var/run/logs/supervisor.log; everything stops on Ctrl-C, or when one process
keeps crashing. `python -m deploy.local.run --once` stops after the demo.

The demo is a list of parts (`DEMO`), each a function of a `Demo` that prints its steps as rows;
add a part by adding a function (deploy/local/agency_demo.py is one).
"""

import argparse
import logging
import os
import shutil
import signal
import sys
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import grpc
from rich.console import Console
from rich.table import Table

from deploy.local import agency_demo
from deploy.local.journey import Journey, one_stop_roles, read_mailbox, residents
from deploy.local.one_stop_demo import one_stop_demo
from deploy.local.stack import ROOT, Ports, Stack
from deploy.local.supervision_demo import supervision_demo
from egov.procedures.v1 import procedures_pb2 as pp
from services.common.cli import write_env_file
from services.identity import operations as identity

console = Console()
CIVIL_SERVANT_PASSWORD = "can-bo-mot-cua-2026"
NAME_WIDTH = 60


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--once", action="store_true", help="stop after the demo journey")
    args = parser.parse_args()
    logging.getLogger("amqp").setLevel(logging.ERROR)   # health polls close channels with replies in flight
    warnings.filterwarnings("ignore", message="\nEventlet is deprecated")

    workdir = ROOT / "var" / "run"
    shutil.rmtree(workdir, ignore_errors=True)   # every run starts from an empty platform
    ports = Ports(gateway=int(os.environ.get("EGOV_GATEWAY_PORT", "50051")),
                  agency=int(os.environ.get("EGOV_GATEWAY_AGENCY_PORT", "50052")),
                  dashboard=int(os.environ.get("EGOV_DASHBOARD_PORT", "8090")))
    # EGOV_RUN_REPLICAS=2: two of every service but the archive and two gateways, as k8s/overlays/prod
    stack = Stack(workdir, ports=ports, vhost=os.environ.get("EGOV_RUN_VHOST", "egov-local"),
                  replicas=int(os.environ.get("EGOV_RUN_REPLICAS", "1")))
    signal.signal(signal.SIGTERM, lambda *_: (_ for _ in ()).throw(KeyboardInterrupt()))
    started = time.monotonic()
    try:
        with console.status("starting SecantusDB, simulators, the services and the gateway..."):
            stack.start()
            stack.start_dashboard()
        write_env_file(workdir / "env", local_settings(stack))
        console.print(f"[green]platform up[/] in {time.monotonic() - started:.1f} s; "
                      f"gateway on 127.0.0.1:{ports.gateway} (agency systems: mutual TLS on 127.0.0.1:{ports.agency}), "
                      f"logs in {stack.logs}")
        console.print(f"supervisors' dashboard on http://127.0.0.1:{ports.dashboard}/ (docs/SUPERVISION.md)")
        console.print(f"settings for the egov-* commands and the examples in README.md: {workdir / 'env'}")
        run_demo(stack)
        if args.once:
            return 0
        console.print("\nServing. Try the gRPC calls in README.md. Ctrl-C stops everything.")
        return supervise(stack)
    except KeyboardInterrupt:
        return 0
    finally:
        signal.signal(signal.SIGINT, signal.SIG_IGN)   # a second Ctrl-C must not leave processes behind
        with console.status("stopping..."):
            stack.stop()
        console.print("stopped cleanly")


def local_settings(stack: Stack) -> dict[str, str]:
    """What a command or a person needs to reach this platform (var/run/env, README.md)."""
    env, certs = stack.env(), stack.workdir / "certs"
    return {"EGOV_AMQP_URI": stack.amqp_uri, "EGOV_MONGO_URI": stack.mongo_uri,
            "EGOV_GATEWAY_ADDRESS": env["EGOV_GATEWAY_ADDRESS"],
            "EGOV_GATEWAY_AGENCY_ADDRESS": env["EGOV_GATEWAY_AGENCY_ADDRESS"],
            # The gateway's log keys: `egov-gateway log verify` checks MACs with the first and
            # `log archive` needs both (docs/AGENCIES.md).
            "EGOV_GATEWAY_LOG_KEY_FILE": env["EGOV_GATEWAY_LOG_KEY_FILE"],
            "EGOV_GATEWAY_SEAL_KEY_FILE": env["EGOV_GATEWAY_SEAL_KEY_FILE"], "EGOV_CERTS_DIR": str(certs),
            "EGOV_MAILBOX_URL": f"http://127.0.0.1:{stack.ports.mailbox_http}",
            # Where citizens read their one-time codes: the SMS gateway's messages (README.md)
            "EGOV_SMS_URL": env["EGOV_SMS_URL"],
            "EGOV_PAYGATE_URL": env["EGOV_PAYGATE_URL"], "EGOV_PAYGATE_SECRET": stack.paygate_secret,
            # The operators' key signs operator commands (egov-admin, egov-payments); on this machine
            # the operator is whoever runs the checkout.
            "EGOV_OPERATOR_KEY_FILE": env["EGOV_OPERATOR_KEY_FILE"]}


def supervise(stack: Stack, poll: float = 0.5) -> int:
    """Until Ctrl-C (0) or a process that keeps crashing (1)."""
    log_file = stack.logs / "supervisor.log"

    def say(message: str) -> None:
        console.print(f"[yellow]supervisor:[/] {message}")
        with open(log_file, "a", encoding="utf-8") as log:
            log.write(f"{datetime.now().astimezone().isoformat(timespec='seconds')} {message}\n")

    while True:
        gave_up = stack.runner.supervise_once(say)
        if gave_up is not None:
            console.print(f"[red]stopping: {gave_up} keeps crashing[/]; see {stack.logs}/{gave_up}.log")
            return 1
        time.sleep(poll)


# -- the demo ---------------------------------------------------------------------------------------

@dataclass
class Demo:
    """What the demo's parts share: the stack, a row printer, and facts one part leaves the next."""

    stack: Stack
    table: Table
    facts: dict[str, Any] = field(default_factory=dict)
    last: float = field(default_factory=time.monotonic)

    def step(self, name: str, what: str) -> None:
        now = time.monotonic()
        self.table.add_row(name, what, f"{(now - self.last) * 1000:.0f}")
        console.print(f"  {name:<28} {what}")
        self.last = now


def shorten(text: str, width: int = NAME_WIDTH) -> str:
    """At most `width` characters, cut at a word with an ellipsis."""
    if len(text) <= width:
        return text
    return text[:width - 1].rsplit(" ", 1)[0].rstrip(" ,;:") + "…"


def citizen_journey(demo: Demo) -> None:
    stack = demo.stack
    resident = residents()[0]
    channel = grpc.insecure_channel(f"127.0.0.1:{stack.ports.gateway}")
    journey = Journey.of(stack, channel)
    t0 = time.monotonic()
    citizen = journey.register_citizen(resident)
    demo.step("citizen registered", f"{citizen.full_name} ({citizen.citizen_id}), verified with the population DB")
    # Of the demo desk's own agency: the agency system reads it afterwards, and reads only its member's
    # dossiers (issue 12 item 7, docs/AGENCIES.md section 3).
    procedure = journey.pick_procedure(level=4, with_fee=True, agency_code=str(agency_demo.DESK).split("/")[2])
    servant_id = f"cb-{procedure.agency_code}"
    admin = identity.RpcIdentityAdmin(stack.amqp_uri, environ=stack.env())
    appointed = identity.register_civil_servant(admin, identity.CivilServant(
        servant_id, "Nguyễn Thị Mai", procedure.agency_code, "specialist", CIVIL_SERVANT_PASSWORD,
        appointments=tuple(one_stop_roles(procedure.agency_code))))
    dossier = journey.submit(citizen, procedure)
    demo.step("dossier submitted", f"{dossier.code}: {shorten(procedure.name)} (fee {procedure.fee_vnd:,} VND)")
    started = journey.pay(citizen, dossier.code)
    demo.step("fee paid online", f"transaction {started.transaction_id}, {started.amount_vnd:,} VND")
    officer = journey.civil_servant_token(servant_id, CIVIL_SERVANT_PASSWORD, appointed["second_factor_uri"])
    accepted = journey.receive(officer, dossier.code)
    demo.step("received by an officer", f"due {accepted.due_date} ({procedure.legal_deadline_working_days} "
                                        "working days)")
    issued = journey.work(officer, dossier.code)
    demo.step("worked, approved, issued", f"result 123/GP, status {pp.DossierStatus.Name(issued.status)}")
    done = journey.wait_status(citizen.token, dossier.code, pp.DOSSIER_STATUS_COMPLETED)
    shipment = journey.shipment(citizen.token, dossier.code)
    demo.step("delivered by post", f"tracking {shipment.tracking_number}")
    demo.step("dossier completed", f"{pp.Timeliness.Name(done.timeliness)}")
    mails = read_mailbox(f"http://127.0.0.1:{stack.ports.mailbox_http}")
    sent = journey.notifications(citizen.token, dossier.code)
    demo.step("citizen told", f"{len(sent)} messages; {len(mails)} e-mails at the SMTP server, e.g. "
                              f"\"{mails[-1]['subject'] if mails else '-'}\"")
    demo.facts.update(dossier_code=dossier.code, journey_ms=(time.monotonic() - t0) * 1000,
                      citizen_id=citizen.citizen_id, civil_servant_id=servant_id)
    channel.close()


def agency_reads(demo: Demo) -> None:
    agency_demo.register_desk(demo.stack)
    read = agency_demo.read_as_desk(demo.stack, demo.facts["dossier_code"])
    demo.step("an agency system reads it", f"{agency_demo.DESK} over mutual TLS, granted GetDossier: "
                                           f"{pp.DossierStatus.Name(read.dossier.status)}")
    demo.step("...and without a certificate", f"{read.refused.name}: {read.refusal}")


def one_stop(demo: Demo) -> None:
    stack = demo.stack
    channel = grpc.insecure_channel(f"127.0.0.1:{stack.ports.gateway}")
    one_stop_demo(identity.RpcIdentityAdmin(stack.amqp_uri, environ=stack.env()), channel, Journey.of(stack, channel),
                  stack.workdir / "slips", demo.step)
    channel.close()


def supervision(demo: Demo) -> None:
    stack = demo.stack
    channel = grpc.insecure_channel(f"127.0.0.1:{stack.ports.gateway}")
    supervision_demo(identity.RpcIdentityAdmin(stack.amqp_uri, environ=stack.env()), channel,
                     Journey.of(stack, channel), f"http://127.0.0.1:{stack.ports.dashboard}/", demo.step)
    channel.close()


DEMO: list[Callable[[Demo], None]] = [citizen_journey, agency_reads, one_stop, supervision]


def run_demo(stack: Stack) -> Demo:
    table = Table(title="Demo: a level-4 dossier, paid online, result returned by post")
    for column in ("step", "what happened", "ms"):
        table.add_column(column)
    demo = Demo(stack, table)
    for part in DEMO:
        part(demo)
    console.print(table)
    console.print(f"[bold]journey took {demo.facts['journey_ms']:.0f} ms[/] from registration to completion")
    return demo


if __name__ == "__main__":
    sys.exit(main())
