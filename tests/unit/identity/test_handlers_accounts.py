"""identity's account handlers on the in-memory stores (services/identity/fakes.py): registration and
recovery by a one-time code the population registry sends, sign-in with its limits, and the
operator's civil servant commands (registration, second factor reset, dismissal) with the session
revocations the gateways poll."""

from datetime import UTC, datetime, timedelta

import pyotp
import pytest

from egov.identity.v1 import events_pb2 as events
from services.common.caller import Caller, CallerKind
from services.common.errors import (
    AlreadyExists,
    FailedPrecondition,
    InvalidArgument,
    PermissionDenied,
    ResourceExhausted,
    Unauthenticated,
)
from services.common.memory_store import InMemoryStore
from services.common.tokens import TokenKeys, generate_key_pair, verify_access_token
from services.identity import civil_servants, registration, sign_in
from services.identity.adapters.password_hashing import PasswordHasher
from services.identity.adapters.population import FakePopulationRegistry
from services.identity.adapters.second_factors import SecondFactors
from services.identity.adapters.signing import TokenSigner
from services.identity.domain import commands
from services.identity.domain.citizen import Citizen
from services.identity.domain.contact import Address
from services.identity.domain.rate_limits import CodePolicy
from services.identity.domain.second_factor import provisioning_uri
from services.identity.domain.verification import Purpose
from services.identity.fakes import in_memory_store

AN = ("046090012345", "Nguyễn Văn An", "1990-05-14")
PASSWORD = "mật khẩu đủ dài"
ANONYMOUS = Caller(CallerKind.ANONYMOUS)
OPERATOR = Caller(CallerKind.OPERATOR, subject="operator")
PRIVATE, PUBLIC = generate_key_pair()
KEYS = TokenKeys.of(PUBLIC)
SIGNER = TokenSigner(PRIVATE, timedelta(hours=1))
PASSWORDS = PasswordHasher()
LIFETIME = timedelta(hours=1)


@pytest.fixture
def store() -> InMemoryStore:
    return in_memory_store()


@pytest.fixture
def population() -> FakePopulationRegistry:
    return FakePopulationRegistry({AN[0]: (AN[1], AN[2], False)})


def code_for(store: InMemoryStore, population: FakePopulationRegistry,
             purpose: str = "REGISTRATION") -> tuple[str, str]:
    """(verification id, the code the population registry delivered)."""
    command = commands.RequestVerificationCode(citizen_id=AN[0], full_name=AN[1], birth_date=AN[2], purpose=purpose)
    asked = registration.request_verification_code(store, population, CodePolicy(), command, ANONYMOUS, "203.0.113.7")
    return asked.verification_id, population.sent[-1][1]


def register(store: InMemoryStore, verification: tuple[str, str], channels: tuple[str, ...] = ("SMS",)) -> Citizen:
    command = commands.RegisterCitizen(citizen_id=AN[0], full_name=AN[1], birth_date=AN[2], phone="0905123456",
                                       email="", address=Address("", "Phú Hội", "Thuận Hóa", "Huế"),
                                       password=PASSWORD, notification_channels=channels,
                                       verification_id=verification[0], verification_code=verification[1])
    return registration.register_citizen(store, PASSWORDS, command, ANONYMOUS)


def sign_in_as(store: InMemoryStore, password: str, client_address: str = "") -> str:
    """The access token of a citizen's session."""
    command = commands.SignIn(citizen_id=AN[0], password=password)
    return sign_in.sign_in(store, SIGNER, PASSWORDS, command, client_address=client_address).token


def test_a_resident_registers_with_the_code_sent_to_them_once(store: InMemoryStore,
                                                               population: FakePopulationRegistry) -> None:
    verification = code_for(store, population)
    assert population.sent[-1][2] is Purpose.REGISTRATION
    with pytest.raises(InvalidArgument):
        register(store, (verification[0], "000000" if verification[1] != "000000" else "111111"))
    assert register(store, verification).citizen_id == AN[0]
    [registered] = store.events(events.CitizenRegistered)
    assert (registered.citizen_id, registered.phone) == (AN[0], "+84905123456")
    with pytest.raises(InvalidArgument):
        register(store, verification)                                       # the code is spent
    with pytest.raises(AlreadyExists):
        register(store, code_for(store, population))                        # a new code, the same person
    assert len(store.events(events.CitizenRegistered)) == 1


def test_codes_a_person_may_be_sent_are_limited(store: InMemoryStore, population: FakePopulationRegistry) -> None:
    for _ in range(CodePolicy().per_person[0].max_count):
        code_for(store, population)
    with pytest.raises(ResourceExhausted):
        code_for(store, population)


def test_signing_in_takes_the_password_and_waits_after_repeated_failures(
        store: InMemoryStore, population: FakePopulationRegistry) -> None:
    register(store, code_for(store, population))
    assert verify_access_token(KEYS, sign_in_as(store, PASSWORD)).caller.subject == AN[0]
    for _ in range(3):
        with pytest.raises(Unauthenticated):
            sign_in_as(store, "không phải mật khẩu", client_address="203.0.113.7")
    with pytest.raises(ResourceExhausted):           # the fourth try from that address waits
        sign_in_as(store, PASSWORD, client_address="203.0.113.7")


def test_recovery_replaces_the_contact_and_password_and_revokes_earlier_sessions(
        store: InMemoryStore, population: FakePopulationRegistry) -> None:
    register(store, code_for(store, population))
    verification_id, code = code_for(store, population, "ACCOUNT_RECOVERY")
    command = commands.RecoverAccount(citizen_id=AN[0], full_name=AN[1], birth_date=AN[2],
                                      verification_id=verification_id, verification_code=code,
                                      new_password="mật khẩu mới đủ dài", phone="0913000111", email="",
                                      notification_channels=("SMS",))
    recovered = registration.recover_citizen_account(store, PASSWORDS, LIFETIME, command, ANONYMOUS)
    assert recovered.phone == "+84913000111"
    assert [e.phone for e in store.events(events.CitizenAccountRecovered)] == ["+84913000111"]
    [revoked] = registration.list_revocations(store, commands.ListRevocations(gateway="gw-1"))
    assert (revoked.account, revoked.min_epoch) == (f"citizen:{AN[0]}", 1)
    assert verify_access_token(KEYS, sign_in_as(store, "mật khẩu mới đủ dài")).epoch == 1
    with pytest.raises(Unauthenticated):
        sign_in_as(store, PASSWORD)


def servant_request(civil_servant_id: str = "cb-1", serial: str = "") -> commands.RegisterCivilServant:
    return commands.RegisterCivilServant(civil_servant_id=civil_servant_id, full_name="Trần Văn Bảo",
                                         agency_code="000.00.15.H57", role="receiver", ecard_serial=serial,
                                         password=PASSWORD, appointments=())


def totp(uri: str, at: datetime) -> str:
    return str(pyotp.parse_uri(uri).at(at))


def test_an_operator_registers_a_civil_servant_who_signs_in_with_password_and_code(store: InMemoryStore) -> None:
    with pytest.raises(PermissionDenied):
        civil_servants.register_civil_servant(store, PASSWORDS, servant_request(),
                                              Caller(CallerKind.CIVIL_SERVANT, subject="cb-9"))
    onboarded = civil_servants.register_civil_servant(store, PASSWORDS, servant_request(serial="EC-1"), OPERATOR)
    uri = provisioning_uri(onboarded.second_factor)
    [registered] = store.events(events.CivilServantRegistered)
    assert list(registered.appointments) == ["receiver@000.00.15.H57"]
    with pytest.raises(AlreadyExists):
        civil_servants.register_civil_servant(store, PASSWORDS, servant_request("cb-2", "EC-1"), OPERATOR)
    now = datetime.now(UTC)
    command = commands.SignInCivilServant(civil_servant_id="cb-1", password=PASSWORD, totp_code=totp(uri, now))
    token = sign_in.sign_in_civil_servant(store, SIGNER, PASSWORDS, command, now=now)
    assert verify_access_token(KEYS, token.token).methods == ("pwd", "otp")
    with pytest.raises(Unauthenticated):                       # the same code again: a replay
        sign_in.sign_in_civil_servant(store, SIGNER, PASSWORDS, command, now=now)


def test_a_reset_factor_revokes_sessions_and_a_dismissed_civil_servant_cannot_sign_in(store: InMemoryStore) -> None:
    first = civil_servants.register_civil_servant(store, PASSWORDS, servant_request(), OPERATOR).second_factor
    reset = commands.ResetSecondFactor(civil_servant_id=" cb-1 ")
    second = provisioning_uri(civil_servants.reset_second_factor(store, LIFETIME, reset, OPERATOR))
    assert second != provisioning_uri(first)
    revoked = registration.list_revocations(store, commands.ListRevocations(gateway=""))
    assert [r.account for r in revoked] == ["civil_servant:cb-1"]
    with pytest.raises(InvalidArgument):
        civil_servants.dismiss_civil_servant(store, LIFETIME, commands.DismissCivilServant("cb-1", reason=" "),
                                             OPERATOR)
    now = datetime.now(UTC)
    dismiss = commands.DismissCivilServant(civil_servant_id="cb-1", reason="nghỉ hưu ")
    assert civil_servants.dismiss_civil_servant(store, LIFETIME, dismiss, OPERATOR, now=now) == now
    assert [e.reason for e in store.events(events.CivilServantDismissed)] == ["nghỉ hưu"]
    command = commands.SignInCivilServant(civil_servant_id="cb-1", password=PASSWORD, totp_code=totp(second, now))
    with pytest.raises(Unauthenticated):
        sign_in.sign_in_civil_servant(store, SIGNER, PASSWORDS, command, now=now)


def test_a_civil_servant_without_a_factor_is_told_to_ask_an_operator(store: InMemoryStore) -> None:
    civil_servants.register_civil_servant(store, PASSWORDS, servant_request(), OPERATOR)
    store.repository(SecondFactors).factors.clear()  # type: ignore[attr-defined]   # registered before factors
    command = commands.SignInCivilServant(civil_servant_id="cb-1", password=PASSWORD, totp_code="000000")
    with pytest.raises(FailedPrecondition):
        sign_in.sign_in_civil_servant(store, SIGNER, PASSWORDS, command)
