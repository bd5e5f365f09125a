"""Who a dossier is for, and who filed it (docs/ONE_STOP.md, "Applicants").

A citizen files for themselves online; at a desk the receiver files for anyone: a citizen without an
account (verified against the national population database, through identity), an organisation
(verified against the business registry), a foreigner (passport and nationality, for the procedures
that allow foreigners), each possibly through a proxy who holds an authorisation document.
"""

import re
from dataclasses import dataclass
from enum import StrEnum

from services.common.citizen_id import check_citizen_id
from services.common.errors import FailedPrecondition, InvalidArgument
from services.procedures.domain.procedure import ApplicantKind, Procedure

_PASSPORT = re.compile(r"[A-Z0-9]{6,12}")
_NATIONALITY = re.compile(r"[A-Z]{3}")            # ISO 3166-1 alpha-3, as passports print it
_TAX_CODE = re.compile(r"[0-9]{10}(-[0-9]{3})?")   # enterprise code; a branch adds -NNN
_SHA256 = re.compile(r"[0-9a-f]{64}")


class Verified(StrEnum):
    """What the applicant's identity was checked against when the dossier was filed."""

    ACCOUNT = "account"                   # a registered citizen, signed in
    POPULATION_DB = "population_db"       # a walk-in's CCCD, name and birth date, through identity
    BUSINESS_REGISTRY = "business_registry"
    PASSPORT_SEEN = "passport_seen"       # a foreigner's passport, seen by the receiver


@dataclass(frozen=True)
class Authorisation:
    """The document that lets a proxy act (giấy ủy quyền / văn bản ủy quyền), attached as a file."""

    number: str
    file_name: str
    sha256: str
    size_bytes: int


@dataclass(frozen=True)
class Proxy:
    citizen_id: str
    full_name: str
    authorisation: Authorisation | None


@dataclass(frozen=True)
class Applicant:
    kind: ApplicantKind
    id_number: str             # CCCD (12 digits), passport number, or enterprise (tax) code
    full_name: str
    birth_date: str = ""       # YYYY-MM-DD; what the population database is asked with
    nationality: str = ""      # foreigners: ISO 3166-1 alpha-3
    representative_id: str = ""  # organisations: CCCD of the person who acts for it
    phone: str = ""
    email: str = ""
    verified: Verified = Verified.ACCOUNT

    @property
    def contact_citizen_id(self) -> str:
        """The citizen the platform writes to about the dossier ("" for a foreigner without proxy)."""
        if self.kind is ApplicantKind.CITIZEN:
            return self.id_number
        return self.representative_id


def check_applicant(applicant: Applicant, proxy: Proxy | None, procedure: Procedure) -> None:
    """The applicant's own fields and the procedure's rule on who may apply; verification against a
    registry happens in the service layer, which asks identity."""
    if applicant.kind not in procedure.applicants:
        allowed = ", ".join(k.value for k in procedure.applicants)
        raise FailedPrecondition("applicant.kind",
                                 f"procedure {procedure.code} is not open to {applicant.kind.value} "
                                 f"applicants (it is open to: {allowed})")
    if not applicant.full_name.strip():
        raise InvalidArgument("applicant.full_name", "is required")
    if applicant.kind is ApplicantKind.CITIZEN:
        check_citizen_id(applicant.id_number, "applicant.id_number")
    elif applicant.kind is ApplicantKind.FOREIGNER:
        if not _PASSPORT.fullmatch(applicant.id_number):
            raise InvalidArgument("applicant.id_number", "a passport number: 6 to 12 capital letters or digits")
        if not _NATIONALITY.fullmatch(applicant.nationality):
            raise InvalidArgument("applicant.nationality", "an ISO 3166-1 alpha-3 code, e.g. KOR, FRA, USA")
    else:
        if not _TAX_CODE.fullmatch(applicant.id_number):
            raise InvalidArgument("applicant.id_number", "an enterprise code: 10 digits, or 10-3 for a branch")
        check_citizen_id(applicant.representative_id, "applicant.representative_id")
    if proxy is not None:
        check_proxy(proxy)


def check_proxy(proxy: Proxy) -> None:
    check_citizen_id(proxy.citizen_id, "proxy.citizen_id")
    if not proxy.full_name.strip():
        raise InvalidArgument("proxy.full_name", "is required")
    a = proxy.authorisation
    if a is None:
        raise InvalidArgument("proxy.authorisation",
                              "a proxy files only with the authorisation document (văn bản ủy quyền) attached")
    if not a.number.strip():
        raise InvalidArgument("proxy.authorisation.number", "is required")
    if not a.file_name.strip() or not _SHA256.fullmatch(a.sha256) or a.size_bytes < 1:
        raise InvalidArgument("proxy.authorisation", "file_name, a sha256 of 64 hex digits and a size are required")


def parties(applicant: Applicant, proxy: Proxy | None) -> tuple[str, ...]:
    """Every identity number the dossier belongs to: what `ListMyDossiers` finds it by, so a walk-in
    who registers later sees the dossiers filed for them."""
    found = [applicant.id_number]
    if applicant.representative_id:
        found.append(applicant.representative_id)
    if proxy is not None:
        found.append(proxy.citizen_id)
    return tuple(dict.fromkeys(found))
