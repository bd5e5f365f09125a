"""identity as a real process on the real broker and SecantusDB, with the population simulator.

Driven over nameko RPC as the gateway would; events observed on a temporary queue of our own
bound to the events exchange in the stack's vhost.
"""

import subprocess
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from kombu import Connection, Consumer, Exchange, Queue
from kombu.message import Message
from nameko.exceptions import RemoteError
from nameko.standalone.rpc import ClusterRpcClient

from deploy.local.stack import BIN, Stack
from egov.events.v1.cloud_event_pb2 import CloudEvent
from egov.identity.v1 import events_pb2 as events
from services.common.caller import Caller, CallerKind
from services.common.events.envelope import decode, unpack
from services.common.tokens import verify_token
from services.common.topology import EVENTS_EXCHANGE

ANONYMOUS = Caller(CallerKind.ANONYMOUS).to_wire()
CLERK = Caller(CallerKind.CIVIL_SERVANT, subject="cb-test", agency_code="000.00.15.H57",
               role="receiver").to_wire()
HUE = {"street": "12 Lê Lợi", "commune": "Phường Vĩnh Ninh", "district": "Thành phố Huế",
       "province": "Thừa Thiên Huế"}
# Well-known residents of simulators/data/population.json.
AN = {"citizen_id": "046090012345", "full_name": "Nguyễn Văn An", "birth_date": "1990-05-14"}
BINH = {"citizen_id": "046185006789", "full_name": "Trần Thị Bình", "birth_date": "1985-11-02"}
DUC_DECEASED = {"citizen_id": "046048001357", "full_name": "Hồ Văn Đức", "birth_date": "1948-01-15"}
PASSWORD = "mật khẩu đủ dài"


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
    with ClusterRpcClient(uri=identity_stack.amqp_uri, timeout=20) as client:
        yield client


def refusal(method: Callable[..., Any], **kwargs: Any) -> tuple[str, str]:
    """(error class, "field: message") of a call that must be refused."""
    with pytest.raises(RemoteError) as refused:
        method(**kwargs)
    return refused.value.exc_type, str(refused.value.value)


def public_key(stack: Stack) -> bytes:
    return Path(stack.env()["EGOV_TOKEN_PUBLIC_KEY_FILE"]).read_bytes()


def test_a_resident_registers_once_and_signs_in(identity_stack: Stack, tap: EventTap, rpc: Any) -> None:
    registered = rpc.identity.register_citizen(request=application(AN), caller=ANONYMOUS)["citizen"]
    assert registered["phone"] == "+84905123456"
    assert registered["notification_channels"] == ["NOTIFICATION_CHANNEL_EMAIL"]

    event = tap.next_event()
    assert (event.type, event.subject, event.source) == (
        "egov.identity.v1.CitizenRegistered", AN["citizen_id"], "/egov/identity")
    payload = unpack(event)
    assert isinstance(payload, events.CitizenRegistered)
    assert (payload.full_name, payload.phone, payload.email) == (AN["full_name"], "+84905123456",
                                                                  "nguoidan@example.vn")

    assert refusal(rpc.identity.register_citizen, request=application(AN), caller=ANONYMOUS) == (
        "AlreadyExists", "citizen_id: a citizen with this ID is already registered")

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

    # The duplicate published nothing: the next identity event is the next registration's.
    rpc.identity.register_citizen(request=application(BINH), caller=CLERK)
    assert tap.next_event().subject == BINH["citizen_id"]


def test_a_person_the_population_database_does_not_confirm_is_not_registered(
        identity_stack: Stack, tap: EventTap, rpc: Any) -> None:
    def refused(request: dict[str, Any]) -> tuple[str, str]:
        exc_type, message = refusal(rpc.identity.register_citizen, request=request, caller=ANONYMOUS)
        return exc_type, message.split(":")[0]

    def looked_up(citizen_id: str) -> str:
        return refusal(rpc.identity.get_citizen, request={"citizen_id": citizen_id}, caller=CLERK)[0]

    unknown = {**AN, "citizen_id": "046090999999"}
    assert refused(application(unknown)) == ("InvalidArgument", "citizen_id")
    assert refused(application({**BINH, "full_name": "Trần Thị Bích"})) == ("InvalidArgument", "full_name")
    assert refused(application(DUC_DECEASED)) == ("FailedPrecondition", "citizen_id")
    assert refused(application(AN, phone="+1 202 555 0123")) == ("InvalidArgument", "phone")
    for person in (unknown, DUC_DECEASED, AN):
        assert looked_up(person["citizen_id"]) == "NotFound"
    # Nothing was published for the refusals, and Bình's record was not taken by the wrong name.
    rpc.identity.register_citizen(request=application(BINH), caller=ANONYMOUS)
    assert tap.next_event().subject == BINH["citizen_id"]

    identity_stack.kill("sim-population")
    assert refused(application(AN)) == ("Unavailable", "citizen_id")
    assert looked_up(AN["citizen_id"]) == "NotFound"


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

    credentials = {"civil_servant_id": servant_id, "password": PASSWORD}
    token = rpc.identity.sign_in_civil_servant(request=credentials, caller=ANONYMOUS)
    servant = verify_token(public_key(identity_stack), token["access_token"])
    assert (servant.kind, servant.subject, servant.agency_code, servant.role) == (
        CallerKind.CIVIL_SERVANT, servant_id, "000.00.15.H57", "receiver")

    again = subprocess.run(argv, env=identity_stack.env(), capture_output=True, text=True, timeout=120)
    assert again.returncode == 1
    assert "AlreadyExists" in again.stderr
    # Only an operator may do this; the gateway's callers are refused.
    assert refusal(rpc.identity.register_civil_servant, request={
        "civil_servant_id": "cb-other", "full_name": "Lê Văn Cao", "agency_code": "000.00.15.H57",
        "role": "approver", "password": PASSWORD}, caller=CLERK)[0] == "PermissionDenied"
