"""A statement as CSV (the PDF is ``daiyun.billing.pdf``)."""

from __future__ import annotations

import io

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
