"""The catalogue's RPCs: a request to a query on the catalogue in force, its answer to the reply.
No rule lives here; the Catalogue decides, this module only translates.

Turning a page of procedures into a reply costs more than finding them, on both sides of nameko
RPC. So the procedure pages cross already serialized (services/common/protowire.py `encoded`), and
each snapshot keeps every procedure's bytes once made (per view). An entry is those bytes followed
by its unit's and agency's fields: protobuf reads concatenated messages as one, merged, and a
repeated field written several times as one list. A new snapshot starts a new cache.
"""

from typing import Any
from weakref import WeakKeyDictionary

from egov.procedures.v1 import catalogue_pb2 as cpb
from egov.procedures.v1 import procedures_pb2 as pb
from services.common.protowire import encoded
from services.procedures.domain.catalogue import Catalogue, ProcedureQuery
from services.procedures.domain.procedure import CatalogueEntry, DeadlineKind, OnlineMode, Procedure
from services.procedures.domain.units import Unit

Wire = dict[str, Any]
# The tiers the first API named as agency levels; other tier names leave it unspecified.
AGENCY_LEVELS = {"province": pb.AGENCY_LEVEL_PROVINCE, "district": pb.AGENCY_LEVEL_DISTRICT,
                 "commune": pb.AGENCY_LEVEL_COMMUNE}
ONLINE_MODES = {OnlineMode.FULL: cpb.ONLINE_MODE_FULL, OnlineMode.PARTIAL: cpb.ONLINE_MODE_PARTIAL,
                OnlineMode.UNSTATED: cpb.ONLINE_MODE_UNSPECIFIED}
DEADLINE_KINDS = {DeadlineKind.WORKING_DAYS: cpb.DEADLINE_KIND_WORKING_DAYS,
                  DeadlineKind.CALENDAR_DAYS: cpb.DEADLINE_KIND_CALENDAR_DAYS,
                  DeadlineKind.SAME_DAY: cpb.DEADLINE_KIND_SAME_DAY}
FULL, BASIC = pb.PROCEDURE_VIEW_FULL, pb.PROCEDURE_VIEW_BASIC
_replies: "WeakKeyDictionary[Catalogue, dict[tuple[str, int, bool], bytes]]" = WeakKeyDictionary()
PROCEDURES_FIELD = pb.ListProceduresResponse.DESCRIPTOR.fields_by_name["procedures"].number
LENGTH_DELIMITED = 2


def list_procedures(catalogue: Catalogue, request: pb.ListProceduresRequest) -> Wire:
    """The ListProceduresResponse, encoded."""
    query = ProcedureQuery(unit_code=request.unit_code, agency_code=request.agency_code, tier=request.tier,
                           field=request.field, keyword=request.keyword, service_level=request.service_level,
                           include_withdrawn=request.include_withdrawn)
    page = catalogue.list_procedures(query, request.page_size, request.page_token)
    view = BASIC if request.view == BASIC else FULL
    rest = pb.ListProceduresResponse(next_page_token=page.next_page_token, total_size=page.total_size,
                                     catalogue_revision=catalogue.version.revision)
    items = b"".join(_length_delimited(PROCEDURES_FIELD, procedure_bytes(catalogue, item.procedure, item.entry, view))
                     for item in page.items)
    return encoded(items + rest.SerializeToString())


def get_procedure(catalogue: Catalogue, request: pb.GetProcedureRequest) -> Wire:
    """The GetProcedureResponse, encoded: the entry at the unit asked for, else the definition."""
    if request.unit_code:
        entry = catalogue.require_entry(request.procedure_code, request.unit_code)
        found = procedure_bytes(catalogue, entry.procedure, entry, FULL)
    else:
        found = procedure_bytes(catalogue, catalogue.require_procedure(request.procedure_code), None, FULL)
    return encoded(_length_delimited(pb.GetProcedureResponse.DESCRIPTOR.fields_by_name["procedure"].number, found))


def procedure_bytes(catalogue: Catalogue, procedure: Procedure, entry: CatalogueEntry | None, view: int) -> bytes:
    """procedure_message(...) serialized; the definition's part made once per procedure and view for this
    snapshot. For an entry, the definition leaves out the fields the entry sets."""
    replies = _replies.setdefault(catalogue, {})
    key = (procedure.code, view, entry is not None)
    definition = replies.get(key)
    if definition is None:
        message = procedure_message(catalogue, procedure, None, view)
        if entry is not None:
            _clear_entry_fields(message)
        definition = replies[key] = message.SerializeToString()
    if entry is None:
        return definition
    return definition + _entry_fields(catalogue, entry, view).SerializeToString()


def _clear_entry_fields(message: pb.Procedure) -> None:
    """What an entry sets on a definition: its competent agency and its unit."""
    message.ClearField("agency_code")
    message.ClearField("agency_name")
    message.ClearField("agency_level")
    message.ClearField("unit")


def _length_delimited(field_number: int, payload: bytes) -> bytes:
    """One occurrence of a message field: its key, its length as a varint, its bytes."""
    return _varint(field_number << 3 | LENGTH_DELIMITED) + _varint(len(payload)) + payload


def _varint(value: int) -> bytes:
    out = bytearray()
    while value > 0x7F:
        out.append(value & 0x7F | 0x80)
        value >>= 7
    out.append(value)
    return bytes(out)


def list_units(catalogue: Catalogue, request: cpb.ListUnitsRequest) -> cpb.ListUnitsResponse:
    tree = catalogue.tree(request.units_version)
    page = catalogue.list_units(request.tier, request.parent_code, request.units_version, request.page_size,
                                request.page_token)
    return cpb.ListUnitsResponse(units=[unit_message(u, tree.version) for u in page.units],
                                 next_page_token=page.next_page_token, total_size=page.total_size,
                                 units_version=tree.version, tiers=list(tree.tiers))


def get_unit(catalogue: Catalogue, request: cpb.GetUnitRequest) -> cpb.GetUnitResponse:
    tree = catalogue.tree(request.units_version)
    unit = catalogue.require_unit(request.unit_code, request.units_version)
    children = sorted((tree.units[c] for c in tree.children(unit.code)), key=lambda u: u.code)
    return cpb.GetUnitResponse(
        unit=unit_message(unit, tree.version),
        agencies=[cpb.Agency(agency_code=a.agency_code, name=a.name, unit_code=a.unit, kind=a.kind.value)
                  for a in catalogue.agencies_of(unit.code, request.units_version)],
        children=[unit_message(u, tree.version) for u in children])


def unit_message(unit: Unit, units_version: str) -> cpb.Unit:
    return cpb.Unit(code=unit.code, name=unit.name, tier=unit.tier, parent_code=unit.parent or "",
                    agency_code=unit.agency_code, agency_name=unit.agency_name, units_version=units_version)


def _entry_fields(catalogue: Catalogue, entry: CatalogueEntry, view: int) -> pb.Procedure:
    agency = catalogue.units.agency(entry.competent_agency_code)
    message = pb.Procedure(agency_code=entry.competent_agency_code, agency_name=agency.name if agency else "")
    if view == BASIC:
        message.unit.CopyFrom(cpb.Unit(code=entry.unit.code, name=entry.unit.name))
    else:
        message.agency_level = AGENCY_LEVELS.get(entry.unit.tier, pb.AGENCY_LEVEL_UNSPECIFIED)
        message.unit.CopyFrom(unit_message(entry.unit, catalogue.units.version))
    return message


def procedure_message(catalogue: Catalogue, procedure: Procedure, entry: CatalogueEntry | None,
                      view: int = FULL) -> pb.Procedure:
    """FULL: every field. BASIC (a list of results): code, name, field, competent agency, fee, deadline,
    withdrawn, and for an entry its unit's code and name; the gateway's dict round trip costs per field."""
    p = procedure
    agency_code = catalogue.definition_agency(p)
    agency = catalogue.units.agency(agency_code) if agency_code else None
    message = pb.Procedure(
        code=p.code, name=p.name, field=p.field, agency_code=agency_code, agency_name=agency.name if agency else "",
        fee_vnd=p.fee.amount_vnd, withdrawn=p.withdrawn,
        deadline=cpb.Deadline(kind=DEADLINE_KINDS[p.deadline.kind], days=p.deadline.days,
                              cutoff=p.deadline.cutoff.strftime("%H:%M") if p.deadline.cutoff else "",
                              description=p.deadline.describe()))
    if view != BASIC:
        message.agency_level = AGENCY_LEVELS.get(p.tiers[0] if len(p.tiers) == 1 else "", pb.AGENCY_LEVEL_UNSPECIFIED)
        message.service_level = p.level
        message.legal_deadline_working_days = (p.deadline.whole_days if p.deadline.kind is DeadlineKind.WORKING_DAYS
                                               else 0)
        message.tiers.extend(p.tiers)
        message.online = ONLINE_MODES[p.online]
        message.decision, message.withdrawn_by = p.decision, p.withdrawn_by
        message.implementing_units = len(catalogue.implementing_units(p))
        message.required_documents.extend(pb.RequiredDocument(
            code=d.code, name=d.name, mandatory=d.mandatory, form=d.form, copies=d.copies,
            original="" if d.original is None else ("original" if d.original else "copy")) for d in p.documents)
        message.channels.extend(c.value for c in p.channels)
        message.fee.CopyFrom(cpb.FeeSchedule(
            amount_vnd=p.fee.amount_vnd, basis=p.fee.basis, note=p.fee.note,
            categories=[cpb.FeeCategory(category=c.category, name=c.name, amount_vnd=c.amount_vnd)
                        for c in p.fee.categories]))
        message.applicants.extend(a.value for a in p.applicants)
        message.process.extend(cpb.ProcessStep(name=s.name, owner=s.owner, role=s.role.value,
                                               working_days=s.working_days) for s in p.process)
        message.extension_working_days = p.extension_working_days
        message.legal_basis.extend(p.legal_basis)
        message.source = p.source
    if entry is not None:
        message.MergeFrom(_entry_fields(catalogue, entry, view))
    return message
