"""The work queue and the applicant's own list: filters, visibility, and page tokens bound to the query.

A page token carries the query's fingerprint and the queue position reached; a token from another
query (other filters, another caller) is refused INVALID_ARGUMENT naming page_token rather than
silently paging through something else.

Both are read in queue order (`queue_position`): dossiers waiting at the desk (no due date yet) first,
then by due date, then by code. What a query matches is `QueueQuery.matches`; the MongoDB adapter
(adapters/repository.py) says the same as a filter.
"""

import base64
import hashlib
import json
from dataclasses import asdict, dataclass
from datetime import date

from services.common.errors import InvalidArgument, PermissionDenied
from services.procedures.domain.dossier import Dossier, DossierStatus

DEFAULT_PAGE_SIZE = 50


@dataclass(frozen=True)
class QueueQuery:
    """What the caller asked for and what they may see; every field "" / None / False: no filter."""

    visible_agencies: tuple[str, ...]      # any role there: received, competent for, or handled
    supervised_units: tuple[str, ...]      # supervisor of the unit's People's Committee: the unit and below
    parties: tuple[str, ...] = ()          # ListMyDossiers: identity numbers the dossier belongs to
    receiving_agency_code: str = ""
    competent_agency_code: str = ""
    handling_agency_code: str = ""
    status: DossierStatus | None = None
    assignee: str = ""
    due_before: date | None = None
    overdue_on: date | None = None         # overdue filter: open and due before this day
    applicant_id: str = ""

    def matches(self, dossier: Dossier) -> bool:
        """Whether the dossier is in the answer: seen through one of parties, visible agencies or
        supervised units (none given: nothing is), and every filter given holds. Overdue is the deadline
        watch's judgement (Dossier.overdue_on); due_before keeps dossiers with a due date before it."""
        seen = (set(self.parties) & set(dossier.parties) or set(self.visible_agencies) & set(dossier.agencies)
                or set(self.supervised_units) & set(dossier.units))
        if not seen:
            return False
        for name in ("receiving_agency_code", "competent_agency_code", "handling_agency_code", "assignee"):
            value = getattr(self, name)
            if value and getattr(dossier, name) != value:
                return False
        return ((self.status is None or dossier.status is self.status)
                and (not self.applicant_id or self.applicant_id in dossier.parties)
                and (self.due_before is None or (dossier.due_date is not None and dossier.due_date < self.due_before))
                and (self.overdue_on is None or dossier.overdue_on(self.overdue_on)))

    def fingerprint(self, subject: str) -> str:
        fields = {k: (v.isoformat() if isinstance(v, date) else v) for k, v in asdict(self).items()}
        fields.pop("overdue_on")   # the day moves; the token stays valid across midnight
        fields["overdue"] = self.overdue_on is not None
        blob = json.dumps([subject, fields], sort_keys=True, default=str).encode()
        return hashlib.sha256(blob).hexdigest()[:16]


def queue_position(dossier: Dossier) -> str:
    """Where the dossier stands in queue order; a page token carries the last one a page showed."""
    return f"{dossier.due_date.isoformat() if dossier.due_date else '0000-00-00'}|{dossier.code}"


def check_filters_within(query: QueueQuery, reachable: frozenset[str]) -> None:
    """An agency filter outside what the caller may see (their agencies, and the agencies of the units
    they supervise) could only return nothing; say so rather than answer an empty page."""
    for field, value in (("receiving_agency_code", query.receiving_agency_code),
                         ("competent_agency_code", query.competent_agency_code),
                         ("handling_agency_code", query.handling_agency_code)):
        if value and value not in reachable:
            raise PermissionDenied(field, f"you hold no role in {value} and supervise no unit it belongs to")


def page_size(requested: int) -> int:
    if requested < 0:
        raise InvalidArgument("page_size", "must not be negative")
    return requested or DEFAULT_PAGE_SIZE


def encode_page_token(fingerprint: str, position: str) -> str:
    raw = json.dumps({"q": fingerprint, "after": position}).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_page_token(token: str, fingerprint: str) -> str:
    """The queue position after which the next page starts ("" for the first page)."""
    if not token:
        return ""
    try:
        data = json.loads(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)))
        query, after = data["q"], data["after"]
    except (ValueError, KeyError, TypeError):
        raise InvalidArgument("page_token", "is not a page token this service issued") from None
    if query != fingerprint or not isinstance(after, str):
        raise InvalidArgument("page_token", "belongs to another query: repeat the filters it was issued for, "
                                            "or start again without a page token")
    return after
