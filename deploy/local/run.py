"""`make run`: the whole platform on this machine, one demo journey through the gateway, then
serving until Ctrl-C. `python -m deploy.local.run --once` stops after the demo."""

import argparse
import os
import shutil
import signal
import sys
import time

import grpc
from nameko.standalone.rpc import ClusterRpcClient
from rich.console import Console
from rich.table import Table

from deploy.local.agency_demo import DESK, read_as_desk, register_desk
from deploy.local.journey import Journey, read_mailbox, residents
from deploy.local.stack import ROOT, Ports, Stack
from egov.procedures.v1 import procedures_pb2 as pp
from services.common.caller import OPERATOR

console = Console()
CIVIL_SERVANT_PASSWORD = "can-bo-mot-cua-2026"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--once", action="store_true", help="stop after the demo journey")
    args = parser.parse_args()

    workdir = ROOT / "var" / "run"
    shutil.rmtree(workdir, ignore_errors=True)   # every run starts from an empty platform
    ports = Ports(gateway=int(os.environ.get("EGOV_GATEWAY_PORT", "50051")),
                  agency=int(os.environ.get("EGOV_GATEWAY_AGENCY_PORT", "50052")))
    stack = Stack(workdir, ports=ports, vhost="egov-local")
    signal.signal(signal.SIGTERM, lambda *_: (_ for _ in ()).throw(KeyboardInterrupt()))
    started = time.monotonic()
    try:
        with console.status("starting SecantusDB, simulators, five services and the gateway..."):
            stack.start()
        console.print(f"[green]platform up[/] in {time.monotonic() - started:.1f} s; "
                      f"gateway on 127.0.0.1:{ports.gateway} (agency systems: mutual TLS on 127.0.0.1:{ports.agency}), "
                      f"logs in {stack.logs}")
        demo(stack)
        if args.once:
            return 0
        console.print("\nServing. Try the gRPC calls in README.md. Ctrl-C stops everything.")
        while all(p.poll() is None for p in stack.processes.values()):
            time.sleep(0.5)
        dead = [name for name, p in stack.processes.items() if p.poll() is not None]
        console.print(f"[red]stopped: {', '.join(dead)} exited[/]; see {stack.logs}")
        return 1
    except KeyboardInterrupt:
        return 0
    finally:
        signal.signal(signal.SIGINT, signal.SIG_IGN)   # a second Ctrl-C must not leave processes behind
        with console.status("stopping..."):
            stack.stop()
        console.print("stopped cleanly")


def demo(stack: Stack) -> None:
    resident = residents()[0]
    channel = grpc.insecure_channel(f"127.0.0.1:{stack.ports.gateway}")
    journey = Journey(channel, f"http://127.0.0.1:{stack.ports.paygate}")
    table = Table(title="Demo: a level-4 dossier, paid online, result returned by post")
    for column in ("step", "what happened", "ms"):
        table.add_column(column)
    t0 = time.monotonic()
    last = t0

    def step(name: str, what: str) -> None:
        nonlocal last
        now = time.monotonic()
        table.add_row(name, what, f"{(now - last) * 1000:.0f}")
        console.print(f"  {name:<28} {what}")
        last = now

    citizen = journey.register_citizen(resident)
    step("citizen registered", f"{citizen.full_name} ({citizen.citizen_id}), verified with the population DB")
    procedure = journey.pick_procedure(level=4, with_fee=True)
    servant_id = f"cb-{procedure.agency_code}"
    with ClusterRpcClient(uri=stack.amqp_uri, timeout=10) as rpc:
        rpc.identity.register_civil_servant(request={
            "civil_servant_id": servant_id, "full_name": "Nguyễn Thị Mai", "agency_code": procedure.agency_code,
            "role": "specialist", "password": CIVIL_SERVANT_PASSWORD}, caller=OPERATOR.to_wire())
    dossier = journey.submit(citizen, procedure)
    step("dossier submitted", f"{dossier.code}: {procedure.name[:60]} (fee {procedure.fee_vnd:,} VND)")
    started = journey.pay(citizen, dossier.code)
    step("fee paid online", f"transaction {started.transaction_id}, {started.amount_vnd:,} VND")
    accepted = journey.wait_status(citizen.token, dossier.code, pp.DOSSIER_STATUS_IN_PROGRESS)
    step("dossier accepted", f"due {accepted.due_date} ({procedure.legal_deadline_working_days} working days)")
    officer = journey.civil_servant_token(servant_id, CIVIL_SERVANT_PASSWORD)
    issued = journey.work(officer, dossier.code)
    step("worked, approved, issued", f"result 123/GP, status {pp.DossierStatus.Name(issued.status)}")
    done = journey.wait_status(citizen.token, dossier.code, pp.DOSSIER_STATUS_COMPLETED)
    shipment = journey.shipment(citizen.token, dossier.code)
    step("delivered by post", f"tracking {shipment.tracking_number}")
    step("dossier completed", f"{pp.Timeliness.Name(done.timeliness)}")
    mails = read_mailbox(f"http://127.0.0.1:{stack.ports.mailbox_http}")
    sent = journey.notifications(citizen.token, dossier.code)
    step("citizen told", f"{len(sent)} messages; {len(mails)} e-mails at the SMTP server, e.g. "
                         f"\"{mails[-1]['subject'] if mails else '-'}\"")
    journey_ms = (time.monotonic() - t0) * 1000
    register_desk(stack)
    read = read_as_desk(stack, dossier.code)
    step("an agency system reads it", f"{DESK} over mutual TLS, granted GetDossier: "
                                      f"{pp.DossierStatus.Name(read.dossier.status)}")
    step("...and without a certificate", f"{read.refused.name}: {read.refusal}")
    console.print(table)
    console.print(f"[bold]journey took {journey_ms:.0f} ms[/] from registration to completion")


if __name__ == "__main__":
    sys.exit(main())
