"""Pure rules of exchange rates: reading a rate, reading a CSV of rates, inverting a pair."""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from datetime import date
from decimal import Decimal, InvalidOperation, localcontext

# A rate outside these bounds is a typo (or the pair the wrong way round), never a market rate:
# 1 KWD is about 3.25 USD and 1 USD about 0.000024 VND... per one unit of the base, the widest
# real pairs stay within 10^-6 .. 10^6.
MIN_RATE = Decimal("0.000001")
MAX_RATE = Decimal("1000000")
MAX_DIGITS = 18
CSV_COLUMNS = ("day", "base", "quote", "rate")
MAX_CSV_ROWS = 100_000


class RateError(ValueError):
    """A rate, or a line of a rates file, that cannot be recorded (the message says why)."""


@dataclass(frozen=True)
class Quote:
    """One unit of ``base`` was ``rate`` units of ``quote`` on ``day`` (by ``source``)."""

    base: str
    quote: str
    day: date
    rate: Decimal
    source: str


def currency(text: str) -> str:
    code = text.strip().upper()
    if len(code) != 3 or not code.isascii() or not code.isalpha():
        raise RateError(f"{text!r} is not an ISO 4217 currency code")
    return code


def rate(value: str | Decimal) -> Decimal:
    """A rate as an exact, canonical Decimal, refused when it is not a plausible rate."""
    try:
        number = Decimal(str(value).strip())
    except InvalidOperation as exc:
        raise RateError(f"{value!r} is not a number") from exc
    if not number.is_finite() or not MIN_RATE <= number <= MAX_RATE:
        raise RateError(f"a rate lies between {MIN_RATE} and {MAX_RATE}, not {value}")
    if len(number.as_tuple().digits) > MAX_DIGITS:
        raise RateError(f"a rate has at most {MAX_DIGITS} significant digits")
    return normalized(number)


def normalized(number: Decimal) -> Decimal:
    """``1.2300`` as ``1.23`` and ``7E+1`` as ``70``: the text a rate is stored and shown as."""
    reduced = number.normalize()
    return reduced.quantize(Decimal(1)) if reduced == reduced.to_integral() else reduced


def text(number: Decimal) -> str:
    return format(normalized(number), "f")


def parse_csv(content: str, source: str) -> list[Quote]:
    """``day,base,quote,rate`` lines (a header line first) as quotes; any bad line refuses the
    whole file, naming its line number, so a file is recorded whole or not at all."""
    reader = csv.reader(io.StringIO(content))
    header = [cell.strip().lower() for cell in next(reader, [])]
    if tuple(header[:4]) != CSV_COLUMNS:
        raise RateError(f"the first line names the columns {','.join(CSV_COLUMNS)}")
    quotes: list[Quote] = []
    seen: set[tuple[str, str, date]] = set()
    for number, row in enumerate(reader, start=2):
        if not any(cell.strip() for cell in row):
            continue
        if len(quotes) >= MAX_CSV_ROWS:
            raise RateError(f"a file holds at most {MAX_CSV_ROWS} rates")
        try:
            day = date.fromisoformat(row[0].strip())
            quote = Quote(currency(row[1]), currency(row[2]), day, rate(row[3]), source)
        except (IndexError, ValueError) as exc:
            raise RateError(f"line {number}: {exc}") from exc
        key = (quote.base, quote.quote, quote.day)
        if quote.base == quote.quote:
            raise RateError(f"line {number}: a rate converts between two currencies")
        if key in seen:
            raise RateError(f"line {number}: {quote.base}/{quote.quote} on {day} twice")
        seen.add(key)
        quotes.append(quote)
    return quotes


def inverted(found: Quote) -> Quote:
    """The same rate read the other way (CNY per USD from USD per CNY), to 12 significant
    digits: enough that converting a statement's largest amount back is off by far less than a
    minor unit."""
    with localcontext() as context:
        context.prec = 12
        value = Decimal(1) / found.rate
    return Quote(found.quote, found.base, found.day, normalized(value), found.source)
