"""Reading the index: GetIndex with its drill-down, the overdue dossiers, the apologies. Each query
checks the scope and the period (domain/access.py) before it reads anything, and reads through the
store's repositories (`store.repository(...)`: MongoDB in the service, the in-memory twins of
services/supervision/fakes.py in the unit tests)."""

import os
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta, timezone
from typing import Protocol, TypeVar

from egov.supervision.v1 import supervision_pb2 as pb
from services.common.caller import Caller
from services.common.config import ConfigError
from services.common.errors import InvalidArgument
from services.procedures.domain.units import UnitTree
from services.procedures.domain.working_days import working_days_between
from services.supervision.adapters.repository import CounterRepository, DossierFactsRepository, counter_id
from services.supervision.domain.access import Kind, Scope, check_scope, months_of
from services.supervision.domain.index import OPEN, Figures, figures

VIETNAM_TIME = timezone(timedelta(hours=7), "Asia/Ho_Chi_Minh")
DEFAULT_PAGE = 100
_KINDS = {pb.SCOPE_KIND_UNIT: Kind.UNIT, pb.SCOPE_KIND_AGENCY: Kind.AGENCY, pb.SCOPE_KIND_RECEIVING: Kind.RECEIVING,
          pb.SCOPE_KIND_PROCEDURE: Kind.PROCEDURE}
_PB_KINDS = {v: k for k, v in _KINDS.items()}
R = TypeVar("R")


class Reader(Protocol):
    """The worker's store (services.common.runtime.store.WorkerStore) or the in-memory one."""

    def repository(self, kind: Callable[..., R]) -> R: ...


def max_months() -> int:
    raw = os.environ.get("EGOV_SUPERVISION_MAX_MONTHS", "13")
    if not raw.isdigit() or int(raw) < 1:
        raise ConfigError(f"environment variable EGOV_SUPERVISION_MAX_MONTHS must be a positive integer, got {raw!r}")
    return int(raw)


def today() -> date:
    return datetime.now(UTC).astimezone(VIETNAM_TIME).date()


def scope_of(request_scope: pb.Scope) -> Scope:
    kind = _KINDS.get(request_scope.kind)
    if kind is None:
        raise InvalidArgument("scope.kind", "is required: unit, agency, receiving or procedure")
    if not request_scope.code:
        raise InvalidArgument("scope.code", "is required")
    return Scope(kind, request_scope.code)


def get_index(store: Reader, tree: UnitTree, request: pb.GetIndexRequest, caller: Caller,
              on: date | None = None) -> pb.GetIndexResponse:
    on = on or today()
    scope = scope_of(request.scope)
    months = months_of(request.from_month, request.to_month, on, max_months())
    check_scope(scope, caller, tree)
    children = _children(tree, scope)
    keys = [scope.key, *(c.key for c in children)]
    docs = store.repository(CounterRepository).find(keys, [*months, OPEN])
    dossiers = store.repository(DossierFactsRepository)
    as_of = on.isoformat()

    def whole(key: str) -> Figures:
        return figures([docs.get(counter_id(key, m), {}) for m in months], docs.get(counter_id(key, OPEN)), as_of)

    return pb.GetIndexResponse(
        index=_entry(tree, scope, whole(scope.key), dossiers),
        months=[pb.Month(month=m, figures=_figures(figures([docs.get(counter_id(scope.key, m), {})], None, as_of)))
                for m in months],
        children=[_entry(tree, c, whole(c.key), dossiers) for c in children], as_of=as_of)


def _children(tree: UnitTree, scope: Scope) -> list[Scope]:
    if scope.kind is not Kind.UNIT:
        return []
    units = [Scope(Kind.UNIT, c) for c in tree.children(scope.code)]
    unit = tree.unit(scope.code)
    agencies = [Scope(Kind.AGENCY, a.agency_code) for a in sorted(tree.agencies.values(), key=lambda a: a.agency_code)
                if a.unit == scope.code and (unit is None or a.agency_code != unit.agency_code)]
    return units + agencies


def _entry(tree: UnitTree, scope: Scope, f: Figures, dossiers: DossierFactsRepository) -> pb.IndexEntry:
    name, tier = scope.code, ""
    if scope.kind is Kind.UNIT and (unit := tree.unit(scope.code)) is not None:
        name, tier, below = unit.name, unit.tier, bool(tree.children(scope.code))
        return pb.IndexEntry(scope=_pb_scope(scope), name=name, tier=tier, figures=_figures(f), has_children=below)
    if scope.kind in (Kind.AGENCY, Kind.RECEIVING) and (agency := tree.agency(scope.code)) is not None:
        name = agency.name
    if scope.kind is Kind.PROCEDURE:
        name = dossiers.procedure_name(scope.code) or scope.code
    return pb.IndexEntry(scope=_pb_scope(scope), name=name, tier=tier, figures=_figures(f))


def _pb_scope(scope: Scope) -> pb.Scope:
    return pb.Scope(kind=_PB_KINDS[scope.kind], code=scope.code)


def _figures(f: Figures) -> pb.Figures:
    return pb.Figures(
        received=f.received, received_online=f.received_online, received_desk=f.received_desk,
        received_post=f.received_post, settled=f.settled, settled_early=f.settled_early,
        settled_on_time=f.settled_on_time, settled_late=f.settled_late, rejected=f.rejected,
        in_progress_on_time=f.in_progress_on_time, in_progress_overdue=f.in_progress_overdue,
        on_time_rate=f.on_time_rate, online_rate=f.online_rate, online_payment_rate=f.online_payment_rate,
        postal_return_rate=f.postal_return_rate, supplement_rate=f.supplement_rate, apologies=f.apologies,
        reappointments=f.reappointments, average_days=f.average_days, p90_days=f.p90_days)


def _page(size: int) -> int:
    if size < 0 or size > 500:
        raise InvalidArgument("page_size", "must be between 0 and 500")
    return size or DEFAULT_PAGE


def list_overdue(store: Reader, tree: UnitTree, request: pb.ListOverdueDossiersRequest, caller: Caller,
                 on: date | None = None) -> pb.ListOverdueDossiersResponse:
    on = on or today()
    scope = scope_of(request.scope)
    size = _page(request.page_size)
    check_scope(scope, caller, tree)
    total, overdue = store.repository(DossierFactsRepository).overdue(scope, on.isoformat(), size)
    out = []
    for f in overdue:
        responsible = f.overdue_responsible or f.handling_agency or f.competent_agency
        agency = tree.agency(responsible)
        out.append(pb.OverdueDossier(
            dossier_code=f.code, procedure_code=f.procedure_code, procedure_name=f.procedure_name,
            unit_code=(f.units or ("",))[0], due_date=f.due_date,
            days_late=working_days_between(date.fromisoformat(f.due_date), on),
            responsible_agency_code=responsible, responsible_agency_name=agency.name if agency else ""))
    return pb.ListOverdueDossiersResponse(dossiers=out, total=total, as_of=on.isoformat())


def list_apologies(store: Reader, tree: UnitTree, request: pb.ListApologiesRequest, caller: Caller,
                   on: date | None = None) -> pb.ListApologiesResponse:
    on = on or today()
    scope = scope_of(request.scope)
    months = months_of(request.from_month, request.to_month, on, max_months())
    size = _page(request.page_size)
    check_scope(scope, caller, tree)
    found = [(a.on, f, a) for f in store.repository(DossierFactsRepository).apologised_since(scope, f"{months[0]}-01")
             for a in f.apologies if months[0] <= a.on[:7] <= months[-1]]
    found.sort(key=lambda t: (t[0], t[1].code), reverse=True)
    out = []
    for on_day, f, a in found[:size]:
        agency = tree.agency(a.responsible_agency)
        out.append(pb.Apology(dossier_code=f.code, procedure_name=f.procedure_name, issued_on=on_day,
                              responsible_agency_code=a.responsible_agency,
                              responsible_agency_name=agency.name if agency else "", reason=a.reason,
                              previous_due_date=a.previous_due_date, new_due_date=a.new_due_date,
                              reappointment=a.reappointment, letter_number=a.letter_number))
    return pb.ListApologiesResponse(apologies=out, total=len(found))
