"""Carriers: the e-waybill services parcels ship with (see :mod:`.base` for the interface and
its two failures, :mod:`.services` for the carriers).

The module-level functions are the short way for a department: one call, one client, closed
after the call.
"""

from __future__ import annotations

from daiyun.connectors.carriers.base import (
    EVENT_CODES,
    Address,
    Carrier,
    CarrierError,
    CarrierRefused,
    CarrierUnavailable,
    Item,
    TrackingEvent,
    Waybill,
    WaybillRequest,
)
from daiyun.connectors.carriers.services import CARRIER_CODES, CARRIERS, carrier_for


def request_waybill(carrier: str, request: WaybillRequest) -> Waybill:
    """A waybill of ``carrier`` ("sf", "zto", "yto", "jd") for one parcel."""
    client = carrier_for(carrier)
    try:
        return client.request_waybill(request)
    finally:
        client.close()


def cancel_waybill(carrier: str, waybill_no: str) -> None:
    client = carrier_for(carrier)
    try:
        client.cancel_waybill(waybill_no)
    finally:
        client.close()


def tracking_events(carrier: str, waybill_no: str) -> list[TrackingEvent]:
    client = carrier_for(carrier)
    try:
        return client.tracking_events(waybill_no)
    finally:
        client.close()


__all__ = [
    "CARRIERS",
    "CARRIER_CODES",
    "EVENT_CODES",
    "Address",
    "Carrier",
    "CarrierError",
    "CarrierRefused",
    "CarrierUnavailable",
    "Item",
    "TrackingEvent",
    "Waybill",
    "WaybillRequest",
    "cancel_waybill",
    "carrier_for",
    "request_waybill",
    "tracking_events",
]
