"""Fulfilment's part of the isolation tests (the interface: tests/platform/warehouse/isolation.py).

A's seeded floor: stock of A's SKU in the warehouse part's first warehouse, two ready parcels of
one buyer (``fo_id`` and its merge mate), a third parcel in a wave (``wave_id``) and a deadline
exception on ``fo_id``. Before each caller of a parcel route, ``restore`` puts the parcels back
as seeded, with ``fo_id`` in the state the route acts on."""

from __future__ import annotations

import contextlib
import uuid
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from daiyun.core import db
from daiyun.core.config import get_settings
from daiyun.platform.fulfillment import service, shipping, waves
from daiyun.platform.fulfillment.models import (
    ExceptionKind,
    FoState,
    FulfillmentEvent,
    FulfillmentException,
    FulfillmentOrder,
    FulfillmentSettings,
    Wave,
    WaveStatus,
)
from daiyun.platform.fulfillment.schemas import SettingsIn, WaveRuleIn
from daiyun.platform.orders import service as order_service
from daiyun.platform.orders.rules import ReviewSettings
from daiyun.platform.storefront import service as catalog
from daiyun.platform.warehouse import reservations
from daiyun.platform.warehouse import service as warehouse
from daiyun.platform.warehouse.schemas import ReceiptCreate, ReceivedLine
from daiyun.sandboxes.carriers import running_carrier_sandbox
from daiyun.tenants.auth.permissions import Permission
from tests import factories
from tests.authz import (
    ORDER_READERS,
    STOCK_KEEPERS,
    P,
    Route,
    TenantRule,
    columns_of,
    rows_of,
    rules,
)

TENANT_TABLES = (FulfillmentSettings, FulfillmentOrder, FulfillmentEvent, FulfillmentException)

TENANT_RULES = rules(
    (
        ("GET", "/fulfillment-orders"),
        ("GET", "/fulfillment-orders/merge-suggestions"),
        ("GET", "/fulfillment-orders/{fo_id}"),
        ("POST", "/fulfillment-orders/{fo_id}/merge"),
        ("POST", "/fulfillment-orders/{fo_id}/split"),
        ("POST", "/fulfillment-orders/{fo_id}/pack/scan"),
        ("POST", "/fulfillment-orders/{fo_id}/pack/finish"),
        ("GET", "/exceptions"),
        ("POST", "/exceptions/{exception_id}/resolve"),
        ("POST", "/waves"),
        ("GET", "/waves"),
        ("GET", "/waves/{wave_id}"),
        ("GET", "/waves/{wave_id}/pick-list"),
        ("POST", "/waves/{wave_id}/pick"),
        ("GET", "/fulfillment-settings"),
        ("PUT", "/fulfillment-settings"),
    ),
    read=TenantRule(P.warehouse_read, ORDER_READERS),
    write=TenantRule(P.warehouse_manage, STOCK_KEEPERS),
)
# Waves in a warehouse: any user whose own role carries the permission; what they see of a
# wave is their merchants' parcels.
OTHER_RULES: dict[Route, str | Permission] = {
    ("GET", "/api/v1/warehouses/{warehouse_id}/waves"): P.warehouse_read,
    ("POST", "/api/v1/warehouses/{warehouse_id}/waves"): P.warehouse_manage,
    ("GET", "/api/v1/warehouses/{warehouse_id}/waves/{wave_id}"): P.warehouse_read,
    ("GET", "/api/v1/warehouses/{warehouse_id}/waves/{wave_id}/pick-list"): P.warehouse_read,
    ("POST", "/api/v1/warehouses/{warehouse_id}/waves/{wave_id}/pick"): P.warehouse_manage,
}

BUYER = "赵六"
# Ready parcels for the agency's wave creation (each allowed caller takes one).
SPARE = 4


def _order(session: Session, shop_id: uuid.UUID, code: str, n: int, buyer: str) -> uuid.UUID:
    incoming = factories.order(f"ff-{uuid.uuid4().hex[:8]}-{n}", sku=code, quantity=2, buyer=buyer)
    [(_, order)] = order_service.ingest(session, shop_id, "shopify", [incoming])
    reservations.sync_order(session, order.id)
    [fo] = service.sync_order(session, order.id)
    return fo.id


def seed(tenant_id: uuid.UUID, places: dict[str, str]) -> dict[str, str]:
    sku_id = uuid.UUID(places["part_id"])
    shop_id = uuid.UUID(places["shop_id"])
    warehouse_id = uuid.UUID(places["warehouse_id"])
    with db.unit_of_work(tenant_id) as session:
        code = catalog.get_sku(session, sku_id).code
        # One buyer's two orders to one address are the point here, not a duplicate to review.
        order_service.update_review_settings(session, ReviewSettings(check_duplicates=False))
        line = ReceivedLine(
            sku_id=sku_id, quantity=500, location_id=uuid.UUID(places["location_id"])
        )
        warehouse.create_receipt(session, ReceiptCreate(warehouse_id=warehouse_id, received=[line]))
        service.set_settings(session, SettingsIn(allow_partial=True))
        waved = _order(session, shop_id, code, 0, "钱七")
        merchant = waves.Merchant(tenant_id, "A")
        wave = waves.create(session, warehouse_id, WaveRuleIn(max_orders=1), [merchant])
        fo_id = _order(session, shop_id, code, 1, BUYER)
        mate = _order(session, shop_id, code, 2, BUYER)
        for n in range(SPARE):
            _order(session, shop_id, code, 3 + n, f"买家{n}")
        flagged = service.raise_exception(
            session, None, fo_id, ExceptionKind.deadline_near, "ship by tomorrow"
        )
    with db.unit_of_work(tenant_id) as session:
        _SEEDED[tenant_id] = {
            fo.id: columns_of(fo) for fo in session.scalars(select(FulfillmentOrder))
        }
    assert waved in wave.fulfillment_order_ids
    return {
        "fo_id": str(fo_id),
        "mate_id": str(mate),
        "wave_id": str(wave.id),
        "exception_id": str(flagged.id),
        "fulfillment_sku": code,
    }


_SEEDED: dict[uuid.UUID, dict[uuid.UUID, dict[str, Any]]] = {}


def request(path: str, method: str, places: dict[str, str], n: int) -> dict[str, Any] | None:
    if (method, path) == ("POST", "/fulfillment-orders/{fo_id}/merge"):
        return {"json": {"ids": [places["mate_id"]]}}
    if (method, path) == ("POST", "/fulfillment-orders/{fo_id}/split"):
        return {"json": {"lines": [{"sku_id": places["part_id"], "quantity": 1}]}}
    if (method, path) == ("POST", "/fulfillment-orders/{fo_id}/pack/scan"):
        return {"json": {"barcode": places["fulfillment_sku"]}}
    if (method, path) == ("POST", "/fulfillment-orders/{fo_id}/pack/finish"):
        return {"json": {"weight_grams": 100 + n}}
    if (method, path) == ("POST", "/exceptions/{exception_id}/resolve"):
        return {"json": {"action": "acknowledge"}}
    if (method, path) == ("POST", "/waves"):
        body = {"warehouse_id": places["warehouse_id"], "max_orders": 1}
        return {"json": body, "headers": {"Idempotency-Key": f"matrix-wave-{n}"}}
    if (method, path) == ("POST", "/waves/{wave_id}/pick"):
        return {}
    if (method, path) == ("PUT", "/fulfillment-settings"):
        return {"json": {"merge_mode": "suggest", "allow_partial": True, "warn_hours": n % 100}}
    return None


def other_request(path: str, method: str, n: int) -> dict[str, Any] | None:
    if (method, path) == ("POST", "/warehouses/{warehouse_id}/waves"):
        return {"json": {"max_orders": 1}}
    if (method, path) == ("POST", "/warehouses/{warehouse_id}/waves/{wave_id}/pick"):
        return {}
    return None


# The state of ``fo_id`` each parcel route acts on, and what it has scanned.
NEEDS = {
    "/fulfillment-orders/{fo_id}/pack/scan": (FoState.picked, False),
    "/fulfillment-orders/{fo_id}/pack/finish": (FoState.picked, True),
}


def restore(path: str, tenant_id: uuid.UUID, places: dict[str, str]) -> None:
    """Parcels, the seeded exception and wave back as seeded; ``fo_id`` as the next route
    needs it."""
    if not (
        path.startswith(("/fulfillment-orders", "/exceptions", "/waves")) and tenant_id in _SEEDED
    ):
        return
    fo_id = uuid.UUID(places["fo_id"])
    with db.unit_of_work(tenant_id) as session:
        for fo in session.scalars(select(FulfillmentOrder)):
            seeded = _SEEDED[tenant_id].get(fo.id)
            if seeded is None:
                fo.state, fo.wave_id = FoState.cancelled, None
                continue
            for key, value in seeded.items():
                if key not in ("created_at", "updated_at"):
                    setattr(fo, key, value)
            if fo.id == fo_id and path in NEEDS:
                state, scanned = NEEDS[path]
                fo.state = state
                fo.scanned = {li["sku_id"]: li["quantity"] for li in fo.lines} if scanned else {}
        found = session.scalar(
            select(FulfillmentException).where(
                FulfillmentException.id == uuid.UUID(places["exception_id"])
            )
        )
        assert found is not None
        found.resolved_at = found.resolved_by = found.resolution = None
        wave = session.get(Wave, uuid.UUID(places["wave_id"]))
        assert wave is not None
        wave.status, wave.picked_at = WaveStatus.open, None


def tenant_state(session: Session) -> list[tuple[Any, ...]]:
    return rows_of(session, TENANT_TABLES)


def platform_state(session: Session) -> list[Any]:
    return sorted(str(sorted(columns_of(w).items())) for w in session.scalars(select(Wave)))


BULK_UPDATES: dict[type[Any], tuple[str, Any]] = {
    FulfillmentSettings: ("warn_hours", 77),
    FulfillmentOrder: ("scan_errors", 77),
    FulfillmentEvent: ("note", "tests-bulk"),
    FulfillmentException: ("detail", "tests-bulk"),
}
APPEND_ONLY: frozenset[type[Any]] = frozenset()


def guard_seed(
    tenant_id: uuid.UUID, sku_id: uuid.UUID, order_ids: list[uuid.UUID]
) -> dict[type[Any], set[uuid.UUID]]:
    """Settings, and the orders' parcels (their SKUs are not in the catalog: awaiting stock,
    each with an out-of-stock exception and its transition)."""
    with db.unit_of_work(tenant_id) as session:
        service.set_settings(session, SettingsIn(warn_hours=3))
        for order_id in order_ids:
            reservations.sync_order(session, order_id)
            service.sync_order(session, order_id)
        service.flag_deadlines(session, datetime(2100, 1, 1, tzinfo=UTC))
        return {
            model: set(session.scalars(select(model.id).where(model.tenant_id == tenant_id)))
            for model in TENANT_TABLES
        }


# --------------------------------------------------------------------------------------------
# The ship step (shipping.py): its tables in the state comparisons and the ORM guard tests
# --------------------------------------------------------------------------------------------

from daiyun.platform.fulfillment.models import (  # noqa: E402
    CarrierRule,
    PushStatus,
    Shipment,
    ShipmentStatus,
)

TENANT_TABLES = (*TENANT_TABLES, CarrierRule, Shipment)
BULK_UPDATES[CarrierRule] = ("priority", 77)
BULK_UPDATES[Shipment] = ("push_attempts", 77)
_parcels_guard_seed = guard_seed


def guard_seed(  # the parcels' seed, plus a carrier rule and a shipment
    tenant_id: uuid.UUID, sku_id: uuid.UUID, order_ids: list[uuid.UUID]
) -> dict[type[Any], set[uuid.UUID]]:
    found = _parcels_guard_seed(tenant_id, sku_id, order_ids)
    with db.unit_of_work(tenant_id) as session:
        rule = CarrierRule(priority=1, carrier="sf", provinces=["浙江省"])
        fo = session.scalar(select(FulfillmentOrder).order_by(FulfillmentOrder.id))
        assert fo is not None
        shipment = Shipment(
            fo_id=fo.id,
            shop_id=fo.shop_id,
            order_ids=[fo.order_id.hex],
            carrier="sf",
            waybill_no=f"SF{uuid.uuid4().int % 10**13:013d}",
            sort_code="755-01-02",
            destination="浙江省 杭州市",
            weight_grams=500,
            label={},
            status=ShipmentStatus.shipped,
            shipped_at=datetime(2026, 1, 1, tzinfo=UTC),
            shipped_by="tests",
            push_status=PushStatus.pending,
        )
        session.add_all([rule, shipment])
        session.flush()
        found[CarrierRule] = {rule.id}
        found[Shipment] = {shipment.id}
    return found


# The ship step's routes. A's floor gains a packed parcel (``ship_fo_id``: each allowed caller
# of POST /shipments ships it, ``restore`` unships it) and a parcel shipped through the carrier
# sandbox (``shipment_id``, its push refused so that pushing again is allowed). The sandbox
# serves for the rest of the process: the routes reach it after the seed.
TENANT_RULES.update(
    rules(
        (
            ("GET", "/shipments"),
            ("POST", "/shipments"),
            ("GET", "/shipments/{shipment_id}"),
            ("GET", "/shipments/{shipment_id}/label"),
            ("POST", "/shipments/{shipment_id}/tracking"),
            ("POST", "/shipments/{shipment_id}/push"),
            ("GET", "/carrier-rules"),
            ("PUT", "/carrier-rules"),
        ),
        read=TenantRule(P.warehouse_read, ORDER_READERS),
        write=TenantRule(P.warehouse_manage, STOCK_KEEPERS),
    )
)

_CARRIER: list[Any] = []


def _carrier() -> None:
    """Start the carrier sandbox once and point the settings at it."""
    if not _CARRIER:
        stack = contextlib.ExitStack()
        _CARRIER.append(stack.enter_context(running_carrier_sandbox()))
        _CARRIER.append(stack)  # kept: closing it would stop the sandbox
    settings = get_settings()
    settings.carrier_url = _CARRIER[0].url
    settings.carrier_api_key = _CARRIER[0].api_key


def _packed(session: Session, fo_id: uuid.UUID) -> FulfillmentOrder:
    fo = session.scalars(select(FulfillmentOrder).where(FulfillmentOrder.id == fo_id)).one()
    fo.state, fo.weight_grams = FoState.packed, 900
    fo.scanned = {li["sku_id"]: li["quantity"] for li in fo.lines}
    session.flush()
    return fo


_parcels_seed = seed


def seed(tenant_id: uuid.UUID, places: dict[str, str]) -> dict[str, str]:
    found = _parcels_seed(tenant_id, places)
    _carrier()
    shop_id = uuid.UUID(places["shop_id"])
    code = found["fulfillment_sku"]
    with db.unit_of_work(tenant_id) as session:
        to_ship = _packed(session, _order(session, shop_id, code, 90, "孙八"))
        shipped = _packed(session, _order(session, shop_id, code, 91, "周九"))
        shipment = shipping.ship(session, shipped.id, actor="tests")
        shipment.push_status = PushStatus.refused
        ship_fo_id, shipment_id = to_ship.id, shipment.id
    with db.unit_of_work(tenant_id) as session:
        _SEEDED[tenant_id] = {
            fo.id: columns_of(fo) for fo in session.scalars(select(FulfillmentOrder))
        }
    return {**found, "ship_fo_id": str(ship_fo_id), "shipment_id": str(shipment_id)}


_parcels_request = request


def request(path: str, method: str, places: dict[str, str], n: int) -> dict[str, Any] | None:
    if path.startswith("/shipments") and method == "POST":
        _carrier()
        if path == "/shipments":
            return {"json": {"fulfillment_order_id": places["ship_fo_id"]}}
        return {}
    if (method, path) == ("PUT", "/carrier-rules"):
        rule = {"carrier": "sf", "provinces": ["浙江省"], "max_weight_grams": 1000 + n}
        return {"json": {"rules": [rule]}}
    return _parcels_request(path, method, places, n)


_parcels_restore = restore


def restore(path: str, tenant_id: uuid.UUID, places: dict[str, str]) -> None:
    """As the parcels' restore; after a shipping route, the packed parcel unshipped and the
    shipment's push refused again."""
    _parcels_restore(path, tenant_id, places)
    if not (path.startswith("/shipments") and tenant_id in _SEEDED):
        return
    ship_fo_id = uuid.UUID(places["ship_fo_id"])
    with db.unit_of_work(tenant_id) as session:
        for made in session.scalars(select(Shipment).where(Shipment.fo_id == ship_fo_id)):
            session.delete(made)
        for fo in session.scalars(select(FulfillmentOrder)):
            for key, value in _SEEDED[tenant_id].get(fo.id, {}).items():
                if key not in ("created_at", "updated_at"):
                    setattr(fo, key, value)
        shipment = session.scalars(
            select(Shipment).where(Shipment.id == uuid.UUID(places["shipment_id"]))
        ).one()
        shipment.push_status, shipment.next_push_at = PushStatus.refused, None
