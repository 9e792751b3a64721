"""The carrier label (电子面单) of a shipment: a 100 x 150 mm PDF page with the waybill barcode.

The layout follows what the Chinese e-waybill templates share (UNCONFIRMED: each carrier has its
own standard template with fixed boxes): the carrier and the sort code (三段码) big at the top,
the waybill number as a Code 128 barcode with the number under it, the recipient, the sender,
and the parcel's own reference and weight. The recipient's phone is printed masked (138****8000)
as the carriers' privacy waybills do. Glyphs come from the WenQuanYi font billing ships, so the
Chinese address prints and extracts back as written.
"""

from __future__ import annotations

from dataclasses import dataclass

from fpdf import FPDF

from daiyun.billing.pdf import FONT, FONT_FILE
from daiyun.platform.fulfillment import barcode

WIDTH, HEIGHT = 100.0, 150.0
MARGIN = 4.0
# The narrowest bar: 0.3 mm prints and scans at 203 dpi (the thermal printers' resolution).
MODULE_MM = 0.3
BARCODE_HEIGHT = 16.0


@dataclass(frozen=True)
class Party:
    name: str
    phone: str
    address: str


@dataclass(frozen=True)
class LabelData:
    carrier_name: str
    waybill_no: str
    sort_code: str
    destination: str
    recipient: Party
    sender: Party
    reference: str
    weight_grams: int
    items: int


def masked_phone(phone: str) -> str:
    """A phone number with its middle digits hidden, as privacy waybills print it (a mainland
    mobile's country code dropped: 138****5678)."""
    digits = "".join(c for c in phone if c.isdigit())
    if len(digits) == 13 and digits.startswith("86"):
        digits = digits[2:]
    if len(digits) < 7:
        return "*" * len(digits)
    return digits[:3] + "*" * (len(digits) - 7) + digits[-4:]


def draw_code128(pdf: FPDF, text: str, x: float, y: float, height: float) -> float:
    """Draw ``text`` as Code 128 bars from (x, y); returns the symbol's width in mm."""
    position = x
    for index, width in enumerate(barcode.widths(text)):
        if index % 2 == 0:  # bars at even positions, spaces between
            pdf.rect(position, y, width * MODULE_MM, height, style="F")
        position += width * MODULE_MM
    return position - x


def label_pdf(data: LabelData) -> bytes:
    """One label page, 100 x 150 mm."""
    pdf = FPDF(unit="mm", format=(WIDTH, HEIGHT))
    pdf.set_auto_page_break(auto=False)
    pdf.set_margins(MARGIN, MARGIN, MARGIN)
    pdf.add_font(FONT, "", str(FONT_FILE))
    pdf.set_title(f"{data.carrier_name} {data.waybill_no}")
    pdf.add_page()
    inner = WIDTH - 2 * MARGIN

    pdf.set_font(FONT, "", 14)
    pdf.cell(inner / 2, 8, data.carrier_name)
    pdf.set_font(FONT, "", 9)
    pdf.cell(inner / 2, 8, "电子面单 E-waybill", align="R", new_x="LMARGIN", new_y="NEXT")
    pdf.set_font(FONT, "", 24)
    pdf.cell(inner, 12, data.sort_code, align="C", border="TB", new_x="LMARGIN", new_y="NEXT")
    pdf.set_font(FONT, "", 10)
    pdf.cell(inner, 6, data.destination, align="C", new_x="LMARGIN", new_y="NEXT")

    top = pdf.get_y() + 2
    width = len(barcode.widths(data.waybill_no)) and sum(barcode.widths(data.waybill_no))
    left = MARGIN + max(0.0, (inner - width * MODULE_MM) / 2)
    draw_code128(pdf, data.waybill_no, left, top, BARCODE_HEIGHT)
    pdf.set_y(top + BARCODE_HEIGHT + 1)
    pdf.set_font(FONT, "", 12)
    pdf.cell(inner, 6, data.waybill_no, align="C", new_x="LMARGIN", new_y="NEXT")

    def party(title: str, who: Party, size: int) -> None:
        pdf.ln(2)
        pdf.set_font(FONT, "", 8)
        pdf.cell(inner, 4, title, new_x="LMARGIN", new_y="NEXT")
        pdf.set_font(FONT, "", size)
        pdf.cell(inner, 6, f"{who.name}  {masked_phone(who.phone)}", new_x="LMARGIN", new_y="NEXT")
        pdf.multi_cell(inner, 5, who.address, new_x="LMARGIN", new_y="NEXT")

    party("收件人 Recipient", data.recipient, 12)
    pdf.line(MARGIN, pdf.get_y() + 1, WIDTH - MARGIN, pdf.get_y() + 1)
    party("寄件人 Sender", data.sender, 9)
    pdf.set_y(HEIGHT - MARGIN - 14)
    pdf.line(MARGIN, pdf.get_y(), WIDTH - MARGIN, pdf.get_y())
    pdf.set_font(FONT, "", 9)
    pdf.cell(inner, 5, f"包裹 Parcel: {data.reference}", new_x="LMARGIN", new_y="NEXT")
    pdf.cell(
        inner,
        5,
        f"重量 Weight: {data.weight_grams / 1000:.2f} kg    件数 Items: {data.items}",
        new_x="LMARGIN",
        new_y="NEXT",
    )
    return bytes(pdf.output())
