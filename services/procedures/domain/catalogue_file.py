# Over 300 lines: the catalogue file format both ways (checked and parsed, and a Procedure back to its row),
# kept together so a field is changed in one place.
"""The catalogue file (`egov-catalogue/1`, docs/CATALOGUE_FORMAT.md): checked whole against the unit
tree in force, turned into Procedures; and a Procedure back into the row it came from, which is also
how the database keeps it.

Optional fields (documented there): `online` (left out where the source does not say: UNSTATED, never
guessed), `fee.note`, `documents[].copies` and `.original`, `decision.recorded_in`, a top-level `source`,
and `service_level`, the online public service level 1-4 of the repealed Decree 43/2011 where the source
gives it.
"""

import datetime as dt
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import time
from typing import Any

from services.common.roles import Role
from services.procedures.domain.file_rules import Fields, Problems
from services.procedures.domain.procedure import (
    EACH_UNIT,
    ApplicantKind,
    Deadline,
    DeadlineKind,
    FeeCategory,
    FeeSchedule,
    OnlineMode,
    Procedure,
    ProcessStep,
    RequiredDocument,
    SubmissionChannel,
)
from services.procedures.domain.unit_file import AGENCY_CODE, ISO_DATE
from services.procedures.domain.units import UnitTree

FORMAT = "egov-catalogue/1"
PROCEDURE_CODE = re.compile(r"[123]\.[0-9]{6}")
DOCUMENT_CODE = re.compile(r"[0-9A-Z]{1,32}")
CATEGORY = re.compile(r"[a-z][a-z0-9_]{0,31}")
CUTOFF = re.compile(r"([01][0-9]|2[0-3]):[0-5][0-9]")
MAX_FEE_VND = 1_000_000_000
MAX_DAYS = 365
RECEIVING, COMPETENT = "receiving", "competent"
ROW_FIELDS = ("code", "name", "field", "tiers", "competent_agency", "online", "channels", "deadline", "extension",
              "fee", "documents", "applicants", "process", "legal_basis", "source", "service_level")
ONLINE_MODES = (OnlineMode.FULL.value, OnlineMode.PARTIAL.value)    # UNSTATED is written by leaving it out
CHANNELS = tuple(c.value for c in SubmissionChannel)
APPLICANTS = tuple(k.value for k in ApplicantKind)
DEADLINE_KINDS = tuple(k.value for k in DeadlineKind)
ROLES = tuple(r.value for r in Role)


class Scope:
    FULL = "full"             # the whole catalogue: a procedure missing from it is withdrawn
    AMENDMENT = "amendment"   # only what it adds or changes, and what it withdraws
    EXCERPT = "excerpt"       # a selection of the decision's procedures: withdraws nothing


@dataclass(frozen=True)
class Decision:
    number: str               # e.g. "1234/QĐ-UBND"
    date: dt.date | None = None   # left out where the source gives only the number
    issuer: str = ""
    title: str = ""
    recorded_in: str = ""     # where the number was read when the decision itself was not


@dataclass(frozen=True)
class CatalogueFile:
    decision: Decision
    scope: str
    procedures: tuple[Procedure, ...]
    withdrawn: tuple[str, ...]


def parse_catalogue(data: Any, tree: UnitTree) -> CatalogueFile:
    """The file's procedures, checked against `tree` (tiers and agency codes); FileRejected naming
    every problem (`procedures[17].deadline.days`...) if any."""
    problems = Problems()
    top = Fields(problems, "", data)
    top.only("format", "units_version", "decision", "scope", "procedures", "withdrawn", "source")
    top.text("source", required=False)
    written_for = top.text("units_version", required=False)
    if written_for and written_for != tree.version:
        top.problem("units_version", f"the file is written for unit tree {written_for}; the tree in force is "
                                     f"{tree.version or '(none)'}: import that unit file first")
    if top.ok and top.data.get("format") != FORMAT:
        top.problem("format", f"must be {FORMAT!r}")
    decision = _decision(top.object("decision"))
    scope = top.choice("scope", (Scope.FULL, Scope.AMENDMENT, Scope.EXCERPT), required=False, default=Scope.FULL)
    procedures = [parse_procedure(row, tree, decision.number)
                  for row in top.objects("procedures", required=scope == Scope.FULL)]
    seen: dict[str, int] = {}
    for index, procedure in enumerate(procedures):
        if procedure.code and procedure.code in seen:
            problems.add(f"procedures[{index}].code", f"{procedure.code} is also procedures[{seen[procedure.code]}]")
        seen.setdefault(procedure.code, index)
    withdrawn = top.strings("withdrawn", required=False)
    if withdrawn and scope != Scope.AMENDMENT:
        top.problem("withdrawn", "only an amendment lists withdrawn codes; a full catalogue withdraws what it omits")
    for index, code in enumerate(withdrawn):
        if not PROCEDURE_CODE.fullmatch(code):
            problems.add(f"withdrawn[{index}]", f"{code!r} is not a procedure code")
        elif code in seen:
            problems.add(f"withdrawn[{index}]", f"{code} is also listed in procedures[{seen[code]}]")
    problems.raise_any()
    return CatalogueFile(decision, scope, tuple(procedures), withdrawn)


def _decision(fields: Fields | None) -> Decision:
    if fields is None:
        return Decision("")
    fields.only("number", "date", "issuer", "title", "recorded_in")
    number = fields.text("number")
    day = fields.text("date", ISO_DATE, required=False, hint="a date YYYY-MM-DD")
    try:
        when = dt.date.fromisoformat(day) if day else None
    except ValueError:
        fields.problem("date", f"{day!r} is not a calendar date")
        when = None
    return Decision(number, when, fields.text("issuer", required=False), fields.text("title", required=False),
                    fields.text("recorded_in", required=False))


def parse_procedure(row: Fields, tree: UnitTree | None, decision: str) -> Procedure:
    """One row. With a tree, its tiers and agency codes must exist there; without (a row read back
    from the database) only its shape is checked."""
    row.only(*ROW_FIELDS)
    code = row.text("code", PROCEDURE_CODE, hint="a national procedure code like 1.001612 or 2.000488")
    tiers = row.strings("tiers")
    if tree is not None:
        for index, tier in enumerate(tiers):
            if tier not in tree.tiers:
                row.problems.add(f"{row.at('tiers')}[{index}]",
                                 f"{tier!r} is not a tier of the unit tree in force "
                                 f"({tree.version}: {', '.join(tree.tiers) or 'none imported'})")
    deadline = _deadline(row.object("deadline"))
    online = OnlineMode(row.choice("online", ONLINE_MODES, required=False, default=OnlineMode.UNSTATED.value))
    channels = tuple(SubmissionChannel(c) for c in row.strings("channels", CHANNELS))
    if online is OnlineMode.FULL and channels and SubmissionChannel.ONLINE not in channels:
        row.problem("channels", "a full-process online procedure must list the online channel")
    extension = row.object("extension", required=False)
    extension_days = 0
    if extension is not None:
        extension.only("allowed", "max_working_days")
        if extension.boolean("allowed"):
            extension_days = extension.integer("max_working_days", 1, MAX_DAYS)
    return Procedure(
        code=code, name=row.text("name"), field=row.text("field"), tiers=tiers,
        competent_agency=_competent(row, tiers, tree), online=online, channels=channels, deadline=deadline,
        fee=_fee(row.object("fee")), documents=_documents(row),
        applicants=tuple(ApplicantKind(a) for a in row.strings("applicants", APPLICANTS)),
        process=_process(row, deadline, tiers), extension_working_days=extension_days,
        legal_basis=row.strings("legal_basis", required=False), source=row.text("source", required=False),
        decision=decision, service_level=row.integer("service_level", 1, 4, required=False),
    )


def _competent(row: Fields, tiers: tuple[str, ...], tree: UnitTree | None) -> dict[str, str]:
    given = row.object("competent_agency", required=False)
    competent = dict.fromkeys(tiers, EACH_UNIT)
    if given is None:
        return competent
    for tier, agency in given.data.items():
        if tier not in tiers:
            given.problem(tier, f"{tier!r} is not one of this procedure's tiers ({', '.join(tiers)})")
        elif agency != EACH_UNIT and not (isinstance(agency, str) and AGENCY_CODE.fullmatch(agency)):
            given.problem(tier, f"{agency!r} is neither an agency code nor {EACH_UNIT!r}")
        elif agency != EACH_UNIT and tree is not None and tree.agency(agency) is None:
            given.problem(tier, f"agency {agency} is not in the unit tree in force ({tree.version})")
        else:
            competent[tier] = agency
    return competent


def _deadline(fields: Fields | None) -> Deadline:
    if fields is None or not fields.ok:
        return Deadline(DeadlineKind.WORKING_DAYS, 1)
    kind = DeadlineKind(fields.choice("kind", DEADLINE_KINDS))
    if kind is DeadlineKind.SAME_DAY:
        fields.only("kind", "cutoff")
        cutoff = fields.text("cutoff", CUTOFF, required=False, hint="a time HH:MM")
        return Deadline(kind, 0, time.fromisoformat(cutoff) if cutoff else None)
    fields.only("kind", "days")
    return Deadline(kind, _whole_if_whole(fields.number("days", 0.5, MAX_DAYS, 0.5)))


def _fee(fields: Fields | None) -> FeeSchedule:
    if fields is None:
        return FeeSchedule(0)
    fields.only("amount_vnd", "categories", "basis", "note")
    amount = fields.integer("amount_vnd", 0, MAX_FEE_VND)
    categories: list[FeeCategory] = []
    for entry in fields.objects("categories", required=False):
        entry.only("category", "name", "amount_vnd")
        category = entry.text("category", CATEGORY, hint="a category name (lower-case letters, digits, _)")
        if category and any(c.category == category for c in categories):
            entry.problem("category", f"{category!r} is listed twice")
        reduced = entry.integer("amount_vnd", 0, MAX_FEE_VND)
        if reduced > amount:
            entry.problem("amount_vnd", f"a reduction or exemption cannot exceed the general fee ({amount} VND)")
        categories.append(FeeCategory(category, entry.text("name"), reduced))
    return FeeSchedule(amount, tuple(categories), fields.text("basis", required=False),
                       fields.text("note", required=False))


def _documents(row: Fields) -> tuple[RequiredDocument, ...]:
    documents: list[RequiredDocument] = []
    for entry in row.objects("documents"):
        entry.only("code", "name", "mandatory", "form", "copies", "original")
        code = entry.text("code", DOCUMENT_CODE, hint="a document code of capitals and digits")
        if code and any(d.code == code for d in documents):
            entry.problem("code", f"{code!r} is listed twice in this procedure")
        original = entry.boolean("original", required=False, default=False) if entry.has("original") else None
        documents.append(RequiredDocument(code, entry.text("name"), entry.boolean("mandatory"),
                                          entry.text("form", required=False),
                                          entry.integer("copies", 1, 100, required=False), original))
    if documents and not any(d.mandatory for d in documents):
        row.problem("documents", "at least one document must be mandatory")
    return tuple(documents)


def _process(row: Fields, deadline: Deadline, tiers: tuple[str, ...]) -> tuple[ProcessStep, ...]:
    if not row.has("process"):
        return default_process(deadline)
    steps: list[ProcessStep] = []
    owners = (RECEIVING, COMPETENT, *tiers)
    for entry in row.objects("process"):
        entry.only("step", "owner", "role", "working_days")
        owner = entry.choice("owner", owners)
        default_role = Role.RECEIVER if owner == RECEIVING else Role.SPECIALIST
        role = Role(entry.choice("role", ROLES, required=False, default=default_role.value))
        steps.append(ProcessStep(entry.text("step"), owner, role, entry.number("working_days", 0, MAX_DAYS, 0.5)))
    total = sum(s.working_days for s in steps)
    if deadline.kind is DeadlineKind.WORKING_DAYS and steps and total != deadline.days:
        row.problem("process", f"its steps take {total:g} working days; the deadline is {deadline.days}")
    return tuple(steps)


def _whole_if_whole(days: float) -> float:
    return int(days) if days == int(days) else days      # 10 reads back as 10, not 10.0


def default_process(deadline: Deadline) -> tuple[ProcessStep, ...]:
    """Received at the desk, examined by the competent agency's specialist, signed by its leader,
    handed back at the desk; the deadline's working days go to examining and signing."""
    days = float(deadline.days) if deadline.kind is not DeadlineKind.SAME_DAY else 0.0
    signing = 0.0 if days == 0 else (1.0 if days >= 2 else days / 2)
    return (ProcessStep("Tiếp nhận hồ sơ", RECEIVING, Role.RECEIVER, 0.0),
            ProcessStep("Thẩm định hồ sơ", COMPETENT, Role.SPECIALIST, days - signing),
            ProcessStep("Phê duyệt, ký kết quả", COMPETENT, Role.LEADER, signing),
            ProcessStep("Trả kết quả", RECEIVING, Role.RESULT_DESK, 0.0))


def procedure_to_row(procedure: Procedure) -> dict[str, Any]:
    """The row of the file format the procedure reads back from (`parse_procedure`)."""
    p = procedure
    deadline: dict[str, Any] = {"kind": p.deadline.kind.value}
    if p.deadline.kind is DeadlineKind.SAME_DAY:
        if p.deadline.cutoff is not None:
            deadline["cutoff"] = p.deadline.cutoff.strftime("%H:%M")
    else:
        deadline["days"] = p.deadline.days
    row: dict[str, Any] = {
        "code": p.code, "name": p.name, "field": p.field, "tiers": list(p.tiers),
        "competent_agency": dict(p.competent_agency),
        **({} if p.online is OnlineMode.UNSTATED else {"online": p.online.value}),
        "channels": [c.value for c in p.channels], "deadline": deadline,
        "extension": ({"allowed": True, "max_working_days": p.extension_working_days}
                      if p.extension_working_days else {"allowed": False}),
        "fee": {"amount_vnd": p.fee.amount_vnd,
                "categories": [{"category": c.category, "name": c.name, "amount_vnd": c.amount_vnd}
                               for c in p.fee.categories], "basis": p.fee.basis, "note": p.fee.note},
        "documents": [_document_row(d) for d in p.documents],
        "applicants": [a.value for a in p.applicants],
        "process": [{"step": s.name, "owner": s.owner, "role": s.role.value, "working_days": s.working_days}
                    for s in p.process],
        "legal_basis": list(p.legal_basis), "source": p.source,
    }
    if p.service_level:
        row["service_level"] = p.service_level
    return row


def _document_row(d: RequiredDocument) -> dict[str, Any]:
    row: dict[str, Any] = {"code": d.code, "name": d.name, "mandatory": d.mandatory}
    if d.form:
        row["form"] = d.form
    if d.copies:
        row["copies"] = d.copies
    if d.original is not None:
        row["original"] = d.original
    return row


def procedure_from_row(row: Mapping[str, Any], decision: str) -> Procedure:
    """A row the database kept (written by procedure_to_row), read back; ValueError if it is not one."""
    problems = Problems()
    procedure = parse_procedure(Fields(problems, f"procedure {row.get('code', '?')}", row), None, decision)
    problems.raise_any()
    return procedure


def same_definition(a: Procedure, b: Procedure) -> bool:
    """True when two definitions say the same (which decision published them aside)."""
    return canonical(a) == canonical(b)


def canonical(procedure: Procedure) -> str:
    return json.dumps(procedure_to_row(procedure), ensure_ascii=False, sort_keys=True)
