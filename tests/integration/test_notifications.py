"""notifications as a real process on the real broker and SecantusDB, sending to the mailbox, SMS
and push simulators. Events are published as the other services would publish them; what the
citizen receives is read back from the simulators."""

import json
import random
import time
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterator
from typing import Any, TypeVar

import pytest
from google.protobuf.message import Message
from pymongo import MongoClient
from pymongo.collection import Collection

from deploy.local.stack import Stack
from egov.common.v1 import caller_pb2
from egov.events.v1.cloud_event_pb2 import CloudEvent
from egov.identity.v1.events_pb2 import CitizenRegistered
from egov.procedures.v1 import procedures_pb2
from egov.procedures.v1.events_pb2 import DossierAccepted, DossierRef, DossierSubmitted
from services.common.caller import Caller, CallerKind
from services.common.events.broker import EventPublisher
from services.common.events.envelope import new_event
from tests.support import SignedRpcClient

T = TypeVar("T")
PROCEDURE = "Cấp giấy phép xây dựng nhà ở riêng lẻ"
SENDER = "Trung tâm Phục vụ hành chính công tỉnh Thừa Thiên Huế <khong-tra-loi@hue.gov.vn>"


def wait_for(what: str, probe: Callable[[], T | None], timeout: float = 30) -> T:
    deadline = time.monotonic() + timeout
    while True:
        found = probe()
        if found:
            return found
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.1)


def new_citizen_id() -> str:
    return f"04609{random.randrange(10**7):07d}"


def new_phone() -> str:
    return f"+8490{random.randrange(10**7):07d}"


def read(url: str, to: str) -> list[dict[str, Any]]:
    with urllib.request.urlopen(f"{url}/messages?to={urllib.parse.quote(to)}", timeout=10) as reply:
        messages: list[dict[str, Any]] = json.loads(reply.read())["messages"]
    return messages


class Citizen:
    def __init__(self, stack: Stack, citizen_id: str, phone: str, email: str) -> None:
        self.stack, self.citizen_id, self.phone, self.email = stack, citizen_id, phone, email

    def mails(self) -> list[dict[str, Any]]:
        return read(f"http://127.0.0.1:{self.stack.ports.mailbox_http}", self.email)

    def sms(self) -> list[dict[str, Any]]:
        return read(f"http://127.0.0.1:{self.stack.ports.sms}", self.phone)

    def pushes(self) -> list[dict[str, Any]]:
        return read(f"http://127.0.0.1:{self.stack.ports.push}", self.citizen_id)


@pytest.fixture
def publisher(request: pytest.FixtureRequest) -> Iterator[Callable[[Stack], EventPublisher]]:
    made: list[EventPublisher] = []

    def make(stack: Stack) -> EventPublisher:
        made.append(EventPublisher(stack.amqp_uri))
        return made[-1]

    yield make
    for p in made:
        p.close()


def registered(citizen: Citizen, *channels: caller_pb2.NotificationChannel.ValueType) -> CloudEvent:
    payload = CitizenRegistered(citizen_id=citizen.citizen_id, full_name="Trần Văn Hùng", phone=citizen.phone,
                                email=citizen.email, notification_channels=list(channels))
    return new_event(payload, source="/egov/identity", subject=citizen.citizen_id)


def dossier_event(payload: Message, code: str) -> CloudEvent:
    return new_event(payload, source="/egov/procedures", subject=code)


def dossier(citizen: Citizen) -> DossierRef:
    code = f"000.00.15.H57-250310-{random.randrange(10**4):04d}"
    return DossierRef(code=code, procedure_code="1.009994", procedure_name=PROCEDURE,
                      agency_code="000.00.15.H57", applicant_citizen_id=citizen.citizen_id)


def listed(stack: Stack, citizen_id: str) -> list[dict[str, Any]]:
    caller = Caller(CallerKind.CITIZEN, subject=citizen_id).to_wire()
    with SignedRpcClient(stack.env(), uri=stack.amqp_uri, timeout=10) as rpc:
        reply: dict[str, Any] = rpc.notifications.list_notifications(request={}, caller=caller)
    return list(reply.get("notifications", []))


def test_one_email_and_one_sms_per_event_even_when_the_event_is_redelivered(
        make_stack: Callable[..., Stack], publisher: Callable[[Stack], EventPublisher],
        monkeypatch: pytest.MonkeyPatch) -> None:
    # One worker: events are handled in the order published, so once a later event's message
    # has arrived, the redelivered one before it has certainly been handled too.
    monkeypatch.setenv("EGOV_MAX_WORKERS", "1")
    stack = make_stack(services=("notifications",), gateway=False)
    events = publisher(stack)
    citizen_id = new_citizen_id()
    hung = Citizen(stack, citizen_id, new_phone(), f"hung.{citizen_id}@example.vn")
    ref = dossier(hung)
    submitted = dossier_event(DossierSubmitted(
        dossier=ref, payment_method=procedures_pb2.PAYMENT_METHOD_ONLINE, fee_vnd=1_250_000,
        channel=caller_pb2.CHANNEL_ONLINE, status=procedures_pb2.DOSSIER_STATUS_AWAITING_PAYMENT), ref.code)

    events.publish(registered(hung, caller_pb2.NOTIFICATION_CHANNEL_EMAIL,
                              caller_pb2.NOTIFICATION_CHANNEL_SMS))
    events.publish(submitted)

    subject = f"Hồ sơ {ref.code} đã được tiếp nhận trực tuyến"
    mail = wait_for("the e-mail", lambda: [m for m in hung.mails() if m["subject"] == subject])
    sms = wait_for("the SMS", lambda: [m for m in hung.sms() if ref.code in m["text"]])
    assert len(mail) == 1 and len(sms) == 1
    assert mail[0]["to"] == [hung.email]
    assert mail[0]["from"] == SENDER
    assert mail[0]["body"].startswith("Kính gửi Ông/Bà Trần Văn Hùng,")
    assert f"Hồ sơ {ref.code} ({PROCEDURE}) đã được tiếp nhận trực tuyến." in mail[0]["body"]
    assert "Phí, lệ phí 1.250.000 đồng" in mail[0]["body"]
    assert sms[0]["text"].startswith(f"Hồ sơ {ref.code} ({PROCEDURE}) đã được tiếp nhận trực tuyến.")
    assert hung.pushes() == []   # push was not chosen

    events.publish(submitted)   # the very same envelope, as a broker redelivers it
    accepted = dossier_event(DossierAccepted(dossier=ref, accepted_at="2025-03-10T08:00:00+07:00",
                                             due_date="2025-03-24"), ref.code)
    events.publish(accepted)
    wait_for("the next e-mail", lambda: [m for m in hung.mails() if "24/03/2025" in m["body"]])

    assert [m["subject"] for m in hung.mails()].count(subject) == 1
    assert len([m for m in hung.sms() if "tiếp nhận trực tuyến" in m["text"]]) == 1
    # Not even sent twice and deduplicated by the providers: sent once.
    assert all(m["submissions"] == 1 for m in hung.mails() + hung.sms())

    def all_sent() -> list[dict[str, Any]] | None:
        rows = listed(stack, citizen_id)
        return rows if len(rows) == 6 and all(r.get("status") == "NOTIFICATION_STATUS_SENT" for r in rows) \
            else None

    rows = wait_for("every notification recorded as sent", all_sent)
    assert sorted((r["template"], r["channel"]) for r in rows) == sorted(
        (t, c) for t in ("citizen_welcome", "dossier_submitted", "dossier_accepted")
        for c in ("NOTIFICATION_CHANNEL_EMAIL", "NOTIFICATION_CHANNEL_SMS"))


def test_an_event_for_a_citizen_not_yet_known_is_delivered_once_they_register(
        make_stack: Callable[..., Stack], publisher: Callable[[Stack], EventPublisher]) -> None:
    stack = make_stack(services=("notifications",), gateway=False)
    events = publisher(stack)
    citizen_id = new_citizen_id()
    lan = Citizen(stack, citizen_id, new_phone(), "")
    ref = dossier(lan)
    accepted = dossier_event(DossierAccepted(dossier=ref, accepted_at="2025-03-10T08:00:00+07:00",
                                             due_date="2025-03-24"), ref.code)

    events.publish(accepted)
    inbox: Collection[dict[str, Any]] = MongoClient(stack.mongo_uri)["egov_notifications"]["inbox"]
    try:
        wait_for("the event to be consumed",
                 lambda: inbox.find_one({"_id": f"notifications:{accepted.id}"}))
    finally:
        inbox.database.client.close()
    assert lan.sms() == []

    events.publish(registered(lan, caller_pb2.NOTIFICATION_CHANNEL_SMS, caller_pb2.NOTIFICATION_CHANNEL_PUSH))

    texts = wait_for("the SMS", lambda: [m["text"] for m in lan.sms() if ref.code in m["text"]])
    assert texts == [f"Hồ sơ {ref.code} ({PROCEDURE}) đã được tiếp nhận và đang được giải quyết. "
                     "Ngày hẹn trả kết quả: 24/03/2025."]
    push = wait_for("the push", lambda: [m for m in lan.pushes() if ref.code in m["text"]])
    assert len(push) == 1 and push[0]["title"] == f"Hồ sơ {ref.code} đang được giải quyết"
    wait_for("the welcome SMS", lambda: [m for m in lan.sms() if m["text"].startswith("Chào Trần Văn Hùng")])
    assert len(lan.sms()) == 2
