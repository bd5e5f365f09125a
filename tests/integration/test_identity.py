"""identity as a real process on the real broker and SecantusDB, with the population simulator.

Driven over nameko RPC as the gateway would; events observed on a temporary queue of our own
bound to the events exchange in the stack's vhost.
"""

import subprocess
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pyotp
import pytest
from kombu import Connection, Consumer, Exchange, Queue
from kombu.message import Message
from nameko.exceptions import RemoteError

from deploy.local.journey import Phone, residents
from deploy.local.stack import BIN, Stack
from egov.events.v1.cloud_event_pb2 import CloudEvent
from egov.identity.v1 import events_pb2 as events
from egov.procedures.v1.events_pb2 import DossierRef, DossierSubmitted
from services.common.caller import Caller, CallerKind
from services.common.events.broker import EventPublisher
from services.common.events.envelope import decode, new_event, unpack
from services.common.tokens import verify_token
from services.common.topology import EVENTS_EXCHANGE
from services.identity.domain.verification import REFUSED
from services.identity.sign_in import WRONG_CIVIL_SERVANT_CREDENTIALS
from tests.support import SignedRpcClient, eventually

ANONYMOUS = Caller(CallerKind.ANONYMOUS).to_wire()
CLERK = Caller(CallerKind.CIVIL_SERVANT, subject="cb-test", agency_code="000.00.15.H57",
               role="receiver").to_wire()
HUE = {"street": "12 Lê Lợi", "commune": "Phường Vĩnh Ninh", "district": "Thành phố Huế",
       "province": "Thừa Thiên Huế"}
# Well-known residents of simulators/data/population.json.
AN = {"citizen_id": "046090012345", "full_name": "Nguyễn Văn An", "birth_date": "1990-05-14"}
BINH = {"citizen_id": "046185006789", "full_name": "Trần Thị Bình", "birth_date": "1985-11-02"}
CUONG = {"citizen_id": "046201004567", "full_name": "Lê Hoàng Cường", "birth_date": "2001-03-20"}   # e-mail only
DUC_DECEASED = {"citizen_id": "046048001357", "full_name": "Hồ Văn Đức", "birth_date": "1948-01-15"}
PASSWORD = "mật khẩu đủ dài"


def json_residents() -> list[dict[str, Any]]:
    import json

    from deploy.local.journey import POPULATION

    people: list[dict[str, Any]] = json.loads(POPULATION.read_text(encoding="utf-8"))["residents"]
    return people


def application(person: dict[str, str], **changes: Any) -> dict[str, Any]:
    return {**person, "phone": "0905 123 456", "email": "nguoidan@example.vn", "address": HUE,
            "password": PASSWORD, "notification_channels": ["NOTIFICATION_CHANNEL_EMAIL"], **changes}


class EventTap:
    """An exclusive queue bound to identity's events; gone when the connection closes."""

    def __init__(self, amqp_uri: str) -> None:
        self._connection = Connection(amqp_uri)
        self._received: list[CloudEvent] = []
        exchange = Exchange(EVENTS_EXCHANGE, type="topic", durable=True)
        queue = Queue(f"test.identity.{uuid.uuid4().hex[:8]}", exchange=exchange,
                      routing_key="egov.identity.v1.#", exclusive=True, auto_delete=True)
        self._consumer = Consumer(self._connection.channel(), queues=[queue], callbacks=[self._on_message],
                                  accept=None, no_ack=True)
        self._consumer.consume()

    def _on_message(self, body: Any, message: Message) -> None:
        self._received.append(decode(message.body))

    def next_event(self, timeout: float = 15) -> CloudEvent:
        """The next event; TimeoutError if none comes."""
        if not self._received:
            self._connection.drain_events(timeout=timeout)
        return self._received.pop(0)

    def close(self) -> None:
        self._connection.release()


@pytest.fixture
def identity_stack(make_stack: Callable[..., Stack]) -> Stack:
    return make_stack(services=("identity",), gateway=False)


@pytest.fixture
def tap(identity_stack: Stack) -> Iterator[EventTap]:
    event_tap = EventTap(identity_stack.amqp_uri)
    yield event_tap
    event_tap.close()


@pytest.fixture
def rpc(identity_stack: Stack) -> Iterator[Any]:
    with SignedRpcClient(identity_stack.env(), uri=identity_stack.amqp_uri, timeout=20) as client:
        yield client


def refusal(method: Callable[..., Any], **kwargs: Any) -> tuple[str, str]:
    """(error class, "field: message") of a call that must be refused."""
    with pytest.raises(RemoteError) as refused:
        method(**kwargs)
    return refused.value.exc_type, str(refused.value.value)


def public_key(stack: Stack) -> bytes:
    return Path(stack.env()["EGOV_TOKEN_PUBLIC_KEY_FILE"]).read_bytes()


def ask_code(rpc: Any, stack: Stack, person: dict[str, str], caller: dict[str, str] = ANONYMOUS,
             purpose: str = "VERIFICATION_PURPOSE_REGISTRATION") -> tuple[dict[str, Any], str]:
    """(the answer to RequestVerificationCode, the code read on the person's phone or in their mailbox)."""
    resident = next(r for r in residents() if r["citizen_id"] == person["citizen_id"])
    phone = Phone.of(stack)
    seen = len(phone.messages(resident))
    answer = rpc.identity.request_verification_code(request={**person, "purpose": purpose}, caller=caller)
    return answer, phone.wait_for_code(resident, seen)


def with_code(answer: dict[str, Any], code: str) -> dict[str, str]:
    return {"verification_id": answer["verification_id"], "verification_code": code}


def test_a_resident_registers_with_the_code_sent_to_their_phone_and_signs_in(
        identity_stack: Stack, tap: EventTap, rpc: Any) -> None:
    # The attack of issue 12: what is printed on the ID card, and the attacker's own phone.
    assert refusal(rpc.identity.register_citizen, request=application(AN, phone="0987 654 321"),
                   caller=ANONYMOUS)[0] == "InvalidArgument"

    answer, code = ask_code(rpc, identity_stack, AN)
    assert answer["notice"].startswith("If these details match a person in the national population database")
    registered = rpc.identity.register_citizen(request=application(AN, **with_code(answer, code)),
                                               caller=ANONYMOUS)["citizen"]
    assert registered["phone"] == "+84905123456"
    assert registered["notification_channels"] == ["NOTIFICATION_CHANNEL_EMAIL"]

    event = tap.next_event()
    assert (event.type, event.subject, event.source) == (
        "egov.identity.v1.CitizenRegistered", AN["citizen_id"], "/egov/identity")
    payload = unpack(event)
    assert isinstance(payload, events.CitizenRegistered)
    assert (payload.full_name, payload.phone, payload.email) == (AN["full_name"], "+84905123456",
                                                                  "nguoidan@example.vn")
    assert code.encode() not in event.SerializeToString()    # events are archived forever

    # The code is spent; a new one proves possession again, and only then is "already registered" told.
    assert refusal(rpc.identity.register_citizen, request=application(AN, **with_code(answer, code)),
                   caller=ANONYMOUS) == ("InvalidArgument", f"verification_code: {REFUSED}")
    again, second = ask_code(rpc, identity_stack, AN)
    exc_type, message = refusal(rpc.identity.register_citizen, request=application(AN, **with_code(again, second)),
                                caller=ANONYMOUS)
    assert (exc_type, message.split(";")[0]) == ("AlreadyExists", "citizen_id: a citizen with this ID is already "
                                                                  "registered")

    token = rpc.identity.sign_in(request={"citizen_id": AN["citizen_id"], "password": PASSWORD},
                                 caller=ANONYMOUS)
    citizen = verify_token(public_key(identity_stack), token["access_token"])
    assert (citizen.kind, citizen.subject) == (CallerKind.CITIZEN, AN["citizen_id"])
    own = rpc.identity.get_citizen(request={"citizen_id": AN["citizen_id"]}, caller=citizen.to_wire())
    assert own["citizen"]["full_name"] == AN["full_name"]
    assert "password" not in str(own) and "scrypt" not in str(own)

    sign_in = rpc.identity.sign_in
    wrong_password = refusal(sign_in, request={"citizen_id": AN["citizen_id"], "password": PASSWORD + "!"},
                             caller=ANONYMOUS)
    unknown_id = refusal(sign_in, request={"citizen_id": BINH["citizen_id"], "password": PASSWORD},
                         caller=ANONYMOUS)
    assert wrong_password == unknown_id == ("Unauthenticated", "password: citizen ID or password is wrong")

    # Nothing was published for the refusals: the next identity event is the next registration's,
    # here by a civil servant at a counter, Cường reading the code from his e-mail.
    answer, code = ask_code(rpc, identity_stack, CUONG, caller=CLERK)
    rpc.identity.register_citizen(request=application(CUONG, **with_code(answer, code)), caller=CLERK)
    assert tap.next_event().subject == CUONG["citizen_id"]


def test_every_failed_check_gets_the_same_answer(identity_stack: Stack, tap: EventTap, rpc: Any) -> None:
    """Unknown ID, another name, deceased, no contact on file, a wrong code: nobody can tell them apart,
    so nobody can probe the national population database through the platform."""
    no_contact = next(r for r in json_residents() if not r["phone"] and not r["email"] and not r["deceased"])
    people = {
        "unknown": {**AN, "citizen_id": "046090999999"},
        "other name": {**BINH, "full_name": "Trần Thị Bích"},
        "deceased": DUC_DECEASED,
        "no contact": {k: no_contact[k] for k in ("citizen_id", "full_name", "birth_date")},
        "match, wrong code": BINH,
    }
    answers = {why: rpc.identity.request_verification_code(
        request={**person, "purpose": "VERIFICATION_PURPOSE_REGISTRATION"}, caller=ANONYMOUS)
        for why, person in people.items()}
    assert len({(tuple(sorted(a)), a["notice"]) for a in answers.values()}) == 1
    refusals = {why: refusal(rpc.identity.register_citizen, caller=ANONYMOUS,
                             request=application(people[why], **with_code(answers[why], "000000")))
                for why in people}
    assert set(refusals.values()) == {("InvalidArgument", f"verification_code: {REFUSED}")}, refusals

    # Five wrong codes spend a verification: then even the right one is refused the same way.
    resident = next(r for r in residents() if r["citizen_id"] == AN["citizen_id"])
    answer, code = ask_code(rpc, identity_stack, AN)
    wrong = f"{(int(code) + 1) % 1000000:06d}"
    for _ in range(5):
        refusal(rpc.identity.register_citizen, request=application(AN, **with_code(answer, wrong)), caller=ANONYMOUS)
    assert refusal(rpc.identity.register_citizen, request=application(AN, **with_code(answer, code)),
                   caller=ANONYMOUS) == ("InvalidArgument", f"verification_code: {REFUSED}")
    assert resident["phone"] == "+84905000001"

    identity_stack.kill("sim-population")
    unavailable = refusal(rpc.identity.request_verification_code,
                          request={**AN, "purpose": "VERIFICATION_PURPOSE_REGISTRATION"}, caller=ANONYMOUS)
    assert unavailable[0] == "Unavailable"
    # Nothing was published for any of it.
    with pytest.raises(TimeoutError):
        tap.next_event(timeout=1)


def test_codes_are_limited_per_person_whoever_asks(identity_stack: Stack, rpc: Any) -> None:
    def ask(person: dict[str, str], caller: dict[str, str]) -> Any:
        return rpc.identity.request_verification_code(
            request={**person, "purpose": "VERIFICATION_PURPOSE_ACCOUNT_RECOVERY"}, caller=caller)

    unknown = {**AN, "citizen_id": "046090888888"}
    for person in (BINH, unknown):
        for caller in (ANONYMOUS, CLERK, ANONYMOUS):
            ask(person, caller)
        exc_type, message = refusal(ask, person=person, caller=CLERK)
        assert exc_type == "ResourceExhausted"
        assert message.startswith("citizen_id: too many one-time codes asked for this citizen ID: at most 3 per "
                                  "10 minutes; try again after ")


def test_the_admin_cli_adds_a_civil_servant_who_can_sign_in(identity_stack: Stack, tap: EventTap,
                                                            rpc: Any) -> None:
    servant_id = f"cb-{uuid.uuid4().hex[:6]}"
    argv = [str(BIN / "egov-admin"), "add-civil-servant", "--id", servant_id, "--name", "Trần Văn Bảo",
            "--agency", "000.00.15.H57", "--role", "receiver", "--password", PASSWORD]
    added = subprocess.run(argv, env=identity_stack.env(), capture_output=True, text=True, timeout=120)
    assert added.returncode == 0, added.stderr
    assert servant_id in added.stdout
    event = tap.next_event()
    assert (event.type, event.subject) == ("egov.identity.v1.CivilServantRegistered", servant_id)

    uri = next(line for line in added.stdout.splitlines() if line.startswith("otpauth://totp/"))
    authenticator = pyotp.parse_uri(uri)
    credentials = {"civil_servant_id": servant_id, "password": PASSWORD}
    # The password alone no longer signs a civil servant in.
    assert refusal(rpc.identity.sign_in_civil_servant, request={**credentials, "totp_code": "000000"},
                   caller=ANONYMOUS) == ("Unauthenticated", f"password: {WRONG_CIVIL_SERVANT_CREDENTIALS}")
    code = authenticator.now()
    token = rpc.identity.sign_in_civil_servant(request={**credentials, "totp_code": code}, caller=ANONYMOUS)
    servant = verify_token(public_key(identity_stack), token["access_token"])
    assert (servant.kind, servant.subject, servant.agency_code, servant.role) == (
        CallerKind.CIVIL_SERVANT, servant_id, "000.00.15.H57", "receiver")
    # A code signs in once: replayed, it is refused like a wrong one.
    assert refusal(rpc.identity.sign_in_civil_servant, request={**credentials, "totp_code": code},
                   caller=ANONYMOUS)[0] == "Unauthenticated"

    again = subprocess.run(argv, env=identity_stack.env(), capture_output=True, text=True, timeout=120)
    assert again.returncode == 1
    assert "already registered" in again.stderr
    # Only an operator may do this; the gateway's callers are refused.
    assert refusal(rpc.identity.register_civil_servant, request={
        "civil_servant_id": "cb-other", "full_name": "Lê Văn Cao", "agency_code": "000.00.15.H57",
        "role": "approver", "password": PASSWORD}, caller=CLERK)[0] == "PermissionDenied"


def test_a_civil_servant_reads_only_the_records_of_people_who_filed_with_their_agency(
        identity_stack: Stack, rpc: Any) -> None:
    """Item 7: not any citizen's record; a role that needs it, and a dossier filed with the agency."""
    answer, code = ask_code(rpc, identity_stack, BINH)
    rpc.identity.register_citizen(request=application(BINH, **with_code(answer, code)), caller=ANONYMOUS)

    def read(caller: dict[str, str], citizen_id: str = BINH["citizen_id"]) -> tuple[str, str]:
        try:
            return "OK", rpc.identity.get_citizen(request={"citizen_id": citizen_id}, caller=caller)["citizen"][
                "full_name"]
        except RemoteError as exc:
            return exc.exc_type, str(exc.value)

    other_agency = Caller(CallerKind.CIVIL_SERVANT, subject="cb-other", agency_code="000.00.31.H57",
                          role="receiver").to_wire()
    leader = Caller(CallerKind.CIVIL_SERVANT, subject="cb-lead", agency_code="000.00.15.H57", role="leader").to_wire()
    not_filed = ("PermissionDenied", "citizen_id: a civil servant reads the records of people who filed a dossier "
                                     "with their agency (000.00.15.H57) only")
    assert read(CLERK) == not_filed
    assert read(CLERK, "046090999999") == not_filed     # the same whether or not the person exists

    # Bình files a dossier with the clerk's agency (procedures publishes DossierSubmitted).
    submitted = new_event(DossierSubmitted(dossier=DossierRef(code="000.00.15.H57-261207-0001",
                                                              agency_code="000.00.15.H57",
                                                              applicant_citizen_id=BINH["citizen_id"])),
                          source="/egov/procedures", subject="000.00.15.H57-261207-0001")
    publisher = EventPublisher(identity_stack.amqp_uri)
    try:
        publisher.publish(submitted)
    finally:
        publisher.close()
    assert eventually(lambda: read(CLERK) == ("OK", BINH["full_name"]), "the clerk to read Bình's record")
    assert read(other_agency)[1].startswith("citizen_id: a civil servant reads the records of people who filed")
    assert read(leader) == ("PermissionDenied", "caller: the role leader does not read citizens' records; receiver, "
                                                "result_desk, specialist do")
    citizen = Caller(CallerKind.CITIZEN, subject=AN["citizen_id"]).to_wire()
    assert read(citizen)[0] == "PermissionDenied"
