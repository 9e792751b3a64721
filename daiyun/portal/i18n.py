"""Languages of the portal: Babel catalogs, locale negotiation, and locale-aware formatting.

Messages are marked in templates and views with ``_("...")`` and translated from the ``.po``
catalogs under ``locale/`` (English is the source language and needs no catalog). Money, numbers,
percentages and dates are formatted by Babel for the page's locale, dates in the tenant's time zone.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from functools import cache
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from babel import Locale, UnknownLocaleError
from babel.dates import format_date, format_datetime
from babel.messages.pofile import read_po
from babel.numbers import format_currency, format_decimal, format_percent, get_currency_precision

LOCALES = ("en", "zh_CN")
DEFAULT_LOCALE = "en"
LOCALE_NAMES = {"en": "English", "zh_CN": "简体中文"}
CATALOG_DIR = Path(__file__).parent / "locale"


@cache
def catalog(locale: str) -> dict[str, str]:
    """The translated messages of ``locale`` (msgid -> msgstr), read once from its ``.po``."""
    path = CATALOG_DIR / locale / "LC_MESSAGES" / "messages.po"
    if not path.exists():
        return {}
    with path.open("rb") as handle:
        messages = read_po(handle, locale=locale)
    return {
        m.id: m.string
        for m in messages
        if isinstance(m.id, str) and m.id and isinstance(m.string, str) and m.string
    }


def supported(value: str | None) -> str | None:
    """``value`` as one of :data:`LOCALES` ("zh-cn", "zh_Hans_CN", "en-GB" included), or None."""
    if not value:
        return None
    try:
        parsed = Locale.parse(value.replace("-", "_"))
    except (ValueError, TypeError, UnknownLocaleError):
        return None
    if parsed.language == "zh":
        return "zh_CN"
    return "en" if parsed.language == "en" else None


def negotiate(accept_language: str | None) -> str:
    """The best supported locale for an ``Accept-Language`` header (RFC 9110 q-values)."""
    ranked: list[tuple[float, int, str]] = []
    for position, part in enumerate((accept_language or "").split(",")):
        tag, _, params = part.strip().partition(";")
        quality = 1.0
        if params.strip().startswith("q="):
            try:
                quality = float(params.strip()[2:])
            except ValueError:
                quality = 0.0
        ranked.append((-quality, position, tag.strip()))
    for negative_quality, _, tag in sorted(ranked):
        found = supported(tag)
        if found and negative_quality < 0:
            return found
    return DEFAULT_LOCALE


@dataclass(frozen=True)
class Formatter:
    """Translation and formatting for one page: the reader's locale, the tenant's time zone."""

    locale: str
    time_zone: str = "UTC"

    def gettext(self, message: str, **values: Any) -> str:
        text = catalog(self.locale).get(message, message)
        return text % values if values else text

    def money(self, minor: int | None, currency: str) -> str:
        """Integer minor units as a currency amount, e.g. 1234500 CNY -> ¥12,345.00."""
        if minor is None:
            return "-"
        amount = Decimal(minor).scaleb(-get_currency_precision(currency))
        return format_currency(amount, currency, locale=self.locale)

    def number(self, value: int | float | Decimal | None, digits: int = 0) -> str:
        if value is None:
            return "-"
        pattern = "#,##0" + ("." + "0" * digits if digits else "")
        return format_decimal(value, format=pattern, locale=self.locale)

    def percent(self, value: float | Decimal | None, digits: int = 1) -> str:
        if value is None:
            return "-"
        pattern = "0" + ("." + "0" * digits if digits else "") + "%"
        return format_percent(value, format=pattern, locale=self.locale)

    def datetime(self, value: datetime | None) -> str:
        if value is None:
            return "-"
        local = value.astimezone(ZoneInfo(self.time_zone))
        return format_datetime(local, "medium", locale=self.locale)

    def date(self, value: date | None) -> str:
        return "-" if value is None else format_date(value, "medium", locale=self.locale)
