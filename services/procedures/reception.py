"""Reception at the desk, in the service layer: which catalogue entry, which desk, and who the
applicant is, verified against the registry that knows them (through identity, which holds the
connections to the population database and the business registry). Here too what a SubmitDossier
command asks (domain/commands.py, values as sent) becomes domain values, refused naming the field."""

import abc
from dataclasses import replace
from enum import StrEnum

from services.common.caller import Caller, CallerKind
from services.common.citizen_id import check_citizen_id
from services.common.errors import FailedPrecondition, InvalidArgument, PermissionDenied, Unavailable
from services.common.roles import Role
from services.procedures.adapters.directory import Directory
from services.procedures.adapters.repository import CitizenRegistry
from services.procedures.domain import commands
from services.procedures.domain.access import Action, require_role
from services.procedures.domain.applicants import Applicant, Proxy, Verified
from services.procedures.domain.application import Channel, Delivery, DeliveryMethod, PaymentMethod
from services.procedures.domain.desks import Desk, own_desk
from services.procedures.domain.procedure import ApplicantKind, CatalogueEntry, CatalogueReader
from services.procedures.domain.units import UnitTree

AGENCY_CHANNELS = {Channel.COUNTER.value: Channel.COUNTER, Channel.POST_OFFICE.value: Channel.POST_OFFICE}
APPLICANT_KINDS = {"APPLICANT_KIND_CITIZEN": ApplicantKind.CITIZEN, "APPLICANT_KIND_FOREIGNER": ApplicantKind.FOREIGNER,
                   "APPLICANT_KIND_ORGANISATION": ApplicantKind.ORGANISATION}


class Verdict(StrEnum):
    """What identity's registries answered (identity's Verification and BusinessVerification names)."""

    MATCH = "MATCH"
    MISMATCH = "MISMATCH"
    NOT_FOUND = "NOT_FOUND"
    DECEASED = "DECEASED"
    DISSOLVED = "DISSOLVED"
    UNREACHABLE = "UNREACHABLE"
    REFUSED = "REFUSED"


class ApplicantVerifier(abc.ABC):
    @abc.abstractmethod
    def person(self, citizen_id: str, full_name: str, birth_date: str) -> Verdict:
        """The national population database's answer, through identity."""

    @abc.abstractmethod
    def business(self, tax_code: str, name: str) -> Verdict:
        """The business registry's answer, through identity."""


def entry_for(catalogue: CatalogueReader, procedure_code: str, unit_code: str, caller: Caller) -> CatalogueEntry:
    """The entry named by procedure and unit. Without a unit: the procedure's only unit, or the unit
    of the desk a receiver files at when it implements the procedure; else FAILED_PRECONDITION."""
    procedure = catalogue.procedure(procedure_code)
    if procedure is None:
        raise InvalidArgument("procedure_code", f"no procedure {procedure_code!r} in the catalogue")
    units = catalogue.units
    if not unit_code:
        candidates = [u for tier in procedure.tiers for u in units.of_tier(tier)]
        desks = [units.unit_of_agency(a) for a in caller.agencies_with(Role.RECEIVER)]
        own = [u for u in desks if u is not None and u.tier in procedure.tiers]
        if len(candidates) != 1 and len(own) != 1:
            raise FailedPrecondition("unit_code", f"procedure {procedure_code} is implemented by every unit of "
                                                  f"{', '.join(procedure.tiers)}: name the unit")
        unit_code = (candidates if len(candidates) == 1 else own)[0].code
    if units.unit(unit_code) is None:
        raise InvalidArgument("unit_code", f"no unit {unit_code!r} in unit tree {units.version}")
    entry = catalogue.entry(procedure_code, unit_code)
    if entry is None:
        raise InvalidArgument("unit_code", f"unit {unit_code} does not implement procedure {procedure_code} "
                                           f"(it is implemented at: {', '.join(procedure.tiers)})")
    return entry


def desk_and_channel(units: UnitTree, directory: Directory, entry: CatalogueEntry, requested: str,
                     caller: Caller) -> tuple[Desk, Channel]:
    if caller.kind is CallerKind.CIVIL_SERVANT:
        desks = sorted(caller.agencies_with(Role.RECEIVER))
        agency = requested or (desks[0] if len(desks) == 1 else "")
        if not agency:
            raise InvalidArgument("receiving_agency_code", "you receive at several desks: name the one you are at"
                                  if desks else "you hold no receiver role at any desk")
        require_role(caller, Action.FILE, agency)
        return _desk(units, directory, agency), Channel.COUNTER
    if caller.kind is CallerKind.AGENCY:
        channel = AGENCY_CHANNELS.get(caller.channel)
        if channel is None:
            raise PermissionDenied("caller", f"agency systems file at a counter or a post office, "
                                             f"not {caller.channel or '(none)'}")
    elif caller.kind is CallerKind.CITIZEN:
        channel = Channel.ONLINE
    else:
        raise PermissionDenied("caller", f"{caller.kind.value} may not file dossiers")
    if requested:
        return _desk(units, directory, requested), channel
    desk = directory.desk_for(entry.competent_agency_code, (entry.unit.code, *(u.code for u in
                                                                                units.ancestors(entry.unit.code))))
    return desk or _desk(units, directory, entry.competent_agency_code), channel


def _desk(units: UnitTree, directory: Directory, agency_code: str) -> Desk:
    desk = directory.desk(agency_code) or own_desk(units, agency_code)
    if desk is None:
        raise InvalidArgument("receiving_agency_code", f"no agency {agency_code!r} in unit tree {units.version}")
    return desk


def applicant_for(command: commands.SubmitDossier, caller: Caller, citizens: CitizenRegistry,
                  verifier: ApplicantVerifier) -> Applicant:
    """A citizen online files for themselves (or their organisation); a desk or an agency system files
    for anyone, verified: a registered citizen by their account, a walk-in against the population
    database, an organisation against the business registry, a foreigner by the passport seen."""
    if command.applicant is None:
        return _legacy_applicant(command.applicant_citizen_id, caller, citizens)
    applicant = applicant_from(command.applicant, Verified.ACCOUNT)
    if caller.kind is CallerKind.CITIZEN:
        own = applicant.id_number if applicant.kind is ApplicantKind.CITIZEN else applicant.representative_id
        if own != caller.subject:
            raise PermissionDenied("applicant", "online, a citizen files for themselves or for the organisation "
                                                "they represent")
    if applicant.kind is ApplicantKind.FOREIGNER:
        if caller.kind is CallerKind.CITIZEN:
            raise PermissionDenied("applicant.kind", "a foreigner files at a desk, passport in hand")
        return _with(applicant, Verified.PASSPORT_SEEN)
    if applicant.kind is ApplicantKind.ORGANISATION:
        _require(verifier.business(applicant.id_number, applicant.full_name), "applicant.id_number",
                 "the business registry")
        return _with(applicant, Verified.BUSINESS_REGISTRY)
    check_citizen_id(applicant.id_number, "applicant.id_number")
    if caller.kind is CallerKind.CITIZEN or (not applicant.birth_date and citizens.is_registered(applicant.id_number)):
        if not citizens.is_registered(applicant.id_number):
            raise FailedPrecondition("applicant", "the applicant is not a registered citizen")
        return applicant
    if not applicant.birth_date:
        raise InvalidArgument("applicant.birth_date", "is required to verify a walk-in without an account "
                                                      "against the national population database")
    _require(verifier.person(applicant.id_number, applicant.full_name, applicant.birth_date), "applicant.id_number",
             "the national population database")
    return _with(applicant, Verified.POPULATION_DB)


# -- what the command asks, as domain values: each refusal names the request's field ------------------
def applicant_from(details: commands.ApplicantDetails, verified: Verified) -> Applicant:
    kind = APPLICANT_KINDS.get(details.kind)
    if kind is None:
        raise InvalidArgument("applicant.kind", "choose citizen, foreigner or organisation")
    return Applicant(kind=kind, id_number=details.id_number.strip().upper(), full_name=details.full_name.strip(),
                     birth_date=details.birth_date, nationality=details.nationality.strip().upper(),
                     representative_id=details.representative_id, phone=details.phone, email=details.email,
                     verified=verified)


def proxy_from(proxy: Proxy | None) -> Proxy | None:
    return None if proxy is None else replace(proxy, full_name=proxy.full_name.strip())


def payment_method_from(name: str) -> PaymentMethod:
    try:
        return PaymentMethod(name)
    except ValueError:
        raise InvalidArgument("payment_method", "choose online, at the counter, or no fee") from None


def delivery_from(details: commands.DeliveryDetails) -> Delivery:
    try:
        method = DeliveryMethod(details.method)
    except ValueError:
        raise InvalidArgument("delivery.method", "choose pickup or post") from None
    a = details.address
    if a is not None and not (a.commune and a.district and a.province):
        raise InvalidArgument("delivery.address", "commune, district and province are required")
    return Delivery(method=method, address=a, recipient_name=details.recipient_name,
                    recipient_phone=details.recipient_phone)


def _legacy_applicant(citizen_id: str, caller: Caller, citizens: CitizenRegistry) -> Applicant:
    """A request of the single-agency era: a registered citizen by number only."""
    if caller.kind is CallerKind.CITIZEN:
        if citizen_id and citizen_id != caller.subject:
            raise PermissionDenied("applicant_citizen_id", "a citizen files dossiers only for themselves")
        citizen_id = caller.subject
    elif not citizen_id:
        raise InvalidArgument("applicant", "is required when filing on someone's behalf")
    check_citizen_id(citizen_id, "applicant_citizen_id")
    name = citizens.full_name(citizen_id)
    if name is None:
        raise FailedPrecondition("applicant_citizen_id", "the applicant is not a registered citizen: give the "
                                                         "applicant's name and birth date to verify them")
    return Applicant(ApplicantKind.CITIZEN, citizen_id, name, verified=Verified.ACCOUNT)


def _with(applicant: Applicant, verified: Verified) -> Applicant:
    return replace(applicant, verified=verified)


def _require(verdict: Verdict, field: str, registry: str) -> None:
    if verdict is Verdict.MATCH:
        return
    if verdict is Verdict.NOT_FOUND:
        raise InvalidArgument(field, f"not found in {registry}")
    if verdict is Verdict.MISMATCH:
        raise InvalidArgument(field.replace("id_number", "full_name"),
                              f"the name or birth date differ from {registry}")
    if verdict in (Verdict.DECEASED, Verdict.DISSOLVED):
        raise FailedPrecondition(field, f"{registry} records it as {verdict.value.lower()}")
    raise Unavailable(field, f"{registry} cannot be consulted now; try again later")
