"""The deadline watch with two real procedures processes sweeping the same database, then after both
were killed and one started again: each DossierDueSoon and DossierOverdue exactly once. And the
apology, the refusals that change nothing, and the result the post brought back to the desk, through
procedures' RPC and the broker.

Time is not waited for: a dossier is made overdue by writing an earlier acceptance into its record
(what the database would hold had it been accepted weeks ago).

Over 300 lines: the tests share one module-scoped stack (started once), so they stay together."""

import json
import subprocess
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pytest
from nameko.exceptions import RemoteError
from pymongo import MongoClient

from deploy.local.runner import Component
from deploy.local.stack import BIN, ROOT, Stack
from egov.events.v1.cloud_event_pb2 import CloudEvent
from egov.postal.v1.events_pb2 import ShipmentDeliveryFailed
from egov.procedures.v1 import events_pb2 as ev
from egov.procedures.v1 import procedures_pb2 as pb
from services.common import protowire
from services.common.caller import Caller, CallerKind
from services.common.config import database_name
from services.common.events.envelope import decode, unpack
from services.common.roles import Role
from services.procedures.adapters.repository import dossier_from_document
from services.procedures.domain.application import VIETNAM_TIME
from services.procedures.domain.working_days import add_working_days
from tests.integration.test_procedures import (
    DEADLINE,
    JUSTICE,
    VY_DA,
    EventWatch,
    Procedures,
    clerk,
    criminal_record_request,
    new_citizen,
    wait_until,
)
from tests.support import SignedRpcClient
from tests.unit.procedures import catalogue_data as data

WATCH_ENV = {"EGOV_WATCH_INTERVAL_SECONDS": "0.2", "EGOV_WATCH_LEAD_WORKING_DAYS": "1"}
LONG_AGO = date(2026, 1, 5)       # a Monday: 10 working days later is 19 January 2026
EXPECTED_OVERDUE = Counter({("DossierOverdue", ev.WATCHED_DEADLINE_DOSSIER): 1,
                            ("DossierOverdue", ev.WATCHED_DEADLINE_STEP): 1})


def accepted_long_ago(procedures_db: Any, code: str) -> None:
    """As if accepted on LONG_AGO: its step and its appointment are both past (procedures' database)."""
    due = add_working_days(LONG_AGO, 10)
    procedures_db["dossiers"].update_one({"_id": code}, {"$set": {
        "accepted_at": datetime(2026, 1, 5, 2, 0, tzinfo=UTC), "due_date": due.isoformat(),
        "legal_due_date": due.isoformat(), "queue_key": f"{due.isoformat()}|{code}"}})


class Watched:
    def __init__(self, stack: Stack, service: Procedures, events: EventWatch) -> None:
        self.stack, self.service, self.events = stack, service, events
        self.mongo: MongoClient[Any] = MongoClient(stack.mongo_uri, tz_aware=True)
        self.db = self.mongo[database_name("procedures")]

    def replica(self, name: str) -> Component:
        component = self.stack.service("procedures")
        return Component(name, component.argv, component.env, lambda proc: self.stack.wait_for_service("procedures"))

    def accepted_dossier(self, staff: Caller, citizen: Caller) -> str:
        filed = self.service.call("submit_dossier", staff, **criminal_record_request(
            applicant_citizen_id=citizen.subject, payment_method="PAYMENT_METHOD_AT_COUNTER"))
        self.service.call("accept_dossier", staff, code=filed["code"])
        return str(filed["code"])

    def alerts(self, code: str) -> Counter[tuple[str, int]]:
        """(event type, watched deadline) -> distinct events seen on the broker."""
        seen: dict[tuple[str, int], set[str]] = {}
        for event in self.events.all():
            if event.subject == code and event.type.endswith(("DossierDueSoon", "DossierOverdue")):
                seen.setdefault((event.type.rsplit(".", 1)[1], unpack(event).kind), set()).add(event.id)
        return Counter({key: len(ids) for key, ids in seen.items()})

    def in_outbox(self, codes: list[str]) -> Counter[str]:
        """Alert events written to procedures' outbox, by dossier."""
        found: Counter[str] = Counter()
        for doc in self.db["outbox"].find({"type": {"$in": ["egov.procedures.v1.DossierDueSoon",
                                                             "egov.procedures.v1.DossierOverdue"]}}):
            subject = decode(doc["body"]).subject
            if subject in codes:
                found[subject] += 1
        return found

    def overdue_marker(self, staff: Caller, citizen: Caller) -> str:
        """A dossier made overdue now: once its events arrive, a sweep has run after everything before."""
        code = self.accepted_dossier(staff, citizen)
        accepted_long_ago(self.db, code)
        # Both of its alerts: they commit together but reach the broker one after the other.
        wait_until(lambda: self.alerts(code) == EXPECTED_OVERDUE, "the marker's alerts")
        return code


@pytest.fixture(scope="module")
def watched(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Watched]:
    stack = Stack(Path(tmp_path_factory.mktemp("watch")) / "stack", extra_env=WATCH_ENV)
    try:
        stack.start(services=("procedures",), gateway=False)
        events = EventWatch(stack.amqp_uri)
        with SignedRpcClient(stack.env(), uri=stack.amqp_uri, timeout=DEADLINE) as rpc:
            found = Watched(stack, Procedures(stack, rpc), events)
            yield found
            found.service.publisher.close()
            found.mongo.close()
        events.close()
    finally:
        stack.stop()


def test_two_replicas_and_a_restart_emit_each_alert_once(watched: Watched) -> None:
    service, staff, citizen = watched.service, clerk(JUSTICE), new_citizen()
    service.register(citizen)
    watched.stack.runner.start(watched.replica("procedures-b"))          # two replicas sweep from now on

    overdue = [watched.accepted_dossier(staff, citizen) for _ in range(4)]
    on_time = watched.accepted_dossier(staff, citizen)                   # due in 10 working days: quiet
    for code in overdue:
        accepted_long_ago(watched.db, code)
    for code in overdue:
        wait_until(lambda code=code: watched.alerts(code) == EXPECTED_OVERDUE, f"both alerts of {code}")
    first = watched.overdue_marker(staff, citizen)
    second = watched.overdue_marker(staff, citizen)                      # both replicas swept again since

    overdue_event = unpack(next(e for e in watched.events.all() if e.subject == overdue[0]
                                and e.type == "egov.procedures.v1.DossierOverdue"))
    assert overdue_event.responsible_agency_code == JUSTICE and overdue_event.dossier.code == overdue[0]
    assert overdue_event.due_date in ("2026-01-19", "2026-01-16") and overdue_event.step
    assert overdue_event.dossier.procedure_code == "2.000488"

    # Both replicas ran the whole time; then both are killed without warning and one started again:
    # it finds every alert recorded.
    assert all(watched.stack.processes[name].poll() is None for name in ("procedures", "procedures-b"))
    watched.stack.runner.kill("procedures-b")
    watched.stack.runner.kill("procedures")
    watched.stack.runner.start(watched.replica("procedures"))
    after_restart = watched.overdue_marker(staff, citizen)

    for code in (*overdue, first, second, after_restart):
        assert watched.alerts(code) == EXPECTED_OVERDUE, code
    assert watched.alerts(on_time) == Counter()
    marks = watched.db["deadline_alerts"].count_documents({"dossier_code": {"$in": [*overdue, first, second]}})
    assert marks == 2 * (len(overdue) + 2)
    assert watched.in_outbox([*overdue, first, second]) == Counter({c: 2 for c in (*overdue, first, second)})


def test_due_soon_the_working_day_before(watched: Watched) -> None:
    service, staff, citizen = watched.service, clerk(JUSTICE), new_citizen()
    service.register(citizen)
    code = watched.accepted_dossier(staff, citizen)
    due = add_working_days(datetime.now(UTC).astimezone(VIETNAM_TIME).date(), 1)
    watched.db["dossiers"].update_one({"_id": code}, {"$set": {"due_date": due.isoformat()}})
    wait_until(lambda: watched.alerts(code)[("DossierDueSoon", ev.WATCHED_DEADLINE_DOSSIER)], "DossierDueSoon")
    watched.overdue_marker(staff, citizen)
    soon = [unpack(e) for e in watched.events.all() if e.subject == code and e.type.endswith("DossierDueSoon")]
    assert [(s.kind, s.due_date) for s in soon] == [(ev.WATCHED_DEADLINE_DOSSIER, due.isoformat())]
    assert soon[0].dossier.due_date == due.isoformat() and soon[0].step


def test_a_step_due_weeks_before_the_appointment_is_watched_on_time(watched: Watched) -> None:
    """Accepted long ago and re-appointed far ahead: its first step was due weeks ago while the
    appointment is days away. The watch finds it by the step's date, not only when the appointment
    nears (it used to look at the appointment alone)."""
    service, staff, citizen = watched.service, clerk(JUSTICE), new_citizen()
    service.register(citizen)
    code = watched.accepted_dossier(staff, citizen)
    due = add_working_days(datetime.now(UTC).astimezone(VIETNAM_TIME).date(), 5)
    changes = {"accepted_at": datetime(2026, 1, 5, 2, 0, tzinfo=UTC), "due_date": due.isoformat(),
               "legal_due_date": due.isoformat(), "queue_key": f"{due.isoformat()}|{code}"}
    doc = {**watched.db["dossiers"].find_one({"_id": code}), **changes}
    step_due = dossier_from_document(doc).earliest_watched_due()       # what a save would have stored
    assert step_due is not None and step_due < due
    watched.db["dossiers"].update_one({"_id": code}, {"$set": {**changes, "watched_due_date": step_due.isoformat()}})

    wait_until(lambda: watched.alerts(code)[("DossierOverdue", ev.WATCHED_DEADLINE_STEP)], "the step's alert")
    watched.overdue_marker(staff, citizen)
    assert watched.alerts(code) == Counter({("DossierOverdue", ev.WATCHED_DEADLINE_STEP): 1})


def _events_of(watched: Watched, code: str, kind: str) -> list[CloudEvent]:
    return [e for e in watched.events.all() if e.subject == code and e.type == f"egov.procedures.v1.{kind}"]


def test_the_apology_once_before_the_deadline_and_refusals_change_nothing(watched: Watched) -> None:
    service, staff, citizen = watched.service, clerk(JUSTICE), new_citizen()
    service.register(citizen)
    code = watched.accepted_dossier(staff, citizen)
    before = service.call("get_dossier", staff, code=code)
    due = date.fromisoformat(before["due_date"])
    new_due = add_working_days(due, 3)

    refusals = [
        (clerk(JUSTICE, Role.RECEIVER, Role.SPECIALIST, Role.RESULT_DESK),          # no leader role
         {"reason": "Chờ xác minh", "new_due_date": new_due.isoformat()}, "PermissionDenied", "caller"),
        (staff, {"reason": " ", "new_due_date": new_due.isoformat()}, "InvalidArgument", "reason"),
        (staff, {"reason": "Chờ xác minh", "new_due_date": "24/02/2027"}, "InvalidArgument", "new_due_date"),
        (staff, {"reason": "Chờ xác minh", "new_due_date": due.isoformat()}, "InvalidArgument", "new_due_date"),
    ]
    for caller, request, exc_type, field in refusals:
        refused = service.refused("issue_apology", caller, code=code, **request)
        assert (refused.exc_type, refused.value.split(":")[0]) == (exc_type, field), refused.value
    assert service.call("get_dossier", staff, code=code) == before

    apologised = service.call("issue_apology", staff, code=code, reason="Chờ kết quả xác minh của công an",
                              new_due_date=new_due.isoformat())
    assert (apologised["due_date"], apologised["legal_due_date"], apologised["reappointments"]) == (
        new_due.isoformat(), due.isoformat(), 1)
    issued = events_wait(watched, code, "DossierApologyIssued")
    assert (issued.previous_due_date, issued.new_due_date, issued.reappointment, issued.responsible_agency_code,
            issued.signed_by, issued.letter_number) == (
        due.isoformat(), new_due.isoformat(), 1, JUSTICE, staff.actor, f"01/PXL-{code}")
    slip = service.rpc.procedures.get_slip(request={"code": code, "form": "SLIP_FORM_APOLOGY"},
                                           caller=staff.to_wire())
    assert slip["file_name"].endswith("-mau-04.pdf") and slip["pdf"].startswith("JVBERi0")   # base64 of "%PDF-"

    after = service.call("get_dossier", staff, code=code)
    again = service.refused("issue_apology", staff, code=code, reason="Lại chậm",
                            new_due_date=add_working_days(new_due, 2).isoformat())
    assert again.exc_type == "FailedPrecondition" and again.value.startswith("reappointment")
    assert "Decree 118/2025" in again.value
    assert service.call("get_dossier", staff, code=code) == after

    # Another dossier on its due date: too late for an apology, nothing changes.
    late = watched.accepted_dossier(staff, citizen)
    today = datetime.now(UTC).astimezone(VIETNAM_TIME).date()
    watched.db["dossiers"].update_one({"_id": late}, {"$set": {"due_date": today.isoformat()}})
    unchanged = service.call("get_dossier", staff, code=late)
    too_late = service.refused("issue_apology", staff, code=late, reason="Chờ xác minh",
                               new_due_date=add_working_days(today, 3).isoformat())
    assert too_late.exc_type == "FailedPrecondition" and too_late.value.startswith("due_date")
    assert service.call("get_dossier", staff, code=late) == unchanged
    no_extension = service.refused("extend_dossier", staff, code=code, working_days=2, reason="Cần thêm thời gian")
    assert no_extension.exc_type == "FailedPrecondition" and no_extension.value.startswith("procedure_code")
    assert len(_events_of(watched, code, "DossierApologyIssued")) == 1
    assert not _events_of(watched, late, "DossierApologyIssued") and not _events_of(watched, code, "DossierExtended")


def test_a_failed_delivery_returns_the_result_to_the_desk_until_collected(watched: Watched) -> None:
    service, staff, citizen = watched.service, clerk(JUSTICE), new_citizen()
    service.register(citizen)
    code = watched.accepted_dossier(staff, citizen)
    service.call("approve_dossier", staff, code=code)
    service.call("issue_result", staff, code=code, result_document_number="77/STP-LLTP")
    assert service.refused("collect_result", staff, code=code).exc_type == "FailedPrecondition"

    failure = ShipmentDeliveryFailed(shipment_id="S-1", dossier_code=code, citizen_id=citizen.subject,
                                     tracking_number="EB123456785VN", failed_at="2030-01-02T10:00:00+07:00",
                                     reason="giao không thành công tại Phường Phú Hội: không có người nhận")
    service.publish(failure, code, "/egov/postal")
    service.publish(failure, code, "/egov/postal")           # reported again: one return to the desk
    returned = events_wait(watched, code, "DossierReturnedToDesk")
    assert (returned.shipment_id, returned.reason) == ("S-1", failure.reason)
    assert returned.dossier.status == pb.DOSSIER_STATUS_AWAITING_PICKUP
    service.wait_until_consumed()
    assert len(_events_of(watched, code, "DossierReturnedToDesk")) == 1
    waiting = service.call("get_dossier", citizen, code=code)
    assert waiting["status"] == "DOSSIER_STATUS_AWAITING_PICKUP" and not waiting.get("completed_at")

    desk_of_another_agency = clerk("000.00.07.H57")
    assert service.refused("collect_result", desk_of_another_agency, code=code).exc_type == "PermissionDenied"
    done = service.call("collect_result", staff, code=code)
    assert (done["status"], done["timeliness"]) == ("DOSSIER_STATUS_COMPLETED", "TIMELINESS_EARLY")
    completed = events_wait(watched, code, "DossierCompleted")
    assert completed.timeliness == pb.TIMELINESS_EARLY


def events_wait(watched: Watched, code: str, kind: str) -> Any:
    found = wait_until(lambda: _events_of(watched, code, kind), f"{kind} for {code}")
    return unpack(found[0])



def test_an_extension_where_the_imported_procedure_allows_it(watched: Watched, tmp_path: Path) -> None:
    """A test procedure (decision 999/QĐ-UBND, code 1.999995, not a real one) imported with
    `extension: {allowed: true, max_working_days: 3}`: the commune's leader takes 2 days, then no more
    than the 1 left."""
    row = data.row("1.999995", "Thủ tục thử nghiệm gia hạn", ["commune"],
                   extension={"allowed": True, "max_working_days": 3})
    path = tmp_path / "extension.json"
    path.write_text(json.dumps(data.catalogue("999/QĐ-UBND", row, scope="excerpt"), ensure_ascii=False),
                    encoding="utf-8")
    done = subprocess.run([str(BIN / "egov-catalogue"), "import", str(path), "--decision", "999/QĐ-UBND",
                           "--mongo-uri", watched.stack.mongo_uri], cwd=ROOT, capture_output=True, text=True,
                          timeout=120, env=watched.stack.env())
    assert done.returncode == 0, done.stderr
    anyone = Caller(CallerKind.ANONYMOUS)

    def served_extension() -> int:
        try:      # NotFound until the replica has picked the import up (within a second, more under load)
            reply = watched.service.rpc.procedures.get_procedure(
                request={"procedure_code": "1.999995", "unit_code": "19777"}, caller=anyone.to_wire())
        except RemoteError:
            return 0
        return protowire.parse(pb.GetProcedureResponse, reply).procedure.extension_working_days

    wait_until(lambda: served_extension() == 3, "the imported procedure served")

    service, commune, citizen = watched.service, clerk(VY_DA), new_citizen()
    service.register(citizen)
    filed = service.call("submit_dossier", commune, procedure_code="1.999995", unit_code="19777",
                         applicant_citizen_id=citizen.subject, payment_method="PAYMENT_METHOD_NO_FEE",
                         documents=[{"document_code": "TK", "file_name": "tk.pdf", "sha256": "0f" * 32,
                                     "size_bytes": 4096}], delivery={"method": "DELIVERY_METHOD_PICKUP"})
    code = filed["code"]
    accepted = service.call("accept_dossier", commune, code=code)
    due = date.fromisoformat(accepted["due_date"])
    extended = service.call("extend_dossier", commune, code=code, working_days=2, reason="Cần xác minh thêm")
    assert (extended["due_date"], extended["legal_due_date"], extended["extended_working_days"]) == (
        add_working_days(due, 2).isoformat(), add_working_days(due, 2).isoformat(), 2)
    event = events_wait(watched, code, "DossierExtended")
    assert (event.previous_due_date, event.new_due_date, event.reason, event.actor) == (
        due.isoformat(), extended["due_date"], "Cần xác minh thêm", commune.actor)
    too_many = service.refused("extend_dossier", commune, code=code, working_days=2, reason="Thêm nữa")
    assert too_many.exc_type == "InvalidArgument" and too_many.value.startswith("working_days")
    assert "must be 1 to 1" in too_many.value
    assert service.call("get_dossier", commune, code=code) == extended
    assert len(_events_of(watched, code, "DossierExtended")) == 1
