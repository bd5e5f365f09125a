"""identity's account security through the gateway, as citizens' apps and attackers meet it: codes
limited per client address, recovery that ends every other session, revoked tokens refused at the
gateway (issue 12, items 1 and 9).

One stack (identity, notifications, the gateway) for the module; the gateway polls revocations every
second here (10 s by default) and identity allows 4 codes per address an hour (30 by default), so
the test that spends them runs last.
"""

import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import grpc
import pytest

from deploy.local.journey import PASSWORD, Journey, bearer, read_mailbox, residents
from deploy.local.stack import Stack
from egov.common.v1 import caller_pb2
from egov.identity.v1 import identity_pb2 as pb
from services.common.caller import OPERATOR
from tests.support import SignedRpcClient, eventually

CODES_PER_ADDRESS = 4


@dataclass
class Running:
    stack: Stack
    journey: Journey
    people: Iterator[dict[str, Any]]

    @property
    def identity(self) -> Any:
        return self.journey.api.identity

    def own_record(self, token: str, citizen_id: str) -> grpc.StatusCode:
        """What the gateway answers a citizen's token asking for their own record."""
        try:
            self.identity.GetCitizen(pb.GetCitizenRequest(citizen_id=citizen_id), metadata=bearer(token), timeout=10)
        except grpc.RpcError as exc:
            return exc.code()
        return grpc.StatusCode.OK


@pytest.fixture(scope="module")
def running(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Running]:
    stack = Stack(tmp_path_factory.mktemp("identity-gateway"), extra_env={
        "EGOV_IDENTITY_CODES_PER_ADDRESS_PER_HOUR": str(CODES_PER_ADDRESS),
        "EGOV_GATEWAY_REVOCATION_POLL_SECONDS": "1"})
    try:
        stack.start(services=("identity", "notifications"))
    except Exception:
        for log in sorted(stack.logs.glob("*.log")):
            print(f"==== {log.name}\n{log.read_text(errors='replace')[-3000:]}")
        stack.stop()
        raise
    channel = grpc.insecure_channel(f"127.0.0.1:{stack.ports.gateway}")
    try:
        yield Running(stack, Journey.of(stack, channel), iter(residents()[5:]))
    finally:
        channel.close()
        stack.stop()


def test_recovery_gives_the_account_back_and_ends_every_other_session(running: Running) -> None:
    journey, person = running.journey, next(running.people)
    owner = journey.register_citizen(person)
    # Someone else has the password (phished, guessed, or set it by taking the account).
    intruder = journey.sign_in(person["citizen_id"])
    mine = person["citizen_id"]
    assert running.own_record(intruder.token, mine) == grpc.StatusCode.OK

    verification_id, code = journey.request_code(person, pb.VERIFICATION_PURPOSE_ACCOUNT_RECOVERY)
    new_email = f"recovered-{person['citizen_id']}@example.vn"
    recovered = running.identity.RecoverAccount(pb.RecoverAccountRequest(
        citizen_id=person["citizen_id"], full_name=person["full_name"], birth_date=person["birth_date"],
        verification_id=verification_id, verification_code=code, new_password="mat-khau-moi-cua-chu",
        phone="0912 000 111", email=new_email, notification_channels=[caller_pb2.NOTIFICATION_CHANNEL_EMAIL]),
        timeout=10).citizen
    assert (recovered.phone, recovered.email) == ("+84912000111", new_email)

    # Every earlier token stops working at the gateway (within its revocation poll)...
    eventually(lambda: running.own_record(intruder.token, mine) == grpc.StatusCode.UNAUTHENTICATED,
               "the intruder's token refused")
    assert running.own_record(owner.token, mine) == grpc.StatusCode.UNAUTHENTICATED
    # ...the old password is gone, the new one works, and its session is good.
    with pytest.raises(grpc.RpcError) as old:
        journey.sign_in(person["citizen_id"])
    assert old.value.code() == grpc.StatusCode.UNAUTHENTICATED
    fresh = running.identity.SignIn(pb.SignInRequest(citizen_id=person["citizen_id"],
                                                     password="mat-khau-moi-cua-chu"), timeout=10).access_token
    assert running.own_record(fresh, mine) == grpc.StatusCode.OK
    # Notifications go to the owner's address from now on: the recovery notice is there.
    mailbox = f"http://127.0.0.1:{running.stack.ports.mailbox_http}"
    eventually(lambda: [m for m in read_mailbox(mailbox, new_email) if "khôi phục" in m["subject"]],
               "the recovery notice at the owner's new address")


def test_failed_sign_ins_slow_the_guessers_address_not_the_owner(running: Running) -> None:
    """Item 6: a guesser at the gateway soon waits before every try, even with the right password (no
    scrypt is spent on a waiting try); the owner, elsewhere, signs in."""
    journey, person = running.journey, next(running.people)
    journey.register_citizen(person)

    def sign_in(password: str) -> grpc.StatusCode:
        try:
            running.identity.SignIn(pb.SignInRequest(citizen_id=person["citizen_id"], password=password),
                                    timeout=10)
        except grpc.RpcError as exc:
            details[exc.code()] = exc.details() or ""
            return exc.code()
        return grpc.StatusCode.OK

    details: dict[grpc.StatusCode, str] = {}
    answers = []
    for attempt in range(12):   # waits double from 1 s: a few tries outrun the scrypt and the round trip
        answers.append(sign_in(f"doan-thu-{attempt}"))
        if answers[-1] == grpc.StatusCode.RESOURCE_EXHAUSTED:
            break
    assert answers[:3] == [grpc.StatusCode.UNAUTHENTICATED] * 3
    assert answers[-1] == grpc.StatusCode.RESOURCE_EXHAUSTED, answers
    assert details[grpc.StatusCode.RESOURCE_EXHAUSTED].startswith("password: too many failed sign-ins: try again in")
    assert sign_in(PASSWORD) == grpc.StatusCode.RESOURCE_EXHAUSTED     # from this address, even the right one

    # The owner, from anywhere else (here: straight to identity, no address), is not held: the
    # account's own count allows 10 failures before any wait, and never more than 30 s.
    with SignedRpcClient(running.stack.env(), uri=running.stack.amqp_uri, timeout=20) as rpc:
        token = rpc.identity.sign_in(request={"citizen_id": person["citizen_id"], "password": PASSWORD},
                                     caller={"kind": "CALLER_KIND_ANONYMOUS"})
    assert token["access_token"]


def test_a_dismissed_civil_servants_token_stops_working_at_the_gateway(running: Running) -> None:
    """Item 9: signed in with password and second factor through the gateway; dismissed by an operator;
    the gateway refuses the token from its next revocation poll, and the civil servant cannot sign in."""
    servant_id = f"cb-{uuid.uuid4().hex[:6]}"
    with SignedRpcClient(running.stack.env(), uri=running.stack.amqp_uri, timeout=20) as rpc:
        appointed = rpc.identity.register_civil_servant(request={
            "civil_servant_id": servant_id, "full_name": "Phạm Thị Lan", "agency_code": "000.00.15.H57",
            "role": "specialist", "password": PASSWORD}, caller=OPERATOR.to_wire())
    token = running.journey.civil_servant_token(servant_id, PASSWORD, appointed["second_factor_uri"])

    def reaches_identity() -> grpc.StatusCode:
        """A lookup the gateway forwards for an authenticated civil servant (what identity then answers
        does not matter here); UNAUTHENTICATED when the gateway no longer accepts the token."""
        try:
            running.identity.GetCitizen(pb.GetCitizenRequest(citizen_id="046090012345"), metadata=bearer(token),
                                        timeout=10)
        except grpc.RpcError as exc:
            return exc.code()
        return grpc.StatusCode.OK

    assert reaches_identity() != grpc.StatusCode.UNAUTHENTICATED
    with SignedRpcClient(running.stack.env(), uri=running.stack.amqp_uri, timeout=20) as rpc:
        rpc.identity.dismiss_civil_servant(request={"civil_servant_id": servant_id, "reason": "Thôi việc"},
                                           caller=OPERATOR.to_wire())
    eventually(lambda: reaches_identity() == grpc.StatusCode.UNAUTHENTICATED, "the dismissed servant's token refused")
    with pytest.raises(grpc.RpcError) as again:     # told like a wrong password, whatever the code
        running.journey.civil_servant_token(servant_id, PASSWORD, appointed["second_factor_uri"])
    assert again.value.code() == grpc.StatusCode.UNAUTHENTICATED


def test_the_code_request_is_limited_per_client_address_at_the_gateway(running: Running) -> None:
    """Last in the module: it spends the address's codes for the hour."""
    def ask(person: dict[str, Any]) -> None:
        running.identity.RequestVerificationCode(pb.RequestVerificationCodeRequest(
            citizen_id=person["citizen_id"], full_name=person["full_name"], birth_date=person["birth_date"],
            purpose=pb.VERIFICATION_PURPOSE_REGISTRATION), timeout=10)

    people = [next(running.people) for _ in range(CODES_PER_ADDRESS + 1)]
    answered = 0
    with pytest.raises(grpc.RpcError) as refused:
        for person in people:
            ask(person)
            answered += 1
    # The module's earlier tests asked for codes from this address too.
    assert answered <= CODES_PER_ADDRESS
    assert refused.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
    assert (refused.value.details() or "").startswith(
        f"caller: too many one-time codes asked for this caller: at most {CODES_PER_ADDRESS} per 1 hour(s)")
