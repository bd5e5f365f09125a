"""Deadlines of a dossier under watch, and how early, on time or late it is (docs/ONE_STOP.md,
"Deadlines, apologies and pickup").

- The watch: a dossier whose clock runs (in progress or approved, not paused for a supplement) has
  the appointment given to the applicant and, when it falls earlier, its current step's due date.
  Each is `due soon` from `lead` working days before it and `overdue` the day after it.
- Timeliness (Decision 766/QĐ-TTg, criterion "tiến độ giải quyết"): a dossier settled before its due
  date is early (trước hạn), on it on time (đúng hạn), after it late (quá hạn); one in progress is on
  time or overdue. The due date judged is the legal one: moved by the working days paused for a
  supplement (Decree 118/2025, as Decree 61/2018 art. 19 before it: the supplement time does not
  count) and by an extension the procedure allows, never by an apology's new appointment.
"""

from dataclasses import dataclass
from datetime import date
from enum import StrEnum

from services.procedures.domain.working_days import add_working_days, working_days_between

DEFAULT_LEAD_WORKING_DAYS = 1


class Watched(StrEnum):
    DOSSIER = "WATCHED_DEADLINE_DOSSIER"
    STEP = "WATCHED_DEADLINE_STEP"


class Alert(StrEnum):
    DUE_SOON = "due-soon"
    OVERDUE = "overdue"


@dataclass(frozen=True)
class WatchedDeadline:
    kind: Watched
    due_date: date
    step: str = ""


@dataclass(frozen=True)
class DeadlineAlert:
    alert: Alert
    deadline: WatchedDeadline

    def key(self, dossier_code: str) -> str:
        """One per dossier, deadline, due date and alert: a new appointment is watched afresh."""
        d = self.deadline
        return f"{dossier_code}|{d.kind.value}|{d.step}|{d.due_date.isoformat()}|{self.alert.value}"


def is_overdue(deadline: WatchedDeadline, today: date) -> bool:
    """The day after its due date: the watch's DossierOverdue and the work queue's flag go by this."""
    return today > deadline.due_date


def alert_for(deadline: WatchedDeadline, today: date, lead_working_days: int) -> DeadlineAlert | None:
    """Overdue once the due date has passed; due soon from `lead` working days before it."""
    if lead_working_days < 0:
        raise ValueError("the lead must not be negative")
    if is_overdue(deadline, today):
        return DeadlineAlert(Alert.OVERDUE, deadline)
    if add_working_days(today, lead_working_days) >= deadline.due_date:
        return DeadlineAlert(Alert.DUE_SOON, deadline)
    return None


def alerts(deadlines: list[WatchedDeadline], today: date, lead_working_days: int) -> list[DeadlineAlert]:
    found = (alert_for(d, today, lead_working_days) for d in deadlines)
    return [a for a in found if a is not None]


class Settled(StrEnum):
    """Proto Timeliness value names."""

    EARLY = "TIMELINESS_EARLY"
    ON_TIME = "TIMELINESS_ON_TIME"
    LATE = "TIMELINESS_LATE"


class Progress(StrEnum):
    ON_TIME = "in-progress-on-time"       # đang giải quyết trong hạn
    OVERDUE = "in-progress-overdue"       # đang giải quyết quá hạn


def settled(result_day: date, legal_due_date: date) -> Settled:
    if result_day < legal_due_date:
        return Settled.EARLY
    return Settled.ON_TIME if result_day == legal_due_date else Settled.LATE


def in_progress(today: date, legal_due_date: date, paused_since: date | None = None) -> Progress:
    """While paused for a supplement the clock stands still: the working days paused so far move the
    due date as they will when the supplement comes in."""
    due = legal_due_date
    if paused_since is not None:
        due = add_working_days(due, working_days_between(paused_since, today))
    return Progress.OVERDUE if today > due else Progress.ON_TIME


def working_days_taken(accepted_on: date, settled_on: date, paused_working_days: int) -> int:
    """Processing time in working days, the paused ones left out."""
    return max(working_days_between(accepted_on, settled_on) - paused_working_days, 0)


# The apology letter with a new appointment (Phiếu xin lỗi và hẹn lại ngày trả kết quả, Circular
# 01/2018/TT-VPCP Mẫu 04): the agency whose handling makes the dossier late sends it at the latest one
# day before the due date, giving the reason and the new date; the new appointment is given no more than
# once (Decree 61/2018/NĐ-CP art. 19 as amended by Decree 107/2021/NĐ-CP, kept by Decree 118/2025/NĐ-CP
# which replaced both). docs/ONE_STOP.md states the rule and its sources.
REAPPOINTMENT_LIMIT = 1
APOLOGY_TIMING_RULE = ("Decree 118/2025/NĐ-CP (formerly Decree 61/2018 art. 19): the apology and new "
                       "appointment are sent at the latest one day before the due date")
REAPPOINTMENT_RULE = ("Decree 118/2025/NĐ-CP (formerly Decree 61/2018 art. 19 as amended by Decree "
                      f"107/2021): a new appointment is given no more than {REAPPOINTMENT_LIMIT} time")
