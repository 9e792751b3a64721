"""What a statement line says, kept as a message key and its values so it can be said again.

Every line the engine writes carries ``Line.message``, ``{"key": ..., "values": {...}}``: the key
names one sentence of :data:`MESSAGES` (its English template, marked for the portal's catalogs,
``make messages``), the values are JSON, typed so each language formats them its own way:

- an ``int`` or ``str`` is said as it is (counts, order and refund ids, staff-written text);
- ``{"money": minor, "currency": "CNY"}`` an amount in minor units; ``{"rate": "0.05"}`` a
  fraction said as a percentage; ``{"decimal": "7.1"}`` a plain number (a quantity, an exchange
  rate); ``{"date": "2026-10-01"}``; ``{"days": [...]}`` days, runs said as ranges;
  ``{"month": "2026-10"}`` a period; ``{"channel": "douyin"}``, ``{"kind": "commission"}`` and
  ``{"word": "paid"}`` words each language names (a word is a :data:`WORDS` message);
- ``{"key": ..., "values": ...}`` a phrase of its own (a proration note, a tier band);
  ``{"all": [...], "join": "plus" | "comma" | "semicolon"}`` several values joined; ``None``
  nothing (a clause that does not apply).

The English ``description`` (the API's and the CSV's) is :func:`english` of the message: the
wording lives here once. A reader in another language gets :func:`say` of it with a
:class:`Style` that translates the templates and formats the values (the portal's, with Babel);
a key it does not know raises, and the reader falls back to the stored English.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import date, timedelta
from decimal import ROUND_HALF_UP, Decimal
from typing import Any, Protocol

from daiyun.core.money import to_major

# A line's message as stored: {"key": str, "values": {name: value}}.
Message = dict[str, Any]

# A statement line's description column holds 500 characters.
MAX_DESCRIPTION = 500


def N_(message: str) -> str:
    """Marks an English sentence as a message the portal's catalogs translate."""
    return message


MESSAGES: dict[str, str] = {
    "commission.flat": N_("Commission (销售提成) %(rate)s on %(base)s"),
    "commission.marginal": N_(
        "Commission (销售提成), marginal tiers on %(base)s: %(bands)s (each band at its own rate)"
    ),
    "commission.band": N_("%(rate)s on %(amount)s"),
    "commission.no_band": N_("nothing in any band"),
    "commission.whole_volume": N_(
        "Commission (销售提成), whole-volume tiers: band %(band)s of %(bands)s (%(edges)s)"
        " reached, so the whole base of %(base)s at %(rate)s (whole-volume rates jump at band"
        " edges)"
    ),
    "band.above": N_("above %(lower)s"),
    "band.up_to": N_("up to %(upper)s"),
    "band.between": N_("above %(lower)s up to %(upper)s"),
    "commission.channel": N_("Commission (销售提成), channel %(channel)s at %(rate)s on %(base)s"),
    "commission.category": N_(
        "Commission (销售提成), category %(category)s at %(rate)s on %(base)s"
    ),
    "clawback": N_(
        "Clawback (退款冲减) of refund %(refund)s on order %(order)s: %(amount)s at %(rate)s,"
        " the rate it was billed at%(limited)s"
    ),
    "clawback.converted": N_(
        "Clawback (退款冲减) of refund %(refund)s on order %(order)s: %(currency)s %(amount)s of"
        " the %(currency)s %(base)s billed on it, that share of its %(commission)s commission"
        "%(limited)s"
    ),
    "clawback.limited": N_(", limited to the %(left)s left to claw back"),
    "prorated": N_(" × %(days)s/%(month_days)s days (%(first)s to %(last)s)"),
    "base_fee": N_("Base service fee (基础服务费) %(fee)s for %(period)s%(prorated)s"),
    "minimum": N_(
        "Minimum guarantee (保底) true-up: minimum %(minimum)s%(prorated)s less commission after"
        " clawbacks %(committed)s"
    ),
    "cap.commission": N_(
        "Cap: commission after clawbacks and minimum %(capped)s capped at %(cap)s%(prorated)s"
    ),
    "cap.total": N_(
        "Cap: base fee and commission after clawbacks and minimum %(capped)s capped at"
        " %(cap)s%(prorated)s"
    ),
    "target.bonus": N_(
        "Performance target (对赌) bonus: %(rate)s on the base %(base)s above the target"
        " %(target)s%(prorated)s"
    ),
    "target.refund": N_(
        "Performance target (对赌) missed: base %(base)s below the target %(target)s%(prorated)s,"
        " fee refund %(refund)s%(prorated)s"
    ),
    "ad_spend": N_("Ad spend paid for the merchant, at cost (%(entries)s entries)"),
    "ad_markup": N_("Ad spend markup %(rate)s on %(spend)s"),
    "warehousing.orders_shipped": N_("Warehousing: %(quantity)s orders at %(price)s each"),
    "warehousing.picks": N_("Warehousing: %(quantity)s picks at %(price)s each"),
    "warehousing.returns": N_("Warehousing: %(quantity)s returns at %(price)s each"),
    "warehousing.storage": N_(
        "Warehousing: %(quantity)s pallet-days at %(price)s per pallet-month / %(days)s days"
    ),
    "warehousing.receiving": N_("Warehousing: %(quantity)s pallets received at %(price)s each"),
    "warehousing.minimum": N_(
        "Warehousing monthly minimum %(minimum)s%(prorated)s less warehousing fees %(billed)s"
    ),
    "placement": N_("Placement fee for %(hire)s: %(terms)s"),
    "placement.fixed": N_("fixed %(fee)s"),
    "placement.salary": N_("%(rate)s of first-year salary %(salary)s"),
    "placement.none": N_("no fee in the contract"),
    "placement.refund": N_("Placement fee refunded for %(hire)s: left within the guarantee"),
    "one_off": N_("%(description)s (%(fact)s)"),
    "one_off.unnamed": N_("One-off fee (%(fact)s)"),
    "vat": N_("VAT %(rate)s on %(base)s"),
    "credit.applied": N_("Credit brought forward %(credit)s: %(used)s applied"),
    "credit.carried_forward": N_("Net credit %(net)s carried forward to the next statement"),
    "adjustment": N_(
        "Adjustment to %(period)s for late facts, %(kind)s billed %(was)s, now %(now)s%(detail)s"
    ),
    "adjustment.detail": N_(": %(line)s"),
    "fx.excluded": N_(
        "Sales in %(currency)s left out of the commission base (the contract converts no"
        " foreign sales): %(orders)s orders, %(currency)s %(base)s"
    ),
    "fx.converted": N_(
        "Sales in %(currency)s converted into %(target)s at %(how)s: %(orders)s orders,"
        " %(currency)s %(base)s = %(target)s %(total)s (%(currency)s/%(target)s"
        " %(quoted)s%(source)s)"
    ),
    "fx.how.monthly": N_("the fixed monthly rate (the rate of %(day)s)"),
    "fx.how.daily": N_("the rate of each order's %(date)s day"),
    "fx.rate": N_("%(day)s: %(rate)s"),
    "fx.rates": N_("%(count)s days, %(low)s to %(high)s"),
    "fx.no_rate": N_("no rate needed"),
    "fx.source": N_("; source %(sources)s"),
    "fx.missing.monthly": N_(
        "No %(currency)s/%(target)s exchange rate recorded for %(day)s (the fixed monthly rate"
        " is the rate of the 1st): the %(currency)s sales of the period (%(orders)s orders,"
        " %(currency)s %(base)s) are left out of this draft, which cannot be finalized until the"
        " rate is recorded and the draft regenerated"
    ),
    "fx.missing.day": N_(
        "No %(currency)s/%(target)s exchange rate recorded for %(days)s: the %(currency)s sales"
        " of that day (%(orders)s orders, %(currency)s %(base)s) are left out of this draft,"
        " which cannot be finalized until the rate is recorded and the draft regenerated"
    ),
    "fx.missing.days": N_(
        "No %(currency)s/%(target)s exchange rate recorded for %(days)s: the %(currency)s sales"
        " of those days (%(orders)s orders, %(currency)s %(base)s) are left out of this draft,"
        " which cannot be finalized until the rate is recorded and the draft regenerated"
    ),
    "days.run": N_("%(first)s to %(last)s"),
}

# Words a value names (``{"word": ...}``): the date that places an order in a period.
WORDS: dict[str, str] = {"paid": N_("paid"), "placed": N_("placed")}


def message(key: str, **values: Any) -> Message:
    """A message of :data:`MESSAGES` with its values (see the module's docstring)."""
    if key not in MESSAGES:
        raise KeyError(f"no statement wording {key!r}")
    return {"key": key, "values": values}


def amount(minor: int, currency: str) -> dict[str, Any]:
    return {"money": minor, "currency": currency}


def rate(value: Decimal) -> dict[str, str]:
    return {"rate": f"{value:f}"}


def decimal(value: Decimal) -> dict[str, str]:
    return {"decimal": f"{value:f}"}


def day(value: date) -> dict[str, str]:
    return {"date": value.isoformat()}


def days(values: Sequence[date]) -> dict[str, list[str]]:
    return {"days": [value.isoformat() for value in sorted(values)]}


def joined(values: Sequence[Any], join: str) -> dict[str, Any]:
    return {"all": list(values), "join": join}


class Style(Protocol):
    """How one language says a message's parts (``template``: the message's English template
    as that language writes it)."""

    def template(self, english: str) -> str: ...

    def money(self, minor: int, currency: str) -> str: ...

    def rate(self, value: Decimal) -> str: ...

    def decimal(self, value: Decimal) -> str: ...

    def date(self, value: date) -> str: ...

    def month(self, period: str) -> str: ...

    def channel(self, code: str) -> str: ...

    def kind(self, kind: str) -> str: ...

    def word(self, word: str) -> str: ...

    def join(self, how: str) -> str: ...


def runs(values: Sequence[date]) -> list[list[date]]:
    """Consecutive days grouped: [[12-02], [12-05, 12-06, 12-07]]."""
    found: list[list[date]] = []
    for value in sorted(values):
        if found and found[-1][-1] + timedelta(days=1) == value:
            found[-1].append(value)
        else:
            found.append([value])
    return found


def say_days(values: Sequence[date], style: Style) -> str:
    """Days in ``style``'s language, runs of consecutive days as ranges."""
    run = style.template(MESSAGES["days.run"])
    return style.join("comma").join(
        style.date(group[0])
        if len(group) == 1
        else run % {"first": style.date(group[0]), "last": style.date(group[-1])}
        for group in runs(values)
    )


def say(said: Mapping[str, Any], style: Style) -> str:
    """A message in ``style``'s language. Raises KeyError, TypeError or ValueError for a message
    it cannot read (a key this version does not know): the caller says the stored English."""
    values = said["values"]
    if not isinstance(values, Mapping):
        raise TypeError("a message's values are a mapping")
    text = style.template(MESSAGES[str(said["key"])])
    return text % {name: _value(value, style) for name, value in values.items()}


def _value(value: Any, style: Style) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        raise TypeError("a statement value is never a boolean")
    if isinstance(value, int | str):
        return str(value)
    if not isinstance(value, Mapping):
        raise TypeError(f"not a statement value: {value!r}")
    if "key" in value:
        return say(value, style)
    if "money" in value:
        minor = value["money"]
        if type(minor) is not int:
            raise TypeError("an amount is in integer minor units")
        return style.money(minor, str(value["currency"]))
    if "rate" in value:
        return style.rate(Decimal(str(value["rate"])))
    if "decimal" in value:
        return style.decimal(Decimal(str(value["decimal"])))
    if "date" in value:
        return style.date(date.fromisoformat(str(value["date"])))
    if "days" in value:
        return say_days([date.fromisoformat(str(text)) for text in value["days"]], style)
    if "month" in value:
        return style.month(str(value["month"]))
    if "channel" in value:
        return style.channel(str(value["channel"]))
    if "kind" in value:
        return style.kind(str(value["kind"]))
    if "word" in value:
        return style.word(WORDS[str(value["word"])])
    if "all" in value:
        return style.join(str(value["join"])).join(_value(item, style) for item in value["all"])
    raise ValueError(f"not a statement value: {value!r}")


def percent(value: Decimal) -> str:
    """``5%``, ``2.5%``; a ratio with more than four decimals of a percent is shown as ``≈``."""
    shown = (value * 100).normalize()
    exponent = shown.as_tuple().exponent
    if isinstance(exponent, int) and exponent < -4:
        return f"≈{shown.quantize(Decimal('0.0001'), rounding=ROUND_HALF_UP).normalize():f}%"
    return f"{shown:f}%"


class English:
    """The engine's own wording: amounts as ``12,345.67``, rates as ``5%``, ISO dates, codes."""

    JOINS: Mapping[str, str] = {"plus": " + ", "comma": ", ", "semicolon": "; "}

    def template(self, english: str) -> str:
        return english

    def money(self, minor: int, currency: str) -> str:
        return f"{to_major(minor, currency):,}"

    def rate(self, value: Decimal) -> str:
        return percent(value)

    def decimal(self, value: Decimal) -> str:
        return f"{value:f}"

    def date(self, value: date) -> str:
        return value.isoformat()

    def month(self, period: str) -> str:
        return period

    def channel(self, code: str) -> str:
        return code

    def kind(self, kind: str) -> str:
        return kind

    def word(self, word: str) -> str:
        return word

    def join(self, how: str) -> str:
        return self.JOINS[how]


ENGLISH = English()


def english(said: Message) -> str:
    """The line's description: its message in English, cut to the column's 500 characters."""
    text = say(said, ENGLISH)
    return text if len(text) <= MAX_DESCRIPTION else text[: MAX_DESCRIPTION - 1] + "…"
