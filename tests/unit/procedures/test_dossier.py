"""Dossier rules without I/O: the receiving unit's code, reception (accept, return once, refuse),
payment that no longer accepts, the clock by deadline kind, assignment, transfer, steps, the result."""

from dataclasses import replace
from datetime import date

import pytest

from services.common.errors import FailedPrecondition, InvalidArgument
from services.procedures.domain.application import Channel, PaymentMethod
from services.procedures.domain.dossier import DossierStatus, SlipForm, Timeliness, check_transfer_target
from tests.unit.procedures.factories import (
    BIRTH,
    CATALOGUE,
    CENTRE,
    CENTRE_DESK,
    JUSTICE,
    LAND,
    THUAN_HOA,
    UNITS,
    VY_DA,
    VY_DA_DESK,
    DayCounter,
    application,
    desk_application,
    document,
    entry,
    submitted,
    vn,
)

MONDAY = date(2026, 12, 7)


def test_the_code_is_the_receiving_units_not_the_competent_agencys() -> None:
    counter = DayCounter()
    first = submitted(vn(MONDAY), counter=counter)
    second = submitted(vn(MONDAY, 10), counter=counter)
    assert (first.code, second.code) == (f"{CENTRE.agency_code}-261207-0001", f"{CENTRE.agency_code}-261207-0002")
    assert (first.receiving_agency_code, first.competent_agency_code, first.handling_agency_code) == (
        CENTRE.agency_code, JUSTICE.agency_code, JUSTICE.agency_code)
    assert first.units == ("46",)


def test_a_commune_entry_knows_its_unit_and_every_unit_above() -> None:
    dossier = submitted(vn(MONDAY), on=entry(BIRTH, VY_DA), desk=VY_DA_DESK,
                        app=desk_application(payment_method=PaymentMethod.NO_FEE,
                                             documents=(document("TK01"), document("GCS"))))
    assert dossier.code.startswith(VY_DA.agency_code + "-")
    assert (dossier.competent_agency_code, dossier.units) == (VY_DA.agency_code, ("19777", "474", "46"))


def test_a_desk_refuses_a_procedure_of_an_agency_it_does_not_receive_for() -> None:
    with pytest.raises(FailedPrecondition, match=r"does not receive for 000\.00\.15\.H57"):
        submitted(vn(MONDAY), desk=VY_DA_DESK)


def test_payment_does_not_accept_an_online_dossier() -> None:
    dossier = submitted(vn(MONDAY), app=application())
    assert dossier.status is DossierStatus.AWAITING_PAYMENT
    with pytest.raises(FailedPrecondition, match="not paid yet"):
        dossier.accept(vn(MONDAY, 10), "r")
    assert dossier.record_payment(vn(MONDAY, 11), "service:payments")
    assert not dossier.record_payment(vn(MONDAY, 11), "service:payments")   # a repeated notice
    assert (dossier.status, dossier.accepted_at) == (DossierStatus.SUBMITTED, None)
    dossier.accept(vn(MONDAY, 14), "civil_servant:r")
    assert dossier.status is DossierStatus.IN_PROGRESS
    assert dossier.due_date == date(2026, 12, 21)          # 10 working days
    assert [s.form for s in dossier.slips] == [SlipForm.RECEIPT]
    assert dossier.current_step is not None and dossier.current_step.name == "Thẩm định, xác minh"


def test_return_for_supplement_once_with_everything_missing_then_back_to_the_desk() -> None:
    dossier = submitted(vn(MONDAY))
    dossier.return_for_supplement(entry().procedure, ("CCCD", "GUQ"), "Bổ sung bản chụp CCCD", vn(MONDAY), "r")
    assert dossier.status is DossierStatus.SUPPLEMENT_REQUESTED and dossier.accepted_at is None
    assert dossier.slips[-1].form is SlipForm.SUPPLEMENT
    assert dossier.slips[-1].items == ("CCCD: Bản chụp Căn cước công dân", "GUQ: Văn bản ủy quyền",
                                       "Bổ sung bản chụp CCCD")
    with pytest.raises(InvalidArgument, match="missing mandatory document: CCCD"):
        dossier.provide_supplement(entry().procedure, (document("GUQ"),), vn(MONDAY, 10), "a")
    dossier.provide_supplement(entry().procedure, (document("CCCD"), document("GUQ")), vn(MONDAY, 10), "a")
    assert dossier.status is DossierStatus.SUBMITTED
    with pytest.raises(FailedPrecondition, match="already returned for supplement once"):
        dossier.return_for_supplement(entry().procedure, ("CCCD",), "again", vn(MONDAY, 11), "r")


def test_refusal_at_the_desk_gives_the_reasons_on_a_refusal_slip() -> None:
    dossier = submitted(vn(MONDAY))
    dossier.reject("Không thuộc thẩm quyền\nHồ sơ giả mạo", vn(MONDAY), "r")
    assert dossier.status is DossierStatus.REJECTED
    assert (dossier.slips[-1].form, dossier.slips[-1].items) == (
        SlipForm.REFUSAL, ("Không thuộc thẩm quyền", "Hồ sơ giả mạo"))


def test_processing_supplement_pauses_the_clock_once() -> None:
    dossier = submitted(vn(MONDAY))
    dossier.accept(vn(MONDAY), "r")
    dossier.request_supplement(entry().procedure, "Thiếu tờ khai", ("TK01",), vn(date(2026, 12, 8)), "s")
    dossier.provide_supplement(entry().procedure, (document("TK01"),), vn(date(2026, 12, 10)), "a")
    assert (dossier.paused_working_days, dossier.due_date) == (2, date(2026, 12, 23))
    with pytest.raises(FailedPrecondition, match="second request"):
        dossier.request_supplement(entry().procedure, "again", (), vn(date(2026, 12, 11)), "s")


def test_assignment_and_reassignment_are_recorded() -> None:
    dossier = submitted(vn(MONDAY))
    with pytest.raises(FailedPrecondition, match="status"):
        dossier.assign("cv-1", vn(MONDAY), "l")
    dossier.accept(vn(MONDAY), "r")
    dossier.assign("cv-1", vn(MONDAY, 10), "l")
    dossier.assign("cv-2", vn(MONDAY, 11), "l")
    assert dossier.assignee == "cv-2"
    assert [(a.assignee, a.previous) for a in dossier.assignments] == [("cv-1", ""), ("cv-2", "cv-1")]
    with pytest.raises(FailedPrecondition, match="assigned to cv-2 already"):
        dossier.assign("cv-2", vn(MONDAY, 12), "l")


def test_transfer_commune_to_district_keeps_the_code_and_moves_the_step() -> None:
    dossier = submitted(vn(MONDAY), on=entry(LAND, VY_DA), desk=VY_DA_DESK)
    dossier.accept(vn(MONDAY), "r")
    assert dossier.current_step is not None and dossier.current_step.owner == "commune"
    target = CATALOGUE.entry(LAND.code, THUAN_HOA.code)
    tier = check_transfer_target(target, dossier, THUAN_HOA.agency_code, UNITS)
    code = dossier.code
    dossier.transfer(THUAN_HOA.agency_code, tier, "Đã xác nhận; chuyển quận thẩm định", vn(MONDAY, 15), "s")
    assert (dossier.code, dossier.handling_agency_code, dossier.receiving_agency_code) == (
        code, THUAN_HOA.agency_code, VY_DA.agency_code)
    assert dossier.current_step is not None and dossier.current_step.name == "Thẩm định hồ sơ"
    assert dossier.step_due() == date(2026, 12, 17)      # ceil(0.5 + 2.5 + 5) = 8 working days
    assert [(t.from_agency_code, t.to_agency_code) for t in dossier.transfers] == [
        (VY_DA.agency_code, THUAN_HOA.agency_code)]
    assert THUAN_HOA.agency_code in dossier.agencies


def test_a_transfer_to_a_unit_that_cannot_handle_the_procedure_is_refused() -> None:
    dossier = submitted(vn(MONDAY), on=entry(LAND, VY_DA), desk=VY_DA_DESK)
    with pytest.raises(FailedPrecondition, match=r"does not handle procedure 1\.004227"):
        check_transfer_target(CATALOGUE.entry(LAND.code, "46"), dossier, JUSTICE.agency_code, UNITS)
    with pytest.raises(FailedPrecondition, match="not above unit 19777"):
        check_transfer_target(CATALOGUE.entry(LAND.code, "475"), dossier, "000.00.32.H57", UNITS)
    with pytest.raises(InvalidArgument, match=r"no agency 000\.99"):
        check_transfer_target(None, dossier, "000.99.99.H57", UNITS)


def test_the_result_settles_timeliness_and_finishes_the_process() -> None:
    dossier = submitted(vn(MONDAY))
    dossier.accept(vn(MONDAY), "r")
    dossier.approve("", vn(date(2026, 12, 18)), "l")
    assert dossier.current_step is not None and dossier.current_step.name == "Trả kết quả"
    dossier.issue_result("123/LLTP", vn(date(2026, 12, 22)), "rd")
    assert (dossier.status, dossier.timeliness, dossier.current_step) == (
        DossierStatus.COMPLETED, Timeliness.LATE, None)


def test_fee_by_declared_category_and_unknown_category_refused() -> None:
    student = submitted(vn(MONDAY), app=desk_application(fee_category="student"))
    assert student.fee_vnd == 100_000
    with pytest.raises(InvalidArgument, match="no fee category 'veteran'"):
        submitted(vn(MONDAY), app=desk_application(fee_category="veteran"))
    with pytest.raises(InvalidArgument, match="PAYMENT_METHOD_NO_FEE"):
        submitted(vn(MONDAY), app=desk_application(fee_category="child"))


def test_channel_and_online_payment_follow_the_procedure() -> None:
    with pytest.raises(FailedPrecondition, match="is not filed online"):
        submitted(vn(MONDAY), on=entry(LAND, VY_DA), desk=VY_DA_DESK, app=application())
    birth_online = application(payment_method=PaymentMethod.ONLINE, documents=(document("TK01"), document("GCS")))
    with pytest.raises(InvalidArgument, match="NO_FEE"):
        submitted(vn(MONDAY), on=entry(BIRTH, VY_DA), desk=VY_DA_DESK, app=birth_online)
    land_online_fee = desk_application(payment_method=PaymentMethod.ONLINE, channel=Channel.COUNTER)
    with pytest.raises(FailedPrecondition, match="partly online"):
        submitted(vn(MONDAY), on=entry(LAND, VY_DA), desk=VY_DA_DESK, app=land_online_fee)


def test_a_withdrawn_procedure_takes_no_new_dossier() -> None:
    withdrawn = entry(replace(entry().procedure, withdrawn=True))
    with pytest.raises(FailedPrecondition, match="withdrawn"):
        submitted(vn(MONDAY), on=withdrawn)
    assert CENTRE_DESK.receives_for(JUSTICE.agency_code)
