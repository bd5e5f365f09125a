"""Translation between identity's contract (protos) and its domain: nothing else.

The entrypoints (service.py) use it once per call, both ways: a request becomes a domain command
(domain/commands.py) for the service layer, and what the service layer returns (domain values)
becomes the response. The service layer uses it only to write the events it emits, which are protos.
Nothing here checks a value: a value the domain does not know is passed on for the rules to refuse.
"""

from collections.abc import Iterable
from datetime import UTC, date, datetime, timedelta, timezone

from egov.common.v1 import caller_pb2 as common_pb
from egov.identity.v1 import identity_pb2 as pb
from services.identity.domain import commands
from services.identity.domain.business import Business, BusinessVerification
from services.identity.domain.citizen import Citizen
from services.identity.domain.civil_servant import CivilServant, Onboarded
from services.identity.domain.contact import Address, NotificationChannel
from services.identity.domain.population import Verification as PersonVerification
from services.identity.domain.second_factor import SecondFactor, provisioning_uri
from services.identity.domain.sessions import AccessToken, Revocation
from services.identity.domain.verification import CODE_SENT_NOTICE, Verification

VIETNAM = timezone(timedelta(hours=7), "ICT")


def address(message: common_pb.Address) -> Address:
    return Address(street=message.street, commune=message.commune, district=message.district,
                   province=message.province)


def address_message(address: Address) -> common_pb.Address:
    return common_pb.Address(street=address.street, commune=address.commune, district=address.district,
                             province=address.province)


_CHANNEL_NAMES: dict[int, str] = {value: name.removeprefix("NOTIFICATION_CHANNEL_")
                                  for name, value in common_pb.NotificationChannel.items()}
_PURPOSE_NAMES: dict[int, str] = {value: name.removeprefix("VERIFICATION_PURPOSE_")
                                  for name, value in pb.VerificationPurpose.items()}


def channel_names(values: Iterable[int]) -> tuple[str, ...]:
    """By name, as the domain knows them (UNSPECIFIED, or a number the contract does not name, is
    passed on for the domain to refuse)."""
    return tuple(_CHANNEL_NAMES.get(value, str(value)) for value in values)


def channel_value(channel: NotificationChannel) -> "common_pb.NotificationChannel.ValueType":
    return common_pb.NotificationChannel.Value(f"NOTIFICATION_CHANNEL_{channel.value}")


def rfc3339(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def citizen_message(citizen: Citizen) -> pb.Citizen:
    return pb.Citizen(
        citizen_id=citizen.citizen_id, full_name=citizen.full_name, birth_date=citizen.birth_date.isoformat(),
        phone=citizen.phone, email=citizen.email, address=address_message(citizen.address),
        notification_channels=[channel_value(c) for c in citizen.notification_channels],
        registered_at=rfc3339(citizen.registered_at),
    )


def business_message(business: Business) -> pb.Business:
    return pb.Business(tax_code=business.tax_code, name=business.name,
                       owner_citizen_id=business.owner_citizen_id, address=address_message(business.address))


def civil_servant_message(civil_servant: CivilServant) -> pb.CivilServant:
    return pb.CivilServant(civil_servant_id=civil_servant.civil_servant_id, full_name=civil_servant.full_name,
                           agency_code=civil_servant.agency_code, role=civil_servant.role,
                           ecard_serial=civil_servant.ecard_serial,
                           appointments=[a.to_claim() for a in civil_servant.appointments])


def local_today(moment: datetime) -> date:
    """Ages and "not in the future" are judged by the date in Vietnam, where people live."""
    return moment.astimezone(VIETNAM).date()


# -- requests in: one command per RPC ------------------------------------------------------------------
def request_verification_code_command(message: pb.RequestVerificationCodeRequest
                                      ) -> commands.RequestVerificationCode:
    return commands.RequestVerificationCode(
        citizen_id=message.citizen_id, full_name=message.full_name, birth_date=message.birth_date,
        purpose=_PURPOSE_NAMES.get(message.purpose, str(message.purpose)))


def register_citizen_command(message: pb.RegisterCitizenRequest) -> commands.RegisterCitizen:
    return commands.RegisterCitizen(
        citizen_id=message.citizen_id, full_name=message.full_name, birth_date=message.birth_date,
        phone=message.phone, email=message.email, address=address(message.address), password=message.password,
        notification_channels=channel_names(message.notification_channels),
        verification_id=message.verification_id, verification_code=message.verification_code)


def recover_account_command(message: pb.RecoverAccountRequest) -> commands.RecoverAccount:
    return commands.RecoverAccount(
        citizen_id=message.citizen_id, full_name=message.full_name, birth_date=message.birth_date,
        verification_id=message.verification_id, verification_code=message.verification_code,
        new_password=message.new_password, phone=message.phone, email=message.email,
        notification_channels=channel_names(message.notification_channels))


def list_revocations_command(message: pb.ListRevocationsRequest) -> commands.ListRevocations:
    return commands.ListRevocations(gateway=message.gateway)


def sign_in_command(message: pb.SignInRequest) -> commands.SignIn:
    return commands.SignIn(citizen_id=message.citizen_id, password=message.password)


def sign_in_civil_servant_command(message: pb.SignInCivilServantRequest) -> commands.SignInCivilServant:
    return commands.SignInCivilServant(civil_servant_id=message.civil_servant_id, password=message.password,
                                       totp_code=message.totp_code)


def get_citizen_command(message: pb.GetCitizenRequest) -> commands.GetCitizen:
    return commands.GetCitizen(citizen_id=message.citizen_id)


def register_business_command(message: pb.RegisterBusinessRequest) -> commands.RegisterBusiness:
    return commands.RegisterBusiness(tax_code=message.tax_code, name=message.name,
                                     address=address(message.address))


def register_civil_servant_command(message: pb.RegisterCivilServantRequest) -> commands.RegisterCivilServant:
    return commands.RegisterCivilServant(
        civil_servant_id=message.civil_servant_id, full_name=message.full_name, agency_code=message.agency_code,
        role=message.role, ecard_serial=message.ecard_serial, password=message.password,
        appointments=tuple(message.appointments))


def reset_second_factor_command(message: pb.ResetSecondFactorRequest) -> commands.ResetSecondFactor:
    return commands.ResetSecondFactor(civil_servant_id=message.civil_servant_id)


def dismiss_civil_servant_command(message: pb.DismissCivilServantRequest) -> commands.DismissCivilServant:
    return commands.DismissCivilServant(civil_servant_id=message.civil_servant_id, reason=message.reason)


def verify_applicant_command(message: pb.VerifyApplicantRequest) -> commands.VerifyApplicant:
    return commands.VerifyApplicant(organisation=message.organisation, id_number=message.id_number,
                                    full_name=message.full_name, birth_date=message.birth_date)


# -- results out: one response per RPC ---------------------------------------------------------------
def verification_code_response(verification: Verification) -> pb.RequestVerificationCodeResponse:
    # The same notice for everyone, sent or not (domain/verification.py).
    return pb.RequestVerificationCodeResponse(verification_id=verification.verification_id,
                                              expires_at=rfc3339(verification.expires_at), notice=CODE_SENT_NOTICE)


def register_citizen_response(citizen: Citizen) -> pb.RegisterCitizenResponse:
    return pb.RegisterCitizenResponse(citizen=citizen_message(citizen))


def recover_account_response(citizen: Citizen) -> pb.RecoverAccountResponse:
    return pb.RecoverAccountResponse(citizen=citizen_message(citizen))


def list_revocations_response(revocations: Iterable[Revocation]) -> pb.ListRevocationsResponse:
    return pb.ListRevocationsResponse(revocations=[
        pb.Revocation(account=r.account, min_epoch=r.min_epoch, until=rfc3339(r.until)) for r in revocations])


def sign_in_response(token: AccessToken) -> pb.SignInResponse:
    return pb.SignInResponse(access_token=token.token, expires_at=rfc3339(token.expires_at))


def get_citizen_response(citizen: Citizen) -> pb.GetCitizenResponse:
    return pb.GetCitizenResponse(citizen=citizen_message(citizen))


def register_business_response(business: Business) -> pb.RegisterBusinessResponse:
    return pb.RegisterBusinessResponse(business=business_message(business))


def register_civil_servant_response(onboarded: Onboarded) -> pb.RegisterCivilServantResponse:
    return pb.RegisterCivilServantResponse(civil_servant=civil_servant_message(onboarded.civil_servant),
                                           second_factor_uri=provisioning_uri(onboarded.second_factor))


def reset_second_factor_response(factor: SecondFactor) -> pb.ResetSecondFactorResponse:
    return pb.ResetSecondFactorResponse(second_factor_uri=provisioning_uri(factor))


def dismiss_civil_servant_response(dismissed_at: datetime) -> pb.DismissCivilServantResponse:
    return pb.DismissCivilServantResponse(dismissed_at=rfc3339(dismissed_at))


def verify_applicant_response(result: PersonVerification | BusinessVerification) -> pb.VerifyApplicantResponse:
    return pb.VerifyApplicantResponse(result=result.value)
