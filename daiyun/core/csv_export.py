"""CSV files that a spreadsheet opens safely: every CSV the project writes goes through here.

A spreadsheet program reads a cell that starts with ``=``, ``+``, ``-`` or ``@`` (and, in some
of them, a leading tab or carriage return) as a formula, so a buyer named
``=cmd|' /C calc'!A0`` would run something on the machine of whoever opens the export
(CSV or formula injection, OWASP). The writer here prefixes such a cell with a single quote,
as OWASP recommends: the spreadsheet then shows the text as it was typed, and the quote is
visible to a program reading the raw file, which is the price of the protection. An import of a
file the project exported takes it off again (:func:`restore`).

What is neutralized is decided by the cell's type, not by its look:

* ``int``, ``Decimal`` and ``float`` values (not ``bool``) are numbers the project computed
  itself, amounts and counts: they are written as they are, so ``-12.50`` stays a number a
  spreadsheet can sum. A number cannot carry a formula.
* Everything else is text and is neutralized when it starts with a dangerous character, even
  when it looks like a number: a buyer named ``-12.50`` is text typed by someone outside, and a
  string never reaches the file unchecked. A figure the project stores as text (a statement
  line's quantity or rate) is turned back into a number with :func:`number` first.
"""

from __future__ import annotations

import csv
import math
from collections.abc import Iterable
from decimal import Decimal, InvalidOperation
from typing import Any, Protocol

# OWASP's list: the four formula prefixes, tab (0x09) and carriage return (0x0D).
DANGEROUS = ("=", "+", "-", "@", "\t", "\r")


class _Writable(Protocol):
    def write(self, text: str, /) -> Any: ...


def neutralize(text: str) -> str:
    """``text`` with a single quote in front when a spreadsheet would read it as a formula, or
    when it already looks neutralized (``'=x`` typed as such), so :func:`restore` gives back
    exactly what was written."""
    return "'" + text if text.startswith(DANGEROUS) or _quoted(text) else text


def _quoted(text: str) -> bool:
    """Quotes, then a dangerous character: what :func:`neutralize` writes."""
    return text.startswith("'") and text.lstrip("'").startswith(DANGEROUS)


def restore(text: str) -> str:
    """A cell read back from a file this project wrote: the neutralizing quote taken off again,
    so an export imported as it is changes nothing. Only a quote in front of a dangerous
    character is one of ours; any other leading quote is the text's own."""
    return text[1:] if _quoted(text) else text


def cell(value: object) -> object:
    """A value as it goes into the file: finite numbers as they are, None empty, the rest as
    neutralized text."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return neutralize(str(value))
    if isinstance(value, int):
        return value
    # NaN and infinities are no amounts the project writes: they go out as text, checked.
    if isinstance(value, Decimal) and value.is_finite():
        return value
    if isinstance(value, float) and math.isfinite(value):
        return value
    return neutralize(str(value))


def number(text: str | None) -> Decimal | str:
    """A decimal stored as text (``"-1.5"``) back as a number; anything else stays text (and is
    then neutralized like any text)."""
    if text is None or text == "":
        return ""
    try:
        value = Decimal(text)
    except InvalidOperation:
        return text
    return value if value.is_finite() else text


class SafeWriter:
    """``csv.writer`` whose every cell passes through :func:`cell`."""

    def __init__(self, out: _Writable, **fmtparams: Any) -> None:
        self._writer = csv.writer(out, **fmtparams)

    def writerow(self, row: Iterable[object]) -> Any:
        return self._writer.writerow([cell(value) for value in row])

    def writerows(self, rows: Iterable[Iterable[object]]) -> None:
        for row in rows:
            self.writerow(row)


def writer(out: _Writable, **fmtparams: Any) -> SafeWriter:
    """The one CSV writer of the project (see the module's docstring)."""
    return SafeWriter(out, **fmtparams)
