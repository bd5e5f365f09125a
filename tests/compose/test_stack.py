"""The compose stack for real, as DevOps would meet it on a fresh machine: `make up` builds every image
here and brings the stack up (tests/compose/stack.py), then each test drives it from outside through
its published ports or `docker compose exec`, as an operator would; the last test is `make down`,
which must leave nothing behind. The tests run in this file's order (one stack for all of them).
"""

import json
import time
from dataclasses import dataclass

import grpc
import pyotp
import pytest
import requests

from deploy.local.journey import Journey, Phone, one_stop_roles, read_mailbox, residents
from egov.procedures.v1 import procedures_pb2 as pp
from egov.procedures.v1 import procedures_pb2_grpc
from services.supervision.dashboard.__main__ import CHART_JS
from tests.compose.stack import ComposeStack
from tests.support import eventually

DESK = "VN/GOV/000.00.15.H57/one-stop-desk"
GET_DOSSIER = "/egov.procedures.v1.ProcedureService/GetDossier"
CIVIL_SERVANT_PASSWORD = "can-bo-compose-2026"
CITY, SUPERVISOR, SUPERVISOR_PASSWORD = "46", "gs-compose", "giam-sat-compose-2026"


@dataclass(frozen=True)
class Completed:
    dossier: pp.Dossier
    citizen_id: str
    citizen_token: str

    @property
    def code(self) -> str:
        return self.dossier.code


@pytest.fixture(scope="module")
def journey(stack: ComposeStack) -> Journey:
    # A resident's sign-up code arrives on the phone the population database holds: its SMS provider's
    # published inbox (the mailbox stands for e-mail, though compose's population sends SMS only).
    return Journey(stack.gateway_channel(), stack.url("paygate"),
                   Phone(stack.url("population_sms"), stack.url("mailbox")))


@pytest.fixture(scope="module")
def completed(stack: ComposeStack, journey: Journey) -> Completed:
    """One full level-4 journey through the published gateway port: register (checked against the
    population database through the gateway's outbound exchange), submit, pay, work, post, complete."""
    citizen = journey.register_citizen(residents()[1])
    # Of the desk's own agency: the agency system reads this dossier below, and reads only its
    # member's dossiers (issue 12 item 7).
    procedure = journey.pick_procedure(level=4, with_fee=True, agency_code=DESK.split("/")[2])
    servant = f"cb-{procedure.agency_code}"
    roles = [arg for role in one_stop_roles(procedure.agency_code) for arg in ("--appointment", role)]
    appointed = json.loads(stack.operator_command(
        "identity", "egov-admin", "add-civil-servant", "--id", servant, "--name", "Nguyễn Thị Mai",
        "--agency", procedure.agency_code, "--role", "specialist", "--password", CIVIL_SERVANT_PASSWORD, *roles,
        "--output", "json").stdout)
    dossier = journey.submit(citizen, procedure)
    journey.pay(citizen, dossier.code)
    officer = journey.civil_servant_token(servant, CIVIL_SERVANT_PASSWORD, appointed["second_factor_uri"])
    journey.receive(officer, dossier.code, timeout=60)      # payment alone never accepts a dossier
    journey.work(officer, dossier.code)
    done = journey.wait_status(citizen.token, dossier.code, pp.DOSSIER_STATUS_COMPLETED, timeout=60)
    return Completed(done, citizen.citizen_id, citizen.token)


def test_an_interrupted_make_up_is_resumed_by_the_next(stack: ComposeStack) -> None:
    """The session began with a `make up` stopped by Ctrl-C at its first container; the next `make up`
    brought the stack up healthy over what it left (the fixture fails otherwise)."""
    assert stack.left_by_interrupted_up > 0
    listed = stack.compose("ps", "--all", "--format", "json").stdout.strip()
    states = json.loads(listed) if listed.startswith("[") else [json.loads(line) for line in listed.splitlines()]
    unhealthy = [s["Service"] for s in states if s.get("Health") not in ("", "healthy")]
    assert not unhealthy, f"after the resumed make up: {unhealthy}"


def test_a_full_journey_completes_through_the_published_gateway_port(stack: ComposeStack, journey: Journey,
                                                                     completed: Completed) -> None:
    assert completed.dossier.status == pp.DOSSIER_STATUS_COMPLETED
    assert completed.dossier.timeliness == pp.TIMELINESS_EARLY   # settled the day it was filed
    assert journey.shipment(completed.citizen_token, completed.code).tracking_number
    # notifications reached the mailbox over STARTTLS with its login (the relay takes nothing else)
    mails = eventually(lambda: read_mailbox(stack.url("mailbox"), f"{completed.citizen_id}@example.vn"),
                       "the citizen's e-mails", timeout=60)
    assert any(completed.code in str(mail["subject"]) for mail in mails)


def test_an_agency_system_reads_the_dossier_with_its_registered_certificate_and_not_without(
        stack: ComposeStack, completed: Completed) -> None:
    certificate, key = stack.certificate_files(DESK)
    stack.exec("gateway", "egov-gateway", "members", "add", "GOV", "000.00.15.H57", "--name", "Sở Tư pháp")
    stack.exec("gateway", "egov-gateway", "subsystems", "add", DESK, "--channel", "counter")
    stack.exec("gateway", "sh", "-c", "cat > /tmp/desk.pem", stdin=certificate.read_bytes())
    stack.exec("gateway", "egov-gateway", "certs", "register", DESK, "/tmp/desk.pem")
    stack.exec("gateway", "egov-gateway", "grants", "add", GET_DOSSIER, "--subsystem", DESK)
    request = pp.GetDossierRequest(code=completed.code)
    ca = stack.ca_certificate()
    with grpc.secure_channel(stack.address("agency"), grpc.ssl_channel_credentials(
            ca, key.read_bytes(), certificate.read_bytes())) as channel:
        read = procedures_pb2_grpc.ProcedureServiceStub(channel).GetDossier(request, timeout=10).dossier
    assert read.code == completed.code and read.status == pp.DOSSIER_STATUS_COMPLETED
    with grpc.secure_channel(stack.address("agency"), grpc.ssl_channel_credentials(ca)) as channel, \
            pytest.raises(grpc.RpcError) as refused:
        procedures_pb2_grpc.ProcedureServiceStub(channel).GetDossier(request, timeout=10)
    assert refused.value.code() is grpc.StatusCode.UNAUTHENTICATED
    assert "no client certificate" in (refused.value.details() or "")


def test_the_journey_s_events_are_in_the_archive(stack: ComposeStack, completed: Completed) -> None:
    def archived() -> set[str]:      # JSON: a table without a terminal is cut to 80 columns
        found = json.loads(stack.exec("archive", "egov-events", "search", "--correlation-id", completed.code,
                                      "--limit", "200", "--output", "json").stdout)
        types = {event["type"].rsplit(".", 1)[-1] for event in found["events"]}
        return types if "DossierCompleted" in types else set()

    types = eventually(archived, "the journey's DossierCompleted in the archive index", timeout=60)
    assert {"DossierSubmitted", "PaymentSettled", "ShipmentDelivered"} <= types, types


def test_a_supervisor_reads_the_journey_s_dossier_on_the_dashboard(stack: ComposeStack, completed: Completed) -> None:
    """The dashboard container on its published port: Chart.js from the image (the copy `make install`
    vendored), a sign-in that reaches identity through the gateway's TLS port (the CA init-secrets made),
    and the city's index, read with the supervisor's token, counting the journey's dossier."""
    dashboard = stack.url("dashboard")
    assert requests.get(f"{dashboard}/healthz", timeout=10).json() == {"status": "ok"}
    chart = requests.get(f"{dashboard}/static/chart.umd.min.js", timeout=10)
    assert chart.status_code == 200 and chart.content == CHART_JS.read_bytes()
    assert requests.get(f"{dashboard}/", allow_redirects=False, timeout=10).headers["Location"] == "/dang-nhap"
    appointed = json.loads(stack.operator_command(
        "identity", "egov-admin", "add-civil-servant", "--id", SUPERVISOR, "--name", "Lê Thị Giám Sát",
        "--agency", "000.00.00.H57", "--role", "supervisor", "--password", SUPERVISOR_PASSWORD,
        "--appointment", f"supervisor@{CITY}", "--output", "json").stdout)
    authenticator = pyotp.parse_uri(appointed["second_factor_uri"])
    assert isinstance(authenticator, pyotp.TOTP)
    signed_in = requests.post(f"{dashboard}/dang-nhap", allow_redirects=False, timeout=30, data={
        "civil_servant_id": SUPERVISOR, "password": SUPERVISOR_PASSWORD, "code": authenticator.now()})
    assert signed_in.status_code == 303, signed_in.text[-1000:]
    session = requests.Session()
    session.cookies.update(signed_in.cookies)
    assert CITY in session.get(f"{dashboard}/api/toi", timeout=10).json()["supervises"]

    def city_counts_the_journey() -> bool:     # the index is a projection of the events
        answer = session.get(f"{dashboard}/api/chi-so", params={"kind": "unit", "code": CITY}, timeout=30)
        assert answer.status_code == 200, answer.text
        return int(answer.json()["index"]["figures"]["settled"]) >= 1

    eventually(city_counts_the_journey, "the journey's dossier settled on the city's index", timeout=60)


def test_a_service_stopped_with_sigterm_drains_and_comes_back(stack: ComposeStack, journey: Journey) -> None:
    container = stack.container_id("procedures")
    restarts = int(stack.inspect(container, "{{.RestartCount}}"))
    # SIGTERM to the container's init, which hands it to nameko: what an orchestrator's stop sends
    # (`docker kill` would count as a manual stop, after which Docker restarts nothing).
    stack.compose("exec", "-T", "procedures", "bash", "-c", "kill -TERM 1", check=False)

    def restarted() -> bool:
        return int(stack.inspect(container, "{{.RestartCount}}")) > restarts

    eventually(restarted, "procedures to exit and be restarted", timeout=90)
    # nameko finished the workers it held and exited on its own (0), not killed after the grace period
    # (137), and its restart policy brought it back.
    # (The die event may show in `docker events` a moment after the restart count moved.)
    exits = eventually(lambda: stack.exit_codes("procedures"), "procedures' exit in the engine's events", timeout=30)
    assert exits == [0], exits
    eventually(lambda: stack.inspect(container, "{{.State.Health.Status}}") == "healthy",
               "procedures to be healthy again", timeout=120)
    procedure = journey.pick_procedure(level=4, with_fee=True)
    assert journey.api.procedures.GetProcedure(pp.GetProcedureRequest(procedure_code=procedure.code),
                                               timeout=10).procedure.code == procedure.code


def test_make_down_leaves_nothing(stack: ComposeStack) -> None:
    started = time.monotonic()
    stack.down()
    assert stack.leftovers() == {"containers": [], "networks": [], "volumes": []}
    print(f"make down: {time.monotonic() - started:.0f} s")
