"""A statement as CSV and as PDF (pure Python: fpdf2, no system libraries)."""

from __future__ import annotations

import io

from fpdf import FPDF

from daiyun.billing.models import Statement
from daiyun.core import csv_export
from daiyun.core.money import to_major

CSV_HEADER = (
    "position",
    "kind",
    "description",
    "basis",
    "quantity",
    "rate",
    "amount",
    "currency",
    "adjusts_period",
    "sources",
)


def to_csv(statement: Statement) -> str:
    """One row per line, amounts in major units, then a total row.

    Descriptions are staff-written text: the writer neutralizes formula-like cells. Quantity
    and rate are numbers stored as text, written back as numbers."""
    out = io.StringIO()
    writer = csv_export.writer(out)
    writer.writerow(CSV_HEADER)
    currency = statement.currency
    for line in statement.lines:
        writer.writerow(
            (
                line.position,
                line.kind,
                line.description,
                to_major(line.basis_minor, currency),
                csv_export.number(line.quantity),
                csv_export.number(line.rate),
                to_major(line.amount_minor, currency),
                currency,
                line.adjusts_period or "",
                " ".join(line.sources),
            )
        )
    writer.writerow(
        ("", "total", "", "", "", "", to_major(statement.total_minor, currency), currency, "", "")
    )
    return out.getvalue()


def _latin(text: str) -> str:
    # The PDF core fonts cover Latin-1 only: other characters (Chinese included) print as "?".
    return text.encode("latin-1", "replace").decode("latin-1")


def to_pdf(statement: Statement, tenant_name: str) -> bytes:
    """A one-page-per-40-lines statement: header, lines with amounts, total."""
    pdf = FPDF(format="A4")
    pdf.set_auto_page_break(auto=True, margin=15)
    pdf.add_page()
    pdf.set_font("Helvetica", "B", 14)
    pdf.cell(
        0, 8, _latin(f"Statement {statement.period} - {tenant_name}"), new_x="LMARGIN", new_y="NEXT"
    )
    pdf.set_font("Helvetica", "", 9)
    status = f"Status: {statement.status.value}   Payment: {statement.payment_state.value}"
    pdf.cell(0, 6, status, new_x="LMARGIN", new_y="NEXT")
    pdf.ln(2)
    widths = (110, 25, 20, 30)
    pdf.set_font("Helvetica", "B", 9)
    for width, title in zip(widths, ("Description", "Basis", "Rate", "Amount"), strict=True):
        pdf.cell(width, 6, title, border="B")
    pdf.ln()
    pdf.set_font("Helvetica", "", 9)
    currency = statement.currency
    for line in statement.lines:
        description = line.description + (
            f" (adjusts {line.adjusts_period})" if line.adjusts_period else ""
        )
        pdf.cell(widths[0], 6, _latin(description[:70]))
        pdf.cell(
            widths[1],
            6,
            str(to_major(line.basis_minor, currency)) if line.basis_minor else "",
            align="R",
        )
        pdf.cell(widths[2], 6, line.rate or "", align="R")
        pdf.cell(widths[3], 6, str(to_major(line.amount_minor, currency)), align="R")
        pdf.ln()
    pdf.set_font("Helvetica", "B", 10)
    pdf.cell(sum(widths[:3]), 8, f"Total ({currency})", border="T")
    pdf.cell(widths[3], 8, str(to_major(statement.total_minor, currency)), border="T", align="R")
    return bytes(pdf.output())
