"""Customer service's pure rules: SLA clocks on business hours, canned-reply variables, contact
normalization, the inbound-parse signature, the chat widget's origins and visitor tokens, and the
assignment order. No session here."""

from __future__ import annotations

import hashlib
import hmac
import itertools
import math
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
CLOCKS = ("first_response", "next_response", "resolution")
# An inbound-parse delivery older (or newer) than this is refused: a captured one cannot be
# replayed later.
SIGNATURE_TOLERANCE_SECONDS = 300
# Searching for the next business minute gives up after this many days (a calendar with no
# working time at all would otherwise loop forever).
HORIZON_DAYS = 3660


@dataclass(frozen=True)
class Calendar:
    """Business hours per weekday (minutes after local midnight) and holidays, in one zone.
    No hours at all means around the clock."""

    zone: ZoneInfo
    hours: Mapping[int, tuple[tuple[int, int], ...]] = field(default_factory=dict)
    holidays: frozenset[date] = frozenset()

    @property
    def always(self) -> bool:
        return not any(self.hours.values())

    def windows(self, day: date) -> list[tuple[datetime, datetime]]:
        """The day's working spans as aware UTC instants."""
        if day in self.holidays:
            return []
        spans = []
        for start, end in self.hours.get(day.weekday(), ()):
            begin = datetime.combine(day, time(), self.zone) + timedelta(minutes=start)
            finish = datetime.combine(day, time(), self.zone) + timedelta(minutes=end)
            spans.append((begin.astimezone(UTC), finish.astimezone(UTC)))
        return spans


def _minutes(text: str) -> int:
    hours, minutes = text.split(":")
    value = int(hours) * 60 + int(minutes)
    if not 0 <= value <= 24 * 60 or not 0 <= int(minutes) < 60:
        raise ValueError(f"not a time of day: {text}")
    return value


def parse_hours(
    hours: Mapping[str, Sequence[Sequence[str]]],
) -> dict[int, tuple[tuple[int, int], ...]]:
    """``{"mon": [["09:00", "18:00"]]}`` to weekday -> spans in minutes; ValueError if wrong."""
    parsed: dict[int, tuple[tuple[int, int], ...]] = {}
    for name, spans in hours.items():
        if name not in DAYS:
            raise ValueError(f"unknown weekday {name!r}: use {', '.join(DAYS)}")
        day = []
        for span in spans:
            if len(span) != 2:
                raise ValueError("each span is [start, end]")
            start, end = _minutes(span[0]), _minutes(span[1])
            if end <= start:
                raise ValueError(f"{name}: a span ends after it starts")
            day.append((start, end))
        day.sort()
        if any(a[1] > b[0] for a, b in itertools.pairwise(day)):
            raise ValueError(f"{name}: spans overlap")
        parsed[DAYS.index(name)] = tuple(day)
    return parsed


def calendar(zone: str, hours: Mapping[str, Any], holidays: Iterable[str]) -> Calendar:
    return Calendar(
        ZoneInfo(zone), parse_hours(hours), frozenset(date.fromisoformat(d) for d in holidays)
    )


def add_business(start: datetime, seconds: int, cal: Calendar) -> datetime:
    """The instant ``seconds`` of business time after ``start``."""
    if cal.always:
        return start + timedelta(seconds=seconds)
    left = timedelta(seconds=max(seconds, 0))
    day = start.astimezone(cal.zone).date() - timedelta(
        days=1
    )  # spans may start the day before in UTC
    for _ in range(HORIZON_DAYS):
        for begin, end in cal.windows(day):
            if end <= start:
                continue
            begin = max(begin, start)
            if begin + left <= end:
                return begin + left
            left -= end - begin
        day += timedelta(days=1)
    raise ValueError("the calendar has no business time ahead")


def business_seconds(start: datetime, end: datetime, cal: Calendar) -> int:
    """Business time between two instants (0 if ``end`` is not after ``start``)."""
    if end <= start:
        return 0
    if cal.always:
        return math.ceil((end - start).total_seconds())
    total = timedelta()
    day = start.astimezone(cal.zone).date() - timedelta(days=1)
    last = end.astimezone(cal.zone).date()
    while day <= last:
        for begin, finish in cal.windows(day):
            lo, hi = max(begin, start), min(finish, end)
            if hi > lo:
                total += hi - lo
        day += timedelta(days=1)
    # Rounded up: a paused clock never loses the fraction of a second it had left.
    return math.ceil(total.total_seconds())


def due(start: datetime, minutes: int | None, cal: Calendar) -> datetime | None:
    return None if minutes is None else add_business(start, minutes * 60, cal)


def pause(dues: Mapping[str, datetime | None], at: datetime, cal: Calendar) -> dict[str, int]:
    """What each running clock has left when the conversation waits on the buyer."""
    return {
        name: business_seconds(at, when, cal) for name, when in dues.items() if when is not None
    }


def resume(left: Mapping[str, int], at: datetime, cal: Calendar) -> dict[str, datetime]:
    """The recomputed due times when the buyer answers: the time left, from now. Since
    ``add_business`` never goes back when its start moves later, a due time never moves
    earlier by a pause."""
    return {name: add_business(at, seconds, cal) for name, seconds in left.items()}


def breached(
    breaches: Sequence[str], dues: Mapping[str, datetime | None], now: datetime
) -> list[str]:
    """The clocks breached so far: those already breached stay so, whatever happens after."""
    found = list(breaches)
    for name in CLOCKS:
        when = dues.get(name)
        if when is not None and now > when and name not in found:
            found.append(name)
    return found


# A running clock this close to its due time is at risk: its agent and the merchant's supervisors
# are warned once for that due time (a pause re-times the clock, and the new time warns again).
AT_RISK = timedelta(minutes=30)


def in_risk(breaches: Sequence[str], dues: Iterable[datetime | None], now: datetime) -> bool:
    """How a conversation reads on the inbox and the desk: never breached, with a clock due
    within ``AT_RISK`` (or just past it, before the sweep records the breach)."""
    return not breaches and any(due is not None and due < now + AT_RISK for due in dues)


def warning_key(clock: str, due: datetime) -> str:
    return f"{clock}@{due.isoformat()}"


def at_risk(
    dues: Mapping[str, datetime | None],
    breaches: Sequence[str],
    warned: Sequence[str],
    now: datetime,
) -> list[tuple[str, datetime]]:
    """The clocks to warn about now: due within ``AT_RISK``, not past due (a breach is recorded,
    not warned of), never breached, and not warned of already for this due time."""
    found = []
    for name in CLOCKS:
        when = dues.get(name)
        if when is None or name in breaches or warning_key(name, when) in warned:
            continue
        if now <= when <= now + AT_RISK:
            found.append((name, when))
    return found


@dataclass(frozen=True)
class PolicyTarget:
    """What a policy matches (None: anything)."""

    priority: str | None
    channel: str | None
    label: str | None


def matches(target: PolicyTarget, priority: str, channel: str, labels: Sequence[str]) -> bool:
    return (
        (target.priority is None or target.priority == priority)
        and (target.channel is None or target.channel == channel)
        and (target.label is None or target.label in labels)
    )


# --- canned replies ------------------------------------------------------------------------

VARIABLES = ("buyer_name", "order_number", "tracking_number", "agent_name", "shop_name")
_VARIABLE = re.compile(r"\{\{\s*([a-z_]+)\s*\}\}")


def unknown_variables(body: str) -> list[str]:
    return sorted({m for m in _VARIABLE.findall(body) if m not in VARIABLES})


def render(body: str, values: Mapping[str, str | None]) -> str:
    """Fill ``{{variable}}``; one with no value becomes empty rather than staying a brace."""
    return _VARIABLE.sub(lambda m: values.get(m.group(1)) or "", body)


# --- contacts ------------------------------------------------------------------------------


def normal_email(value: str | None) -> str | None:
    value = (value or "").strip().lower()
    return value or None


def normal_phone(value: str | None) -> str | None:
    """Digits only, with a leading + kept: ``+86 138-0013-8000`` and ``+8613800138000`` match."""
    if not value:
        return None
    digits = re.sub(r"\D", "", value)
    if not digits:
        return None
    return ("+" if value.strip().startswith("+") else "") + digits


_ADDRESS = re.compile(r"<([^<>@\s]+@[^<>\s]+)>")


def address_of(header: str) -> tuple[str, str | None]:
    """``"Li Na" <li@example.com>`` -> (name, address)."""
    found = _ADDRESS.search(header)
    if found:
        name = header[: found.start()].strip().strip('"').strip()
        return name, normal_email(found.group(1))
    header = header.strip()
    return ("", normal_email(header)) if "@" in header else (header, None)


def message_ids(header: str | None) -> list[str]:
    """Every ``<id>`` in an In-Reply-To or References header."""
    return re.findall(r"<[^<>\s]+>", header or "")


# --- inbound-parse signature ---------------------------------------------------------------


def sign(key: str, timestamp: str, token: str) -> str:
    return hmac.new(key.encode(), f"{timestamp}{token}".encode(), hashlib.sha256).hexdigest()


def signature_ok(key: str, timestamp: str, token: str, signature: str, now: datetime) -> bool:
    """HMAC-SHA256(key, timestamp + token) in hex, compared in constant time, and fresh."""
    try:
        stamp = int(timestamp)
    except ValueError:
        return False
    if abs(now.timestamp() - stamp) > SIGNATURE_TOLERANCE_SECONDS:
        return False
    return hmac.compare_digest(sign(key, timestamp, token), signature.lower())


# --- the chat widget -----------------------------------------------------------------------

# A visitor's token holds for this long; a browser keeping it longer starts afresh.
VISITOR_TOKEN_DAYS = 30
_ORIGIN = re.compile(r"^(https?)://([a-z0-9.-]+|\[[0-9a-f:]+\])(:[0-9]{1,5})?$")


def normal_origin(value: str) -> str | None:
    """``scheme://host[:port]`` as a browser sends it in ``Origin`` (lower case, no path, no
    default port), or None when ``value`` is not an origin."""
    text = value.strip().lower().rstrip("/")
    found = _ORIGIN.match(text)
    if found is None:
        return None
    scheme, host, port = found.groups()
    if port in ((":80" if scheme == "http" else ":443"), None):
        port = ""
    return f"{scheme}://{host}{port}"


def _visitor_mac(secret: str, widget_key: str, visitor: str, issued: int) -> str:
    message = f"widget:{widget_key}:{visitor}:{issued}".encode()
    return hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()[:40]


def visitor_token(secret: str, widget_key: str, visitor: str, now: datetime) -> str:
    """A visitor's bearer token: who they are, when it was issued, signed for one widget."""
    issued = int(now.timestamp())
    return f"{visitor}.{issued}.{_visitor_mac(secret, widget_key, visitor, issued)}"


def visitor_of(secret: str, widget_key: str, token: str, now: datetime) -> str | None:
    """The visitor a token names, if it was signed for this widget and has not expired."""
    visitor, _, rest = token.partition(".")
    raw_issued, _, mac = rest.partition(".")
    if not re.fullmatch(r"[0-9a-f]{32}", visitor) or not raw_issued.isdigit():
        return None
    issued = int(raw_issued)
    age = now.timestamp() - issued
    if not -60 <= age <= VISITOR_TOKEN_DAYS * 86400:  # a minute of clock skew between hosts
        return None
    expected = _visitor_mac(secret, widget_key, visitor, issued)
    return visitor if hmac.compare_digest(expected, mac) else None


# --- assignment ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Candidate:
    user_id: Any
    load: int
    capacity: int
    last_assigned_at: datetime | None


def ranked(candidates: Iterable[Candidate], strategy: str) -> list[Candidate]:
    """Agents with room, in the order to try them: the least recently assigned first (round
    robin), or the least loaded first, then the least recently assigned (balanced)."""
    never = datetime.min.replace(tzinfo=UTC)
    room = [c for c in candidates if c.load < c.capacity]
    if strategy == "round_robin":
        return sorted(room, key=lambda c: (c.last_assigned_at or never, str(c.user_id)))
    return sorted(room, key=lambda c: (c.load, c.last_assigned_at or never, str(c.user_id)))


# The event a resolved conversation emits (after-sales offers its satisfaction survey on it).
CONVERSATION_RESOLVED = "cs.conversation_resolved"
# The task sending a queued reply on its channel (``tasks.send_reply``), named: tasks imports
# the service.
SEND_REPLY_TASK = "daiyun.cs.send_reply"
