"""Shipments on the four Chinese marketplaces: one gateway method each tells the marketplace
that an order left with a carrier's waybill number (MARKETPLACES.md, Outbound).

- Taobao/Tmall: ``taobao.logistics.offline.send`` {tid, out_sid, company_code}
- Pinduoduo: ``pdd.logistics.online.send`` {order_sn, logistics_id, tracking_number}
- JD: ``jingdong.pop.order.shipment`` {orderId, logiCoprId, logiNo} (UNCONFIRMED)
- Douyin: ``order.logisticsAdd`` {order_id, company_code, logistics_code}

Each marketplace names carriers its own way: a code (TOP, Douyin) or a number (Pinduoduo's
logistics_id, JD's logiCoprId); the tables below map Daiyun's carrier codes, UNCONFIRMED where
marked. These methods ship the whole order (a split parcel's sub-orders are a later addition).

The gateways refuse a second shipment of an order; when their answer says the order is shipped
already (``已发货``) and names this very number, the push was made before (an answer lost on the
way back) and counts as done. Any other error answer refuses the shipment for good; flow control
and refused tokens are the gateway loop's (:class:`.china.GatewayConnector`).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from daiyun.connectors.channels.china import GatewayConnector
from daiyun.connectors.channels.outbound import ShipmentPush, ShipmentRefused, ShipmentResult

ALREADY_SHIPPED = "已发货"


@dataclass(frozen=True)
class GatewayShipment:
    method: str
    carriers: Mapping[str, str]
    business: Callable[[ShipmentPush, str], dict[str, Any]]
    # Whether a success answer says the shipment was taken (some carry an explicit flag).
    taken: Callable[[dict[str, Any]], bool]


def push(
    connector: GatewayConnector, wire: GatewayShipment, shipment: ShipmentPush
) -> ShipmentResult:
    code = connector.marketplace_carrier(shipment.carrier)
    answer = connector.answer(wire.method, wire.business(shipment, code))
    if answer.failed:
        text = f"{answer.code} {answer.text}"
        if ALREADY_SHIPPED in text and shipment.tracking_number in text:
            return ShipmentResult(duplicate=True)
        raise ShipmentRefused(f"{connector.channel} {wire.method}: {text}")
    if not wire.taken(answer.doc):
        raise ShipmentRefused(f"{connector.channel} {wire.method}: the shipment was not taken")
    return ShipmentResult()


def _flag(doc: Any, *path: str) -> bool:
    for key in path:
        if not isinstance(doc, dict):
            return False
        doc = doc.get(key)
    return doc is True or doc == "true"


TAOBAO = GatewayShipment(
    "taobao.logistics.offline.send",
    # TOP's logistics company codes (UNCONFIRMED: JD's).
    {"sf": "SF", "zto": "ZTO", "yto": "YTO", "jd": "JD"},
    lambda p, code: {"tid": p.order_id, "out_sid": p.tracking_number, "company_code": code},
    lambda doc: _flag(doc, "logistics_offline_send_response", "shipping", "is_success"),
)

PINDUODUO = GatewayShipment(
    "pdd.logistics.online.send",
    # Pinduoduo's logistics_id numbers (UNCONFIRMED: from pdd.logistics.companies.get lists
    # published by ERP vendors; confirm against the shop's own list).
    {"sf": "44", "zto": "115", "yto": "85", "jd": "120"},
    lambda p, code: {
        "order_sn": p.order_id,
        "logistics_id": code,
        "tracking_number": p.tracking_number,
    },
    lambda doc: _flag(doc, "logistics_online_send_response", "is_success"),
)

JD = GatewayShipment(
    "jingdong.pop.order.shipment",
    # JD's logiCoprId numbers (UNCONFIRMED all four).
    {"sf": "467", "zto": "1499", "yto": "463", "jd": "2087"},
    lambda p, code: {"orderId": p.order_id, "logiCoprId": code, "logiNo": p.tracking_number},
    lambda doc: _flag(
        doc, "jingdong_pop_order_shipment_responce", "sopjosshipment_result", "success"
    ),
)

DOUYIN = GatewayShipment(
    "order.logisticsAdd",
    # Douyin's logistics company codes (UNCONFIRMED: "jd").
    {"sf": "shunfeng", "zto": "zhongtong", "yto": "yuantong", "jd": "jd"},
    lambda p, code: {
        "order_id": p.order_id,
        "company_code": code,
        "logistics_code": p.tracking_number,
    },
    # Douyin's envelope says success by its code; the data is empty.
    lambda doc: True,
)
