"""identity's translation at the entrypoint (services/identity/translation.py): a request becomes its
domain command with the values as sent, and an enum value the domain does not know reaches the rules,
which refuse it naming the field, in the words the service has always used."""

from datetime import UTC, datetime

import pytest

from egov.common.v1 import caller_pb2 as common_pb
from egov.identity.v1 import identity_pb2 as pb
from services.common.caller import Caller, CallerKind
from services.common.errors import InvalidArgument
from services.common.protowire import parse
from services.identity import registration
from services.identity import translation as tr
from services.identity.adapters.password_hashing import PasswordHasher
from services.identity.adapters.population import FakePopulationRegistry
from services.identity.domain import commands
from services.identity.domain.contact import Address
from services.identity.domain.rate_limits import CodePolicy
from services.identity.domain.sessions import AccessToken
from services.identity.fakes import in_memory_store

AN = {"citizen_id": "046090012345", "full_name": "Nguyễn Văn An", "birth_date": "1990-05-14"}
ADDRESS = {"street": "12 Lê Lợi", "commune": "Phú Hội", "district": "Thuận Hóa", "province": "Huế"}


def registration_request(channels: list[str]) -> pb.RegisterCitizenRequest:
    return parse(pb.RegisterCitizenRequest, {
        **AN, "full_name": " Nguyễn Văn An ", "phone": "0905123456", "address": ADDRESS, "password": "mật khẩu đủ dài",
        "notification_channels": channels, "verification_id": "v-1", "verification_code": "987650"})


def test_a_request_becomes_its_command_with_the_values_as_sent() -> None:
    command = tr.register_citizen_command(registration_request(["NOTIFICATION_CHANNEL_SMS",
                                                                "NOTIFICATION_CHANNEL_EMAIL"]))
    assert command == commands.RegisterCitizen(
        citizen_id=AN["citizen_id"], full_name=" Nguyễn Văn An ", birth_date=AN["birth_date"], phone="0905123456",
        email="", address=Address("12 Lê Lợi", "Phú Hội", "Thuận Hóa", "Huế"), password="mật khẩu đủ dài",
        notification_channels=("SMS", "EMAIL"), verification_id="v-1", verification_code="987650")
    assert "mật khẩu" not in repr(command) and "987650" not in repr(command)


@pytest.mark.parametrize("channel", [common_pb.NOTIFICATION_CHANNEL_UNSPECIFIED, 42])
def test_a_channel_the_domain_does_not_know_is_refused_naming_the_field(channel: int) -> None:
    request = registration_request([])
    request.notification_channels.append(channel)  # type: ignore[arg-type]
    with pytest.raises(InvalidArgument) as refused:
        registration.register_citizen(in_memory_store(), PasswordHasher(), tr.register_citizen_command(request),
                                      Caller(CallerKind.ANONYMOUS))
    assert (refused.value.field, refused.value.message) == ("notification_channels",
                                                            "each channel must be EMAIL, SMS or PUSH")


def test_an_unspecified_purpose_is_refused_naming_the_field_before_anyone_is_asked() -> None:
    population = FakePopulationRegistry()
    command = tr.request_verification_code_command(parse(pb.RequestVerificationCodeRequest, AN))
    assert command.purpose == "UNSPECIFIED"
    with pytest.raises(InvalidArgument) as refused:
        registration.request_verification_code(in_memory_store(), population, CodePolicy(), command,
                                               Caller(CallerKind.ANONYMOUS), "203.0.113.7")
    assert (refused.value.field, refused.value.message) == ("purpose", "must be REGISTRATION or ACCOUNT_RECOVERY")
    assert population.asked == []


def test_a_domain_answer_becomes_its_response() -> None:
    moment = datetime(2026, 3, 2, 1, 2, 3, tzinfo=UTC)
    assert tr.sign_in_response(AccessToken("a.b.c", moment)) == pb.SignInResponse(
        access_token="a.b.c", expires_at="2026-03-02T01:02:03Z")
    assert tr.dismiss_civil_servant_response(moment).dismissed_at == "2026-03-02T01:02:03Z"
