"""Sandbox ship methods of the four Chinese gateways (the rules: ``shipments.py``).

Each gateway hands its ship method, once signed, token and flow control checked, to
:func:`handle` and wraps what it returns in its own envelope, as for item writes
(``china_listings.py``): an error text in the gateway's own error shape. A shipped order asked
to ship again is refused with ``订单已发货`` and the numbers it shipped with (the real gateways'
wording differs, UNCONFIRMED), which is how a client tells its own earlier push from someone
else's.
"""

from __future__ import annotations

from typing import Any

from daiyun.sandboxes.marketplaces.china_listings import Refused
from daiyun.sandboxes.marketplaces.shipments import ShipRefused, ship
from daiyun.sandboxes.marketplaces.state import SandboxState, Shop

METHODS = {
    "taobao": "taobao.logistics.offline.send",
    "pinduoduo": "pdd.logistics.online.send",
    "jd": "jingdong.pop.order.shipment",
    "douyin": "order.logisticsAdd",
}
# (order id, tracking number, carrier code) field names per gateway.
FIELDS = {
    "taobao": ("tid", "out_sid", "company_code"),
    "pinduoduo": ("order_sn", "tracking_number", "logistics_id"),
    "jd": ("orderId", "logiNo", "logiCoprId"),
    "douyin": ("order_id", "logistics_code", "company_code"),
}


def handle(state: SandboxState, shop: Shop, business: dict[str, Any]) -> dict[str, Any]:
    """The payload of the ship method's success answer; raises :class:`Refused`."""
    order_field, number_field, carrier_field = FIELDS[shop.channel]
    order_id = str(business.get(order_field) or "")
    number = str(business.get(number_field) or "")
    carrier = str(business.get(carrier_field) or "")
    if not order_id or not number or not carrier:
        raise Refused(f"{order_field}, {number_field} and {carrier_field} are required")
    try:
        _order, _entry, duplicate = ship(state, shop, order_id, number, carrier)
    except ShipRefused as exc:
        if exc.reason == "already_shipped":
            raise Refused(f"订单已发货 / {exc}") from None
        raise Refused(str(exc)) from None
    if duplicate:
        raise Refused(f"订单已发货 / the order is already shipped ({number})")
    if shop.channel == "taobao":
        return {"shipping": {"is_success": True}}
    if shop.channel == "pinduoduo":
        return {"is_success": True}
    if shop.channel == "jd":
        return {"sopjosshipment_result": {"success": True, "chineseErrCode": "成功"}}
    return {}
