"""The service layer of identity: one function per command (domain/commands.py), answering in domain
values; the entrypoints translate both (translation.py). Registration and account recovery are in
registration.py, signing in in sign_in.py, civil servants' accounts in civil_servants.py.

Calls to the population and business registration databases (through the gateway's outbound
exchange) happen before, and outside, the transaction that stores the account or business and its
event; a retried transaction therefore never asks a registry twice.
"""

from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import Any, Protocol, TypeVar

from pymongo.database import Database

from egov.events.v1.cloud_event_pb2 import CloudEvent
from egov.identity.v1 import events_pb2 as events
from egov.procedures.v1 import events_pb2 as procedure_events
from services.common.caller import Caller, CallerKind
from services.common.errors import (
    AlreadyExists,
    FailedPrecondition,
    NotFound,
)
from services.common.events.envelope import event_type
from services.common.mongo_store import Transaction
from services.identity.adapters.business_registry import BusinessRegistry
from services.identity.adapters.dossier_filings import DossierFilings
from services.identity.adapters.population import PopulationRegistry
from services.identity.adapters.repository import Duplicate, IdentityRepository
from services.identity.domain import commands
from services.identity.domain.access import check_can_read_citizen
from services.identity.domain.business import Business, BusinessVerification, check_business, require_registered
from services.identity.domain.citizen import Citizen
from services.identity.domain.population import Verification

T = TypeVar("T")
R = TypeVar("R")
CITIZEN_ALREADY_REGISTERED = "a citizen with this ID is already registered"


class UnitOfWork(Protocol):
    """The worker's store (services/common/runtime/store.py): reads through `repository`, writes
    through `transaction`; the in-memory store hands handlers the fakes instead."""

    def repository(self, kind: Callable[[Database[Any]], R]) -> R: ...

    def transaction(self, fn: Callable[[Transaction], T]) -> T: ...


# -- citizens ---------------------------------------------------------------------------------------
def get_citizen(uow: UnitOfWork, command: commands.GetCitizen, caller: Caller) -> Citizen:
    filings = uow.repository(DossierFilings)
    check_can_read_citizen(caller, command.citizen_id, filings.has_filed_with)
    citizen = uow.repository(IdentityRepository).citizen(command.citizen_id)
    if citizen is None:
        raise NotFound("citizen_id", "no citizen is registered with this ID")
    return citizen


def record_dossier_filing(tx: Transaction, payload: procedure_events.DossierSubmitted, event: CloudEvent) -> None:
    """A citizen filed a dossier with an agency: its civil servants may read the citizen's record."""
    dossier = payload.dossier
    if dossier.applicant_citizen_id and dossier.agency_code:
        tx.repository(DossierFilings).record(dossier.applicant_citizen_id, dossier.agency_code, dossier.code,
                                             datetime.now(UTC))


EVENT_HANDLERS: dict[str, Callable[[Transaction, Any, CloudEvent], None]] = {
    event_type(procedure_events.DossierSubmitted): record_dossier_filing,
}


class EventUnitOfWork(UnitOfWork, Protocol):
    def handle_event(self, event: CloudEvent,
                     handlers: Mapping[str, Callable[[Transaction, Any, CloudEvent], None]]) -> bool: ...


def handle_event(uow: EventUnitOfWork, event: CloudEvent) -> bool:
    """Process one incoming event exactly once; False if it was a duplicate or not ours."""
    return uow.handle_event(event, EVENT_HANDLERS)


# -- businesses -------------------------------------------------------------------------------------
def register_business(uow: UnitOfWork, businesses: BusinessRegistry, command: commands.RegisterBusiness,
                      caller: Caller) -> Business:
    caller.require(CallerKind.CITIZEN)
    business = check_business(command.tax_code, command.name, caller.subject, command.address)
    if uow.repository(IdentityRepository).citizen(caller.subject) is None:
        raise FailedPrecondition("caller", "only a registered citizen may register a business")
    require_registered(businesses.verify(business.tax_code, business.name))

    def store(tx: Transaction) -> None:
        tx.repository(IdentityRepository).add_business(business)
        tx.emit(events.BusinessRegistered(tax_code=business.tax_code, name=business.name,
                                          owner_citizen_id=business.owner_citizen_id),
                subject=business.tax_code)

    try:
        uow.transaction(store)
    except Duplicate as exc:
        raise AlreadyExists("tax_code", "a business with this tax code is already registered") from exc
    return business


# -- applicants filed at a desk (for procedures) -------------------------------------------------------
def verify_applicant(population: PopulationRegistry, businesses: BusinessRegistry,
                     command: commands.VerifyApplicant) -> Verification | BusinessVerification:
    """What the registry says, as a word: the desk decides what a mismatch means for its dossier."""
    if command.organisation:
        return businesses.verify(command.id_number, command.full_name)
    return population.verify(command.id_number, command.full_name, command.birth_date)
