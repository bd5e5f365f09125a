"""Reads: one dossier, the work queue, the applicant's own list, the public status lookup, a slip.

Each takes the worker's store and reads through the repositories' ports (`store.repository(...)`), so
the unit tests run them on the in-memory twins (fakes.py), as the handlers are."""

from collections.abc import Callable
from datetime import date, datetime
from typing import Any, Protocol, TypeVar

from pymongo.database import Database

from egov.procedures.v1 import procedures_pb2
from services.common.caller import Caller, CallerKind
from services.common.errors import InvalidArgument, NotFound, PermissionDenied
from services.procedures import messages
from services.procedures.adapters.directory import Directory
from services.procedures.adapters.lookup_guard import LookupGuard
from services.procedures.adapters.repository import DossierRepository
from services.procedures.adapters.slip_pdf import render_slip
from services.procedures.domain.access import check_can_view, visible_agencies
from services.procedures.domain.application import local_date
from services.procedures.domain.dossier import Dossier
from services.procedures.domain.lookups import first_failure
from services.procedures.domain.procedure import CatalogueReader
from services.procedures.domain.queue import (
    QueueQuery,
    check_filters_within,
    decode_page_token,
    encode_page_token,
    page_size,
    queue_position,
)
from services.procedures.domain.slips import slip_text
from services.procedures.domain.units import UnitTree

Page = tuple[list[Dossier], str]
R = TypeVar("R")


class Reader(Protocol):
    """The worker's store for reads outside a transaction (services/common/runtime/store.py); the
    in-memory store hands the fake instead."""

    def repository(self, kind: Callable[[Database[Any]], R]) -> R: ...


def get_dossier(store: Reader, units: UnitTree, code: str, caller: Caller) -> Dossier:
    dossier = store.repository(DossierRepository).get(code)
    if dossier is None:
        raise NotFound("code", f"no dossier {code!r}")
    check_can_view(dossier, caller, units)
    return dossier


def list_dossiers(store: Reader, units: UnitTree, request: procedures_pb2.ListDossiersRequest, caller: Caller,
                  now: datetime) -> Page:
    if caller.kind is not CallerKind.CIVIL_SERVANT:
        raise PermissionDenied("caller", "the work queue is for civil servants")
    agencies, supervised = visible_agencies(caller, units)
    query = QueueQuery(
        visible_agencies=tuple(sorted(agencies)), supervised_units=tuple(sorted(supervised)),
        receiving_agency_code=request.receiving_agency_code, competent_agency_code=request.competent_agency_code,
        handling_agency_code=request.handling_agency_code, status=messages.status_from(request.status),
        assignee=request.assignee, due_before=_day(request.due_before, "due_before"),
        overdue_on=local_date(now) if request.overdue else None, applicant_id=request.applicant_id.strip().upper())
    reachable = agencies | {a.agency_code for a in units.agencies.values()
                            if any(units.is_within(a.unit, unit) for unit in supervised)}
    check_filters_within(query, frozenset(reachable))
    return _page(store, query, caller, request.page_size, request.page_token)


def _day(value: str, field: str) -> date | None:
    if not value:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise InvalidArgument(field, f"{value!r} is not a date (YYYY-MM-DD)") from None


def list_my_dossiers(store: Reader, request: procedures_pb2.ListMyDossiersRequest, caller: Caller) -> Page:
    if caller.kind is not CallerKind.CITIZEN:
        raise PermissionDenied("caller", "a citizen's own list")
    query = QueueQuery(visible_agencies=(), supervised_units=(), parties=(caller.subject,),
                       applicant_id=request.organisation_code.strip())
    return _page(store, query, caller, request.page_size, request.page_token)


def _page(store: Reader, query: QueueQuery, caller: Caller, size: int, token: str) -> Page:
    fingerprint = query.fingerprint(caller.actor)
    after = decode_page_token(token, fingerprint)
    limit = page_size(size)
    found = store.repository(DossierRepository).queue(query, after, limit + 1)
    page = found[:limit]
    more = len(found) > limit
    return page, encode_page_token(fingerprint, queue_position(page[-1])) if more and page else ""


def lookup_status(store: Reader, guard: LookupGuard, request: procedures_pb2.LookupDossierStatusRequest,
                  now: datetime) -> Dossier:
    """The same NOT_FOUND for an unknown code and for digits that do not match: the answer tells
    nothing about whether a code exists. Failures are counted per code (domain/lookups.py)."""
    failed = guard.get(request.code)
    if failed is not None:
        failed.check(now)
    dossier = store.repository(DossierRepository).get(request.code)
    if dossier is None or not dossier.parties[0].endswith(request.id_last4):
        guard.put(failed.after_failure(now) if failed else first_failure(request.code, now))
        raise NotFound("code", f"no dossier {request.code!r} with those identity digits")
    return dossier


def get_slip(store: Reader, catalogue: CatalogueReader, request: procedures_pb2.GetSlipRequest,
             caller: Caller) -> tuple[str, bytes]:
    dossier = get_dossier(store, catalogue.units, request.code, caller)
    form = messages.slip_form_from(request.form)
    desk = store.repository(Directory).desk(dossier.receiving_agency_code)
    agency = catalogue.units.agency(dossier.receiving_agency_code)
    name = desk.name if desk else (agency.name if agency else dossier.receiving_agency_code)
    pdf = render_slip(slip_text(dossier, form, name))
    return f"{dossier.code}-{form.value.lower().replace('_', '-')}.pdf", pdf
