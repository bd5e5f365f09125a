"""The supervision service through the gateway: a supervisor's GetIndex with drill-down, the overdue
dossiers and apologies, the rights (the units below, nothing beside), and bad input refused with the
field named. Real processes: SecantusDB, the broker, supervision, the gateway; SYNTHETIC events
(bench/dossier_history.py) published as procedures would; tokens signed with the stack's key."""

import uuid
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import grpc
import pytest
from pymongo import MongoClient

from bench.dossier_history import Place, dossier_events
from deploy.local.stack import Stack
from egov.procedures.v1 import procedures_pb2 as pp
from egov.supervision.v1 import supervision_pb2 as pb
from egov.supervision.v1 import supervision_pb2_grpc
from services.common.caller import Caller, CallerKind
from services.common.events.envelope import unpack
from services.common.mongo_store import INBOX
from services.common.roles import Appointment, Role
from services.common.tokens import issue_token
from tests.integration.test_archive_replay import publish
from tests.support import eventually

# The edition procedures imports (2025-03): province → district → commune.
PROVINCE, THUAN_HOA, VY_DA, PHUONG_DUC, PHU_XUAN, TAY_LOC = "46", "474", "19777", "19780", "475", "19750"
PLACES = [Place((VY_DA, THUAN_HOA, PROVINCE), "000.01.31.H57"),
          Place((PHUONG_DUC, THUAN_HOA, PROVINCE), "000.02.31.H57"),
          Place((TAY_LOC, PHU_XUAN, PROVINCE), "000.01.32.H57"), Place((PROVINCE,), "000.00.15.H57")]
TODAY = date.today()
FIRST = (TODAY.replace(day=1) - timedelta(days=330)).replace(day=1)


@dataclass
class Supervision:
    stack: Stack
    api: supervision_pb2_grpc.SupervisionServiceStub
    private_key: bytes
    events: list[Any]

    def token(self, *codes: str, kind: CallerKind = CallerKind.CIVIL_SERVANT) -> tuple[tuple[str, str]]:
        caller = Caller(kind, subject=f"gs-{uuid.uuid4().hex[:6]}",
                        appointments=tuple(Appointment(c, Role.SUPERVISOR) for c in codes))
        token, _ = issue_token(self.private_key, caller, timedelta(minutes=5))
        return (("authorization", f"Bearer {token}"),)


@pytest.fixture(scope="module")
def supervision(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Supervision]:
    stack = Stack(tmp_path_factory.mktemp("supervision-gateway"))
    try:
        stack.start(services=("supervision",), gateway=True)
        events = list(dossier_events(120, PLACES, FIRST, TODAY, f"SYN-{uuid.uuid4().hex[:6]}", seed=7))
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
        yield Supervision(stack, supervision_pb2_grpc.SupervisionServiceStub(channel),
                          Path(stack.env()["EGOV_TOKEN_PRIVATE_KEY_FILE"]).read_bytes(), events)
    finally:
        channel.close()
        stack.stop()


def period() -> tuple[str, str]:
    return f"{FIRST:%Y-%m}", f"{TODAY:%Y-%m}"


def index(s: Supervision, code: str, *by: str) -> pb.GetIndexResponse:
    first, last = period()
    return s.api.GetIndex(pb.GetIndexRequest(scope=pb.Scope(kind=pb.SCOPE_KIND_UNIT, code=code), from_month=first,
                                             to_month=last), metadata=s.token(*by), timeout=10)


def test_the_province_index_counts_every_dossier_and_drills_down_to_its_communes(supervision: Supervision) -> None:
    answer = index(supervision, PROVINCE, PROVINCE)
    submitted = [unpack(e) for e in supervision.events if e.type == "egov.procedures.v1.DossierSubmitted"]
    assert answer.index.name == "Thành phố Huế" and answer.index.has_children
    assert answer.index.figures.received == len(submitted)
    results = Counter(unpack(e).timeliness for e in supervision.events
                      if e.type == "egov.procedures.v1.DossierResultIssued")
    f = answer.index.figures
    assert (f.settled_early, f.settled_on_time, f.settled_late) == (
        results[pp.TIMELINESS_EARLY], results[pp.TIMELINESS_ON_TIME], results[pp.TIMELINESS_LATE])
    assert f.settled == sum(results.values())
    assert sum(m.figures.received for m in answer.months) == f.received
    districts = {c.scope.code: c for c in answer.children if c.scope.kind == pb.SCOPE_KIND_UNIT}
    assert len(districts) == 9 and districts[THUAN_HOA].name == "Quận Thuận Hóa" and districts[THUAN_HOA].has_children
    departments = {c.scope.code: c for c in answer.children if c.scope.kind == pb.SCOPE_KIND_AGENCY}
    by_unit = Counter(u for e in submitted for u in e.dossier.units)
    assert districts[THUAN_HOA].figures.received == by_unit[THUAN_HOA]
    assert districts[PHU_XUAN].figures.received == by_unit[PHU_XUAN]
    assert departments["000.00.15.H57"].figures.received == sum(
        1 for e in submitted if e.dossier.competent_agency_code == "000.00.15.H57")
    # drilling down: the district's answer is the row the province showed, and so on to the commune
    district = index(supervision, THUAN_HOA, PROVINCE)
    assert district.index.figures == districts[THUAN_HOA].figures
    communes = {c.scope.code: c for c in district.children if c.scope.kind == pb.SCOPE_KIND_UNIT}
    assert communes[VY_DA].figures.received == by_unit[VY_DA] > 0
    commune = index(supervision, VY_DA, PROVINCE)
    assert commune.index.figures == communes[VY_DA].figures and not commune.index.has_children


def test_a_commune_supervisor_sees_the_commune_but_not_its_neighbour_or_above(supervision: Supervision) -> None:
    assert index(supervision, VY_DA, "000.01.31.H57").index.scope.code == VY_DA
    for code in (PHUONG_DUC, THUAN_HOA, PROVINCE):
        with pytest.raises(grpc.RpcError) as refused:
            index(supervision, code, "000.01.31.H57")
        assert refused.value.code() == grpc.StatusCode.PERMISSION_DENIED
        assert "scope.code" in (refused.value.details() or "")


def test_bad_input_is_refused_naming_the_field(supervision: Supervision) -> None:
    s = supervision
    future = TODAY.replace(day=1) + timedelta(days=40)
    cases = [
        (pb.GetIndexRequest(scope=pb.Scope(kind=pb.SCOPE_KIND_UNIT, code=PROVINCE), from_month=f"{TODAY:%Y-%m}",
                            to_month=f"{future:%Y-%m}"), grpc.StatusCode.INVALID_ARGUMENT, "to_month"),
        (pb.GetIndexRequest(scope=pb.Scope(kind=pb.SCOPE_KIND_UNIT, code=PROVINCE), from_month="2020-01",
                            to_month=f"{TODAY:%Y-%m}"), grpc.StatusCode.INVALID_ARGUMENT, "from_month"),
        (pb.GetIndexRequest(scope=pb.Scope(kind=pb.SCOPE_KIND_UNIT, code="99999"), from_month=f"{TODAY:%Y-%m}",
                            to_month=f"{TODAY:%Y-%m}"), grpc.StatusCode.NOT_FOUND, "scope.code"),
        (pb.GetIndexRequest(scope=pb.Scope(kind=pb.SCOPE_KIND_UNIT, code=PROVINCE), from_month="2026/01",
                            to_month=f"{TODAY:%Y-%m}"), grpc.StatusCode.INVALID_ARGUMENT, "from_month"),
    ]
    for request, status, field in cases:
        with pytest.raises(grpc.RpcError) as refused:
            s.api.GetIndex(request, metadata=s.token(PROVINCE), timeout=10)
        assert (refused.value.code(), field in (refused.value.details() or "")) == (status, True), request
    with pytest.raises(grpc.RpcError) as citizen:
        s.api.GetIndex(cases[0][0], metadata=s.token(kind=CallerKind.CITIZEN), timeout=10)
    assert citizen.value.code() == grpc.StatusCode.PERMISSION_DENIED


def test_overdue_dossiers_and_apologies_of_the_unit(supervision: Supervision) -> None:
    s = supervision
    first, last = period()
    scope = pb.Scope(kind=pb.SCOPE_KIND_UNIT, code=PROVINCE)
    overdue = s.api.ListOverdueDossiers(pb.ListOverdueDossiersRequest(scope=scope), metadata=s.token(PROVINCE),
                                        timeout=10)
    figures = index(s, PROVINCE, PROVINCE).index.figures
    assert overdue.total == figures.in_progress_overdue
    assert all(d.due_date < overdue.as_of and d.days_late >= 0 for d in overdue.dossiers)
    assert [d.due_date for d in overdue.dossiers] == sorted(d.due_date for d in overdue.dossiers)
    apologies = s.api.ListApologies(pb.ListApologiesRequest(scope=scope, from_month=first, to_month=last),
                                    metadata=s.token(PROVINCE), timeout=10)
    issued = [e for e in s.events if e.type == "egov.procedures.v1.DossierApologyIssued"
              and first <= unpack(e).dossier.occurred_at[:7] <= last]
    assert apologies.total == len(issued) == figures.apologies > 0
    assert all(a.reason and a.new_due_date > a.previous_due_date for a in apologies.apologies)
