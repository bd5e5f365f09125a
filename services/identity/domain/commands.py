"""The commands identity accepts, one per RPC, as plain values: what the sender asked, not yet checked.

The entrypoint translates each request once (translation.py) and the service layer takes these, so
no handler sees a wire dict or a proto. Field names are the protos'. Values stay as they were sent
(untrimmed strings, enum members by name) because checking them is the rules' work, in the order the
rules check them: a refusal names the same field, in the same words, as before the translation moved.
Who sends a command (the Caller) travels beside it, not in it.
"""

from dataclasses import dataclass, field

from services.identity.domain.contact import Address


@dataclass(frozen=True)
class RequestVerificationCode:
    citizen_id: str
    full_name: str
    birth_date: str
    purpose: str                     # a Purpose by name; anything else is refused, naming `purpose`


@dataclass(frozen=True)
class RegisterCitizen:
    citizen_id: str
    full_name: str
    birth_date: str
    phone: str
    email: str
    address: Address
    password: str = field(repr=False)
    notification_channels: tuple[str, ...]     # NotificationChannel names, as asked
    verification_id: str
    verification_code: str = field(repr=False)


@dataclass(frozen=True)
class RecoverAccount:
    citizen_id: str
    full_name: str
    birth_date: str
    verification_id: str
    verification_code: str = field(repr=False)
    new_password: str = field(repr=False)
    phone: str
    email: str
    notification_channels: tuple[str, ...]


@dataclass(frozen=True)
class ListRevocations:
    gateway: str                     # the gateway instance asking, for the log only


@dataclass(frozen=True)
class SignIn:
    citizen_id: str
    password: str = field(repr=False)


@dataclass(frozen=True)
class SignInCivilServant:
    civil_servant_id: str
    password: str = field(repr=False)
    totp_code: str = field(repr=False)


@dataclass(frozen=True)
class GetCitizen:
    citizen_id: str


@dataclass(frozen=True)
class RegisterBusiness:
    tax_code: str
    name: str
    address: Address


@dataclass(frozen=True)
class RegisterCivilServant:
    civil_servant_id: str
    full_name: str
    agency_code: str
    role: str
    ecard_serial: str
    password: str = field(repr=False)
    appointments: tuple[str, ...]    # role@agency-code, beyond `role` in `agency_code`


@dataclass(frozen=True)
class ResetSecondFactor:
    civil_servant_id: str


@dataclass(frozen=True)
class DismissCivilServant:
    civil_servant_id: str
    reason: str


@dataclass(frozen=True)
class VerifyApplicant:
    organisation: bool               # False: a person in the national population database
    id_number: str
    full_name: str
    birth_date: str
