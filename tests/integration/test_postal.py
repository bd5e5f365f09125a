"""postal as a real process with the postal operator simulator, on the real broker and SecantusDB.

Driven as the platform drives it: DossierResultIssued published on the events exchange, tracking
callbacks from the operator, get_shipment over nameko RPC. The service's outbox is read to count
the events it emitted (everything emitted is there, committed with the change that caused it).
"""

import json
import secrets
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from google.protobuf.message import Message
from kombu import Connection, Queue
from nameko.exceptions import RemoteError
from pymongo import MongoClient

from deploy.local.stack import Stack
from egov.common.v1.caller_pb2 import Address
from egov.events.v1.cloud_event_pb2 import CloudEvent
from egov.postal.v1.events_pb2 import ShipmentCreated, ShipmentDelivered, ShipmentStatusChanged
from egov.procedures.v1.events_pb2 import DossierRef, DossierResultIssued
from egov.procedures.v1.procedures_pb2 import (
    DELIVERY_METHOD_PICKUP,
    DELIVERY_METHOD_POST,
    Delivery,
    DeliveryMethod,
)
from services.common.callback_signature import sign
from services.common.caller import Caller, CallerKind
from services.common.events.broker import EventPublisher, events_exchange
from services.common.events.envelope import decode, event_type, new_event, unpack
from services.common.roles import Appointment, Role
from tests.support import SignedRpcClient

TIMEOUT = 30.0


def wait_until(check: Callable[[], Any], what: str, timeout: float = TIMEOUT) -> Any:
    deadline = time.monotonic() + timeout
    while not (value := check()):
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.05)
    return value


def dossier_of(payload: Any) -> str:
    """Every postal event names the dossier whose result it carries."""
    return str(payload.dossier_code)


class PostalEvents:
    """Every postal event published while it is open, through a temporary exclusive queue."""

    def __init__(self, amqp_uri: str) -> None:
        self._connection = Connection(amqp_uri)
        self._queue = Queue(f"test-postal-{uuid.uuid4().hex[:8]}", exchange=events_exchange,
                            routing_key="egov.postal.v1.#", exclusive=True, auto_delete=True)(
            self._connection.default_channel)
        self._queue.declare()
        self.seen: list[CloudEvent] = []

    def of(self, payload_class: type[Message], dossier_code: str) -> list[Any]:
        while (message := self._queue.get(no_ack=True)) is not None:
            self.seen.append(decode(message.body))
        payloads = map(unpack, self.seen)
        return [p for p in payloads if isinstance(p, payload_class) and dossier_of(p) == dossier_code]

    def close(self) -> None:
        self._connection.release()


class Postal:
    """The postal service and its operator as the test reaches them."""

    def __init__(self, stack: Stack) -> None:
        self.stack = stack
        self.events = PostalEvents(stack.amqp_uri)
        self.publisher = EventPublisher(stack.amqp_uri)
        self._rpc_client = SignedRpcClient(stack.env(), uri=stack.amqp_uri, timeout=10)
        self.rpc = self._rpc_client.start()
        self.mongo: MongoClient[Any] = MongoClient(stack.mongo_uri)
        self.db = self.mongo["egov_postal"]
        self.callback_url = f"http://127.0.0.1:{stack.ports.postal_http}/callbacks/postal"
        self.operator_url = f"http://127.0.0.1:{stack.ports.postal_operator}"

    def close(self) -> None:
        self._rpc_client.stop()
        self.publisher.close()
        self.events.close()
        self.mongo.close()

    def issue_result(self, dossier_code: str, citizen_id: str,
                     method: DeliveryMethod.ValueType = DELIVERY_METHOD_POST) -> CloudEvent:
        payload = DossierResultIssued(
            dossier=DossierRef(code=dossier_code, procedure_code="1.001612", agency_code="G01",
                               applicant_citizen_id=citizen_id),
            result_document_number=f"KS-{dossier_code}",
            delivery=Delivery(method=method, recipient_name="Nguyễn Thị Bình", recipient_phone="0912345678",
                              address=Address(street="12 Lý Thường Kiệt", commune="Phường Hàng Bài",
                                              district="Quận Hoàn Kiếm", province="Hà Nội")),
        )
        event = new_event(payload, source="/egov/procedures", subject=dossier_code)
        self.publisher.publish(event)
        return event

    def processed(self, event: CloudEvent) -> bool:
        return self.db["inbox"].find_one({"_id": f"postal:{event.id}"}) is not None

    def emitted(self, payload_class: type[Message], dossier_code: str) -> int:
        """How many such events the service committed to its outbox for the dossier."""
        bodies = self.db["outbox"].find({"type": event_type(payload_class)})
        return sum(1 for doc in bodies if dossier_of(unpack(decode(doc["body"]))) == dossier_code)

    def shipment(self, dossier_code: str, caller: Caller) -> dict[str, Any]:
        reply: dict[str, Any] = self.rpc.postal.get_shipment(request={"dossier_code": dossier_code},
                                                             caller=caller.to_wire())
        return dict(reply["shipment"])

    def operator(self, method: str, path: str) -> dict[str, Any]:
        request = urllib.request.Request(self.operator_url + path, method=method,
                                         data=b"" if method == "POST" else None)
        with urllib.request.urlopen(request, timeout=30) as response:
            return dict(json.loads(response.read()))

    def callback(self, body: dict[str, Any], *, secret: str | None = None, nonce: str | None = None,
                 signed_at: float | None = None) -> int:
        """POST a tracking report as the operator would; the HTTP status the service answers."""
        data = json.dumps(body).encode()
        timestamp = str(int(time.time() if signed_at is None else signed_at))
        nonce = nonce or uuid.uuid4().hex
        request = urllib.request.Request(self.callback_url, data=data, method="POST", headers={
            "Content-Type": "application/json",
            "X-Postal-Timestamp": timestamp,
            "X-Postal-Nonce": nonce,
            "X-Postal-Signature": sign(secret or self.stack.postal_secret, data, timestamp, nonce),
        })
        try:
            with urllib.request.urlopen(request, timeout=10) as response:
                return int(response.status)
        except urllib.error.HTTPError as exc:
            return int(exc.code)


@pytest.fixture
def postal(make_stack: Callable[..., Stack]) -> Iterator[Postal]:
    reachable = Postal(make_stack(services=("postal",), gateway=False))
    yield reachable
    reachable.close()


def new_dossier() -> tuple[str, str]:
    return f"G01.99-{uuid.uuid4().hex[:10]}", "0010" + "".join(secrets.choice("0123456789") for _ in range(8))


def test_a_result_sent_by_post_is_tracked_to_delivery_once(postal: Postal) -> None:
    code, citizen_id = new_dossier()
    postal.issue_result(code, citizen_id)

    created = wait_until(lambda: postal.events.of(ShipmentCreated, code), "ShipmentCreated")
    tracking_number = created[0].tracking_number
    assert created[0].shipment_id == f"SHP-{code}"
    wait_until(lambda: postal.events.of(ShipmentDelivered, code), "ShipmentDelivered")

    citizen = Caller(CallerKind.CITIZEN, subject=citizen_id)
    shipment = postal.shipment(code, citizen)
    assert shipment["tracking_number"] == tracking_number
    assert shipment["status"] == "SHIPMENT_STATUS_DELIVERED"
    assert [t["status"] for t in shipment["tracking"]] == [
        "SHIPMENT_STATUS_REQUESTED", "SHIPMENT_STATUS_PICKED_UP", "SHIPMENT_STATUS_IN_TRANSIT",
        "SHIPMENT_STATUS_DELIVERED"]
    assert shipment["delivered_at"]
    assert sorted(e.status for e in postal.events.of(ShipmentStatusChanged, code)) == [2, 3, 4]

    # The operator sends every report again: all acknowledged as duplicates, nothing changes.
    resent = postal.operator("POST", f"/shipments/{tracking_number}/resend")["callbacks"]
    assert [(c["status"], c["http_status"]) for c in resent] == [
        ("PICKED_UP", 200), ("IN_TRANSIT", 200), ("DELIVERED", 200)]
    assert postal.emitted(ShipmentDelivered, code) == 1
    assert postal.emitted(ShipmentStatusChanged, code) == 3
    assert len(postal.events.of(ShipmentDelivered, code)) == 1
    assert postal.shipment(code, citizen) == shipment

    # Another citizen may not look; a dossier with no shipment is not found.
    with pytest.raises(RemoteError) as refused:
        postal.shipment(code, Caller(CallerKind.CITIZEN, subject="001099099999"))
    assert refused.value.exc_type == "PermissionDenied"
    assert "dossier_code" in str(refused.value)
    with pytest.raises(RemoteError) as missing:
        postal.shipment(f"{code}-X", citizen)
    assert missing.value.exc_type == "NotFound"


# The result desk of the receiving unit (dossier codes here begin G01.99): who reads a shipment.
RESULT_DESK = Caller(CallerKind.CIVIL_SERVANT, subject="CB-1", appointments=(Appointment("G01.99", Role.RESULT_DESK),))


def test_forged_stale_and_replayed_reports_are_refused(postal: Postal) -> None:
    code, citizen_id = new_dossier()
    postal.issue_result(code, citizen_id)
    wait_until(lambda: postal.events.of(ShipmentDelivered, code), "ShipmentDelivered")
    tracking_number = postal.events.of(ShipmentCreated, code)[0].tracking_number
    before = postal.shipment(code, RESULT_DESK)
    report = {"tracking_number": tracking_number, "reference": f"SHP-{code}", "status": "FAILED",
              "at": "2025-01-02T03:04:05Z", "location": "Hà Nội"}
    nonce = uuid.uuid4().hex

    assert postal.callback(report, secret="not-the-operator", nonce=nonce) == 401
    # The forged report did not even spend its nonce: the genuine one with it is accepted (late, ignored).
    assert postal.callback(report, nonce=nonce) == 200
    assert postal.callback(report, nonce=nonce) == 400
    assert postal.callback(report, signed_at=time.time() - 600) == 400
    assert postal.callback({**report, "tracking_number": "EB000000005VN"}) == 404
    assert postal.callback({**report, "status": "TELEPORTED"}) == 400

    after = postal.shipment(code, RESULT_DESK)
    assert after == before
    assert after["status"] == "SHIPMENT_STATUS_DELIVERED"
    with pytest.raises(RemoteError) as other_desk:         # issue 12 item 7: another desk reads nothing
        postal.shipment(code, Caller(CallerKind.CIVIL_SERVANT, subject="CB-2",
                                     appointments=(Appointment("G01", Role.RESULT_DESK),)))
    assert other_desk.value.exc_type == "PermissionDenied"
    assert postal.emitted(ShipmentStatusChanged, code) == 3


def test_a_result_announced_twice_is_shipped_once_and_pickup_not_at_all(postal: Postal) -> None:
    code, citizen_id = new_dossier()
    first = postal.issue_result(code, citizen_id)
    postal.publisher.publish(first)   # the broker redelivers the same event
    again = postal.issue_result(code, citizen_id)   # procedures announces the result once more
    wait_until(lambda: postal.processed(first) and postal.processed(again), "both announcements processed")

    assert postal.emitted(ShipmentCreated, code) == 1
    assert postal.db["shipments"].count_documents({"dossier_code": code}) == 1
    tracking_number = postal.shipment(code, Caller(CallerKind.CITIZEN, subject=citizen_id))["tracking_number"]
    assert postal.operator("GET", f"/shipments/{tracking_number}")["reference"] == f"SHP-{code}"

    pickup_code, pickup_citizen = new_dossier()
    pickup = postal.issue_result(pickup_code, pickup_citizen, method=DELIVERY_METHOD_PICKUP)
    wait_until(lambda: postal.processed(pickup), "the pickup announcement processed")
    assert postal.db["shipments"].count_documents({"dossier_code": pickup_code}) == 0
    assert postal.emitted(ShipmentCreated, pickup_code) == 0
