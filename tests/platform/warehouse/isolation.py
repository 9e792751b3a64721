"""The warehouse's part of the isolation tests, and the interface every department's part keeps.

A part is a module ``tests/platform/<department>/isolation.py`` listed in
``tests/isolation_parts.py``. The route matrix (tests/test_authorization.py) and the ORM guard
tests (tests/tenants/guard/) read from it:

* ``TENANT_RULES``: its routes on a tenant and the rule of each (``tests.authz.rules`` builds them);
* ``OTHER_RULES``: its routes outside a tenant, each with the Permission a caller's own role needs
  (or one of the access kinds of tests/test_authorization.py);
* ``seed(tenant_id, places)``: A's objects for its routes, as path placeholders; ``places`` holds
  those of the parts before it (``part_id``: a SKU, ``shop_id``, ``order_id``, ...);
* ``request(path, method, places, n)``: a valid body for a write on a tenant (``path`` without the
  tenant prefix), new values each call so an allowed one changes A; None for other routes;
* ``other_request(path, method, n)``: the same for its routes outside a tenant;
* ``restore(path, tenant_id, places)``: put A's objects back after a route, for the next caller;
* ``tenant_state(session)``: the rows of its tenant tables (a refused write must leave them alone);
* ``platform_state(session)``: the same for its platform tables;
* ``COMPUTES`` (optional): POSTs on a tenant that compute an answer and store nothing, so an
  allowed one must leave A as it was too;
* ``BULK_UPDATES`` (a column and value per tenant model, for the guard's bulk UPDATE test),
  ``APPEND_ONLY`` (models a trigger keeps from UPDATE and DELETE) and
  ``guard_seed(tenant_id, sku_id, order_ids)``: rows of each of its tenant models, by model.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from daiyun.core import db
from daiyun.platform.warehouse import counts, replenishment, reservations, service, transfers
from daiyun.platform.warehouse.models import (
    Adjustment,
    Batch,
    CountKind,
    CountStatus,
    Location,
    Receipt,
    ReplenishmentRule,
    Reservation,
    SkuStockRule,
    Stock,
    StockCount,
    StockCountLine,
    StockException,
    StockMove,
    StockSettings,
    Transfer,
    TransferStatus,
    Warehouse,
)
from daiyun.platform.warehouse.schemas import (
    AdjustmentCreate,
    AdjustmentLine,
    CountCreate,
    CountedLine,
    CountEntry,
    ExpectedLine,
    ReceiptCreate,
    ReceivedLine,
    ReplenishmentRuleIn,
    ReplenishmentRules,
    SkuRuleIn,
    StockSettingsIn,
    TransferCreate,
    TransferLineIn,
)
from daiyun.tenants.auth.permissions import Permission
from tests.authz import (
    ADMIN,
    API,
    ORDER_READERS,
    STOCK_KEEPERS,
    P,
    Route,
    TenantRule,
    columns_of,
    rows_of,
    rules,
)
from tests.platform.warehouse.conftest import make_site

TENANT_TABLES = (
    Batch,
    Stock,
    StockMove,
    StockSettings,
    SkuStockRule,
    Receipt,
    Adjustment,
    Reservation,
    StockException,
    Transfer,
    StockCount,
    StockCountLine,
    ReplenishmentRule,
)
RECEIVE_TRANSFER = "/transfers/{transfer_id}/receive"

TENANT_RULES = rules(
    (
        ("GET", "/stock"),
        ("GET", "/stock/ledger"),
        ("POST", "/receipts"),
        ("GET", "/receipts"),
        ("GET", "/receipts/{receipt_id}"),
        ("POST", "/receipts/{receipt_id}/receive"),
        ("POST", "/adjustments"),
        ("GET", "/adjustments"),
        ("GET", "/reservations"),
        ("GET", "/reservations/{order_id}"),
        ("GET", "/stock-exceptions"),
        ("POST", "/transfers"),
        ("GET", "/transfers"),
        ("GET", "/transfers/{transfer_id}"),
        ("POST", "/transfers/{transfer_id}/receive"),
        ("GET", "/stock-settings"),
        ("PUT", "/stock-settings"),
        ("POST", "/stocktakes"),
        ("GET", "/stocktakes"),
        ("GET", "/stocktakes/{count_id}"),
        ("POST", "/stocktakes/{count_id}/lines"),
        ("POST", "/stocktakes/{count_id}/submit"),
        ("POST", "/stocktakes/{count_id}/cancel"),
        ("GET", "/replenishment"),
        ("GET", "/replenishment/rules"),
        ("PUT", "/replenishment/rules"),
        ("GET", "/stock-alerts"),
    ),
    read=TenantRule(P.warehouse_read, ORDER_READERS),
    write=TenantRule(P.warehouse_manage, STOCK_KEEPERS),
) | {
    # Posting a count's adjustment needs warehouse:approve (agency admins).
    ("POST", f"{API}/tenants/{{tenant}}/stocktakes/{{count_id}}/approve"): TenantRule(
        P.warehouse_approve, ADMIN
    ),
}
# The agency's warehouses and bins: any user whose own role carries the permission.
OTHER_RULES: dict[Route, str | Permission] = {
    ("GET", "/api/v1/warehouses"): P.warehouse_read,
    ("POST", "/api/v1/warehouses"): P.warehouse_manage,
    ("PATCH", "/api/v1/warehouses/{warehouse_id}"): P.warehouse_manage,
    ("GET", "/api/v1/warehouses/{warehouse_id}/locations"): P.warehouse_read,
    ("POST", "/api/v1/warehouses/{warehouse_id}/locations"): P.warehouse_manage,
}


def seed(tenant_id: uuid.UUID, places: dict[str, str]) -> dict[str, str]:
    """Two warehouses, stock of the SKU in the first, an open ASN and a transfer in transit."""
    sku_id = uuid.UUID(places["part_id"])
    tag = uuid.uuid4().hex[:6].upper()
    hz, sz = make_site(f"MX{tag}", 10), make_site(f"MY{tag}", 20)
    with db.unit_of_work(tenant_id) as session:
        line = ReceivedLine(sku_id=sku_id, quantity=1000, location_id=hz.shelf, lot="MX-1")
        service.create_receipt(session, ReceiptCreate(warehouse_id=hz.id, received=[line]))
        asn = service.create_receipt(
            session,
            ReceiptCreate(
                warehouse_id=hz.id, expected=[ExpectedLine(sku_id=sku_id, quantity=100_000)]
            ),
        )
        transfer = transfers.ship(
            session,
            TransferCreate(
                from_warehouse_id=hz.id,
                to_warehouse_id=sz.id,
                lines=[TransferLineIn(sku_id=sku_id, quantity=5)],
            ),
        )
        # A cycle count of the shelf, counted one over the book: approving it posts +1.
        count = counts.start(
            session,
            CountCreate(warehouse_id=hz.id, kind=CountKind.cycle, location_ids=[hz.shelf]),
        )
        counted = CountedLine(sku_id=sku_id, location_id=hz.shelf, lot="MX-1", quantity=996)
        counts.record(session, count.id, CountEntry(lines=[counted]))
    return {
        "count_id": str(count.id),
        "cage_id": str(hz.cage),
        "warehouse_id": str(hz.id),
        "other_warehouse_id": str(sz.id),
        "location_id": str(hz.shelf),
        "other_location_id": str(sz.shelf),
        "stock_sku_id": str(sku_id),
        "receipt_id": str(asn.id),
        "transfer_id": str(transfer.id),
    }


def request(path: str, method: str, places: dict[str, str], n: int) -> dict[str, Any] | None:
    """A valid body for a warehouse write on a tenant (``path`` without the tenant prefix), each
    call with new values so an allowed one changes A; None for other routes."""
    sku = places["stock_sku_id"]
    if (method, path) == ("POST", "/receipts"):
        line = {"sku_id": sku, "quantity": 1 + n, "location_id": places["location_id"]}
        body = {"warehouse_id": places["warehouse_id"], "received": [line]}
        return {"json": body, "headers": {"Idempotency-Key": f"matrix-receipt-{n}"}}
    if (method, path) == ("POST", "/receipts/{receipt_id}/receive"):
        line = {"sku_id": sku, "quantity": 1 + n, "location_id": places["location_id"]}
        return {"json": {"lines": [line]}}
    if (method, path) == ("POST", "/adjustments"):
        line = {"sku_id": sku, "location_id": places["location_id"], "delta": 1 + n}
        return {"json": {"reason": f"found {n}", "lines": [line]}}
    if (method, path) == ("POST", "/transfers"):
        body = {
            "from_warehouse_id": places["warehouse_id"],
            "to_warehouse_id": places["other_warehouse_id"],
            "lines": [{"sku_id": sku, "quantity": 1}],
        }
        return {"json": body}
    if (method, path) == ("POST", RECEIVE_TRANSFER):
        return {"json": {"location_id": places["other_location_id"], "lines": []}}
    if (method, path) == ("POST", "/stocktakes"):
        body = {
            "warehouse_id": places["warehouse_id"],
            "kind": "cycle",
            "location_ids": [places["cage_id"]],
        }
        return {"json": body, "headers": {"Idempotency-Key": f"matrix-count-{n}"}}
    if (method, path) == ("POST", "/stocktakes/{count_id}/lines"):
        line = {
            "sku_id": sku,
            "location_id": places["location_id"],
            "lot": "MX-1",
            "quantity": 996 + n,
        }
        return {"json": {"lines": [line]}}
    if (method, path) == ("POST", "/stocktakes/{count_id}/submit"):
        return {"json": {}}
    if (method, path) in {
        ("POST", "/stocktakes/{count_id}/approve"),
        ("POST", "/stocktakes/{count_id}/cancel"),
    }:
        return {}
    if (method, path) == ("PUT", "/replenishment/rules"):
        rule = {
            "sku_id": sku,
            "warehouse_id": places["warehouse_id"],
            "min_quantity": n,
            "max_quantity": 10 + n,
            "lead_time_days": 7,
        }
        return {"json": {"rules": [rule]}}
    if (method, path) == ("PUT", "/stock-settings"):
        rule = {"sku_id": sku, "warehouse_id": places["warehouse_id"], "safety_stock": n}
        return {"json": {"default_warehouse_id": places["warehouse_id"], "skus": [rule]}}
    return None


# What each count route needs the seeded count to be (the start: no other count on its bin).
COUNT_NEEDS = {
    "/stocktakes": None,
    "/stocktakes/{count_id}/lines": CountStatus.counting,
    "/stocktakes/{count_id}/submit": CountStatus.counting,
    "/stocktakes/{count_id}/cancel": CountStatus.counting,
    "/stocktakes/{count_id}/approve": CountStatus.submitted,
}


def restore(path: str, tenant_id: uuid.UUID, places: dict[str, str]) -> None:
    """Put the transfer back in transit, so the next allowed caller can receive it too. After
    each caller of a count route (the anonymous one comes first): the seeded count in the state
    the route acts on, every other count cancelled."""
    route = next((r for r in COUNT_NEEDS if path.endswith(r)), None)
    if route is not None:
        seeded = uuid.UUID(places["count_id"])
        with db.unit_of_work(tenant_id) as session:
            for count in session.scalars(select(StockCount)):
                if count.id != seeded:
                    count.status = CountStatus.cancelled
                elif (needs := COUNT_NEEDS[route]) is not None:
                    count.status, count.adjustment_id = needs, None
        return
    if not path.endswith(RECEIVE_TRANSFER):
        return
    with db.unit_of_work(tenant_id) as session:
        transfer_id = uuid.UUID(places["transfer_id"])
        found = session.scalar(select(Transfer).where(Transfer.id == transfer_id))
        assert found is not None
        found.status = TransferStatus.in_transit
        found.lines = [{**line, "received": None} for line in found.lines]


def tenant_state(session: Session) -> list[tuple[Any, ...]]:
    """Every row of the warehouse's tenant tables, read through the bound session."""
    return rows_of(session, TENANT_TABLES)


def platform_state(session: Session) -> list[tuple[Any, ...]]:
    """The agency's warehouses and bins."""
    warehouses = [tuple(columns_of(w).items()) for w in session.scalars(select(Warehouse))]
    locations = [tuple(columns_of(loc).items()) for loc in session.scalars(select(Location))]
    return sorted(map(str, warehouses + locations))  # type: ignore[arg-type]


def other_request(path: str, method: str, n: int) -> dict[str, Any] | None:
    """A valid body for a write on the agency's warehouses."""
    if (method, path) == ("POST", "/warehouses"):
        return {"json": {"code": f"MW{n:04d}{uuid.uuid4().hex[:6]}", "name": "Matrix"}}
    if (method, path) == ("PATCH", "/warehouses/{warehouse_id}"):
        return {"json": {"name": f"Renamed {n}"}}
    if (method, path) == ("POST", "/warehouses/{warehouse_id}/locations"):
        return {"json": {"zone": "M", "aisle": f"{n}", "shelf": "1", "bin": uuid.uuid4().hex[:8]}}
    return None


# A column each bulk UPDATE sets, and the value it sets (visible afterwards, so B can be checked).
BULK_UPDATES: dict[type[Any], tuple[str, Any]] = {
    Batch: ("lot", "tests-bulk"),
    Stock: ("on_hand", 7),
    StockMove: ("reason", "tests-bulk"),  # append-only: the update is refused, still scoped
    StockSettings: ("updated_at", datetime(2026, 1, 1, tzinfo=UTC)),
    SkuStockRule: ("safety_stock", 77),
    Receipt: ("reference", "tests-bulk"),
    Adjustment: ("reason", "tests-bulk"),
    Reservation: ("updated_at", datetime(2026, 1, 1, tzinfo=UTC)),
    StockException: ("updated_at", datetime(2026, 1, 1, tzinfo=UTC)),
    Transfer: ("note", "tests-bulk"),
    StockCount: ("note", "tests-bulk"),
    StockCountLine: ("counted", 77),
    ReplenishmentRule: ("max_quantity", 77),
}
APPEND_ONLY: frozenset[type[Any]] = frozenset({StockMove})


def guard_seed(
    tenant_id: uuid.UUID, sku_id: uuid.UUID, order_ids: list[uuid.UUID]
) -> dict[type[Any], set[uuid.UUID]]:
    """Rows of every warehouse tenant table: stock received and adjusted, settings, a transfer,
    and the orders' reservations (their SKU codes are not in the catalog: exceptions)."""
    tag = uuid.uuid4().hex[:6].upper()
    hz, sz = make_site(f"GA{tag}", 10), make_site(f"GB{tag}", 20)
    with db.unit_of_work(tenant_id) as session:
        line = ReceivedLine(sku_id=sku_id, quantity=9, location_id=hz.shelf, lot="SEED-LOT")
        service.create_receipt(session, ReceiptCreate(warehouse_id=hz.id, received=[line]))
        service.create_adjustment(
            session,
            AdjustmentCreate(
                reason="seed",
                lines=[AdjustmentLine(sku_id=sku_id, location_id=hz.shelf, delta=1)],
            ),
        )
        rule = SkuRuleIn(sku_id=sku_id, warehouse_id=hz.id, safety_stock=1)
        service.set_stock_settings(
            session, StockSettingsIn(default_warehouse_id=hz.id, skus=[rule])
        )
        transfers.ship(
            session,
            TransferCreate(
                from_warehouse_id=hz.id,
                to_warehouse_id=sz.id,
                lines=[TransferLineIn(sku_id=sku_id, quantity=2)],
            ),
        )
        for order_id in order_ids:
            reservations.sync_order(session, order_id)
        count = counts.start(
            session, CountCreate(warehouse_id=hz.id, kind=CountKind.cycle, location_ids=[hz.shelf])
        )
        counted = CountedLine(sku_id=sku_id, location_id=hz.shelf, lot="SEED-LOT", quantity=7)
        counts.record(session, count.id, CountEntry(lines=[counted]))
        rule_in = ReplenishmentRuleIn(
            sku_id=sku_id, warehouse_id=hz.id, min_quantity=1, max_quantity=9, lead_time_days=3
        )
        replenishment.set_rules(session, ReplenishmentRules(rules=[rule_in]))
        return {
            model: set(session.scalars(select(model.id).where(model.tenant_id == tenant_id)))
            for model in TENANT_TABLES
        }
