from datetime import date

import pytest

from services.common.errors import DomainError, FailedPrecondition, InvalidArgument
from services.procedures.domain.catalogue import Catalogue
from services.procedures.domain.dossier import (
    Channel,
    Delivery,
    DeliveryMethod,
    Dossier,
    DossierStatus,
    PaymentMethod,
    Timeliness,
    dossier_code,
    procedure_for_submission,
)
from tests.unit.procedures.factories import (
    AGENCY,
    DayCounter,
    application,
    document,
    in_progress,
    procedure,
    submitted,
    vn,
)

STAFF = "civil_servant:CB001"
WED_BEFORE_TET = date(2027, 2, 3)


def refusal(error: type[DomainError], field: str, **changes: object) -> DomainError:
    proc_changes = {k.removeprefix("procedure_"): v for k, v in changes.items() if k.startswith("procedure_")}
    app_changes = {k: v for k, v in changes.items() if not k.startswith("procedure_")}
    counter = DayCounter()
    with pytest.raises(error) as caught:
        Dossier.submit(procedure(**proc_changes), application(**app_changes), counter, vn(WED_BEFORE_TET), "x")
    assert caught.value.field == field
    assert counter.counts == {}, "a refused application must not use up a dossier number"
    return caught.value


# -- submission ---------------------------------------------------------------------------------
def test_online_payment_waits_for_payment_and_counter_payment_waits_for_the_desk() -> None:
    assert submitted(vn(WED_BEFORE_TET)).status is DossierStatus.AWAITING_PAYMENT
    at_counter = application(payment_method=PaymentMethod.AT_COUNTER)
    assert submitted(vn(WED_BEFORE_TET), app=at_counter).status is DossierStatus.SUBMITTED
    free = submitted(vn(WED_BEFORE_TET), procedure(fee_vnd=0), application(payment_method=PaymentMethod.NO_FEE))
    assert free.status is DossierStatus.SUBMITTED
    assert free.history[0].status is DossierStatus.SUBMITTED


def test_dossier_code_is_agency_local_day_and_sequence() -> None:
    assert dossier_code(AGENCY, date(2027, 2, 3), 1) == "000.00.15.H57-270203-0001"
    assert dossier_code(AGENCY, date(2027, 12, 31), 9999) == "000.00.15.H57-271231-9999"
    for exhausted in (0, 10_000):
        with pytest.raises(FailedPrecondition):
            dossier_code(AGENCY, date(2027, 2, 3), exhausted)


def test_codes_follow_the_agency_day_sequence_in_vietnam_time() -> None:
    counter = DayCounter()
    first = submitted(vn(WED_BEFORE_TET, 8), counter=counter)
    second = submitted(vn(WED_BEFORE_TET, 16), counter=counter)
    # 00:30 on 4 February in Huế is still 3 February in UTC: the Vietnamese day counts
    next_day = submitted(vn(date(2027, 2, 4), 0, 30), counter=counter)
    assert [first.code, second.code, next_day.code] == [
        "000.00.15.H57-270203-0001", "000.00.15.H57-270203-0002", "000.00.15.H57-270204-0001"]


def test_unknown_procedure_is_refused() -> None:
    with pytest.raises(InvalidArgument) as caught:
        procedure_for_submission(Catalogue([procedure()]), "1.999999")
    assert caught.value.field == "procedure_code"


def test_level_1_and_2_procedures_are_not_filed_online() -> None:
    for level in (1, 2):
        refusal(FailedPrecondition, "procedure_code", procedure_service_level=level,
                payment_method=PaymentMethod.AT_COUNTER)
    at_the_desk = application(channel=Channel.COUNTER, payment_method=PaymentMethod.AT_COUNTER)
    assert submitted(vn(WED_BEFORE_TET), procedure(service_level=2), at_the_desk).channel is Channel.COUNTER


def test_online_payment_needs_a_level_4_procedure() -> None:
    error = refusal(FailedPrecondition, "payment_method", procedure_service_level=3)
    assert "online payment needs a level-4 procedure" in error.message


def test_payment_method_must_match_the_fee() -> None:
    refusal(InvalidArgument, "payment_method", payment_method=PaymentMethod.NO_FEE)
    refusal(InvalidArgument, "payment_method", procedure_fee_vnd=0, payment_method=PaymentMethod.ONLINE)
    refusal(InvalidArgument, "payment_method", procedure_fee_vnd=0, payment_method=PaymentMethod.AT_COUNTER)


def test_a_missing_mandatory_document_is_named() -> None:
    error = refusal(InvalidArgument, "documents", documents=(document("TK01"), document("GUQ")))
    assert "CCCD" in error.message and "Bản chụp Căn cước công dân" in error.message


def test_a_document_the_procedure_does_not_ask_for_is_refused() -> None:
    error = refusal(InvalidArgument, "documents", documents=(document("TK01"), document("CCCD"), document("XYZ")))
    assert "XYZ" in error.message


def test_post_delivery_needs_an_address() -> None:
    refusal(InvalidArgument, "delivery.address", delivery=Delivery(DeliveryMethod.POST))


def test_applicant_citizen_id_is_checked() -> None:
    refusal(InvalidArgument, "applicant_citizen_id", applicant_citizen_id="12345")
    refusal(InvalidArgument, "applicant_citizen_id", applicant_citizen_id="999190000123")   # no such province


# -- acceptance and the legal clock ---------------------------------------------------------------
def test_payment_accepts_and_the_due_date_skips_tet() -> None:
    dossier = submitted(vn(WED_BEFORE_TET), procedure(legal_deadline_working_days=3))
    dossier.accept_on_payment(vn(WED_BEFORE_TET, 10), "service:payments")
    assert dossier.status is DossierStatus.IN_PROGRESS
    assert dossier.accepted_at == vn(WED_BEFORE_TET, 10)
    assert dossier.due_date == date(2027, 2, 15)


def test_the_due_date_counts_from_the_vietnamese_day_of_acceptance() -> None:
    # 01:00 on Thursday 4 March in Huế is Wednesday 3 March in UTC
    dossier = in_progress(vn(date(2027, 3, 4), 1), procedure(legal_deadline_working_days=1))
    assert dossier.due_date == date(2027, 3, 5)


def test_counter_dossiers_are_accepted_at_the_desk_and_online_ones_only_by_payment() -> None:
    online = submitted(vn(WED_BEFORE_TET))
    with pytest.raises(FailedPrecondition) as caught:
        online.accept_at_desk(vn(WED_BEFORE_TET), STAFF)
    assert caught.value.field == "status"
    desk = submitted(vn(WED_BEFORE_TET), app=application(payment_method=PaymentMethod.AT_COUNTER))
    with pytest.raises(FailedPrecondition):
        desk.accept_on_payment(vn(WED_BEFORE_TET), "service:payments")
    desk.accept_at_desk(vn(WED_BEFORE_TET), STAFF)
    assert desk.status is DossierStatus.IN_PROGRESS
    with pytest.raises(FailedPrecondition):
        desk.accept_at_desk(vn(WED_BEFORE_TET), STAFF)


# -- supplements ----------------------------------------------------------------------------------
def test_a_supplement_pauses_the_clock_and_moves_the_due_date() -> None:
    dossier = in_progress(vn(date(2027, 3, 1)))                              # Monday, 10 working days
    assert dossier.due_date == date(2027, 3, 15)
    dossier.request_supplement(procedure(), "Thiếu văn bản ủy quyền", ("GUQ",), vn(date(2027, 3, 2), 10), STAFF)
    assert dossier.status is DossierStatus.SUPPLEMENT_REQUESTED
    paused = dossier.provide_supplement(procedure(), (document("GUQ"),), vn(date(2027, 3, 9), 15), "citizen:x")
    assert paused == 5                                                       # 3, 4, 5, 8, 9 March
    assert dossier.paused_working_days == 5
    assert dossier.due_date == date(2027, 3, 22)
    assert dossier.status is DossierStatus.IN_PROGRESS
    assert [d.document_code for d in dossier.documents] == ["TK01", "CCCD", "GUQ"]


def test_a_pause_over_tet_counts_only_working_days() -> None:
    dossier = in_progress(vn(date(2027, 2, 1)), procedure(legal_deadline_working_days=5))
    assert dossier.due_date == date(2027, 2, 15)
    dossier.request_supplement(procedure(), "Ảnh không rõ", (), vn(WED_BEFORE_TET), STAFF)
    assert dossier.provide_supplement(procedure(), (document("CCCD"),), vn(date(2027, 2, 11)), "citizen:x") == 1
    assert dossier.due_date == date(2027, 2, 16)


def test_pauses_add_up() -> None:
    dossier = in_progress(vn(date(2027, 3, 1)))
    for requested, provided in ((date(2027, 3, 2), date(2027, 3, 3)), (date(2027, 3, 4), date(2027, 3, 8))):
        dossier.request_supplement(procedure(), "Bổ sung", (), vn(requested), STAFF)
        dossier.provide_supplement(procedure(), (document("GUQ"),), vn(provided), "citizen:x")
    assert dossier.paused_working_days == 3
    assert dossier.due_date == date(2027, 3, 18)


def test_a_supplement_must_bring_the_documents_asked_for() -> None:
    dossier = in_progress(vn(date(2027, 3, 1)))
    dossier.request_supplement(procedure(), "Thiếu ủy quyền", ("GUQ",), vn(date(2027, 3, 2)), STAFF)
    with pytest.raises(InvalidArgument) as caught:
        dossier.provide_supplement(procedure(), (document("CCCD"),), vn(date(2027, 3, 3)), "citizen:x")
    assert caught.value.field == "documents" and "GUQ" in caught.value.message
    assert dossier.status is DossierStatus.SUPPLEMENT_REQUESTED


def test_a_supplement_can_only_ask_for_documents_of_the_procedure() -> None:
    dossier = in_progress(vn(date(2027, 3, 1)))
    with pytest.raises(InvalidArgument) as caught:
        dossier.request_supplement(procedure(), "?", ("NOPE",), vn(date(2027, 3, 2)), STAFF)
    assert caught.value.field == "missing_document_codes"
    assert dossier.status is DossierStatus.IN_PROGRESS


# -- result, completion and timeliness ------------------------------------------------------------
def test_the_postal_journey_ends_on_delivery() -> None:
    dossier = in_progress(vn(date(2027, 3, 1)))
    dossier.record_step("Thẩm định hồ sơ", "Đủ điều kiện", vn(date(2027, 3, 2)), STAFF)
    dossier.approve("", vn(date(2027, 3, 3)), STAFF)
    dossier.issue_result("123/STP-LLTP", vn(date(2027, 3, 4)), STAFF)
    assert dossier.status is DossierStatus.RESULT_ISSUED
    assert dossier.completed_at is None
    dossier.complete_delivery(vn(date(2027, 3, 26)), "service:postal")     # after the due date: transit
    assert dossier.status is DossierStatus.COMPLETED
    assert dossier.timeliness is Timeliness.ON_TIME
    assert [h.status for h in dossier.history] == [
        DossierStatus.AWAITING_PAYMENT, DossierStatus.IN_PROGRESS, DossierStatus.IN_PROGRESS,
        DossierStatus.APPROVED, DossierStatus.RESULT_ISSUED, DossierStatus.COMPLETED]


def test_pickup_completes_when_the_result_is_issued() -> None:
    pickup = application(delivery=Delivery(DeliveryMethod.PICKUP), payment_method=PaymentMethod.AT_COUNTER)
    dossier = submitted(vn(date(2027, 3, 1)), app=pickup)
    dossier.accept_at_desk(vn(date(2027, 3, 1)), STAFF)
    dossier.approve("Đồng ý", vn(date(2027, 3, 2)), STAFF)
    dossier.issue_result("9/STP", vn(date(2027, 3, 3)), STAFF)
    assert dossier.status is DossierStatus.COMPLETED
    assert dossier.completed_at == vn(date(2027, 3, 3))
    with pytest.raises(FailedPrecondition):
        dossier.complete_delivery(vn(date(2027, 3, 4)), "service:postal")


@pytest.mark.parametrize(("issued", "timeliness"), [
    (vn(date(2027, 3, 15), 16), Timeliness.ON_TIME),          # on the due date
    (vn(date(2027, 3, 15), 23, 30), Timeliness.ON_TIME),      # late evening in Huế, still the due date
    (vn(date(2027, 3, 16), 0, 30), Timeliness.LATE),          # 17:30 UTC on the 15th, but the 16th in Huế
    (vn(date(2027, 3, 12)), Timeliness.ON_TIME),
])
def test_timeliness_compares_the_issue_day_with_the_due_date(issued: object, timeliness: Timeliness) -> None:
    dossier = in_progress(vn(date(2027, 3, 1)))
    dossier.approve("", vn(date(2027, 3, 2)), STAFF)
    dossier.issue_result("1/STP", issued, STAFF)  # type: ignore[arg-type]
    assert dossier.timeliness is timeliness


def test_rejection_is_possible_until_the_result_is_issued() -> None:
    def stages() -> list[Dossier]:
        awaiting = submitted(vn(date(2027, 3, 1)))
        desk = submitted(vn(date(2027, 3, 1)), app=application(payment_method=PaymentMethod.AT_COUNTER))
        working = in_progress(vn(date(2027, 3, 1)))
        paused = in_progress(vn(date(2027, 3, 1)))
        paused.request_supplement(procedure(), "Bổ sung", (), vn(date(2027, 3, 2)), STAFF)
        approved = in_progress(vn(date(2027, 3, 1)))
        approved.approve("", vn(date(2027, 3, 2)), STAFF)
        return [awaiting, desk, working, paused, approved]

    for dossier in stages():
        dossier.reject("Hồ sơ không hợp lệ", vn(date(2027, 3, 3)), STAFF)
        assert dossier.status is DossierStatus.REJECTED
        assert dossier.rejection_reason == "Hồ sơ không hợp lệ"
        with pytest.raises(FailedPrecondition):
            dossier.reject("again", vn(date(2027, 3, 4)), STAFF)

    issued = stages()[-1]
    issued.issue_result("1/STP", vn(date(2027, 3, 3)), STAFF)
    with pytest.raises(FailedPrecondition) as caught:
        issued.reject("too late", vn(date(2027, 3, 4)), STAFF)
    assert caught.value.field == "status"


def test_illegal_transitions_are_refused_and_change_nothing() -> None:
    awaiting = submitted(vn(date(2027, 3, 1)))
    working = in_progress(vn(date(2027, 3, 1)))
    attempts = [
        lambda: awaiting.approve("", vn(date(2027, 3, 2)), STAFF),
        lambda: awaiting.record_step("Thẩm định", "", vn(date(2027, 3, 2)), STAFF),
        lambda: awaiting.request_supplement(procedure(), "x", (), vn(date(2027, 3, 2)), STAFF),
        lambda: working.issue_result("1/STP", vn(date(2027, 3, 2)), STAFF),
        lambda: working.complete_delivery(vn(date(2027, 3, 2)), "service:postal"),
        lambda: working.provide_supplement(procedure(), (document("GUQ"),), vn(date(2027, 3, 2)), STAFF),
    ]
    for attempt in attempts:
        with pytest.raises(FailedPrecondition) as caught:
            attempt()
        assert caught.value.field == "status"
    assert awaiting.status is DossierStatus.AWAITING_PAYMENT and len(awaiting.history) == 1
    assert working.status is DossierStatus.IN_PROGRESS and len(working.history) == 2
