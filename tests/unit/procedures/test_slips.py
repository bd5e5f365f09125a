"""Slips as real PDFs: the Vietnamese text comes back out of the file as it went in (pypdf), and the
QR code on it decodes to the dossier code (pyzbar over libzbar0)."""

import io
import unicodedata
from datetime import date

import pytest
from PIL import Image
from pypdf import PdfReader
from pyzbar.pyzbar import decode

from services.common.errors import NotFound
from services.procedures.adapters.slip_pdf import render_slip
from services.procedures.domain.dossier import Dossier, SlipForm
from services.procedures.domain.slips import slip_text
from tests.unit.procedures.factories import desk_application, document, entry, proxy, submitted, vn

MONDAY = date(2026, 12, 7)
DESK = "Trung tâm Phục vụ hành chính công thành phố Huế"


def read(pdf: bytes) -> tuple[str, list[str]]:
    page = PdfReader(io.BytesIO(pdf)).pages[0]
    text = unicodedata.normalize("NFC", page.extract_text())
    codes = []
    for image in page.images:
        codes += [symbol.data.decode() for symbol in decode(Image.open(io.BytesIO(image.data)))]
    return text, codes


def accepted() -> Dossier:
    dossier = submitted(vn(MONDAY, 14, 30), app=desk_application(fee_category="student", proxy=proxy()))
    dossier.accept(vn(MONDAY, 14, 35), "civil_servant:cb-tn-01")
    return dossier


def test_the_receipt_and_appointment_slip_mau_01() -> None:
    dossier = accepted()
    text, codes = read(render_slip(slip_text(dossier, SlipForm.RECEIPT, DESK)))
    assert codes == [dossier.code]
    for expected in ("GIẤY TIẾP NHẬN HỒ SƠ VÀ HẸN TRẢ KẾT QUẢ", "Mẫu số 01", f"Mã hồ sơ: {dossier.code}",
                     "Nguyễn Văn An", "Người nộp thay: Trần Thị Bình (ủy quyền số 15/2026/UQ)",
                     "Cấp Phiếu lý lịch tư pháp", "10 ngày làm việc", "ngày 21/12/2026",
                     "Phí, lệ phí: 100.000 đồng (đối tượng: student)", "14 giờ 35 phút, ngày 07 tháng 12 năm 2026",
                     "CỘNG HÒA XÃ HỘI CHỦ NGHĨA VIỆT NAM"):
        assert expected in text


def test_the_supplement_slip_mau_02_lists_everything_missing() -> None:
    dossier = submitted(vn(MONDAY), app=desk_application(documents=(document("TK01"), document("CCCD"))))
    dossier.return_for_supplement(entry().procedure, ("GUQ",), "Nộp bản chính để đối chiếu", vn(MONDAY), "cb")
    text, codes = read(render_slip(slip_text(dossier, SlipForm.SUPPLEMENT, DESK)))
    assert codes == [dossier.code]
    for expected in ("PHIẾU YÊU CẦU BỔ SUNG, HOÀN THIỆN HỒ SƠ", "1. GUQ: Văn bản ủy quyền",
                     "2. Nộp bản chính để đối chiếu"):
        assert expected in text


def test_the_refusal_slip_mau_03_gives_the_reasons() -> None:
    dossier = submitted(vn(MONDAY))
    dossier.reject("Không thuộc thẩm quyền giải quyết\nGiấy tờ đã hết hiệu lực", vn(MONDAY), "cb")
    text, codes = read(render_slip(slip_text(dossier, SlipForm.REFUSAL, DESK)))
    assert codes == [dossier.code]
    for expected in ("PHIẾU TỪ CHỐI TIẾP NHẬN GIẢI QUYẾT HỒ SƠ", "1. Không thuộc thẩm quyền giải quyết",
                     "2. Giấy tờ đã hết hiệu lực"):
        assert expected in text


def test_a_slip_never_issued_is_not_found() -> None:
    with pytest.raises(NotFound, match="no Mẫu số 03"):
        slip_text(accepted(), SlipForm.REFUSAL, DESK)
