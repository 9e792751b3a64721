"""How the four Chinese marketplaces write what they send: Beijing time, numbers, ciphertext.

Times on the wire are Beijing wall-clock time (``yyyy-MM-dd HH:mm:ss``, UTC+8 all year) or Unix
seconds compared to the whole second; counts and codes come as numbers or as digit strings; money
is CNY; and the receiver's name, phone and street come encrypted, to be kept exactly as sent.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from typing import Any

from daiyun.connectors.errors import MalformedPayload
from daiyun.platform.orders.normalized import Address

# Marketplace times are Beijing time: UTC+8 all year round (China keeps no daylight saving).
BEIJING = timezone(timedelta(hours=8), "Asia/Shanghai")
BEIJING_OFFSET_MINUTES = 480
WIRE_TIME_FORMAT = "%Y-%m-%d %H:%M:%S"
CURRENCY = "CNY"
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)

# Time on the wire.


def whole_seconds(moment: datetime) -> int:
    """A time as Unix seconds, rounded up: windows ``[a, b)`` become ``[⌈a⌉, ⌈b⌉)`` on the
    marketplace's whole-second clock, so consecutive windows still meet without a gap."""
    if moment.tzinfo is None:
        raise ValueError("window bounds must be aware datetimes")
    delta = moment - EPOCH
    return delta.days * 86_400 + delta.seconds + (1 if delta.microseconds else 0)


def search_bounds(start: datetime, end: datetime, *, end_inclusive: bool) -> tuple[int, int] | None:
    """The first and the last Unix second a search names for ``[start, end)``; None if none.

    Marketplaces compare modification times to the second: an order modified exactly at ``end``
    belongs to the next window, not this one, so an adjacent window never fetches it twice. An
    inclusive end is sent as the last whole second before the window's end.
    """
    first = whole_seconds(start)
    after = whole_seconds(end)
    last = after - 1 if end_inclusive else after
    if last < first or (not end_inclusive and last == first):
        return None
    return first, last


def beijing_text(seconds: int) -> str:
    """Unix seconds as the wire's ``yyyy-MM-dd HH:mm:ss`` in Beijing time."""
    return (EPOCH + timedelta(seconds=seconds)).astimezone(BEIJING).strftime(WIRE_TIME_FORMAT)


def beijing_now() -> str:
    """The current time as a request's timestamp (Beijing time, ``yyyy-MM-dd HH:mm:ss``)."""
    return datetime.now(BEIJING).strftime(WIRE_TIME_FORMAT)


def parse_beijing(value: Any, name: str) -> datetime:
    """A ``yyyy-MM-dd HH:mm:ss`` Beijing time from the wire, as an aware UTC datetime."""
    if not isinstance(value, str) or not value:
        raise MalformedPayload(f"{name} is missing or not a time")
    try:
        local = datetime.strptime(value.strip(), WIRE_TIME_FORMAT)
    except ValueError as exc:
        raise MalformedPayload(f"{name} is not a yyyy-MM-dd HH:mm:ss time: {value!r}") from exc
    return local.replace(tzinfo=BEIJING).astimezone(UTC)


def optional_beijing(value: Any, name: str) -> datetime | None:
    """A Beijing time that may be absent (null or "")."""
    return None if value is None or value == "" else parse_beijing(value, name)


# Values as the gateways send them.


def whole_number(value: Any, name: str, *, allow_negative: bool = True) -> int:
    """An integer that gateways send as a number or as a string of digits."""
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if isinstance(value, str):
        text = value.strip()
        digits = text.lstrip("-") if allow_negative else text
        if digits.isdigit():
            try:
                return int(text)
            except ValueError:
                # Signs doubled ("--5") or digits int() does not read ("²"): not a number.
                pass
    raise MalformedPayload(f"{name} is not a whole number: {value!r}")


def opaque(value: Any) -> str | None:
    """A field kept exactly as sent (no trimming, no decoding); absent as None."""
    if value is None or value == "":
        return None
    return str(value)


def ciphertext(value: Any, what: str = "receiver") -> str | None:
    """An encrypted field exactly as sent (never stripped or decoded); empty means absent.

    Anything but text cannot be what the marketplace encrypted, so it is a malformed payload.
    """
    if value is None or value == "":
        return None
    if not isinstance(value, str):
        raise MalformedPayload(f"an encrypted {what} field is not a string")
    return value


def receiver_address(address: Address) -> Address | None:
    """A receiver's address in China, or None when it names neither a receiver nor a place."""
    if not any((address.name, address.phone, address.address1, address.province, address.city)):
        return None
    return address
