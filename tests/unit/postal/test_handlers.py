"""The postal service layer on its in-memory repositories (services/postal/fakes.py), against the
operator simulator (simulators/postal_operator.py) served in-process: the result to post, the
operator's signed tracking reports, without nameko, RabbitMQ or MongoDB."""

import json
import queue
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from egov.common.v1.caller_pb2 import Address
from egov.events.v1.cloud_event_pb2 import CloudEvent
from egov.postal.v1 import postal_pb2
from egov.postal.v1.events_pb2 import ShipmentCreated, ShipmentDelivered, ShipmentStatusChanged
from egov.procedures.v1 import events_pb2 as procedures_events
from egov.procedures.v1 import procedures_pb2
from services.common.callback_signature import sign
from services.common.caller import Caller, CallerKind
from services.common.errors import FailedPrecondition, InvalidArgument, NotFound, PermissionDenied, Unauthenticated
from services.common.events.envelope import new_event
from services.common.memory_store import InMemoryStore
from services.common.roles import Appointment, Role
from services.postal import handlers
from services.postal.adapters.postal_operator import PostalOperatorClient
from services.postal.adapters.shipments import ShipmentRepository
from services.postal.domain import commands
from services.postal.domain.shipment import Shipment, ShipmentStatus
from services.postal.fakes import in_memory_store
from simulators.postal_operator import PostalOperator, PostalOperatorServer

SECRET = "operator-secret-for-tests"
CODE = "000.00.01.H57-260302-0001"
CITIZEN = "046090001234"


@dataclass(frozen=True)
class Report:
    body: bytes
    timestamp: str
    nonce: str
    signature: str


class Reports(ThreadingHTTPServer):
    """Our callback endpoint as the operator sees it: keeps each signed tracking report it is sent."""

    def __init__(self) -> None:
        self.received: queue.Queue[Report] = queue.Queue()

        class Handler(BaseHTTPRequestHandler):
            def do_POST(handler) -> None:  # `self` is the server
                body = handler.rfile.read(int(handler.headers["Content-Length"]))
                self.received.put(Report(body, handler.headers["X-Postal-Timestamp"],
                                         handler.headers["X-Postal-Nonce"], handler.headers["X-Postal-Signature"]))
                handler.send_response(200)
                handler.send_header("Content-Length", "0")
                handler.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        super().__init__(("127.0.0.1", 0), Handler)


@pytest.fixture
def operator() -> Iterator[tuple[PostalOperatorClient, Reports]]:
    stopping = threading.Event()
    server = PostalOperatorServer(("127.0.0.1", 0), PostalOperator(SECRET, 0.01, stopping))
    reports = Reports()
    for s in (server, reports):
        threading.Thread(target=s.serve_forever, daemon=True).start()
    client = PostalOperatorClient(f"http://127.0.0.1:{server.server_address[1]}",
                                  f"http://127.0.0.1:{reports.server_address[1]}/callbacks/postal")
    try:
        yield client, reports
    finally:
        stopping.set()
        for s in (server, reports):
            s.shutdown()
            s.server_close()


@pytest.fixture
def store() -> InMemoryStore:
    return in_memory_store()


def result_issued(method: int = procedures_pb2.DELIVERY_METHOD_POST) -> CloudEvent:
    delivery = procedures_pb2.Delivery(method=method, recipient_name="Nguyễn Văn An",  # type: ignore[arg-type]
                                       recipient_phone="0905123456",
                                       address=Address(street="12 Lê Lợi", commune="Phú Hội", district="Thuận Hóa",
                                                       province="Huế"))
    payload = procedures_events.DossierResultIssued(
        dossier=procedures_events.DossierRef(code=CODE, applicant_citizen_id=CITIZEN), delivery=delivery,
        result_document_number="123/QĐ")
    return new_event(payload, source="/egov/procedures", subject=CODE, correlation_id=CODE)


def deliver(store: InMemoryStore, report: Report) -> None:
    handlers.receive_status_report(store, SECRET, report.body, timestamp=report.timestamp, nonce=report.nonce,
                                   signature=report.signature)


def test_a_result_returned_by_post_is_booked_once_with_the_operator(
        store: InMemoryStore, operator: tuple[PostalOperatorClient, Reports]) -> None:
    client, _ = operator
    assert handlers.handle_event(store, client, result_issued())
    assert handlers.handle_event(store, client, result_issued())       # announced again: one shipment
    [created] = store.events(ShipmentCreated)
    assert (created.dossier_code, created.citizen_id) == (CODE, CITIZEN) and created.tracking_number
    shipment = store.repository(ShipmentRepository).by_dossier_code(CODE)
    assert shipment is not None and shipment.tracking_number == created.tracking_number
    assert shipment.status is ShipmentStatus.REQUESTED


def test_a_result_picked_up_at_the_desk_books_nothing(
        store: InMemoryStore, operator: tuple[PostalOperatorClient, Reports]) -> None:
    assert handlers.handle_event(store, operator[0], result_issued(procedures_pb2.DELIVERY_METHOD_PICKUP))
    assert store.published == [] and store.repository(ShipmentRepository).by_dossier_code(CODE) is None


def test_the_operators_reports_move_the_shipment_to_delivered_and_a_replayed_report_is_refused(
        store: InMemoryStore, operator: tuple[PostalOperatorClient, Reports]) -> None:
    client, reports = operator
    handlers.handle_event(store, client, result_issued())
    received = [reports.received.get(timeout=30) for _ in range(3)]      # picked up, in transit, delivered
    for report in received:
        deliver(store, report)
    assert [ShipmentStatus(postal_pb2.ShipmentStatus.Name(e.status)) for e in store.events(ShipmentStatusChanged)] \
        == [ShipmentStatus.PICKED_UP, ShipmentStatus.IN_TRANSIT, ShipmentStatus.DELIVERED]
    [delivered] = store.events(ShipmentDelivered)
    assert delivered.dossier_code == CODE and delivered.delivered_at
    with pytest.raises(FailedPrecondition):
        deliver(store, received[0])
    assert len(store.events(ShipmentDelivered)) == 1


def signed(body: dict[str, Any], secret: str = SECRET, nonce: str = "0f1e2d3c4b5a69788796a5b4c3d2e1f0") -> Report:
    raw = json.dumps(body).encode()
    timestamp = str(int(time.time()))
    return Report(raw, timestamp, nonce, sign(secret, raw, timestamp, nonce))


def test_a_report_forged_for_an_unknown_shipment_or_another_reference_changes_nothing(
        store: InMemoryStore, operator: tuple[PostalOperatorClient, Reports]) -> None:
    handlers.handle_event(store, operator[0], result_issued())
    [created] = store.events(ShipmentCreated)
    report = {"tracking_number": created.tracking_number, "reference": created.shipment_id, "status": "DELIVERED",
              "at": "2026-03-03T08:00:00+07:00"}
    with pytest.raises(Unauthenticated):
        deliver(store, signed(report, secret="not-the-operator"))
    with pytest.raises(InvalidArgument):
        deliver(store, signed({**report, "reference": "SHP-other"}, nonce="1f1e2d3c4b5a69788796a5b4c3d2e1f0"))
    with pytest.raises(NotFound):
        deliver(store, signed({**report, "tracking_number": "EE123456785VN"}, nonce="2f1e2d3c4b5a69788796a5b4c3d2e1f0"))
    assert store.events(ShipmentStatusChanged) == []
    shipment = store.repository(ShipmentRepository).get(created.shipment_id)
    assert shipment is not None and shipment.status is ShipmentStatus.REQUESTED


# -- lookups -------------------------------------------------------------------------------------------------

OWNER = Caller(CallerKind.CITIZEN, subject=CITIZEN)
RESULT_DESK = Caller(CallerKind.CIVIL_SERVANT, subject="cb-1",
                     appointments=(Appointment("000.00.01.H57", Role.RESULT_DESK),))


def look_up(store: InMemoryStore, caller: Caller, code: str = CODE) -> Shipment:
    return handlers.get_shipment(store, commands.GetShipment(dossier_code=code), caller)


def test_the_addressee_and_the_receiving_desk_follow_the_shipment_as_the_operator_reports_it(
        store: InMemoryStore, operator: tuple[PostalOperatorClient, Reports]) -> None:
    client, reports = operator
    handlers.handle_event(store, client, result_issued())
    [created] = store.events(ShipmentCreated)
    booked = look_up(store, OWNER)
    assert (booked.shipment_id, booked.dossier_code, booked.citizen_id, booked.tracking_number, booked.status) == (
        created.shipment_id, CODE, CITIZEN, created.tracking_number, ShipmentStatus.REQUESTED)
    assert (booked.recipient_name, booked.address.street, booked.address.province) == (
        "Nguyễn Văn An", "12 Lê Lợi", "Huế")
    for _ in range(3):                                                   # picked up, in transit, delivered
        deliver(store, reports.received.get(timeout=30))
    delivered = look_up(store, RESULT_DESK)
    assert delivered.status is ShipmentStatus.DELIVERED and delivered.delivered_at
    assert [t.status for t in delivered.tracking] == [
        ShipmentStatus.REQUESTED, ShipmentStatus.PICKED_UP, ShipmentStatus.IN_TRANSIT, ShipmentStatus.DELIVERED]


def test_a_shipment_is_shown_to_no_one_else_and_an_unknown_or_bad_dossier_is_refused(
        store: InMemoryStore, operator: tuple[PostalOperatorClient, Reports]) -> None:
    with pytest.raises(NotFound, match=f"no shipment for dossier {CODE}"):
        look_up(store, OWNER)
    handlers.handle_event(store, operator[0], result_issued())
    with pytest.raises(PermissionDenied, match=f"the shipment of dossier {CODE} is not yours"):
        look_up(store, Caller(CallerKind.CITIZEN, subject="046090009999"))
    with pytest.raises(PermissionDenied, match="CALLER_KIND_ANONYMOUS may not do this"):
        look_up(store, Caller(CallerKind.ANONYMOUS))
    with pytest.raises(InvalidArgument, match="is required"):
        look_up(store, OWNER, code="")
    with pytest.raises(InvalidArgument, match="at most"):
        look_up(store, OWNER, code="X" * 65)
