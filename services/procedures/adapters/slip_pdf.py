"""Slips as PDFs: reportlab lays out the text in DejaVu Sans (full Vietnamese coverage; Debian's
fonts-dejavu-core, installed by deploy/local/ensure-slip-tools.sh; the image needs the same package)
and embeds the dossier code as a QR image."""

import io
import threading
from pathlib import Path

import qrcode
from reportlab.lib.pagesizes import A4
from reportlab.lib.units import mm
from reportlab.lib.utils import ImageReader, simpleSplit
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.ttfonts import TTFont
from reportlab.pdfgen import canvas

from services.procedures.domain.slips import SlipText

FONT_DIR = Path("/usr/share/fonts/truetype/dejavu")
_REGISTERED = threading.Lock()
_FONTS = ("DejaVuSans", "DejaVuSans-Bold")


def _register_fonts() -> None:
    with _REGISTERED:
        if _FONTS[0] in pdfmetrics.getRegisteredFontNames():
            return
        for name in _FONTS:
            path = FONT_DIR / f"{name}.ttf"
            if not path.exists():
                raise RuntimeError(f"slip font {path} is missing: install fonts-dejavu-core "
                                   "(deploy/local/ensure-slip-tools.sh)")
            pdfmetrics.registerFont(TTFont(name, str(path)))


def _qr_png(text: str) -> bytes:
    image = qrcode.make(text, box_size=8, border=2)
    out = io.BytesIO()
    image.save(out, format="PNG")
    return out.getvalue()


def render_slip(slip: SlipText) -> bytes:
    _register_fonts()
    out = io.BytesIO()
    page = canvas.Canvas(out, pagesize=A4, invariant=True)
    page.setTitle(f"{slip.title} - {slip.code}")
    width, height = A4
    page.setFont("DejaVuSans", 9)
    page.drawRightString(width - 20 * mm, height - 15 * mm, slip.form_number)
    # The issuer on the left, the national motto on the right, as the forms set them out.
    issuer = simpleSplit(slip.issuer, "DejaVuSans-Bold", 9, 80 * mm)
    page.setFont("DejaVuSans-Bold", 9)
    for i, line in enumerate(issuer):
        page.drawCentredString(60 * mm, height - (25 + 4.5 * i) * mm, line)
    page.drawCentredString(width - 60 * mm, height - 25 * mm, "CỘNG HÒA XÃ HỘI CHỦ NGHĨA VIỆT NAM")
    page.setFont("DejaVuSans", 9.5)
    page.drawCentredString(width - 60 * mm, height - 29.5 * mm, "Độc lập - Tự do - Hạnh phúc")
    page.drawString(20 * mm, height - (27 + 4.5 * len(issuer)) * mm, f"Mã hồ sơ: {slip.code}")
    page.drawImage(ImageReader(io.BytesIO(_qr_png(slip.code))), 20 * mm, height - 68 * mm, 32 * mm, 32 * mm)
    page.setFont("DejaVuSans-Bold", 13)
    page.drawCentredString(width / 2, height - 80 * mm, slip.title)
    page.setFont("DejaVuSans", 10.5)
    y = height - 92 * mm
    for line in slip.lines:
        for piece in _wrap(line, 88):
            if y < 30 * mm:
                page.showPage()
                page.setFont("DejaVuSans", 10.5)
                y = height - 20 * mm
            page.drawString(20 * mm, y, piece)
            y -= 6 * mm
    page.drawRightString(width - 20 * mm, y - 6 * mm, slip.place_and_date)
    page.setFont("DejaVuSans-Bold", 10.5)
    page.drawRightString(width - 20 * mm, y - 12 * mm, slip.signer)
    page.save()
    return out.getvalue()


def _wrap(line: str, limit: int) -> list[str]:
    if not line:
        return []
    words, pieces, current = line.split(" "), [], ""
    for word in words:
        if current and len(current) + 1 + len(word) > limit:
            pieces.append(current)
            current = "    " + word
        else:
            current = f"{current} {word}" if current else word
    return [*pieces, current]
