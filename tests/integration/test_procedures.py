"""procedures as a real process on the real broker and SecantusDB: dossiers submitted, paid,
worked, issued and delivered through RPC and events; refusals that leave no trace; an event
delivered twice that acts once."""

import random
import re
import subprocess
import time
import uuid
from collections.abc import Callable, Iterator
from datetime import datetime
from typing import Any

import pytest
from google.protobuf.message import Message
from kombu import Connection, Exchange, Queue
from nameko.exceptions import RemoteError
from pymongo import MongoClient

from deploy.local.stack import Stack
from egov.events.v1.cloud_event_pb2 import CloudEvent
from egov.identity.v1.events_pb2 import CitizenRegistered
from egov.payments.v1.events_pb2 import PaymentSettled
from egov.postal.v1.events_pb2 import ShipmentDelivered
from egov.procedures.v1 import events_pb2 as ev
from egov.procedures.v1 import procedures_pb2 as pb
from services.common import protowire
from services.common.caller import Caller, CallerKind
from services.common.config import database_name
from services.common.events.broker import EventPublisher
from services.common.events.envelope import decode, new_event, unpack
from services.common.roles import Appointment, Role
from services.common.topology import EVENTS_EXCHANGE, subscription
from services.procedures.domain.application import VIETNAM_TIME
from services.procedures.domain.working_days import add_working_days
from tests.support import SignedRpcClient

DEADLINE = 30.0
JUSTICE = "000.00.15.H57"          # Sở Tư pháp: 2.000488, level 4, 200 000 VND, 10 working days
VY_DA = "000.01.31.H57"            # UBND phường Vỹ Dạ (unit 19777): 1.001193 (khai sinh), no fee
ADDRESS = {"street": "12 Lê Lợi", "commune": "Phú Hội", "district": "Thành phố Huế",
           "province": "Thừa Thiên Huế"}


def wait_until(condition: Callable[[], Any], what: str, timeout: float = DEADLINE) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        result = condition()
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.05)


class EventWatch:
    """Every procedures event published in the stack's vhost, read from a private exclusive queue."""

    def __init__(self, amqp_uri: str) -> None:
        self._connection = Connection(amqp_uri)
        self._queue = Queue(f"test-procedures-{uuid.uuid4().hex[:8]}", exclusive=True,
                            exchange=Exchange(EVENTS_EXCHANGE, type="topic", durable=True, passive=True),
                            routing_key="egov.procedures.v1.#")(self._connection.default_channel)
        self._queue.declare()
        self.seen: list[CloudEvent] = []

    def all(self) -> list[CloudEvent]:
        while (message := self._queue.get(no_ack=True)) is not None:
            self.seen.append(decode(message.body))
        return self.seen

    def of(self, payload_class: type[Message], subject: str) -> list[CloudEvent]:
        name = payload_class.DESCRIPTOR.full_name
        return [e for e in self.all() if e.type == name and e.subject == subject]

    def wait_for(self, payload_class: type[Message], subject: str) -> Any:
        events = wait_until(lambda: self.of(payload_class, subject),
                            f"{payload_class.DESCRIPTOR.name} for {subject}")
        return unpack(events[0])

    def close(self) -> None:
        self._connection.release()


class Procedures:
    """The service over nameko RPC; other services' events published to it through the broker."""

    def __init__(self, stack: Stack, rpc: Any) -> None:
        self.stack = stack
        self.rpc = rpc
        self.publisher = EventPublisher(stack.amqp_uri)

    def call(self, method: str, caller: Caller, **request: Any) -> dict[str, Any]:
        reply = getattr(self.rpc.procedures, method)(request=request, caller=caller.to_wire())
        return dict(reply.get("dossier", reply))

    def refused(self, method: str, caller: Caller, **request: Any) -> RemoteError:
        with pytest.raises(RemoteError) as caught:
            self.call(method, caller, **request)
        return caught.value

    def publish(self, payload: Message, subject: str, source: str) -> CloudEvent:
        event = new_event(payload, source=source, subject=subject)
        self.publisher.publish(event)
        return event

    def register(self, citizen: Caller) -> None:
        self.publish(CitizenRegistered(citizen_id=citizen.subject, full_name="Nguyễn Văn An"), citizen.subject,
                     "/egov/identity")
        self.wait_until_consumed()

    def queue_length(self, queue: str) -> int:
        """Messages in the queue, delivered or not (a quorum queue counts unacknowledged ones too)."""
        argv = ["rabbitmqctl", "-q", "list_queues", "-p", self.stack.vhost, "name", "messages"]
        listing = subprocess.run(argv, check=True, capture_output=True, text=True, timeout=60).stdout
        counts = dict(line.split("\t") for line in listing.splitlines() if "\t" in line)
        return int(counts[queue])

    def wait_until_consumed(self) -> None:
        queue = subscription("procedures").queue
        wait_until(lambda: self.queue_length(queue) == 0, f"{queue} to be consumed")


@pytest.fixture
def procedures(make_stack: Callable[..., Stack]) -> Iterator[tuple[Procedures, EventWatch]]:
    stack = make_stack(services=("procedures",), gateway=False)
    watch = EventWatch(stack.amqp_uri)
    with SignedRpcClient(stack.env(), uri=stack.amqp_uri, timeout=DEADLINE) as rpc:
        service = Procedures(stack, rpc)
        yield service, watch
        service.publisher.close()
    watch.close()


def new_citizen() -> Caller:
    return Caller(CallerKind.CITIZEN, subject=f"046{random.randrange(10**9):09d}")


def clerk(agency: str, *roles: Role) -> Caller:
    """A civil servant holding `roles` (every one-stop role but supervisor when none is named) in `agency`."""
    held = roles or (Role.RECEIVER, Role.SPECIALIST, Role.LEADER, Role.RESULT_DESK)
    return Caller(CallerKind.CIVIL_SERVANT, subject=f"CB{random.randrange(10**6):06d}", agency_code=agency,
                  appointments=tuple(Appointment(agency, r) for r in held))


def document(code: str) -> dict[str, Any]:
    return {"document_code": code, "file_name": f"{code.lower()}.pdf", "sha256": "0f" * 32, "size_bytes": 4096}


def criminal_record_request(**changes: Any) -> dict[str, Any]:
    request = {"procedure_code": "2.000488", "documents": [document("TK01"), document("CCCD")],
               "payment_method": "PAYMENT_METHOD_ONLINE",
               "delivery": {"method": "DELIVERY_METHOD_POST", "address": ADDRESS,
                            "recipient_name": "Nguyễn Văn An", "recipient_phone": "0912345678"}}
    return {**request, **changes}


def test_an_online_dossier_is_paid_worked_issued_and_delivered(procedures: tuple[Procedures, EventWatch]) -> None:
    service, events = procedures
    citizen, staff = new_citizen(), clerk(JUSTICE)
    service.register(citizen)

    request = criminal_record_request(client_request_id=uuid.uuid4().hex)
    dossier = service.call("submit_dossier", citizen, **request)
    code = dossier["code"]
    assert re.fullmatch(r"000\.00\.15\.H57-\d{6}-\d{4}", code)
    assert (dossier["status"], dossier["channel"], dossier["applicant_citizen_id"]) == (
        "DOSSIER_STATUS_AWAITING_PAYMENT", "CHANNEL_ONLINE", citizen.subject)
    # The app retries the same submission: the first dossier comes back, no second one is made.
    assert service.call("submit_dossier", citizen, **request)["code"] == code
    submitted = events.wait_for(ev.DossierSubmitted, code)
    assert (submitted.fee_vnd, submitted.payment_method, submitted.delivery.address.commune) == (
        200_000, pb.PAYMENT_METHOD_ONLINE, "Phú Hội")

    # Nobody else sees it; the desk cannot accept an online-fee dossier before payment.
    denied = service.refused("get_dossier", new_citizen(), code=code)
    assert denied.exc_type == "PermissionDenied" and denied.value.startswith("code")
    assert service.refused("accept_dossier", staff, code=code).exc_type == "FailedPrecondition"

    service.publish(PaymentSettled(bill_id="B1", dossier_code=code, citizen_id=citizen.subject,
                                   amount_vnd=200_000, intermediary="paygate"), code, "/egov/payments")
    events.wait_for(ev.DossierPaymentRecorded, code)
    assert not events.of(ev.DossierAccepted, code)          # payment alone accepts nothing
    receiver_only = service.refused("approve_dossier", clerk(JUSTICE, Role.RECEIVER), code=code)
    assert receiver_only.exc_type == "PermissionDenied" and "leader" in receiver_only.value
    service.call("accept_dossier", staff, code=code)
    accepted = events.wait_for(ev.DossierAccepted, code)
    accepted_on = datetime.fromisoformat(accepted.accepted_at).date()       # in Vietnam's offset
    assert accepted.due_date == add_working_days(accepted_on, 10).isoformat()

    service.call("record_step", staff, code=code, step="Thẩm định hồ sơ", note="Đủ điều kiện")
    service.call("request_supplement", staff, code=code, reason="Thiếu văn bản ủy quyền",
                 missing_document_codes=["GUQ"])
    other_agency = service.refused("approve_dossier", clerk("000.00.07.H57"), code=code)
    assert other_agency.exc_type == "PermissionDenied"
    resumed = service.call("provide_supplement", citizen, code=code, documents=[document("GUQ")])
    assert resumed["status"] == "DOSSIER_STATUS_IN_PROGRESS"
    assert events.wait_for(ev.DossierSupplementProvided, code).due_date == resumed["due_date"]
    service.call("approve_dossier", staff, code=code, note="Đồng ý cấp phiếu")
    issued = service.call("issue_result", staff, code=code, result_document_number="125/STP-LLTP")
    assert (issued["status"], issued["timeliness"]) == ("DOSSIER_STATUS_RESULT_ISSUED", "TIMELINESS_EARLY")
    assert events.wait_for(ev.DossierResultIssued, code).delivery.address.district == "Thành phố Huế"

    service.publish(ShipmentDelivered(shipment_id="S1", dossier_code=code, citizen_id=citizen.subject,
                                      tracking_number="EH123456789VN", delivered_at="2030-01-02T10:00:00+07:00"),
                    code, "/egov/postal")
    completed = events.wait_for(ev.DossierCompleted, code)
    assert completed.timeliness == pb.TIMELINESS_EARLY        # before its due date (Decision 766: trước hạn)
    final = service.call("get_dossier", citizen, code=code)
    assert final["status"] == "DOSSIER_STATUS_COMPLETED"
    # The read the gateway serves most crosses already serialized (services/common/protowire.py `encoded`).
    read = {"code": code}
    raw = service.rpc.unsigned.procedures.get_dossier(
        request=read, caller=service.rpc.sign(citizen.to_wire(), "procedures", "get_dossier", read))
    assert set(raw) == {protowire.ENCODED}
    assert protowire.dump(protowire.parse(pb.GetDossierResponse, raw).dossier) == final
    assert final["completed_at"] == "2030-01-02T10:00:00+07:00"
    assert [h["status"].removeprefix("DOSSIER_STATUS_") for h in final["history"]] == [
        "AWAITING_PAYMENT", "SUBMITTED", "IN_PROGRESS", "IN_PROGRESS", "SUPPLEMENT_REQUESTED", "IN_PROGRESS",
        "APPROVED", "RESULT_ISSUED", "COMPLETED"]
    mine = [e for e in events.all() if e.subject == code]
    assert {e.correlation_id for e in mine} == {code}
    assert len(events.of(ev.DossierSubmitted, code)) == 1


def test_desk_and_post_office_filings_and_pickup(procedures: tuple[Procedures, EventWatch]) -> None:
    service, events = procedures
    citizen, desk = new_citizen(), clerk(VY_DA)
    service.register(citizen)
    birth = {"procedure_code": "1.001193", "unit_code": "19777", "applicant_citizen_id": citizen.subject,
             "documents": [document("TP01"), document("TP02")], "payment_method": "PAYMENT_METHOD_NO_FEE",
             "delivery": {"method": "DELIVERY_METHOD_PICKUP"}}
    at_desk = service.call("submit_dossier", desk, **birth)
    assert (at_desk["status"], at_desk["channel"]) == ("DOSSIER_STATUS_SUBMITTED", "CHANNEL_COUNTER")
    post_office = Caller(CallerKind.AGENCY, subject="VN/GOV/VNPOST/hcc", channel="CHANNEL_POST_OFFICE")
    by_post = service.call("submit_dossier", post_office, **birth)
    assert by_post["channel"] == "CHANNEL_POST_OFFICE"
    assert [at_desk["code"][-4:], by_post["code"][-4:]] == ["0001", "0002"]

    code = at_desk["code"]
    accepted = service.call("accept_dossier", desk, code=code)
    assert accepted["status"] == "DOSSIER_STATUS_IN_PROGRESS"
    service.call("approve_dossier", desk, code=code)
    done = service.call("issue_result", desk, code=code, result_document_number="56/KS")
    # A same-day procedure: due the day it is accepted, or the next working day when accepted after the
    # cutoff or on a day off (unit-tested in test_deadlines). Settled the day it was accepted, it is on
    # time when due that day, and early otherwise (this test runs at any hour).
    accepted_on = datetime.fromisoformat(accepted["accepted_at"]).astimezone(VIETNAM_TIME).date()
    assert accepted["due_date"] in (accepted_on.isoformat(), add_working_days(accepted_on, 1).isoformat())
    expected = "TIMELINESS_ON_TIME" if accepted["due_date"] == accepted_on.isoformat() else "TIMELINESS_EARLY"
    assert (done["status"], done["timeliness"]) == ("DOSSIER_STATUS_COMPLETED", expected)
    events.wait_for(ev.DossierCompleted, code)
    assert len(events.of(ev.DossierResultIssued, code)) == 1


def test_refusals_store_nothing_and_publish_nothing(procedures: tuple[Procedures, EventWatch]) -> None:
    service, events = procedures
    citizen = new_citizen()
    service.register(citizen)
    refusals = [
        (citizen, criminal_record_request(procedure_code="1.999999"), "InvalidArgument", "procedure_code"),
        (citizen, criminal_record_request(documents=[document("TK01")]), "InvalidArgument", "documents"),
        (citizen, criminal_record_request(payment_method="PAYMENT_METHOD_NO_FEE"), "InvalidArgument",
         "payment_method"),
        (citizen, criminal_record_request(delivery={"method": "DELIVERY_METHOD_POST"}), "InvalidArgument",
         "delivery.address"),
        (new_citizen(), criminal_record_request(), "FailedPrecondition", "applicant_citizen_id"),
        (clerk("000.00.07.H57"), criminal_record_request(applicant_citizen_id=citizen.subject),
         "InvalidArgument", "receiving_agency_code"),      # no such agency: no desk there
        (clerk(VY_DA), criminal_record_request(applicant_citizen_id=citizen.subject,
                                                         payment_method="PAYMENT_METHOD_AT_COUNTER"),
         "FailedPrecondition", "procedure_code"),          # the commune desk does not receive for the department
        (clerk(VY_DA, Role.SPECIALIST), criminal_record_request(applicant_citizen_id=citizen.subject),
         "InvalidArgument", "receiving_agency_code"),      # no receiver role anywhere
        (citizen, criminal_record_request(procedure_code="1.001193"), "FailedPrecondition", "unit_code"),
        (citizen, criminal_record_request(procedure_code="1.001193", unit_code="99999"), "InvalidArgument",
         "unit_code"),
        (citizen, criminal_record_request(fee_category="veteran"), "InvalidArgument", "fee_category"),
    ]
    for caller, request, error, field in refusals:
        refused = service.refused("submit_dossier", caller, **request)
        assert (refused.exc_type, refused.value.split(":")[0]) == (error, field)

    database = MongoClient(service.stack.mongo_uri)[database_name("procedures")]
    assert database["dossiers"].count_documents({}) == 0
    assert database["outbox"].count_documents({}) == 0
    # The refused submissions used up no dossier number either.
    first = service.call("submit_dossier", citizen, **criminal_record_request())
    assert first["code"].endswith("-0001")
    events.wait_for(ev.DossierSubmitted, first["code"])
    assert [e.subject for e in events.all()] == [first["code"]]


def test_a_redelivered_payment_is_recorded_once(procedures: tuple[Procedures, EventWatch]) -> None:
    service, events = procedures
    citizen = new_citizen()
    service.register(citizen)
    code = service.call("submit_dossier", citizen, **criminal_record_request())["code"]

    settled = service.publish(PaymentSettled(bill_id="B1", dossier_code=code, citizen_id=citizen.subject,
                                             amount_vnd=200_000), code, "/egov/payments")
    service.publisher.publish(settled)                       # the same event id, delivered again
    events.wait_for(ev.DossierPaymentRecorded, code)
    service.wait_until_consumed()
    assert len(events.of(ev.DossierPaymentRecorded, code)) == 1
    history = service.call("get_dossier", citizen, code=code)["history"]
    assert [h["status"] for h in history] == ["DOSSIER_STATUS_AWAITING_PAYMENT", "DOSSIER_STATUS_SUBMITTED"]
    assert service.queue_length(subscription("procedures").dead_letter_queue) == 0
