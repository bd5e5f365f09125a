"""The deadline watch, apologies, extensions, pickup after a failed delivery and Decision 766
timeliness, on the calendar of Tết Đinh Mùi 2027 (Thursday 4 to Wednesday 10 February) and weekends."""

import copy
from dataclasses import replace
from datetime import date

import pytest

from services.common.errors import FailedPrecondition, InvalidArgument, PermissionDenied
from services.common.roles import Role
from services.procedures.adapters.slip_pdf import render_slip
from services.procedures.domain import deadlines
from services.procedures.domain.access import Action, check_action
from services.procedures.domain.deadlines import Alert, Progress, Settled, Watched, WatchedDeadline
from services.procedures.domain.dossier import Dossier, DossierStatus, SlipForm, Timeliness
from services.procedures.domain.slips import slip_text
from tests.unit.procedures.factories import (
    CRIMINAL_RECORD,
    JUSTICE,
    application,
    document,
    role,
    servant,
    submitted,
    vn,
)
from tests.unit.procedures.test_slips import read

ACCEPTED_ON = date(2027, 1, 27)          # a Wednesday, a week before Tết
# 10 working days: 28, 29 Jan; 1, 2, 3 Feb; Tết 4-10 Feb; 11, 12, 15, 16, 17 Feb
DUE = date(2027, 2, 17)
STEP_DUE = date(2027, 2, 16)             # "Thẩm định, xác minh": 0.5 + 8 working days, rounded up to 9


def accepted() -> Dossier:
    dossier = submitted(vn(ACCEPTED_ON, 8))
    dossier.accept(vn(ACCEPTED_ON, 8, 30), "r")
    return dossier


def kinds(found: list[deadlines.DeadlineAlert]) -> set[tuple[Alert, Watched]]:
    return {(a.alert, a.deadline.kind) for a in found}


# -- the watch ----------------------------------------------------------------------------------------
def test_the_deadlines_watched_are_the_appointment_and_the_earlier_step_due_date() -> None:
    dossier = accepted()
    assert (dossier.due_date, dossier.step_due()) == (DUE, STEP_DUE)
    assert dossier.watched_deadlines() == [WatchedDeadline(Watched.DOSSIER, DUE),
                                           WatchedDeadline(Watched.STEP, STEP_DUE, "Thẩm định, xác minh")]


@pytest.mark.parametrize(("today", "expected"), [
    (date(2027, 2, 3), set()),                                     # the day before Tết: 1 working day is 11 Feb
    (date(2027, 2, 7), set()),                                     # in Tết
    (date(2027, 2, 12), set()),                                    # Friday: next working day is Monday 15
    (date(2027, 2, 13), set()),                                    # Saturday
    (date(2027, 2, 15), {(Alert.DUE_SOON, Watched.STEP)}),
    (date(2027, 2, 16), {(Alert.DUE_SOON, Watched.STEP), (Alert.DUE_SOON, Watched.DOSSIER)}),
    (date(2027, 2, 17), {(Alert.OVERDUE, Watched.STEP), (Alert.DUE_SOON, Watched.DOSSIER)}),
    (date(2027, 2, 18), {(Alert.OVERDUE, Watched.STEP), (Alert.OVERDUE, Watched.DOSSIER)}),
])
def test_due_soon_one_working_day_before_and_overdue_the_day_after(today: date,
                                                                    expected: set[tuple[Alert, Watched]]) -> None:
    found = deadlines.alerts(accepted().watched_deadlines(), today, deadlines.DEFAULT_LEAD_WORKING_DAYS)
    assert kinds(found) == expected


def test_the_lead_is_counted_in_working_days_over_a_weekend() -> None:
    due_monday = WatchedDeadline(Watched.DOSSIER, date(2027, 3, 8))
    assert deadlines.alert_for(due_monday, date(2027, 3, 4), 1) is None               # Thursday
    friday = deadlines.alert_for(due_monday, date(2027, 3, 5), 1)
    assert friday is not None and friday.alert is Alert.DUE_SOON
    assert deadlines.alert_for(due_monday, date(2027, 3, 5), 0) is None               # lead 0: on the day
    assert deadlines.alert_for(due_monday, date(2027, 3, 3), 3) is not None            # three working days


def test_one_key_per_dossier_deadline_due_date_and_alert() -> None:
    soon = deadlines.alerts(accepted().watched_deadlines(), date(2027, 2, 16), 1)
    again = deadlines.alerts(accepted().watched_deadlines(), date(2027, 2, 16), 1)
    assert {a.key("X") for a in soon} == {a.key("X") for a in again}
    assert len({a.key("X") for a in soon}) == 2
    later = deadlines.alerts(accepted().watched_deadlines(), date(2027, 2, 18), 1)
    assert not {a.key("X") for a in soon} & {a.key("X") for a in later}


def test_nothing_is_watched_while_paused_or_once_the_result_is_issued() -> None:
    dossier = accepted()
    dossier.request_supplement(CRIMINAL_RECORD, "Thiếu văn bản ủy quyền", ("GUQ",), vn(date(2027, 2, 1)), "s")
    assert dossier.watched_deadlines() == []
    dossier.provide_supplement(CRIMINAL_RECORD, (document("GUQ"),), vn(date(2027, 2, 12)), "r")
    assert dossier.watched_deadlines()[0].due_date > DUE          # moved by the days paused
    dossier.approve("", vn(date(2027, 2, 15)), "l")
    assert [d.kind for d in dossier.watched_deadlines()] == [Watched.DOSSIER]
    dossier.issue_result("1/LLTP", vn(date(2027, 2, 15)), "rd")
    assert dossier.watched_deadlines() == []


def test_the_work_queue_flags_overdue_exactly_what_the_watch_reports_overdue() -> None:
    """The step was due on the 16th, the appointment is the 17th: on the 17th the watch emits
    DossierOverdue for the step, and the queue's flag says so (it once waited for the appointment)."""
    dossier = accepted()
    for day in (STEP_DUE, date(2027, 2, 17), date(2027, 2, 18)):
        watch_says = any(a.alert is Alert.OVERDUE for a in deadlines.alerts(dossier.watched_deadlines(), day, 0))
        assert dossier.overdue_on(day) is watch_says, day
    assert not dossier.overdue_on(STEP_DUE) and dossier.overdue_on(date(2027, 2, 17))
    assert dossier.earliest_watched_due() == STEP_DUE
    # Paused for a supplement the watch is silent (the days paused will move the dates): not overdue.
    dossier.request_supplement(CRIMINAL_RECORD, "Thiếu văn bản ủy quyền", ("GUQ",), vn(date(2027, 2, 15)), "s")
    assert not dossier.overdue_on(date(2027, 2, 18)) and dossier.earliest_watched_due() is None


@pytest.mark.parametrize(("result_day", "expected"), [
    (date(2027, 2, 3), Timeliness.EARLY), (date(2027, 2, 16), Timeliness.EARLY),
    (DUE, Timeliness.ON_TIME), (date(2027, 2, 18), Timeliness.LATE)])
def test_settled_early_on_time_or_late(result_day: date, expected: Timeliness) -> None:
    dossier = accepted()
    dossier.approve("", vn(result_day, 8), "l")
    dossier.issue_result("1/LLTP", vn(result_day, 16), "rd")
    assert dossier.timeliness is expected


def test_the_days_paused_for_a_supplement_across_tet_do_not_count() -> None:
    dossier = accepted()
    dossier.request_supplement(CRIMINAL_RECORD, "Thiếu văn bản ủy quyền", ("GUQ",), vn(date(2027, 2, 3)), "s")
    # paused Wednesday before Tết to Friday after it: 11 and 12 Feb are the working days lost
    assert dossier.progress_on(date(2027, 2, 25)) is Progress.ON_TIME       # clock still stopped
    dossier.provide_supplement(CRIMINAL_RECORD, (document("GUQ"),), vn(date(2027, 2, 12)), "r")
    assert dossier.paused_working_days == 2
    assert (dossier.due_date, dossier.legal_due_date) == (date(2027, 2, 19), date(2027, 2, 19))
    assert dossier.progress_on(date(2027, 2, 19)) is Progress.ON_TIME
    assert dossier.progress_on(date(2027, 2, 22)) is Progress.OVERDUE
    dossier.approve("", vn(date(2027, 2, 19)), "l")
    dossier.issue_result("1/LLTP", vn(date(2027, 2, 19)), "rd")
    assert dossier.timeliness is Timeliness.ON_TIME        # late by the first date, on time by the law
    assert deadlines.working_days_taken(ACCEPTED_ON, date(2027, 2, 19), dossier.paused_working_days) == 10


def test_decision_766_classes() -> None:
    assert deadlines.settled(date(2027, 2, 12), DUE) is Settled.EARLY
    assert deadlines.settled(DUE, DUE) is Settled.ON_TIME
    assert deadlines.settled(date(2027, 2, 20), DUE) is Settled.LATE          # a Saturday, still late
    assert deadlines.in_progress(DUE, DUE) is Progress.ON_TIME
    assert deadlines.in_progress(date(2027, 2, 18), DUE) is Progress.OVERDUE
    # paused since the Friday before a weekend: on Monday one working day has been paused
    assert deadlines.in_progress(date(2027, 2, 22), date(2027, 2, 19), date(2027, 2, 19)) is Progress.ON_TIME
    assert accepted().progress_on(date(2027, 2, 18)) is Progress.OVERDUE
    assert submitted(vn(ACCEPTED_ON)).progress_on(date(2027, 3, 1)) is None   # not accepted: no clock


# -- the apology (Mẫu 04) -------------------------------------------------------------------------------
def test_the_apology_re_appoints_once_and_timeliness_still_judges_the_legal_date() -> None:
    dossier = accepted()
    apology = dossier.apologise("Chờ kết quả xác minh của cơ quan công an", date(2027, 2, 24),
                                vn(date(2027, 2, 16)), "civil_servant:ld-1")
    assert (apology.previous_due_date, apology.new_due_date, apology.agency_code) == (
        DUE, date(2027, 2, 24), JUSTICE.agency_code)
    assert (dossier.due_date, dossier.legal_due_date) == (date(2027, 2, 24), DUE)
    assert dossier.slips[-1].form is SlipForm.APOLOGY
    # the watch now looks at the new appointment
    assert deadlines.alerts(dossier.watched_deadlines(), date(2027, 2, 18), 1)[0].deadline.kind is Watched.STEP
    assert all(a.deadline.due_date != DUE for a in deadlines.alerts(dossier.watched_deadlines(),
                                                                    date(2027, 2, 23), 1))
    before = copy.deepcopy(dossier)
    with pytest.raises(FailedPrecondition, match=r"reappointment.*no more than 1 time") as refused:
        dossier.apologise("Lại chậm", date(2027, 3, 3), vn(date(2027, 2, 18)), "civil_servant:ld-1")
    assert refused.value.field == "reappointment"
    assert dossier == before
    dossier.approve("", vn(date(2027, 2, 23)), "l")
    dossier.issue_result("1/LLTP", vn(date(2027, 2, 23)), "rd")
    assert dossier.timeliness is Timeliness.LATE           # by the new date, yet late by the law


@pytest.mark.parametrize(("reason", "new_due", "on", "error", "field"), [
    ("  ", date(2027, 2, 24), date(2027, 2, 16), InvalidArgument, "reason"),
    ("Chờ xác minh", date(2027, 2, 24), DUE, FailedPrecondition, "due_date"),            # on the due date
    ("Chờ xác minh", date(2027, 2, 24), date(2027, 2, 18), FailedPrecondition, "due_date"),  # after it
    ("Chờ xác minh", DUE, date(2027, 2, 16), InvalidArgument, "new_due_date"),
    ("Chờ xác minh", date(2027, 2, 20), date(2027, 2, 16), InvalidArgument, "new_due_date"),  # a Saturday
])
def test_a_refused_apology_names_the_field_and_changes_nothing(reason: str, new_due: date, on: date,
                                                               error: type[Exception], field: str) -> None:
    dossier = accepted()
    before = copy.deepcopy(dossier)
    with pytest.raises(error) as refused:
        dossier.apologise(reason, new_due, vn(on), "civil_servant:ld-1")
    assert refused.value.field == field  # type: ignore[attr-defined]
    assert dossier == before


def test_only_the_handling_agencys_leader_apologises() -> None:
    dossier = accepted()
    check_action(dossier, servant(role(Role.LEADER, JUSTICE.agency_code)), Action.APOLOGISE)
    with pytest.raises(PermissionDenied, match="leader"):
        check_action(dossier, servant(role(Role.SPECIALIST, JUSTICE.agency_code)), Action.APOLOGISE)
    with pytest.raises(PermissionDenied):
        check_action(dossier, servant(role(Role.LEADER, dossier.receiving_agency_code)), Action.APOLOGISE)


def test_the_apology_slip_mau_04_as_a_pdf() -> None:
    dossier = accepted()
    dossier.apologise("Chờ kết quả xác minh của cơ quan công an", date(2027, 2, 24), vn(date(2027, 2, 16)),
                      "civil_servant:ld-1")
    text, codes = read(render_slip(slip_text(dossier, SlipForm.APOLOGY, "Trung tâm Phục vụ hành chính công")))
    assert "Mẫu số 04" in text and "PHIẾU XIN LỖI VÀ HẸN LẠI NGÀY TRẢ KẾT QUẢ" in text
    assert "Chờ kết quả xác minh của cơ quan công an" in text
    assert "24/02/2027" in text and "17/02/2027" in text and f"01/PXL-{dossier.code}" in text
    assert codes == [dossier.code]


# -- extension ------------------------------------------------------------------------------------------
def test_an_extension_only_where_the_procedure_allows_it_and_within_its_days() -> None:
    dossier = accepted()
    with pytest.raises(FailedPrecondition, match="allows no extension") as refused:
        dossier.extend(2, "Cần xác minh thêm", CRIMINAL_RECORD.extension_working_days, vn(date(2027, 2, 15)), "l")
    assert refused.value.field == "procedure_code"
    before = copy.deepcopy(dossier)
    with pytest.raises(InvalidArgument, match="must be 1 to 5") as too_many:
        dossier.extend(6, "Cần xác minh thêm", 5, vn(date(2027, 2, 15)), "l")
    assert too_many.value.field == "working_days" and dossier == before
    extension = dossier.extend(3, "Cần xác minh thêm", 5, vn(date(2027, 2, 15)), "l")
    assert (extension.previous_due_date, extension.new_due_date) == (DUE, date(2027, 2, 22))
    assert dossier.legal_due_date == date(2027, 2, 22)     # the law gave these days: on time by them
    with pytest.raises(InvalidArgument, match="must be 1 to 2"):
        dossier.extend(3, "Thêm nữa", 5, vn(date(2027, 2, 16)), "l")
    with pytest.raises(FailedPrecondition, match="before the due date"):
        dossier.extend(1, "Muộn", 5, vn(date(2027, 2, 23)), "l")


# -- the post fails: back at the desk ------------------------------------------------------------------
def test_a_failed_delivery_waits_at_the_desk_until_collected() -> None:
    dossier = submitted(vn(ACCEPTED_ON), app=application())
    dossier.record_payment(vn(ACCEPTED_ON), "payments")
    dossier.accept(vn(ACCEPTED_ON), "r")
    dossier.approve("", vn(date(2027, 2, 1)), "l")
    with pytest.raises(FailedPrecondition):
        dossier.collect(vn(date(2027, 2, 1)), "rd")
    dossier.issue_result("1/LLTP", vn(date(2027, 2, 1)), "rd")
    assert dossier.status is DossierStatus.RESULT_ISSUED
    assert dossier.return_to_desk("không có người nhận", vn(date(2027, 2, 3)), "service:postal")
    assert not dossier.return_to_desk("không có người nhận", vn(date(2027, 2, 3)), "service:postal")
    assert dossier.status is DossierStatus.AWAITING_PICKUP and dossier.completed_at is None
    with pytest.raises(FailedPrecondition):
        dossier.complete_delivery(vn(date(2027, 2, 3)), "service:postal")
    dossier.collect(vn(date(2027, 2, 11)), "rd")
    assert (dossier.status, dossier.timeliness) == (DossierStatus.COMPLETED, Timeliness.EARLY)
    assert dossier.watched_deadlines() == []


def test_the_result_desk_of_the_receiving_unit_hands_it_over() -> None:
    dossier = replace(submitted(vn(ACCEPTED_ON)), status=DossierStatus.AWAITING_PICKUP)
    check_action(dossier, servant(role(Role.RESULT_DESK, dossier.receiving_agency_code)), Action.COLLECT)
    with pytest.raises(PermissionDenied):
        check_action(dossier, servant(role(Role.RESULT_DESK, JUSTICE.agency_code)), Action.COLLECT)
