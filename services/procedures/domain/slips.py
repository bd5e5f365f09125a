"""What each slip says (Circular 01/2018/TT-VPCP, Mẫu 01 to 03), from the dossier's record: the
wording the desk hands over, as lines; an adapter lays them out as a PDF with the dossier code's QR."""

from dataclasses import dataclass
from datetime import datetime

from services.common.errors import NotFound
from services.procedures.domain.application import VIETNAM_TIME
from services.procedures.domain.dossier import Dossier, Slip, SlipForm

TITLES = {
    SlipForm.RECEIPT: "GIẤY TIẾP NHẬN HỒ SƠ VÀ HẸN TRẢ KẾT QUẢ",
    SlipForm.SUPPLEMENT: "PHIẾU YÊU CẦU BỔ SUNG, HOÀN THIỆN HỒ SƠ",
    SlipForm.REFUSAL: "PHIẾU TỪ CHỐI TIẾP NHẬN GIẢI QUYẾT HỒ SƠ",
    SlipForm.APOLOGY: "PHIẾU XIN LỖI VÀ HẸN LẠI NGÀY TRẢ KẾT QUẢ",
}
FORM_NUMBERS = {SlipForm.RECEIPT: "Mẫu số 01", SlipForm.SUPPLEMENT: "Mẫu số 02", SlipForm.REFUSAL: "Mẫu số 03",
                SlipForm.APOLOGY: "Mẫu số 04"}


@dataclass(frozen=True)
class SlipText:
    form_number: str
    issuer: str          # the receiving unit, as the header names it
    title: str
    code: str            # printed and encoded in the QR
    lines: tuple[str, ...]
    place_and_date: str
    signer: str


def _when(moment: datetime) -> str:
    local = moment.astimezone(VIETNAM_TIME)
    return f"{local:%H} giờ {local:%M} phút, ngày {local:%d} tháng {local:%m} năm {local:%Y}"


def slip_text(dossier: Dossier, form: SlipForm, receiving_unit_name: str) -> SlipText:
    slip = next((s for s in reversed(dossier.slips) if s.form is form), None)
    if slip is None:
        raise NotFound("form", f"dossier {dossier.code} has no {FORM_NUMBERS[form]} slip")
    a = dossier.applicant
    lines = [f"{receiving_unit_name} tiếp nhận hồ sơ của: {a.full_name}",
             f"Số định danh / hộ chiếu / mã doanh nghiệp: {a.id_number}"]
    if dossier.proxy is not None:
        lines.append(f"Người nộp thay: {dossier.proxy.full_name} (ủy quyền số "
                     f"{dossier.proxy.authorisation.number if dossier.proxy.authorisation else ''})")
    lines += [f"Nội dung yêu cầu giải quyết: {dossier.procedure_name} (mã thủ tục {dossier.procedure_code})",
              f"Mã hồ sơ: {dossier.code}"]
    lines += list(_body(dossier, slip))
    local = slip.issued_at.astimezone(VIETNAM_TIME)
    signer = (f"Lãnh đạo cơ quan giải quyết: {slip.issued_by}" if form is SlipForm.APOLOGY
              else f"Người tiếp nhận: {slip.issued_by}")
    return SlipText(FORM_NUMBERS[form], receiving_unit_name.upper(), TITLES[form], dossier.code, tuple(lines),
                    f"Ngày {local:%d} tháng {local:%m} năm {local:%Y}", signer)


def _body(dossier: Dossier, slip: Slip) -> list[str]:
    if slip.form is SlipForm.RECEIPT:
        docs = [f"  {i}. {d.document_code} - {d.file_name}" for i, d in enumerate(dossier.documents, 1)]
        fee = f"{dossier.fee_vnd:,} đồng".replace(",", ".")
        return ["Thành phần hồ sơ:", *docs,
                f"Thời gian giải quyết theo quy định: {dossier.deadline.describe()}",
                f"Thời gian nhận hồ sơ: {_when(slip.issued_at)}",
                f"Thời gian trả kết quả: ngày {slip.due_date:%d/%m/%Y}" if slip.due_date else "",
                f"Phí, lệ phí: {fee}" + (f" (đối tượng: {dossier.fee_category})" if dossier.fee_category else ""),
                "Đăng ký nhận kết quả tại: " + ("bưu chính" if dossier.delivery.method.value.endswith("POST")
                                                else "Bộ phận tiếp nhận và trả kết quả")]
    if slip.form is SlipForm.SUPPLEMENT:
        return ["Yêu cầu bổ sung, hoàn thiện hồ sơ gồm những nội dung sau:",
                *(f"  {i}. {item}" for i, item in enumerate(slip.items, 1)),
                "Hồ sơ được hướng dẫn bổ sung một lần, đầy đủ; xin lỗi ông/bà vì sự bất tiện này."]
    if slip.form is SlipForm.APOLOGY:
        apology = next((a for a in dossier.apologies if a.at == slip.issued_at), None)
        previous = apology.previous_due_date if apology else None
        return [f"Ngày hẹn trả kết quả: {previous:%d/%m/%Y}" if previous else "",
                f"Cơ quan giải quyết: {apology.agency_code}" if apology else "",
                "Hồ sơ chưa giải quyết kịp theo thời hạn đã hẹn vì lý do:",
                *(f"  {item}" for item in slip.items),
                f"Xin lỗi ông/bà và hẹn lại ngày trả kết quả: ngày {slip.due_date:%d/%m/%Y}" if slip.due_date else "",
                "Số phiếu: " + (apology.letter_number if apology else ""),
                "Rất mong ông/bà thông cảm."]
    return ["Hồ sơ không đủ điều kiện tiếp nhận, giải quyết vì lý do sau:",
            *(f"  {i}. {item}" for i, item in enumerate(slip.items, 1)),
            "Xin thông báo để ông/bà được biết."]
