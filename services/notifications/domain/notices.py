"""What the citizen is told at each step of their dossier, in Vietnamese.

Each function turns the facts of one event into a `Notice`: a title (e-mail subject, push title)
and a text (the SMS, the push body, the heart of the e-mail). Composing them per channel is
`messages.py`'s job.
"""

from dataclasses import dataclass
from enum import StrEnum

from services.common.errors import InvalidArgument
from services.notifications.domain.formatting import format_date, format_vnd


class Template(StrEnum):
    CITIZEN_WELCOME = "citizen_welcome"
    ACCOUNT_RECOVERED = "account_recovered"
    DOSSIER_SUBMITTED = "dossier_submitted"
    DOSSIER_ACCEPTED = "dossier_accepted"
    DOSSIER_SUPPLEMENT_REQUESTED = "dossier_supplement_requested"
    DOSSIER_REJECTED = "dossier_rejected"
    DOSSIER_RESULT_ISSUED = "dossier_result_issued"
    DOSSIER_COMPLETED = "dossier_completed"
    DOSSIER_TRANSFERRED = "dossier_transferred"
    DOSSIER_APOLOGY_ISSUED = "dossier_apology_issued"
    DOSSIER_RETURNED_TO_DESK = "dossier_returned_to_desk"
    BILL_ISSUED = "bill_issued"
    PAYMENT_SETTLED = "payment_settled"
    PAYMENT_REFUNDED = "payment_refunded"
    SHIPMENT_CREATED = "shipment_created"
    SHIPMENT_DELIVERED = "shipment_delivered"


class Intake(StrEnum):
    """Where the dossier was received."""

    ONLINE = "ONLINE"
    COUNTER = "COUNTER"
    POST_OFFICE = "POST_OFFICE"


class ResultDelivery(StrEnum):
    PICKUP = "PICKUP"
    POST = "POST"


@dataclass(frozen=True)
class Notice:
    template: Template
    dossier_code: str
    title: str
    text: str


_RECEIVED_AT = {
    Intake.ONLINE: "đã được tiếp nhận trực tuyến",
    Intake.COUNTER: "đã được tiếp nhận tại Bộ phận Một cửa",
    Intake.POST_OFFICE: "đã được tiếp nhận qua dịch vụ bưu chính công ích",
}


def _required(value: str, field: str) -> str:
    if not value.strip():
        raise InvalidArgument(field, "is required")
    return value.strip()


def _dossier(code: str, procedure_name: str = "") -> str:
    code = _required(code, "dossier_code")
    return f"Hồ sơ {code} ({procedure_name.strip()})" if procedure_name.strip() else f"Hồ sơ {code}"


def citizen_welcome(full_name: str) -> Notice:
    name = _required(full_name, "full_name")
    return Notice(
        Template.CITIZEN_WELCOME, "",
        "Chào mừng đến với Cổng dịch vụ công tỉnh Thừa Thiên Huế",
        f"Chào {name}, tài khoản dịch vụ công trực tuyến của Ông/Bà đã được đăng ký thành công. "
        "Ông/Bà sẽ nhận thông báo về tình hình giải quyết hồ sơ qua kênh đã chọn.",
    )


def account_recovered(full_name: str) -> Notice:
    name = _required(full_name, "full_name")
    return Notice(
        Template.ACCOUNT_RECOVERED, "",
        "Tài khoản dịch vụ công của Ông/Bà đã được khôi phục",
        f"Chào {name}, tài khoản dịch vụ công trực tuyến của Ông/Bà vừa được khôi phục bằng mã xác thực gửi tới "
        "số điện thoại hoặc thư điện tử lưu trong Cơ sở dữ liệu quốc gia về dân cư. Mật khẩu và thông tin liên hệ "
        "đã được thay mới, mọi phiên đăng nhập trước đó đã bị vô hiệu.",
    )


def dossier_submitted(code: str, procedure_name: str, intake: Intake, fee_vnd: int,
                      awaiting_payment: bool) -> Notice:
    received = _RECEIVED_AT[intake]
    text = f"{_dossier(code, procedure_name)} {received}."
    if awaiting_payment and fee_vnd > 0:
        text += (f" Phí, lệ phí {format_vnd(fee_vnd, 'fee_vnd')}; Bộ phận Một cửa kiểm tra và tiếp nhận "
                 "hồ sơ sau khi Ông/Bà thanh toán trực tuyến.")
    return Notice(Template.DOSSIER_SUBMITTED, code, f"Hồ sơ {code} {received}", text)


def dossier_accepted(code: str, procedure_name: str, due_date: str) -> Notice:
    text = f"{_dossier(code, procedure_name)} đã được tiếp nhận và đang được giải quyết."
    if due_date:
        text += f" Ngày hẹn trả kết quả: {format_date(due_date, 'due_date')}."
    return Notice(Template.DOSSIER_ACCEPTED, code, f"Hồ sơ {code} đang được giải quyết", text)


def dossier_supplement_requested(code: str, procedure_name: str, reason: str,
                                 missing_document_codes: list[str], at_reception: bool = False) -> Notice:
    text = (f"{_dossier(code, procedure_name)} cần bổ sung, hoàn thiện. "
            f"Lý do: {_required(reason, 'reason')}.")
    if missing_document_codes:
        text += f" Giấy tờ cần bổ sung: {', '.join(missing_document_codes)}."
    if at_reception:
        text += (" Hồ sơ chưa được tiếp nhận; Bộ phận Một cửa hướng dẫn một lần, đầy đủ các nội dung cần bổ sung "
                 "(Mẫu số 02).")
    else:
        text += " Thời hạn giải quyết tạm dừng cho đến khi Ông/Bà bổ sung đủ hồ sơ."
    return Notice(Template.DOSSIER_SUPPLEMENT_REQUESTED, code, f"Hồ sơ {code} cần bổ sung", text)


def dossier_transferred(code: str, procedure_name: str, to_agency: str) -> Notice:
    text = (f"{_dossier(code, procedure_name)} đã được chuyển liên thông đến cơ quan {_required(to_agency, 'to')} "
            "để tiếp tục giải quyết. Mã hồ sơ và ngày hẹn trả kết quả không thay đổi.")
    return Notice(Template.DOSSIER_TRANSFERRED, code, f"Hồ sơ {code} được chuyển liên thông", text)


def dossier_rejected(code: str, procedure_name: str, reason: str, paid_online: bool,
                     at_reception: bool = False) -> Notice:
    verdict = "bị từ chối tiếp nhận (Mẫu số 03)" if at_reception else "không đủ điều kiện giải quyết"
    text = (f"{_dossier(code, procedure_name)} {verdict}. "
            f"Lý do: {_required(reason, 'reason')}.")
    if paid_online:
        text += " Nếu Ông/Bà đã nộp phí, lệ phí trực tuyến, khoản tiền này sẽ được hoàn trả."
    return Notice(Template.DOSSIER_REJECTED, code, f"Hồ sơ {code} không được giải quyết", text)


def dossier_result_issued(code: str, procedure_name: str, result_document_number: str,
                          delivery: ResultDelivery) -> Notice:
    text = f"{_dossier(code, procedure_name)} đã có kết quả giải quyết"
    text += f" (số {result_document_number.strip()})." if result_document_number.strip() else "."
    if delivery is ResultDelivery.POST:
        text += " Kết quả sẽ được gửi đến Ông/Bà qua dịch vụ bưu chính công ích."
    else:
        text += " Mời Ông/Bà đến Trung tâm Phục vụ hành chính công để nhận kết quả."
    return Notice(Template.DOSSIER_RESULT_ISSUED, code, f"Đã có kết quả giải quyết hồ sơ {code}", text)


def dossier_apology_issued(code: str, procedure_name: str, reason: str, previous_due_date: str,
                           new_due_date: str, letter_number: str) -> Notice:
    """Mẫu 04 told on the applicant's channels: the reason and the new appointment."""
    text = (f"{_dossier(code, procedure_name)} chưa giải quyết kịp ngày hẹn "
            f"{format_date(previous_due_date, 'previous_due_date')}. Lý do: {_required(reason, 'reason')}. "
            f"Cơ quan giải quyết xin lỗi Ông/Bà và hẹn lại ngày trả kết quả: "
            f"{format_date(new_due_date, 'new_due_date')}")
    text += f" (Phiếu xin lỗi số {letter_number.strip()})." if letter_number.strip() else "."
    return Notice(Template.DOSSIER_APOLOGY_ISSUED, code, f"Xin lỗi và hẹn lại ngày trả kết quả hồ sơ {code}", text)


def dossier_returned_to_desk(code: str, procedure_name: str, reason: str) -> Notice:
    text = f"{_dossier(code, procedure_name)}: bưu chính không giao được kết quả"
    text += f" ({reason.strip()})." if reason.strip() else "."
    text += (" Kết quả đã được chuyển về Bộ phận Tiếp nhận và Trả kết quả; mời Ông/Bà đến nhận, "
             "mang theo giấy tờ tùy thân.")
    return Notice(Template.DOSSIER_RETURNED_TO_DESK, code, f"Mời nhận kết quả hồ sơ {code} tại Bộ phận Một cửa",
                  text)


def dossier_completed(code: str, procedure_name: str, late: bool, due_date: str) -> Notice:
    text = f"{_dossier(code, procedure_name)} đã hoàn thành."
    if late:
        # Late dossiers owe the citizen an apology (Decision 766/QĐ-TTg scores timeliness).
        due = f" so với ngày hẹn {format_date(due_date, 'due_date')}" if due_date else ""
        text += (f" Hồ sơ được giải quyết trễ hạn{due}; "
                 "Trung tâm thành thật xin lỗi Ông/Bà vì sự chậm trễ này.")
    text += " Cảm ơn Ông/Bà đã sử dụng dịch vụ công."
    return Notice(Template.DOSSIER_COMPLETED, code, f"Hồ sơ {code} đã hoàn thành", text)


def bill_issued(code: str, amount_vnd: int, bill_id: str) -> Notice:
    text = (f"Hồ sơ {_required(code, 'dossier_code')}: phí, lệ phí phải nộp là "
            f"{format_vnd(amount_vnd)}. Vui lòng thanh toán trực tuyến trên Cổng dịch vụ công "
            f"(mã thanh toán {_required(bill_id, 'bill_id')}).")
    return Notice(Template.BILL_ISSUED, code, f"Thông báo phí, lệ phí hồ sơ {code}", text)


def payment_settled(code: str, amount_vnd: int, intermediary: str, transaction_id: str) -> Notice:
    text = f"Đã nhận {format_vnd(amount_vnd)} phí, lệ phí cho hồ sơ {_required(code, 'dossier_code')}"
    if intermediary.strip():
        text += f" qua {intermediary.strip()}"
    if transaction_id.strip():
        text += f" (mã giao dịch {transaction_id.strip()})"
    text += "."
    return Notice(Template.PAYMENT_SETTLED, code, f"Đã nhận thanh toán hồ sơ {code}", text)


# Why the money went back, said to the citizen (keys: egov.payments.v1.RefundReason values).
REFUND_REASONS = {
    "REFUND_REASON_BILL_CLOSED": "vì khoản thanh toán đến sau khi hồ sơ đã đóng, không còn phải nộp phí",
    "REFUND_REASON_AMOUNT_MISMATCH": "vì số tiền đã trừ không khớp với số phải nộp; "
                                     "vui lòng thanh toán lại đúng số tiền của hóa đơn",
    "REFUND_REASON_SUPERSEDED": "vì giao dịch này đã được thay bằng một giao dịch thanh toán khác",
}


def payment_refunded(code: str, amount_vnd: int, refund_id: str, reason: str = "") -> Notice:
    text = (f"Số tiền {format_vnd(amount_vnd)} đã nộp cho hồ sơ {_required(code, 'dossier_code')} "
            "đã được hoàn trả")
    if reason in REFUND_REASONS:
        text += f" {REFUND_REASONS[reason]}"
    text += f" (mã hoàn tiền {refund_id.strip()})." if refund_id.strip() else "."
    return Notice(Template.PAYMENT_REFUNDED, code, f"Hoàn trả phí, lệ phí hồ sơ {code}", text)


def shipment_created(code: str, tracking_number: str) -> Notice:
    text = (f"Kết quả hồ sơ {_required(code, 'dossier_code')} đã được giao cho bưu điện chuyển phát. "
            f"Số hiệu bưu gửi: {_required(tracking_number, 'tracking_number')}.")
    return Notice(Template.SHIPMENT_CREATED, code, f"Kết quả hồ sơ {code} đang được chuyển phát", text)


def shipment_delivered(code: str, tracking_number: str, delivered_at: str) -> Notice:
    text = (f"Bưu gửi {_required(tracking_number, 'tracking_number')} chứa kết quả hồ sơ "
            f"{_required(code, 'dossier_code')} đã được phát thành công")
    text += f" ngày {format_date(delivered_at, 'delivered_at')}." if delivered_at else "."
    return Notice(Template.SHIPMENT_DELIVERED, code, f"Đã phát kết quả hồ sơ {code}", text)
