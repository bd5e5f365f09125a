"""A civil servant (cán bộ, công chức) of an agency, who works dossiers under a role."""

import re
from collections.abc import Callable
from dataclasses import dataclass, replace

from services.common.errors import InvalidArgument
from services.common.roles import Appointment, Role
from services.identity.domain.names import normalize_full_name
from services.identity.domain.passwords import check_password
from services.identity.domain.second_factor import SecondFactor

_CIVIL_SERVANT_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")
_AGENCY_CODE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,31}")
_ROLE = re.compile(r"[a-z][a-z_]{1,31}")
_ECARD_SERIAL = re.compile(r"[A-Za-z0-9-]{0,64}")


@dataclass(frozen=True)
class CivilServant:
    civil_servant_id: str
    full_name: str
    agency_code: str
    role: str
    ecard_serial: str
    password_hash: str
    appointments: tuple[Appointment, ...] = ()


@dataclass(frozen=True)
class Onboarded:
    """A civil servant just registered, and the second factor they are shown this once."""

    civil_servant: CivilServant
    second_factor: SecondFactor


def _match(pattern: re.Pattern[str], raw: str, field: str, what: str) -> str:
    value = raw.strip()
    if not value and pattern.fullmatch("") is None:
        raise InvalidArgument(field, "is required")
    if not pattern.fullmatch(value):
        raise InvalidArgument(field, what)
    return value


def appointments_of(agency_code: str, role: str, claims: tuple[str, ...]) -> tuple[Appointment, ...]:
    """The roles held: each `role@agency-code` given, and the home agency's role when it is one of the
    one-stop roles (an older record's free-text role such as "approver" grants nothing)."""
    found: set[Appointment] = set()
    if role in set(Role):
        found.add(Appointment(agency_code, Role(role)))
    for index, claim in enumerate(claims):
        try:
            appointment = Appointment.from_claim(claim.strip())
        except ValueError:
            roles = ", ".join(r.value for r in Role)
            raise InvalidArgument(f"appointments[{index}]",
                                  f"{claim!r} is not role@agency-code with a role among {roles}") from None
        if not _AGENCY_CODE.fullmatch(appointment.agency_code):
            raise InvalidArgument(f"appointments[{index}]", "the agency code: letters, digits, '.', '_' or '-'")
        found.add(appointment)
    return tuple(sorted(found))


def appoint_civil_servant(civil_servant_id: str, full_name: str, agency_code: str, role: str,
                          ecard_serial: str, password: str, hash_password: Callable[[str], str],
                          appointments: tuple[str, ...] = ()) -> CivilServant:
    """Every detail checked (each refusal names its field) before the password is hashed."""
    servant = CivilServant(
        civil_servant_id=_match(_CIVIL_SERVANT_ID, civil_servant_id, "civil_servant_id",
                                "letters, digits, '.', '_' or '-', at most 64"),
        full_name=normalize_full_name(full_name),
        agency_code=_match(_AGENCY_CODE, agency_code, "agency_code",
                           "letters, digits, '.', '_' or '-', at most 32"),
        role=_match(_ROLE, role, "role", "lower-case letters and '_', e.g. receiver, specialist, approver"),
        ecard_serial=_match(_ECARD_SERIAL, ecard_serial, "ecard_serial",
                            "letters, digits or '-', at most 64"),
        password_hash="",
    )
    servant = replace(servant, appointments=appointments_of(servant.agency_code, servant.role, appointments))
    return replace(servant, password_hash=hash_password(check_password(password)))
