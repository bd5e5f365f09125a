"""Every notice reads as Vietnamese a citizen understands, with the event's own values in it."""

import pytest

from services.common.errors import InvalidArgument
from services.notifications.domain import notices
from services.notifications.domain.notices import Intake, ResultDelivery, Template

CODE = "000.00.15.H57-250310-0042"
PROCEDURE = "Cấp giấy phép xây dựng nhà ở riêng lẻ"


def test_submitted_online_names_the_dossier_and_procedure() -> None:
    n = notices.dossier_submitted(CODE, PROCEDURE, Intake.ONLINE, fee_vnd=0, awaiting_payment=False)
    assert n.template is Template.DOSSIER_SUBMITTED
    assert n.dossier_code == CODE
    assert n.title == f"Hồ sơ {CODE} đã được tiếp nhận trực tuyến"
    assert n.text == f"Hồ sơ {CODE} ({PROCEDURE}) đã được tiếp nhận trực tuyến."


def test_submitted_awaiting_payment_states_the_fee() -> None:
    n = notices.dossier_submitted(CODE, PROCEDURE, Intake.ONLINE, fee_vnd=1_250_000, awaiting_payment=True)
    assert "Phí, lệ phí 1.250.000 đồng" in n.text
    assert "sau khi Ông/Bà thanh toán trực tuyến" in n.text


@pytest.mark.parametrize(("intake", "words"), [
    (Intake.COUNTER, "tiếp nhận tại Bộ phận Một cửa"),
    (Intake.POST_OFFICE, "tiếp nhận qua dịch vụ bưu chính công ích"),
])
def test_submitted_says_where_it_was_received(intake: Intake, words: str) -> None:
    n = notices.dossier_submitted(CODE, PROCEDURE, intake, fee_vnd=0, awaiting_payment=False)
    assert words in n.title and words in n.text


def test_accepted_gives_the_appointment_date_day_first() -> None:
    n = notices.dossier_accepted(CODE, PROCEDURE, "2025-03-24")
    assert n.title == f"Hồ sơ {CODE} đang được giải quyết"
    assert "Ngày hẹn trả kết quả: 24/03/2025." in n.text


def test_supplement_request_gives_the_reason_and_missing_documents() -> None:
    n = notices.dossier_supplement_requested(CODE, PROCEDURE, "Bản vẽ thiết kế chưa có chữ ký",
                                             ["TK02", "BV01"])
    assert n.title == f"Hồ sơ {CODE} cần bổ sung"
    assert "Lý do: Bản vẽ thiết kế chưa có chữ ký." in n.text
    assert "Giấy tờ cần bổ sung: TK02, BV01." in n.text
    assert "tạm dừng" in n.text


def test_rejection_gives_the_reason_and_mentions_a_refund_only_when_paid_online() -> None:
    reason = "Không thuộc thẩm quyền giải quyết"
    online = notices.dossier_rejected(CODE, PROCEDURE, reason, paid_online=True)
    counter = notices.dossier_rejected(CODE, PROCEDURE, reason, paid_online=False)
    assert "không đủ điều kiện giải quyết" in online.text
    assert "Lý do: Không thuộc thẩm quyền giải quyết." in online.text
    assert "hoàn trả" in online.text and "hoàn trả" not in counter.text


def test_reason_is_required() -> None:
    with pytest.raises(InvalidArgument) as raised:
        notices.dossier_rejected(CODE, PROCEDURE, "  ", paid_online=False)
    assert raised.value.field == "reason"


def test_result_issued_says_how_it_comes_back() -> None:
    by_post = notices.dossier_result_issued(CODE, PROCEDURE, "123/GP", ResultDelivery.POST)
    pickup = notices.dossier_result_issued(CODE, PROCEDURE, "123/GP", ResultDelivery.PICKUP)
    assert by_post.title == f"Đã có kết quả giải quyết hồ sơ {CODE}"
    assert "(số 123/GP)" in by_post.text and "bưu chính" in by_post.text
    assert "đến Trung tâm Phục vụ hành chính công để nhận kết quả" in pickup.text


def test_completed_late_apologises_with_the_missed_date() -> None:
    on_time = notices.dossier_completed(CODE, PROCEDURE, late=False, due_date="2025-03-24")
    late = notices.dossier_completed(CODE, PROCEDURE, late=True, due_date="2025-03-24")
    assert on_time.title == f"Hồ sơ {CODE} đã hoàn thành"
    assert "xin lỗi" not in on_time.text
    assert "trễ hạn so với ngày hẹn 24/03/2025" in late.text and "xin lỗi" in late.text


def test_bill_gives_the_fee_in_vietnamese_style_and_the_bill() -> None:
    n = notices.bill_issued(CODE, 1_250_000, "HD-7781")
    assert n.title == f"Thông báo phí, lệ phí hồ sơ {CODE}"
    assert "phí, lệ phí phải nộp là 1.250.000 đồng" in n.text
    assert "HD-7781" in n.text


def test_payment_settled_confirms_amount_intermediary_and_transaction() -> None:
    n = notices.payment_settled(CODE, 50_000, "VNPT Pay", "TX-991")
    assert n.text == f"Đã nhận 50.000 đồng phí, lệ phí cho hồ sơ {CODE} qua VNPT Pay (mã giao dịch TX-991)."


def test_refund_gives_the_amount() -> None:
    n = notices.payment_refunded(CODE, 300_000, "RF-1")
    assert n.title == f"Hoàn trả phí, lệ phí hồ sơ {CODE}"
    assert "Số tiền 300.000 đồng" in n.text and "đã được hoàn trả (mã hoàn tiền RF-1)" in n.text


def test_shipment_created_gives_the_tracking_number() -> None:
    n = notices.shipment_created(CODE, "EB123456789VN")
    assert "Số hiệu bưu gửi: EB123456789VN." in n.text
    assert n.title == f"Kết quả hồ sơ {CODE} đang được chuyển phát"


def test_shipment_delivered_gives_the_day_in_vietnam_time() -> None:
    # 18:30 UTC is already the next day in Huế (UTC+7).
    n = notices.shipment_delivered(CODE, "EB123456789VN", "2025-03-25T18:30:00Z")
    assert "đã được phát thành công ngày 26/03/2025." in n.text


def test_welcome_greets_the_citizen_by_name() -> None:
    n = notices.citizen_welcome("Trần Văn Hùng")
    assert n.template is Template.CITIZEN_WELCOME and n.dossier_code == ""
    assert n.text.startswith("Chào Trần Văn Hùng, tài khoản dịch vụ công trực tuyến")


def test_money_refunded_after_the_bill_closed_says_why() -> None:
    n = notices.payment_refunded(CODE, 300_000, "RF-2", "REFUND_REASON_BILL_CLOSED")
    assert "300.000" in n.text and "RF-2" in n.text
    assert "sau khi hồ sơ đã đóng" in n.text
    mismatch = notices.payment_refunded(CODE, 299_000, "RF-3", "REFUND_REASON_AMOUNT_MISMATCH")
    assert "thanh toán lại" in mismatch.text
    assert "đã đóng" not in notices.payment_refunded(CODE, 300_000, "RF-1", "REFUND_REASON_DOSSIER_REJECTED").text


def test_the_apology_gives_the_reason_and_the_new_appointment() -> None:
    n = notices.dossier_apology_issued(CODE, PROCEDURE, "Chờ ý kiến của Sở Xây dựng", "2025-03-24", "2025-03-31",
                                       f"01/PXL-{CODE}")
    assert n.template is Template.DOSSIER_APOLOGY_ISSUED and n.dossier_code == CODE
    assert "chưa giải quyết kịp ngày hẹn 24/03/2025" in n.text
    assert "Lý do: Chờ ý kiến của Sở Xây dựng." in n.text
    assert "hẹn lại ngày trả kết quả: 31/03/2025 (Phiếu xin lỗi số 01/PXL-" in n.text
    with pytest.raises(InvalidArgument, match="reason"):
        notices.dossier_apology_issued(CODE, PROCEDURE, " ", "2025-03-24", "2025-03-31", "")


def test_a_result_back_at_the_desk_invites_the_citizen_to_collect_it() -> None:
    n = notices.dossier_returned_to_desk(CODE, PROCEDURE, "giao không thành công tại Bưu cục Huế")
    assert n.template is Template.DOSSIER_RETURNED_TO_DESK
    assert "bưu chính không giao được kết quả (giao không thành công tại Bưu cục Huế)" in n.text
    assert "mời Ông/Bà đến nhận" in n.text and "Bộ phận Một cửa" in n.title
