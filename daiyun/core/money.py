"""Exact money (ARCHITECTURE.md rule 5): integer minor units of an ISO 4217 currency."""

from __future__ import annotations

from decimal import Decimal, InvalidOperation

from babel.numbers import get_currency_precision

from daiyun.core.numbers import WholeNumber


class MoneyError(ValueError):
    """An amount that cannot be represented exactly in the currency's minor unit."""


# An amount in minor units as a request carries it (bounds are the field's own).
MinorUnits = WholeNumber


def exponent(currency: str) -> int:
    """Digits after the decimal point for a currency (CNY 2, JPY 0, KWD 3)."""
    return int(get_currency_precision(currency.upper()))


def minor_scale(source: str, target: str) -> Decimal:
    """Minor units of ``source`` times an exchange rate times this are minor units of ``target``
    (CNY has two decimals, JPY none: converting yen to fen multiplies by 100)."""
    return Decimal(10) ** (exponent(target) - exponent(source))


def to_minor(amount: str | int | Decimal, currency: str) -> int:
    """A decimal amount in major units ("29.99", yuan strings) as exact minor units."""
    if isinstance(amount, float):
        raise MoneyError("money never travels as a float")
    try:
        value = Decimal(str(amount).strip())
    except InvalidOperation as exc:
        raise MoneyError(f"not an amount: {amount!r}") from exc
    if not value.is_finite():
        raise MoneyError(f"not an amount: {amount!r}")
    minor = value.scaleb(exponent(currency))
    if minor != minor.to_integral_value():
        raise MoneyError(f"{amount!r} has more decimals than {currency} allows")
    return int(minor)


def to_major(minor: int, currency: str) -> Decimal:
    """Minor units back to a Decimal amount in major units (for display and exports)."""
    return Decimal(minor).scaleb(-exponent(currency))
