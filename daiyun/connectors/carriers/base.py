"""The carrier interface: request a waybill number with the label's fields, cancel it, read its
tracking events; and the two ways a call can fail.

:class:`CarrierRefused` is permanent: the carrier said no to this request (an address outside
its delivery area, a parcel over its weight limit, a waybill already picked up, a refused key);
sending it again unchanged is refused again, so the caller turns it into an exception a person
resolves. :class:`CarrierUnavailable` is passing: ``5xx``, ``429`` or a timeout that the client's
bounded retries did not outlast; the caller tries again later. A waybill request names the
shipper's order (``order_ref``), and the carriers answer the same number for the same reference,
so a request retried after a lost answer never produces a second waybill.

The service's base URL and key are the deployment's (``DAIYUN_CARRIER_URL``,
``DAIYUN_CARRIER_API_KEY``), not a merchant's: the client calls that base and nothing else.
"""

from __future__ import annotations

import re
from abc import ABC
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Any, ClassVar

import httpx

from daiyun.connectors.errors import ConnectorError, HostNotAllowed, RetriesExhausted, excerpt
from daiyun.connectors.hosts import HostPolicy
from daiyun.connectors.http import ShopHttp

# Attempts per call before a passing failure is handed back as CarrierUnavailable: a waybill is
# asked for while a packer waits, so the client gives up early and the task tries later.
CALL_ATTEMPTS = 3

# Tracking event codes the carriers' own vocabularies are mapped onto.
PICKED_UP = "PICKED_UP"
IN_TRANSIT = "IN_TRANSIT"
OUT_FOR_DELIVERY = "OUT_FOR_DELIVERY"
DELIVERED = "DELIVERED"
EXCEPTION = "EXCEPTION"
EVENT_CODES = frozenset({PICKED_UP, IN_TRANSIT, OUT_FOR_DELIVERY, DELIVERED, EXCEPTION})

# The service's error codes that refuse a request for good (see daiyun.sandboxes.carriers.app).
NOT_SERVICEABLE = "1002"


class CarrierError(ConnectorError):
    """A carrier call failed."""


class CarrierRefused(CarrierError):
    """The carrier refused the request: permanent (the same request is refused again)."""

    def __init__(self, message: str, code: str = "") -> None:
        super().__init__(message)
        self.code = code

    @property
    def not_serviceable(self) -> bool:
        """The recipient's address is outside the carrier's delivery area."""
        return self.code == NOT_SERVICEABLE


class CarrierUnavailable(CarrierError):
    """The carrier did not answer usefully (5xx, 429, timeout): try again later."""


@dataclass(frozen=True)
class Address:
    name: str
    phone: str
    province: str
    city: str
    address: str
    district: str = ""


@dataclass(frozen=True)
class Item:
    name: str
    quantity: int


@dataclass(frozen=True)
class WaybillRequest:
    # The shipper's order reference (at most 64 characters): the same reference answers the
    # same waybill, which is what makes a retried request safe.
    order_ref: str
    sender: Address
    recipient: Address
    weight_grams: int
    items: tuple[Item, ...] = field(default_factory=tuple)


@dataclass(frozen=True)
class Waybill:
    carrier: str
    waybill_no: str
    # The 三段码 the carrier's sorting centres read, printed big on the label.
    sort_code: str
    destination: str
    carrier_name: str


@dataclass(frozen=True)
class TrackingEvent:
    seq: int
    code: str
    description: str
    location: str
    at: datetime


class _ConfiguredBase(HostPolicy):
    """Only the configured service's own URLs may be called."""

    _base: str

    def __init__(self, base: str) -> None:
        super().__init__("carrier")
        object.__setattr__(self, "_base", base.rstrip("/") + "/")

    def refusal(self, url: str) -> str | None:
        base: str = self._base
        return None if url.startswith(base) else f"the carrier client may call only {base}"


class Carrier(ABC):
    """One carrier's e-waybill service. A subclass names the carrier, its number format and its
    public tracking page; the wire is the service's (:mod:`daiyun.sandboxes.carriers.app`)."""

    code: ClassVar[str]
    name_en: ClassVar[str]
    name_zh: ClassVar[str]
    waybill_pattern: ClassVar[re.Pattern[str]]
    # The carrier's public tracking page for a number ({number}), for marketplaces that show it.
    tracking_url: ClassVar[str]

    def __init__(self, base_url: str, api_key: str, http: ShopHttp | None = None) -> None:
        self.base = f"{base_url.rstrip('/')}/{self.code}"
        self.api_key = api_key
        self.http = http or ShopHttp(f"carrier:{self.code}", max_attempts=CALL_ATTEMPTS)
        self.http.restrict(_ConfiguredBase(self.base))

    def close(self) -> None:
        self.http.close()

    # --- the interface ---------------------------------------------------------------------

    def request_waybill(self, request: WaybillRequest) -> Waybill:
        """A waybill number and the label's routing fields for one parcel."""
        body = asdict(request)
        body["items"] = [asdict(i) for i in request.items]
        data = self._call("POST", "/waybills", json=body)
        number = str(data.get("waybill_no") or "")
        if not self.waybill_pattern.match(number):
            raise CarrierUnavailable(f"{self.code} answered an unexpected number {excerpt(number)}")
        return Waybill(
            self.code,
            number,
            str(data.get("sort_code") or ""),
            str(data.get("destination") or ""),
            str(data.get("carrier_name") or self.name_zh),
        )

    def cancel_waybill(self, waybill_no: str) -> None:
        """Cancel a waybill not yet picked up; cancelling it again is fine."""
        self._call("POST", f"/waybills/{_path_part(waybill_no)}/cancel")

    def tracking_events(self, waybill_no: str) -> list[TrackingEvent]:
        """The parcel's tracking so far, oldest first (codes of :data:`EVENT_CODES`)."""
        data = self._call("GET", f"/waybills/{_path_part(waybill_no)}/tracks")
        events = data.get("events")
        if not isinstance(events, list):
            raise CarrierUnavailable(f"{self.code} tracking answer has no events")
        found = []
        for raw in events:
            try:
                code = str(raw["code"])
                found.append(
                    TrackingEvent(
                        int(raw["seq"]),
                        code if code in EVENT_CODES else EXCEPTION,
                        str(raw.get("description") or ""),
                        str(raw.get("location") or ""),
                        datetime.fromisoformat(str(raw["time"])),
                    )
                )
            except (KeyError, TypeError, ValueError) as exc:
                raise CarrierUnavailable(f"{self.code} sent a malformed event: {exc}") from exc
        return sorted(found, key=lambda e: e.seq)

    def public_tracking_url(self, waybill_no: str) -> str:
        return self.tracking_url.format(number=waybill_no)

    # --- the wire ---------------------------------------------------------------------------

    def _call(self, method: str, path: str, **kwargs: Any) -> Mapping[str, Any]:
        try:
            response = self.http.request(
                method, self.base + path, headers={"X-Carrier-Key": self.api_key}, **kwargs
            )
        except RetriesExhausted as exc:
            raise CarrierUnavailable(str(exc)) from exc
        except HostNotAllowed as exc:
            raise CarrierRefused(str(exc), "config") from exc
        return self._read(response)

    def _read(self, response: httpx.Response) -> Mapping[str, Any]:
        try:
            doc = response.json()
        except ValueError:
            doc = None
        if response.status_code == 401:
            raise CarrierRefused(f"{self.code} refused the key (DAIYUN_CARRIER_API_KEY)", "4010")
        if not isinstance(doc, dict) or response.status_code != 200:
            raise CarrierUnavailable(
                f"{self.code} answered HTTP {response.status_code}: {excerpt(response.text)}"
            )
        if doc.get("success") is not True:
            code = str(doc.get("code") or "")
            raise CarrierRefused(f"{self.code} refused: {code} {excerpt(doc.get('message'))}", code)
        data = doc.get("data")
        return data if isinstance(data, dict) else {}


def _path_part(value: str) -> str:
    # A waybill number is letters and digits; anything else would change the path.
    if not re.fullmatch(r"[A-Za-z0-9]{6,32}", value):
        raise CarrierRefused(f"not a waybill number: {excerpt(value, 40)}", "1001")
    return value
