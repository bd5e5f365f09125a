"""Civil servants' appointments (a role in one agency each): recorded, checked, carried in the token."""

from datetime import timedelta

import pytest

from services.common.caller import Caller, CallerKind
from services.common.errors import InvalidArgument
from services.common.roles import Appointment, Role
from services.common.tokens import generate_key_pair, issue_token, verify_token
from services.identity.domain.civil_servant import appoint_civil_servant, appointments_of

GOOD = {"civil_servant_id": "cb-hue-001", "full_name": "Trần Văn Bảo", "agency_code": "000.01.31.H57",
        "role": "receiver", "ecard_serial": "", "password": "correct horse battery"}


def test_the_home_role_and_every_further_appointment_are_held() -> None:
    servant = appoint_civil_servant(**GOOD, hash_password=lambda p: "h",
                                    appointments=("specialist@000.01.31.H57", "leader@000.00.31.H57"))
    assert servant.appointments == (Appointment("000.00.31.H57", Role.LEADER),
                                    Appointment("000.01.31.H57", Role.RECEIVER),
                                    Appointment("000.01.31.H57", Role.SPECIALIST))


def test_a_free_text_home_role_grants_nothing() -> None:
    assert appointments_of("000.00.15.H57", "approver", ()) == ()


@pytest.mark.parametrize("claim", ["boss@000.00.31.H57", "receiver", "receiver@", "receiver@bad code"])
def test_an_appointment_that_is_not_role_at_agency_is_refused_naming_it(claim: str) -> None:
    with pytest.raises(InvalidArgument) as refused:
        appoint_civil_servant(**GOOD, hash_password=lambda p: "h", appointments=("leader@000.00.31.H57", claim))
    assert refused.value.field == "appointments[1]"


def test_the_token_carries_the_appointments_to_the_caller() -> None:
    private, public = generate_key_pair()
    held = (Appointment("000.00.31.H57", Role.LEADER), Appointment("000.01.31.H57", Role.RECEIVER))
    token, _ = issue_token(private, Caller(CallerKind.CIVIL_SERVANT, subject="cb-1", agency_code="000.01.31.H57",
                                           role="receiver", appointments=held), ttl=timedelta(minutes=5))
    caller = verify_token(public, token)
    assert caller.appointments == held
    assert caller.holds(Role.LEADER, "000.00.31.H57") and not caller.holds(Role.LEADER, "000.01.31.H57")
    assert Caller.from_wire(caller.to_wire()) == caller
