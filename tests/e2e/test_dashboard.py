"""The supervisors' dashboard in a real browser: Debian's chromium, headless, driven by Playwright
(the system browser's executable; no browser is downloaded). A supervisor of the city signs in with
password and authenticator code, reads the city's index, drills down to one commune, and every figure
the page shows is the gRPC answer's; a procedure named `<script>…` shows as text and runs nothing; a
unit outside the tree shows the gateway's message, no trace. The screenshot is docs/SUPERVISION.md's.

Processes: SecantusDB, the broker, identity, supervision, the gateway and the dashboard; the dossier
events are SYNTHETIC (bench/dossier_history.py), published as procedures would.
"""

import re
import shutil
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import grpc
import pyotp
import pytest
from nameko.standalone.rpc import ClusterRpcClient
from playwright.sync_api import Page, sync_playwright
from pymongo import MongoClient

from bench.dossier_history import Place, dossier_events
from deploy.local.stack import ROOT, Stack
from egov.common.v1 import caller_pb2
from egov.procedures.v1.events_pb2 import DossierAccepted, DossierRef, DossierSubmitted
from egov.supervision.v1 import supervision_pb2 as pb
from egov.supervision.v1 import supervision_pb2_grpc
from services.common.caller import Caller, CallerKind
from services.common.events.envelope import new_event
from services.common.mongo_store import INBOX
from services.common.operator_signing import sign_as_operator
from services.common.roles import Appointment, Role
from services.common.tokens import issue_token
from tests.integration.test_archive_replay import publish
from tests.support import eventually

# The edition procedures imports (2025-03): city → district → commune.
CITY, THUAN_HOA, VY_DA, PHUONG_DUC = "46", "474", "19777", "19780"
SUPERVISOR, PASSWORD = "gs-thanh-pho-hue", "giam-sat-766-2026"
SCRIPT_NAME = "<script>window.__pwned = 1</script> Thủ tục thử"
SCREENSHOT = ROOT / "docs" / "supervision-dashboard.png"
TODAY = date.today()


@dataclass
class Site:
    stack: Stack
    url: str
    second_factor: str
    api: supervision_pb2_grpc.SupervisionServiceStub
    private_key: bytes

    def index(self, code: str) -> pb.GetIndexResponse:
        caller = Caller(CallerKind.CIVIL_SERVANT, subject=SUPERVISOR,
                        appointments=(Appointment(CITY, Role.SUPERVISOR),))
        token, _ = issue_token(self.private_key, caller, timedelta(minutes=5))
        first = date(TODAY.year - 1, TODAY.month, 1)
        return self.api.GetIndex(pb.GetIndexRequest(scope=pb.Scope(kind=pb.SCOPE_KIND_UNIT, code=code),
                                                    from_month=f"{first:%Y-%m}", to_month=f"{TODAY:%Y-%m}"),
                                 metadata=(("authorization", f"Bearer {token}"),), timeout=10)


def overdue_with_a_script_name() -> list[Any]:
    """A dossier of a procedure whose name is markup, accepted and long overdue."""
    received = TODAY - timedelta(days=40)
    ref = DossierRef(code=f"000.01.31.H57-SYN-{uuid.uuid4().hex[:6]}", procedure_code="SYN.XSS",
                     procedure_name=SCRIPT_NAME, competent_agency_code="000.01.31.H57",
                     receiving_agency_code="000.01.31.H57", handling_agency_code="000.01.31.H57",
                     unit_code=VY_DA, units=[VY_DA, THUAN_HOA, CITY], channel=caller_pb2.CHANNEL_ONLINE,
                     occurred_at=f"{received}T09:00:00+07:00")
    return [new_event(DossierSubmitted(dossier=ref, channel=caller_pb2.CHANNEL_ONLINE), source="/egov/procedures",
                      subject=ref.code),
            new_event(DossierAccepted(dossier=ref, accepted_at=ref.occurred_at,
                                      due_date=(received + timedelta(days=7)).isoformat()),
                      source="/egov/procedures", subject=ref.code)]


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    stack = Stack(tmp_path_factory.mktemp("dashboard"))
    try:
        stack.start(services=("identity", "supervision"), gateway=True)
        stack.start_dashboard()
        registration = {"civil_servant_id": SUPERVISOR, "full_name": "Lê Thị Giám Sát", "agency_code": "000.00.00.H57",
                        "role": "supervisor", "password": PASSWORD, "appointments": [f"supervisor@{CITY}"]}
        with ClusterRpcClient(uri=stack.amqp_uri, timeout=10) as rpc:
            appointed = rpc.identity.register_civil_servant(request=registration, caller=sign_as_operator(
                "identity", "register_civil_servant", registration, stack.env()))
        places = [Place((VY_DA, THUAN_HOA, CITY), "000.01.31.H57"),
                  Place((PHUONG_DUC, THUAN_HOA, CITY), "000.02.31.H57"), Place((CITY,), "000.00.15.H57")]
        events = [*dossier_events(80, places, date(TODAY.year - 1, TODAY.month, 1), TODAY, "SYN-dashboard", seed=3),
                  *overdue_with_a_script_name()]
        publish(stack, events)
        client: MongoClient[Any] = MongoClient(stack.mongo_uri)
        inbox = client["egov_supervision"][INBOX]
        eventually(lambda: inbox.count_documents({}) >= len(events), "supervision to project the events", 120)
        client.close()
    except Exception:
        for log in sorted(stack.logs.glob("*.log")):
            print(f"==== {log.name}\n{log.read_text(errors='replace')[-3000:]}")
        stack.stop()
        raise
    channel = grpc.insecure_channel(f"127.0.0.1:{stack.ports.gateway}")
    try:
        yield Site(stack, f"http://127.0.0.1:{stack.ports.dashboard}", appointed["second_factor_uri"],
                   supervision_pb2_grpc.SupervisionServiceStub(channel),
                   Path(stack.env()["EGOV_TOKEN_PRIVATE_KEY_FILE"]).read_bytes())
    finally:
        channel.close()
        stack.stop()


@pytest.fixture(scope="module")
def page() -> Iterator[Page]:
    executable = shutil.which("chromium")
    if executable is None:
        pytest.fail("chromium is not installed: run deploy/local/ensure-chromium.sh (make test does)")
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=executable, headless=True, args=["--no-sandbox"])
        page = browser.new_page(viewport={"width": 1280, "height": 1000}, locale="vi-VN")
        yield page
        browser.close()


def loaded(page: Page, expected: str) -> None:
    """Wait for the page to finish loading a scope (or to show why it could not)."""
    page.wait_for_selector("body[data-loaded]", state="attached", timeout=30000)
    got = page.get_attribute("body", "data-loaded")
    assert got == expected, f"{got}: {page.text_content('#message')}"


def shown(page: Page, field: str) -> float:
    """A KPI as the page shows it (vi-VN: 1.234,5) as a number."""
    text = page.text_content(f"#kpis dd[data-field={field}]") or ""
    return float(text.replace(".", "").replace(",", "."))


def same_figures(page: Page, figures: pb.Figures) -> None:
    for field in ("received", "received_online", "settled", "settled_early", "settled_on_time", "settled_late",
                  "in_progress_overdue", "apologies"):
        assert shown(page, field) == getattr(figures, field), field
    for field in ("on_time_rate", "online_rate", "online_payment_rate", "average_days"):
        assert shown(page, field) == pytest.approx(getattr(figures, field), abs=0.005), field


def test_a_supervisor_signs_in_drills_down_from_the_city_to_a_commune_and_sees_the_grpc_figures(
        site: Site, page: Page) -> None:
    page.goto(site.url)
    assert page.url.endswith("/dang-nhap")
    page.fill("#civil_servant_id", SUPERVISOR)
    page.fill("#password", "not-the-password")
    page.fill("#code", "000000")
    page.click("button[type=submit]")
    assert "Sai mã cán bộ, mật khẩu hoặc mã xác thực" in (page.text_content("[role=alert]") or "")

    page.fill("#civil_servant_id", SUPERVISOR)
    page.fill("#password", PASSWORD)
    page.fill("#code", pyotp.parse_uri(site.second_factor).now())
    page.click("button[type=submit]")
    loaded(page, f"unit:{CITY}")
    city = site.index(CITY)
    assert page.text_content("#unit-name") == "Thành phố Huế"
    same_figures(page, city.index.figures)
    assert city.index.figures.received > 0
    page.screenshot(path=str(SCREENSHOT), full_page=True)
    # each chart has a table view: the months' table has the 13 months of the answer
    page.click("section[data-table=months] button.toggle")
    assert page.is_visible("#table-months") and not page.is_visible("#chart-months")
    months = page.locator("#table-months tbody tr td[data-field=month]").all_text_contents()
    assert months == [m.month for m in city.months] and len(months) == 13
    page.click("section[data-table=months] button.toggle")

    # the ranking's table lists the districts (and the city's departments); a click drills down
    page.click("#table-ranking a:text-is('Quận Thuận Hóa')")
    loaded(page, f"unit:{THUAN_HOA}")
    same_figures(page, site.index(THUAN_HOA).index.figures)
    page.click("#table-ranking a:text-is('Phường Vỹ Dạ')")
    loaded(page, f"unit:{VY_DA}")
    commune = site.index(VY_DA)
    assert page.text_content("#unit-name") == "Phường Vỹ Dạ"
    same_figures(page, commune.index.figures)
    assert commune.index.figures.received > 0
    assert "Thành phố Huế\u203aQuận Thuận Hóa\u203aPhường Vỹ Dạ" in (page.text_content("#breadcrumb") or "")

    # the markup in a procedure's name is text on the page and ran nothing
    overdue = page.text_content("#table-overdue") or ""
    assert SCRIPT_NAME in overdue
    assert page.evaluate("window.__pwned") is None


def test_each_table_exports_as_csv_and_a_bad_unit_shows_the_message_not_a_trace(site: Site, page: Page) -> None:
    for table in ("months", "ranking", "overdue", "apologies"):
        href = page.get_attribute(f"section[data-table={table}] a.csv", "href") or ""
        reply = page.request.get(f"{site.url}{href}")
        assert reply.status == 200 and reply.headers["content-type"].startswith("text/csv"), table
        assert reply.text().lstrip("\ufeff").splitlines()[0].count(",") >= 4, table
    overdue_csv = page.request.get(f"{site.url}/csv/overdue?kind=unit&code={VY_DA}").text()
    assert SCRIPT_NAME in overdue_csv

    page.goto(f"{site.url}/?code=99999")
    loaded(page, "error")
    message = page.text_content("#message") or ""
    assert "scope.code" in message and "99999" in message
    assert not re.search(r"Traceback|File \"", page.content())
    refused = page.request.get(f"{site.url}/api/chi-so?kind=unit&code={CITY}&from=2000-01&to={TODAY:%Y-%m}")
    assert refused.status == 400 and "from_month" in refused.json()["error"]
