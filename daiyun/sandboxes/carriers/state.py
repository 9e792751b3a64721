"""The carrier sandbox's memory: waybills, their tracking, injected faults and counters.

Waybill number formats are the ones printed on each carrier's labels, as far as they are public:
SF ``SF`` + 13 digits, ZTO 12 digits starting ``7`` (UNCONFIRMED: ZTO also issues 14-digit
numbers), YTO ``YT`` + 13 digits, JD Logistics ``JDV`` + 12 digits (UNCONFIRMED: JD also issues
``JDVA``/``JDVB``/``JDVC`` prefixes). :data:`WAYBILL_PATTERNS` is what tests check against.
"""

from __future__ import annotations

import random
import re
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

CARRIERS = ("sf", "zto", "yto", "jd")
CARRIER_NAMES = {
    "sf": "顺丰速运",
    "zto": "中通快递",
    "yto": "圆通速递",
    "jd": "京东物流",
}
WAYBILL_PATTERNS = {
    "sf": re.compile(r"^SF\d{13}$"),
    "zto": re.compile(r"^7\d{11}$"),
    "yto": re.compile(r"^YT\d{13}$"),
    "jd": re.compile(r"^JDV\d{12}$"),
}
# Recipient addresses containing one of these are outside every carrier's delivery area.
NOT_SERVICEABLE = ("不派送", "NO-SERVICE")
# Addresses containing one of these are delivered to no one: tracking ends in an exception.
REFUSED_AT_DOOR = ("拒收", "REFUSE")
MAX_WEIGHT_GRAMS = 50_000

# Tracking event codes, in the order a parcel normally passes them.
PICKED_UP = "PICKED_UP"
IN_TRANSIT = "IN_TRANSIT"
OUT_FOR_DELIVERY = "OUT_FOR_DELIVERY"
DELIVERED = "DELIVERED"
EXCEPTION = "EXCEPTION"
STEPS = (PICKED_UP, IN_TRANSIT, OUT_FOR_DELIVERY, DELIVERED)
FINAL = frozenset({DELIVERED, EXCEPTION})
DESCRIPTIONS = {
    PICKED_UP: "快件已揽收 / picked up",
    IN_TRANSIT: "快件运输中 / in transit",
    OUT_FOR_DELIVERY: "快件派送中 / out for delivery",
    DELIVERED: "快件已签收 / delivered",
    EXCEPTION: "快件异常：收件人拒收 / exception: refused by the recipient",
}


def _prefix(carrier: str) -> tuple[str, int]:
    return {"sf": ("SF", 13), "zto": ("7", 11), "yto": ("YT", 13), "jd": ("JDV", 12)}[carrier]


@dataclass
class Faults:
    fail_next: int = 0
    throttle_next: int = 0
    retry_after: float = 1.0
    # HTTP status of an injected failure (500, 502, 503).
    fail_status: int = 500

    def as_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


@dataclass
class Event:
    seq: int
    code: str
    at: datetime
    location: str

    def render(self) -> dict[str, Any]:
        return {
            "seq": self.seq,
            "code": self.code,
            "description": DESCRIPTIONS[self.code],
            "location": self.location,
            "time": self.at.isoformat(),
        }


@dataclass
class Waybill:
    carrier: str
    number: str
    order_ref: str
    recipient: dict[str, Any]
    weight_grams: int
    created_at: datetime
    sort_code: str
    cancelled: bool = False
    events: list[Event] = field(default_factory=list)

    @property
    def status(self) -> str:
        if self.cancelled:
            return "CANCELLED"
        return self.events[-1].code if self.events else "CREATED"

    def render(self) -> dict[str, Any]:
        return {
            "waybill_no": self.number,
            "carrier": self.carrier,
            "order_ref": self.order_ref,
            "status": self.status,
            "events": [e.render() for e in self.events],
        }


class CarrierSandboxState:
    """Everything the sandbox holds, behind one lock (the app serves requests in threads)."""

    def __init__(
        self,
        api_key: str = "carrier-sandbox-key",
        *,
        step_seconds: float | None = None,
        seed: int | None = None,
        clock: Callable[[], datetime] | None = None,
    ) -> None:
        self.api_key = api_key
        # The sandbox's time (waybills' creation, tracking steps): a test may move it.
        self.clock = clock or (lambda: datetime.now(UTC))
        # When set, tracking advances one step per this many seconds since the waybill was made.
        self.step_seconds = step_seconds
        self.lock = threading.Lock()
        self.rng = random.Random(seed)  # noqa: S311 - made-up numbers, not secrets
        self.faults = Faults()
        self.waybills: dict[str, Waybill] = {}
        self.by_ref: dict[tuple[str, str], str] = {}
        self.requests: dict[str, int] = {}

    def count(self, what: str) -> None:
        with self.lock:
            self.requests[what] = self.requests.get(what, 0) + 1

    def draw_fault(self) -> tuple[str | None, float, int]:
        """The fault injected into this call: ("throttle", retry after, 429), ("fail", 0,
        status) or (None, 0, 200)."""
        with self.lock:
            if self.faults.throttle_next > 0:
                self.faults.throttle_next -= 1
                return "throttle", self.faults.retry_after, 429
            if self.faults.fail_next > 0:
                self.faults.fail_next -= 1
                return "fail", 0.0, self.faults.fail_status
            return None, 0.0, 200

    def _number(self, carrier: str) -> str:
        prefix, digits = _prefix(carrier)
        while True:
            number = prefix + "".join(str(self.rng.randrange(10)) for _ in range(digits))
            if number not in self.waybills:
                return number

    def issue(
        self, carrier: str, order_ref: str, recipient: dict[str, Any], weight_grams: int
    ) -> tuple[Waybill, bool]:
        """The waybill for an order reference: the one already issued (and not cancelled) when
        the same reference comes again, so a retried request never gets a second number."""
        with self.lock:
            known = self.by_ref.get((carrier, order_ref))
            if known is not None and not self.waybills[known].cancelled:
                return self.waybills[known], False
            number = self._number(carrier)
            province = str(recipient.get("province") or "")
            sort_code = (
                f"{self.rng.randrange(100, 999)}-{self.rng.randrange(10, 99)}-{len(province):02d}"
            )
            waybill = Waybill(
                carrier,
                number,
                order_ref,
                dict(recipient),
                weight_grams,
                self.clock(),
                sort_code,
            )
            self.waybills[number] = waybill
            self.by_ref[(carrier, order_ref)] = number
            return waybill, True

    def get(self, number: str) -> Waybill | None:
        """A waybill of any carrier (the control API's lookup)."""
        with self.lock:
            return self.waybills.get(number)

    def find(self, carrier: str, number: str) -> Waybill | None:
        with self.lock:
            waybill = self.waybills.get(number)
            return waybill if waybill is not None and waybill.carrier == carrier else None

    def advance(self, waybill: Waybill, to: str | None = None, at: datetime | None = None) -> None:
        """One tracking step, or every step up to ``to`` (``EXCEPTION``: straight to it)."""
        with self.lock:
            self._advance(waybill, to, at or self.clock())

    def _advance(self, waybill: Waybill, to: str | None, at: datetime) -> None:
        if waybill.cancelled or waybill.status in FINAL:
            return
        city = str(waybill.recipient.get("city") or "")
        if to == EXCEPTION:
            waybill.events.append(Event(len(waybill.events) + 1, EXCEPTION, at, city))
            return
        while True:
            done = [e.code for e in waybill.events]
            step = STEPS[len(done)]
            refused = any(m in str(waybill.recipient.get("address") or "") for m in REFUSED_AT_DOOR)
            if step == DELIVERED and refused:
                step = EXCEPTION
            where = "" if step == PICKED_UP else city
            waybill.events.append(Event(len(done) + 1, step, at, where))
            if to is None or step == to or step in FINAL:
                return

    def catch_up(self, waybill: Waybill) -> None:
        """Add the steps due by the clock when the sandbox advances tracking over time."""
        if self.step_seconds is None:
            return
        now = self.clock()
        with self.lock:
            due = int((now - waybill.created_at).total_seconds() // self.step_seconds)
            while len(waybill.events) < due and waybill.status not in FINAL:
                if waybill.cancelled:
                    return
                at = waybill.created_at + timedelta(
                    seconds=self.step_seconds * (len(waybill.events) + 1)
                )
                self._advance(waybill, None, at)

    def cancel(self, waybill: Waybill) -> bool:
        """Cancel a waybill not yet picked up; False once the parcel is on its way."""
        with self.lock:
            if waybill.events:
                return False
            waybill.cancelled = True
            return True

    def stats(self) -> dict[str, Any]:
        with self.lock:
            return {
                "requests": dict(self.requests),
                "waybills": len(self.waybills),
                "faults": self.faults.as_dict(),
            }

    def reset(self) -> None:
        with self.lock:
            self.faults = Faults()
            self.waybills.clear()
            self.by_ref.clear()
            self.requests.clear()
