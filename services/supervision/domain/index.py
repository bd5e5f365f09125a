"""The Decision 766/QĐ-TTg figures the platform can measure, kept as counters per scope and month.

A scope is a unit (the implementing unit and each unit above it, so a commune's dossiers count in
the province too), a competent agency, a receiving agency (the desk), or a procedure. What one
dossier adds to the counters is a pure function of its facts (`contribution`); when an event
changes the facts, the counters move by the difference (`difference`), so an event applied twice
moves nothing and a rebuild lands on the same counters.

Which month a figure counts in (Decision 766 counts per period):
- received, by channel; fee-paying and paid online; supplement requested; results sent by post and
  returned to the desk: the month the dossier was received;
- settled early / on time / late, processing time: the month the result was issued;
- apologies and re-appointments (an apology's new date, or an extension): the month issued;
- in progress: not a month but a snapshot, counted by appointment date, so "overdue" is decided
  when asked (due date before the day asked about).
"""

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from services.supervision.domain.facts import DossierFacts

OPEN = "open"                     # the bucket of dossiers in progress, by appointment date
NO_DATE = "none"                  # in progress, not accepted yet: no appointment date

Counters = dict[str, int]         # field -> count; nested fields as "due.2026-01-05", "days.3"
Buckets = dict[tuple[str, str], Counters]   # (scope, month or OPEN) -> counters


def scopes(f: DossierFacts) -> list[str]:
    keys = [f"unit:{u}" for u in f.units]
    if f.competent_agency:
        keys.append(f"agency:{f.competent_agency}")
    if f.receiving_agency:
        keys.append(f"receiving:{f.receiving_agency}")
    if f.procedure_code:
        keys.append(f"procedure:{f.procedure_code}")
    return keys


def _own(f: DossierFacts) -> list[tuple[str, str, int]]:
    """(bucket, field, count) this dossier adds to each of its scopes."""
    out: list[tuple[str, str, int]] = []
    if f.submitted_on:
        month = f.submitted_on[:7]
        out += [(month, "received", 1), (month, f"received_{f.channel or 'desk'}", 1)]
        if f.has_fee:
            out.append((month, "fee_dossiers", 1))
            if f.paid_online:
                out.append((month, "paid_online", 1))
        if f.supplement_requested:
            out.append((month, "supplement", 1))
        if f.by_post:
            out.append((month, "post_results", 1))
            if f.returned_to_desk:
                out.append((month, "post_returned", 1))
    if f.settled_on:
        month = f.settled_on[:7]
        out += [(month, "settled", 1), (month, f"settled_{f.timeliness}", 1)]
        if f.processing_days >= 0:
            out += [(month, "timed", 1), (month, "days_sum", f.processing_days),
                    (month, f"days.{f.processing_days}", 1)]
    elif f.rejected_on:
        out.append((f.rejected_on[:7], "rejected", 1))
    for apology in f.apologies:
        out += [(apology.on[:7], "apologies", 1), (apology.on[:7], "reappointments", 1)]
    for extension_month in _extension_months(f):
        out.append((extension_month, "reappointments", 1))
    if f.is_open:
        out.append((OPEN, f"due.{f.due_date or NO_DATE}", 1))
    return out


def _extension_months(f: DossierFacts) -> list[str]:
    return [on[:7] for _, on in f.extensions]


def contribution(f: DossierFacts | None) -> Buckets:
    if f is None:
        return {}
    own = _own(f)
    buckets: Buckets = {}
    for scope in scopes(f):
        for bucket, name, n in own:
            counters = buckets.setdefault((scope, bucket), {})
            counters[name] = counters.get(name, 0) + n
    return buckets


def difference(before: DossierFacts | None, after: DossierFacts | None) -> Buckets:
    """What to add to the counters when a dossier's facts go from `before` to `after`."""
    old, new = contribution(before), contribution(after)
    out: Buckets = {}
    for key in old.keys() | new.keys():
        a, b = old.get(key, {}), new.get(key, {})
        delta = {name: b.get(name, 0) - a.get(name, 0) for name in a.keys() | b.keys()}
        delta = {k: v for k, v in delta.items() if v}
        if delta:
            out[key] = delta
    return out


@dataclass(frozen=True)
class Figures:
    """One scope over one period, as Decision 766 reads it."""

    received: int = 0
    received_online: int = 0
    received_desk: int = 0
    received_post: int = 0
    settled: int = 0
    settled_early: int = 0
    settled_on_time: int = 0
    settled_late: int = 0
    rejected: int = 0
    in_progress_on_time: int = 0
    in_progress_overdue: int = 0
    fee_dossiers: int = 0
    paid_online: int = 0
    supplement: int = 0
    post_results: int = 0
    post_returned: int = 0
    apologies: int = 0
    reappointments: int = 0
    average_days: float = 0.0
    p90_days: int = 0

    @property
    def on_time_rate(self) -> float:
        """Settled early or on time, of all settled (Decision 766: đúng hạn + trước hạn)."""
        return _rate(self.settled_early + self.settled_on_time, self.settled)

    @property
    def online_rate(self) -> float:
        return _rate(self.received_online, self.received)

    @property
    def online_payment_rate(self) -> float:
        return _rate(self.paid_online, self.fee_dossiers)

    @property
    def postal_return_rate(self) -> float:
        return _rate(self.post_returned, self.post_results)

    @property
    def supplement_rate(self) -> float:
        return _rate(self.supplement, self.received)


def _rate(part: int, whole: int) -> float:
    return round(100.0 * part / whole, 2) if whole else 0.0


def figures(months: Iterable[Mapping[str, object]], open_counters: Mapping[str, object] | None,
            today: str) -> Figures:
    """The figures of the period from its months' counter documents and the in-progress snapshot
    (`today`: YYYY-MM-DD; a dossier due before it is overdue)."""
    total: dict[str, int] = {}
    days: dict[int, int] = {}
    for counters in months:
        for name, value in counters.items():
            if name == "days" and isinstance(value, Mapping):
                for d, n in value.items():
                    days[int(d)] = days.get(int(d), 0) + int(n)
            elif isinstance(value, int):
                total[name] = total.get(name, 0) + value
    on_time = overdue = 0
    due = (open_counters or {}).get("due", {})
    for date, n in (due.items() if isinstance(due, Mapping) else ()):
        if date != NO_DATE and date < today:
            overdue += int(n)
        else:
            on_time += int(n)
    timed = total.get("timed", 0)
    return Figures(
        received=total.get("received", 0), received_online=total.get("received_online", 0),
        received_desk=total.get("received_desk", 0), received_post=total.get("received_post", 0),
        settled=total.get("settled", 0), settled_early=total.get("settled_early", 0),
        settled_on_time=total.get("settled_on_time", 0), settled_late=total.get("settled_late", 0),
        rejected=total.get("rejected", 0), in_progress_on_time=on_time, in_progress_overdue=overdue,
        fee_dossiers=total.get("fee_dossiers", 0), paid_online=total.get("paid_online", 0),
        supplement=total.get("supplement", 0), post_results=total.get("post_results", 0),
        post_returned=total.get("post_returned", 0), apologies=total.get("apologies", 0),
        reappointments=total.get("reappointments", 0),
        average_days=round(total.get("days_sum", 0) / timed, 2) if timed else 0.0,
        p90_days=percentile(days, 0.9))


def percentile(histogram: Mapping[int, int], share: float) -> int:
    """The smallest value at or below which `share` of the observations lie (nearest rank)."""
    count = sum(histogram.values())
    if not count:
        return 0
    rank = max(1, math.ceil(share * count - 1e-9))
    seen = 0
    for value in sorted(histogram):
        seen += histogram[value]
        if seen >= rank:
            return value
    return max(histogram)
