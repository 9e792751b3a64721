"""A wave's pick list (拣货单) as a PDF: one table in walk order, bin by bin.

The glyphs come from the WenQuanYi font billing ships (Latin and CJK in one face), embedded as
a subset, so SKU codes, merchant names and the headings print and extract back as written.
"""

from __future__ import annotations

from fpdf import FPDF

from daiyun.billing.pdf import FONT, FONT_FILE
from daiyun.platform.fulfillment.schemas import WaveDetail

# Column widths (mm) of an A4 portrait page with 12 mm margins: 186 mm in all.
WIDTHS = (34, 50, 18, 40, 44)
HEADINGS = ("库位 Bin", "SKU", "数量 Qty", "包裹 Parcel", "货主 Merchant")


class _Document(FPDF):
    def __init__(self, number: str) -> None:
        super().__init__(format="A4")
        self.number = number
        self.add_font(FONT, "", str(FONT_FILE))
        self.set_margins(12, 12, 12)
        self.set_auto_page_break(auto=True, margin=15)

    def footer(self) -> None:
        self.set_y(-10)
        self.set_font(FONT, "", 8)
        self.cell(0, 5, f"{self.number}    {self.page_no()}/{{nb}}", align="C")


def _row(pdf: FPDF, cells: tuple[str, ...], fill: bool = False) -> None:
    for width, text in zip(WIDTHS, cells, strict=True):
        pdf.cell(width, 7, text, border=1, fill=fill)
    pdf.ln(7)


def pick_list_pdf(wave: WaveDetail, warehouse_name: str) -> bytes:
    """The wave's pick list: heading, then one row per bin, SKU and parcel in walk order."""
    pdf = _Document(wave.number)
    pdf.set_title(f"拣货单 {wave.number}")
    pdf.add_page()
    pdf.set_font(FONT, "", 16)
    pdf.cell(0, 9, f"拣货单 Pick list  {wave.number}", new_x="LMARGIN", new_y="NEXT")
    pdf.set_font(FONT, "", 10)
    units = sum(p.quantity for p in wave.pick_list)
    pdf.cell(
        0,
        6,
        f"仓库 Warehouse: {warehouse_name}    包裹 Parcels: {len(wave.fulfillment_order_ids)}"
        f"    件数 Units: {units}",
        new_x="LMARGIN",
        new_y="NEXT",
    )
    pdf.ln(2)
    pdf.set_fill_color(234, 239, 244)
    _row(pdf, HEADINGS, fill=True)
    for line in wave.pick_list:
        _row(
            pdf,
            (line.location or "-", line.sku, str(line.quantity), line.fo_number, line.merchant),
        )
    return bytes(pdf.output())
