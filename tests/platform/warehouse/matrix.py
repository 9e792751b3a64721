"""The warehouse's part of the authorization matrix (tests/test_authorization.py): A's objects
for its routes, a valid body for each write, and the rows a refused write must leave alone."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from daiyun.core import db
from daiyun.platform.warehouse import counts, service, transfers
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
    CountCreate,
    CountedLine,
    CountEntry,
    ExpectedLine,
    ReceiptCreate,
    ReceivedLine,
    TransferCreate,
    TransferLineIn,
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


def seed(tenant_id: uuid.UUID, sku_id: uuid.UUID) -> dict[str, str]:
    """Two warehouses, stock of ``sku_id`` in the first, an open ASN and a transfer in transit."""
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


# What each of the count's routes needs it to be before a caller acts on it.
COUNT_NEEDS = {
    "/stocktakes/{count_id}/lines": CountStatus.counting,
    "/stocktakes/{count_id}/submit": CountStatus.counting,
    "/stocktakes/{count_id}/cancel": CountStatus.counting,
    "/stocktakes/{count_id}/approve": CountStatus.submitted,
}


def prepare(path: str, tenant_id: uuid.UUID, places: dict[str, str]) -> None:
    """Before each caller of a count's route: the seeded count is in the state the route acts
    on; before each caller of POST /stocktakes: no other count holds the bin it counts."""
    seeded = uuid.UUID(places["count_id"])
    with db.unit_of_work(tenant_id) as session:
        if path.endswith("/stocktakes"):
            for other in session.scalars(select(StockCount).where(StockCount.id != seeded)):
                other.status = CountStatus.cancelled
        for route, status in COUNT_NEEDS.items():
            if path.endswith(route):
                found = session.scalar(select(StockCount).where(StockCount.id == seeded))
                assert found is not None
                found.status, found.adjustment_id = status, None


def restore(path: str, tenant_id: uuid.UUID, places: dict[str, str]) -> None:
    """Put the transfer back in transit, so the next allowed caller can receive it too."""
    if not path.endswith(RECEIVE_TRANSFER):
        return
    with db.unit_of_work(tenant_id) as session:
        transfer_id = uuid.UUID(places["transfer_id"])
        found = session.scalar(select(Transfer).where(Transfer.id == transfer_id))
        assert found is not None
        found.status = TransferStatus.in_transit
        found.lines = [{**line, "received": None} for line in found.lines]


def _columns(obj: object) -> dict[str, Any]:
    return {c.key: getattr(obj, c.key) for c in type(obj).__mapper__.column_attrs}  # type: ignore[attr-defined]


def tenant_state(session: Session) -> list[dict[str, Any]]:
    """Every row of the warehouse's tenant tables, read through the bound session."""
    return [
        _columns(obj)
        for model in TENANT_TABLES
        for obj in session.scalars(select(model).order_by(model.id))
    ]


def platform_state(session: Session) -> list[tuple[Any, ...]]:
    """The agency's warehouses and bins."""
    warehouses = [tuple(_columns(w).items()) for w in session.scalars(select(Warehouse))]
    locations = [tuple(_columns(loc).items()) for loc in session.scalars(select(Location))]
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
