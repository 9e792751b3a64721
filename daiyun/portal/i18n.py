"""Languages of the portal: Babel catalogs, locale negotiation, and locale-aware formatting.

Messages are marked in templates and views with ``_("...")`` and translated from the ``.po``
catalogs under ``locale/`` (English is the source language and needs no catalog). Money, numbers,
percentages and dates are formatted by Babel for the page's locale. A time is shown in the
reader's own time zone when they chose one, else in the tenant's (on the console: the tenant each
row belongs to), and always carries its offset ("UTC+8"), so one order reads the same everywhere.
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
from babel.dates import format_date, format_datetime, format_skeleton, get_day_names
from babel.messages.pofile import read_po
from babel.numbers import format_currency, format_decimal, format_percent, get_currency_precision

from daiyun.billing import pdf as billing_pdf
from daiyun.billing.engine import wording
from daiyun.billing.schemas import LineMessage
from daiyun.tenants.auth.schemas import READING_ZONES

LOCALES = ("en", "zh_CN")
DEFAULT_LOCALE = "en"
LOCALE_NAMES = {"en": "English", "zh_CN": "简体中文"}
# Time zones a reader may choose for themselves (the tenant's own is always the default): the
# account keeps the choice, so the list is the accounts' (and the API's schema lists the same).
TIME_ZONES = READING_ZONES


def N_(message: str) -> str:
    """Marks a message for translation where it is defined; it is translated where shown."""
    return message


# The one mapping of channel codes to the names users know; every page shows a channel by it.
CHANNEL_NAMES = {
    "taobao": N_("Taobao/Tmall"),
    "pinduoduo": N_("Pinduoduo"),
    "jd": N_("JD.com"),
    "douyin": N_("Douyin Shop"),
    "shopify": N_("Shopify"),
    "woocommerce": N_("WooCommerce"),
    "amazon": N_("Amazon"),
}
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


def offset_label(moment: datetime) -> str:
    """``UTC+8``, ``UTC-4:30``, ``UTC``: the offset of an aware moment, unambiguous in any
    language (abbreviations are not: CST is China's and Central America's)."""
    offset = moment.utcoffset()
    minutes = int(offset.total_seconds() // 60) if offset is not None else 0
    if minutes == 0:
        return "UTC"
    sign, minutes = ("+" if minutes > 0 else "-"), abs(minutes)
    hours, rest = divmod(minutes, 60)
    return f"UTC{sign}{hours}" + (f":{rest:02d}" if rest else "")


def known_zone(value: str | None) -> str | None:
    """``value`` if it is one of the zones a reader may choose, else None."""
    return value if value in TIME_ZONES else None


@dataclass(frozen=True)
class Formatter:
    """Translation and formatting for one page: the reader's locale, the tenant's time zone."""

    locale: str
    # The tenant's time zone: where its days begin and end (filters, months).
    time_zone: str = "UTC"
    # The reader's own choice, if any: every time is shown in it.
    user_zone: str | None = None

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

    def datetime(self, value: datetime | None, tenant_zone: str | None = None) -> str:
        """A moment in the reader's zone, else ``tenant_zone`` (a console row's tenant), else
        the page's tenant's, labelled with its offset: "Oct 14, 2026, 2:05:00 PM UTC+8"."""
        if value is None:
            return "-"
        local = value.astimezone(ZoneInfo(self.user_zone or tenant_zone or self.time_zone))
        return f"{format_datetime(local, 'medium', locale=self.locale)} {offset_label(local)}"

    def channel(self, code: str | None) -> str:
        """A channel's name as users know it (淘宝/天猫, not ``taobao``); unknown codes as given."""
        if not code:
            return "-"
        name = CHANNEL_NAMES.get(code)
        return self.gettext(name) if name else code

    def hold_detail(self, reason: dict[str, Any]) -> str:
        """A hold reason's sentence in the reader's language, from the clauses the review kept
        with it (``orders.rules.HoldReason``); the stored English sentence when it has none."""
        detail = str(reason.get("detail", ""))
        parts = reason.get("parts")
        if not isinstance(parts, list) or not parts:
            return detail
        chinese = self.locale.startswith("zh")
        between, comma, end = ("；", "、", "。") if chinese else ("; ", ", ", ".")

        def said(text: Any, values: Any) -> str:
            return str(catalog(self.locale).get(str(text), str(text))) % {
                key: comma.join(self.gettext(str(word)) for word in value)
                if isinstance(value, list)
                else said(value["text"], value["values"])
                if isinstance(value, dict)
                else value
                for key, value in dict(values or {}).items()
            }

        try:
            text = between.join(said(part["text"], part.get("values")) for part in parts)
        except (KeyError, TypeError, ValueError):
            return detail  # a clause this version cannot read: say it as it was stored
        return (text if chinese else text[:1].upper() + text[1:]) + end

    def date(self, value: date | None) -> str:
        return "-" if value is None else format_date(value, "medium", locale=self.locale)

    def weekdays(self) -> list[tuple[int, str]]:
        """(ISO number, short name) from Monday to Sunday, in the reader's language."""
        names = get_day_names("abbreviated", locale=self.locale)  # 0 is Monday
        return [(n + 1, names[n]) for n in range(7)]

    def statement_line(self, line: Any) -> str:
        """A statement line's description in the reader's language, said from the message the
        engine kept with it (``billing.engine.wording``) with figures as Babel writes them; the
        stored English for an English reader, for a line stored without a message, and for a
        message this version cannot read."""
        description = str(getattr(line, "description", ""))
        said = getattr(line, "message", None)
        if isinstance(said, LineMessage):  # as the API's schema reads it
            said = said.model_dump()
        if self.locale == DEFAULT_LOCALE or not isinstance(said, dict):
            return description
        try:
            return wording.say(said, _LineWords(self))
        except (KeyError, TypeError, ValueError, ArithmeticError):
            return description  # a message of a later version: say it as it was stored


@dataclass(frozen=True)
class _LineWords:
    """How a statement line's parts read in a :class:`Formatter`'s language."""

    fmt: Formatter

    def template(self, english: str) -> str:
        return catalog(self.fmt.locale).get(english, english)

    def money(self, minor: int, currency: str) -> str:
        return self.fmt.money(minor, currency)

    def rate(self, value: Decimal) -> str:
        # As the engine says it: to four decimals of a percent, "≈" when there are more.
        shown = format_percent(value, format="#,##0.####%", locale=self.fmt.locale)
        exponent = (value * 100).normalize().as_tuple().exponent
        return f"≈{shown}" if isinstance(exponent, int) and exponent < -4 else shown

    def decimal(self, value: Decimal) -> str:
        exponent = value.normalize().as_tuple().exponent
        places = -exponent if isinstance(exponent, int) and exponent < 0 else 0
        return format_decimal(value, format="#,##0." + "#" * places, locale=self.fmt.locale)

    def date(self, value: date) -> str:
        return self.fmt.date(value)

    def month(self, period: str) -> str:
        first = date.fromisoformat(f"{period}-01")
        return format_skeleton("yMMMM", first, locale=self.fmt.locale)

    def channel(self, code: str) -> str:
        return self.fmt.channel(code)

    def kind(self, kind: str) -> str:
        return billing_pdf.kind_label(kind, billing_pdf.language_of(self.fmt.locale) or "en")

    def word(self, word: str) -> str:
        return self.fmt.gettext(word)

    def join(self, how: str) -> str:
        if self.fmt.locale.startswith("zh"):
            return {"plus": " + ", "comma": "、", "semicolon": "；"}[how]
        return wording.English.JOINS[how]
