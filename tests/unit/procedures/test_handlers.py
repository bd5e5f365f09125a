"""The procedures service layer on its in-memory repositories (services/procedures/fakes.py) and the
test catalogue (factories.py): every command and event handler, each run in one transaction as the
service runs it, without nameko, RabbitMQ or MongoDB. Commands are built as domain commands
(domain/commands.py), as the entrypoint hands them over after translation."""

from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime
from functools import partial
from typing import Any, TypeVar

import pytest
from google.protobuf.message import Message

from egov.events.v1.cloud_event_pb2 import CloudEvent
from egov.identity.v1.events_pb2 import CitizenRegistered, CivilServantRegistered
from egov.payments.v1.events_pb2 import PaymentSettled
from egov.postal.v1.events_pb2 import ShipmentDelivered
from egov.procedures.v1 import events_pb2 as ev
from egov.procedures.v1 import procedures_pb2 as pb
from services.common.caller import Caller, CallerKind
from services.common.errors import FailedPrecondition, NotFound, PermissionDenied
from services.common.events.envelope import new_event
from services.common.memory_store import InMemoryStore
from services.common.mongo_store import Transaction
from services.common.roles import Appointment, Role
from services.procedures import handlers
from services.procedures.adapters.repository import DossierRepository
from services.procedures.domain import commands
from services.procedures.domain.application import Address, SubmittedDocument
from services.procedures.domain.dossier import Dossier, DossierStatus
from services.procedures.fakes import KnownApplicants, in_memory_store
from tests.unit.procedures.factories import CATALOGUE, CENTRE, CENTRE_DESK, CITIZEN, JUSTICE, VY_DA, VY_DA_DESK

T = TypeVar("T")
OWNER = Caller(CallerKind.CITIZEN, subject=CITIZEN)
OPERATOR = Caller(CallerKind.OPERATOR, subject="operator")
ADDRESS = Address(street="12 Lê Lợi", commune="Phú Hội", district="Thuận Hóa", province="Huế")
BY_POST = commands.DeliveryDetails(method="DELIVERY_METHOD_POST", address=ADDRESS, recipient_name="Nguyễn Văn An",
                                   recipient_phone="0912345678")
PICKUP = commands.DeliveryDetails(method="DELIVERY_METHOD_PICKUP", address=None, recipient_name="",
                                  recipient_phone="")
VERIFIER = KnownApplicants({CITIZEN: ("Nguyễn Văn An", "1990-05-17")})


def staff(agency: str, *roles: Role, subject: str = "cb-1") -> Caller:
    return Caller(CallerKind.CIVIL_SERVANT, subject=subject, agency_code=agency,
                  appointments=tuple(Appointment(agency, r) for r in roles))


RECEIVER = staff(CENTRE.agency_code, Role.RECEIVER, Role.RESULT_DESK, subject="cb-desk")
SPECIALIST = staff(JUSTICE.agency_code, Role.SPECIALIST, subject="cb-specialist")
LEADER = staff(JUSTICE.agency_code, Role.LEADER, subject="cb-leader")
COMMUNE = staff(VY_DA.agency_code, Role.RECEIVER, Role.SPECIALIST, Role.LEADER, Role.RESULT_DESK, subject="cb-vd")


def document(code: str) -> SubmittedDocument:
    return SubmittedDocument(document_code=code, file_name=f"{code.lower()}.pdf", sha256="0f" * 32, size_bytes=4096)


def run(store: InMemoryStore, command: Callable[[Transaction], T]) -> T:
    return store.transaction(command)


def now() -> datetime:
    return datetime.now(UTC)


def deliver(store: InMemoryStore, payload: Message, subject: str) -> CloudEvent:
    event = new_event(payload, source="/egov/test", subject=subject)
    handlers.handle_event(store, event)
    return event


@pytest.fixture
def store() -> InMemoryStore:
    store = in_memory_store()
    for desk in (CENTRE_DESK, VY_DA_DESK):
        command = commands.ConfigureDesk(agency_code=desk.agency_code, name=desk.name, unit_code=desk.unit_code,
                                         accepts=desk.accepts)
        run(store, partial(handlers.configure_desk, catalogue=CATALOGUE, command=command, caller=OPERATOR))
    deliver(store, CitizenRegistered(citizen_id=CITIZEN, full_name="Nguyễn Văn An"), CITIZEN)
    return store


# A criminal record extract (2.000488) filed online, paid online and returned by post.
EXTRACT = commands.SubmitDossier(
    procedure_code="2.000488", unit_code="", receiving_agency_code="", applicant_citizen_id="", applicant=None,
    proxy=None, payment_method="PAYMENT_METHOD_ONLINE", fee_category="", delivery=BY_POST,
    documents=(document("TK01"), document("CCCD")), client_request_id="")


def submit(store: InMemoryStore, caller: Caller = OWNER, **fields: Any) -> Dossier:
    command = replace(EXTRACT, **fields)
    return run(store, lambda tx: handlers.submit_dossier(tx, CATALOGUE, VERIFIER, command, caller, now()))


def dossier(store: InMemoryStore, code: str) -> Dossier:
    found = store.repository(DossierRepository).get(code)
    assert found is not None
    return found


def emitted(store: InMemoryStore, payload_type: type[Message]) -> list[Any]:
    return store.events(payload_type)


def test_an_online_dossier_is_paid_accepted_worked_issued_and_delivered(store: InMemoryStore) -> None:
    first = submit(store, client_request_id="req-1")
    assert submit(store, client_request_id="req-1").code == first.code          # a retry finds the first
    code = first.code
    assert first.status is DossierStatus.AWAITING_PAYMENT and code.startswith(CENTRE.agency_code)
    [submitted] = emitted(store, ev.DossierSubmitted)
    assert (submitted.dossier.code, submitted.fee_vnd, submitted.payment_method) == (code, 200_000,
                                                                                      pb.PAYMENT_METHOD_ONLINE)
    with pytest.raises(FailedPrecondition):
        run(store, lambda tx: handlers.accept_dossier(tx, commands.AcceptDossier(code), RECEIVER, now()))
    deliver(store, PaymentSettled(bill_id="B-1", dossier_code=code, citizen_id=CITIZEN, amount_vnd=200_000), code)
    assert [e.bill_id for e in emitted(store, ev.DossierPaymentRecorded)] == ["B-1"]
    deliver(store, CivilServantRegistered(civil_servant_id=SPECIALIST.subject,
                                          appointments=[a.to_claim() for a in SPECIALIST.appointments]), code)
    run(store, lambda tx: handlers.accept_dossier(tx, commands.AcceptDossier(code), RECEIVER, now()))
    assert emitted(store, ev.DossierAccepted)[0].due_date == dossier(store, code).due_date.isoformat()  # type: ignore[union-attr]
    assign = commands.AssignDossier(code=code, assignee=SPECIALIST.subject)
    run(store, lambda tx: handlers.assign_dossier(tx, assign, LEADER, now()))
    assert emitted(store, ev.DossierAssigned)[0].assignee == SPECIALIST.subject
    step = commands.RecordStep(code=code, step="Thẩm định, xác minh", note="Đủ điều kiện", done=False)
    run(store, lambda tx: handlers.record_step(tx, step, SPECIALIST, now()))
    ask = commands.RequestSupplement(code=code, reason="Thiếu văn bản ủy quyền",
                                    missing_document_codes=("GUQ",))
    run(store, lambda tx: handlers.request_supplement(tx, CATALOGUE, ask, SPECIALIST, now()))
    assert dossier(store, code).status is DossierStatus.SUPPLEMENT_REQUESTED
    supplement = commands.ProvideSupplement(code=code, documents=(document("GUQ"),))
    run(store, lambda tx: handlers.provide_supplement(tx, CATALOGUE, supplement, OWNER, now()))
    assert dossier(store, code).status is DossierStatus.IN_PROGRESS
    run(store, lambda tx: handlers.approve_dossier(tx, commands.ApproveDossier(code=code, note=""), LEADER, now()))
    issue = commands.IssueResult(code=code, result_document_number="125/STP-LLTP")
    assert run(store, lambda tx: handlers.issue_result(tx, issue, RECEIVER, now())).status \
        is DossierStatus.RESULT_ISSUED
    assert emitted(store, ev.DossierResultIssued)[0].delivery.method == pb.DELIVERY_METHOD_POST
    delivered = ShipmentDelivered(dossier_code=code, citizen_id=CITIZEN, tracking_number="EB123456785VN",
                                  delivered_at=now().isoformat())
    deliver(store, delivered, code)
    deliver(store, delivered, code)                                           # reported again: completed once
    assert dossier(store, code).status is DossierStatus.COMPLETED
    [completed] = emitted(store, ev.DossierCompleted)
    assert completed.timeliness == pb.TIMELINESS_EARLY       # settled before the due date (Decision 766)
    assert {e.correlation_id for e in store.published} == {code}


def birth(store: InMemoryStore) -> Dossier:
    return submit(store, procedure_code="1.001193", unit_code=VY_DA.code, payment_method="PAYMENT_METHOD_NO_FEE",
                  documents=(document("TK01"), document("GCS")), delivery=PICKUP)


def test_the_receiving_desk_returns_a_dossier_for_supplement_before_accepting_it(store: InMemoryStore) -> None:
    code = birth(store).code
    assert code.startswith(VY_DA.agency_code)
    back = commands.ReturnDossier(code=code, missing_document_codes=("GCS",), guidance="Bản chụp không rõ")
    run(store, lambda tx: handlers.return_dossier(tx, CATALOGUE, back, COMMUNE, now()))
    [asked] = emitted(store, ev.DossierSupplementRequested)
    assert asked.at_reception and list(asked.missing_document_codes) == ["GCS"]


def test_a_pickup_dossier_issued_is_completed_at_once(store: InMemoryStore) -> None:
    code = birth(store).code
    run(store, lambda tx: handlers.accept_dossier(tx, commands.AcceptDossier(code), COMMUNE, now()))
    run(store, lambda tx: handlers.approve_dossier(tx, commands.ApproveDossier(code=code, note=""), COMMUNE, now()))
    issue = commands.IssueResult(code=code, result_document_number="56/KS")
    assert run(store, lambda tx: handlers.issue_result(tx, issue, COMMUNE, now())).status is DossierStatus.COMPLETED
    assert len(emitted(store, ev.DossierCompleted)) == 1


def test_refused_at_reception_or_rejected_by_the_leader_after_acceptance(store: InMemoryStore) -> None:
    refused = birth(store).code
    run(store, lambda tx: handlers.reject_dossier(tx, commands.RejectDossier(code=refused, reason="Sai mẫu"),
                                                  COMMUNE, now()))
    later = birth(store).code
    run(store, lambda tx: handlers.accept_dossier(tx, commands.AcceptDossier(later), COMMUNE, now()))
    run(store, lambda tx: handlers.reject_dossier(tx, commands.RejectDossier(code=later, reason="Không đủ"),
                                                  COMMUNE, now()))
    assert [(e.dossier.code, e.at_reception) for e in emitted(store, ev.DossierRejected)] == [(refused, True),
                                                                                             (later, False)]
    assert dossier(store, later).status is DossierStatus.REJECTED


def test_a_transfer_to_an_agency_that_does_not_handle_the_procedure_changes_nothing(store: InMemoryStore) -> None:
    code = birth(store).code
    run(store, lambda tx: handlers.accept_dossier(tx, commands.AcceptDossier(code), COMMUNE, now()))
    before = len(store.published)
    transfer = commands.TransferDossier(code=code, to_agency_code=JUSTICE.agency_code, reason="liên thông")
    with pytest.raises(FailedPrecondition):
        run(store, lambda tx: handlers.transfer_dossier(tx, CATALOGUE, transfer, COMMUNE, now()))
    assert len(store.published) == before and dossier(store, code).handling_agency_code == VY_DA.agency_code


def test_a_civil_servant_acts_only_through_a_role_held_where_the_dossier_is(store: InMemoryStore) -> None:
    code = birth(store).code
    with pytest.raises(PermissionDenied):
        # the centre, not Vỹ Dạ
        run(store, lambda tx: handlers.accept_dossier(tx, commands.AcceptDossier(code), RECEIVER, now()))
    run(store, lambda tx: handlers.accept_dossier(tx, commands.AcceptDossier(code), COMMUNE, now()))
    assign = commands.AssignDossier(code=code, assignee="cb-never-registered")
    with pytest.raises(FailedPrecondition):
        run(store, lambda tx: handlers.assign_dossier(tx, assign, COMMUNE, now()))
    assert dossier(store, code).assignee == ""


def test_only_an_operator_configures_desks(store: InMemoryStore) -> None:
    request = commands.ConfigureDesk(agency_code=JUSTICE.agency_code, name="Một cửa Sở Tư pháp", unit_code="46",
                                     accepts=(JUSTICE.agency_code,))
    with pytest.raises(PermissionDenied):
        run(store, lambda tx: handlers.configure_desk(tx, CATALOGUE, request, LEADER))
    assert run(store, lambda tx: handlers.configure_desk(tx, CATALOGUE, request, OPERATOR)).name == \
        "Một cửa Sở Tư pháp"


def test_a_payment_for_an_unknown_dossier_is_refused_and_not_marked_processed(store: InMemoryStore) -> None:
    event = new_event(PaymentSettled(bill_id="B-9", dossier_code="000.00.99.H57-260302-9999"), source="/egov/payments",
                      subject="x")
    with pytest.raises(NotFound):
        handlers.handle_event(store, event)
    assert not any(key.endswith(event.id) for key in store.inbox)          # retried, then dead-lettered


def test_an_online_submission_for_someone_else_is_refused_and_stores_nothing(store: InMemoryStore) -> None:
    with pytest.raises(PermissionDenied):
        submit(store, Caller(CallerKind.CITIZEN, subject="046190000456"), applicant_citizen_id=CITIZEN)
    assert store.repository(DossierRepository).next_sequence(CENTRE.agency_code, now().date()) == 1
