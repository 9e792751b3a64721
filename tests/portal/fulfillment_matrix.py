"""Fulfilment's part of the portal matrix (tests/portal/test_portal_matrix.py): its page rules,
A's seeded parcels, a valid form per POST, A's fulfilment state, and putting it back.

Seeded: stock of a SKU of A in a warehouse, a parcel picked and waiting at the pack station
(``fo_id``), two ready parcels for the console to plan a wave of, a wave holding a fourth
(``wave_id``) and a deadline exception (``fulfillment_exception_id``). The ship step: a packed
parcel (``parcel_id``: each allowed caller ships it, ``restore`` unships it), a parcel shipped
through the carrier sandbox with its push failed (``shipment_id``: pushing again is allowed) and
a carrier rule (``priority`` 1: removing it is allowed, ``restore`` puts it back)."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from daiyun.core import db
from daiyun.platform.fulfillment import service, shipping, waves
from daiyun.platform.fulfillment.models import (
    CarrierRule,
    ExceptionKind,
    FoState,
    FulfillmentException,
    FulfillmentOrder,
    PushStatus,
    Shipment,
    Wave,
    WaveStatus,
)
from daiyun.platform.fulfillment.schemas import WaveRuleIn
from daiyun.platform.orders import service as order_service
from daiyun.platform.orders.rules import ReviewSettings
from daiyun.platform.storefront import service as catalog_service
from daiyun.platform.storefront.schemas import ProductCreate, SkuCreate
from daiyun.platform.warehouse import reservations
from daiyun.platform.warehouse import service as stock_service
from daiyun.platform.warehouse.schemas import ReceiptCreate, ReceivedLine
from daiyun.tenants.auth.permissions import Permission, Role
from tests import factories
from tests.platform.fulfillment.isolation import _carrier, _packed
from tests.platform.warehouse.conftest import make_site

P = Permission
R = Role
SKU = "MATRIX-PACK"
_SEEDED: dict[uuid.UUID, dict[uuid.UUID, dict[str, Any]]] = {}
RULE = {"carrier": "sf", "warehouse_id": None, "provinces": ["浙江省"], "max_weight_grams": 3000}
_COLUMNS = ("state", "held_state", "wave_id", "scanned", "scan_errors", "weight_grams", "lines")


def seed(tenant_id: uuid.UUID, shop_id: uuid.UUID) -> dict[str, str]:
    site = make_site(f"PF{uuid.uuid4().hex[:6].upper()}", 10)
    with db.unit_of_work(tenant_id) as session:
        order_service.update_review_settings(session, ReviewSettings(check_duplicates=False))
        sku = SkuCreate(code=SKU, cost_minor=100, currency="CNY")
        product = catalog_service.create_product(
            session, ProductCreate(name="Pack", variants=[sku])
        )
        line = ReceivedLine(sku_id=product.variants[0].id, quantity=100, location_id=site.shelf)
        stock_service.create_receipt(session, ReceiptCreate(warehouse_id=site.id, received=[line]))
        parcels = []
        for n in range(4):
            incoming = factories.order(
                f"pm-{uuid.uuid4().hex[:8]}", sku=SKU, quantity=2, buyer=f"买家{n}"
            )
            [(_, order)] = order_service.ingest(session, shop_id, "shopify", [incoming])
            reservations.sync_order(session, order.id)
            [fo] = service.sync_order(session, order.id)
            parcels.append(fo.id)
        merchant = [waves.Merchant(tenant_id, "A")]
        wave = waves.create(session, site.id, WaveRuleIn(max_orders=2), merchant)
        waves.confirm_pick(session, wave.id, merchant)
        # The wave's first parcel waits at the pack station; the second goes back to a wave of
        # its own, open, for the pick confirmation.
        packing = wave.fulfillment_order_ids[0]
        other = service.get(session, wave.fulfillment_order_ids[1])
        other.state, other.picked_at = FoState.in_wave, None
        found = session.get(Wave, wave.id)
        assert found is not None
        found.status = WaveStatus.open
        flagged = service.raise_exception(
            session, None, packing, ExceptionKind.deadline_near, "ship by tomorrow"
        )
        _carrier()
        to_ship, shipped = (_packed(session, _parcel(session, shop_id, n)) for n in (4, 5))
        shipment = shipping.ship(session, shipped.id, actor="tests")
        shipment.push_status, shipment.push_error = PushStatus.refused, "422 order not found"
        shipping.set_carrier_rules(session, [dict(RULE)])
    with db.unit_of_work(tenant_id) as session:
        _SEEDED[tenant_id] = {
            fo.id: {c: getattr(fo, c) for c in _COLUMNS}
            for fo in session.scalars(select(FulfillmentOrder))
        }
    return {
        "fo_id": str(packing),
        "wave_id": str(wave.id),
        "exception_id": str(flagged.id),
        "fulfillment_warehouse_id": str(site.id),
        "parcel_id": str(to_ship.id),
        "shipment_id": str(shipment.id),
        "priority": "1",
    }


def _parcel(session: Session, shop_id: uuid.UUID, n: int) -> uuid.UUID:
    incoming = factories.order(f"pm-{uuid.uuid4().hex[:8]}", sku=SKU, quantity=1, buyer=f"买家{n}")
    [(_, order)] = order_service.ingest(session, shop_id, "shopify", [incoming])
    reservations.sync_order(session, order.id)
    [fo] = service.sync_order(session, order.id)
    return fo.id


def form(path: str, places: dict[str, str]) -> dict[str, str] | None:
    if path.endswith("/pack/{fo_id}/scan"):
        return {"barcode": SKU}
    if path.endswith("/pack/{fo_id}/finish"):
        return {"weight": "500"}
    if path.endswith("/exceptions/{exception_id}/resolve"):
        return {"action": "acknowledge"}
    if path.endswith("/parcels/{parcel_id}/ship"):
        _carrier()
        return {"carrier": "zto"}
    if path.endswith("/{tenant}/carriers"):
        return {"carrier": "jd", "provinces": "广东省，上海市", "max_weight_grams": "2000"}
    if path.endswith("/console/waves"):
        return {"warehouse_id": places["fulfillment_warehouse_id"], "max_orders": "1"}
    return None


def state(tenant_id: uuid.UUID) -> tuple[object, ...]:
    with db.unit_of_work(tenant_id) as session:
        parcels = sorted(
            str([fo.id, *(getattr(fo, c) for c in _COLUMNS)])
            for fo in session.scalars(select(FulfillmentOrder))
        )
        problems = sorted(
            (str(e.id), str(e.resolved_at)) for e in session.scalars(select(FulfillmentException))
        )
        shipments = sorted(
            (str(s.fo_id), s.waybill_no, str(s.push_status), str(s.next_push_at))
            for s in session.scalars(select(Shipment))
        )
        rules = [
            (r.priority, r.carrier, r.provinces, r.max_weight_grams)
            for r in session.scalars(select(CarrierRule).order_by(CarrierRule.priority))
        ]
    return (parcels, problems, shipments, rules)


def restore(path: str, tenant_id: uuid.UUID, places: dict[str, str]) -> None:
    """A's parcels, exception and wave as seeded; the pack parcel fully scanned before each
    caller of the finish."""
    if tenant_id not in _SEEDED:
        return
    fo_id = uuid.UUID(places["fo_id"])
    with db.unit_of_work(tenant_id) as session:
        for fo in session.scalars(select(FulfillmentOrder)):
            for column, value in _SEEDED[tenant_id].get(fo.id, {}).items():
                setattr(fo, column, value)
            if fo.id == fo_id and path.endswith("/finish"):
                fo.scanned = {li["sku_id"]: li["quantity"] for li in fo.lines}
        for found in session.scalars(select(FulfillmentException)):
            if found.id == uuid.UUID(places["exception_id"]):
                found.resolved_at = found.resolved_by = found.resolution = None
        wave = session.get(Wave, uuid.UUID(places["wave_id"]))
        assert wave is not None
        wave.status, wave.picked_at = WaveStatus.open, None
        parcel_id = uuid.UUID(places["parcel_id"])
        for made in session.scalars(select(Shipment).where(Shipment.fo_id == parcel_id)):
            session.delete(made)
        for shipment in session.scalars(select(Shipment)):
            shipment.push_status, shipment.next_push_at = PushStatus.refused, None
        shipping.set_carrier_rules(session, [dict(RULE)])
