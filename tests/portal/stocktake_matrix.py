"""Stocktakes' and replenishment's part of the portal matrix (tests/portal/test_portal_matrix.py):
their page rules (staff pages; counting, cancelling and expecting a delivery for stock keepers,
approving for admins), A's seeded count of one bin, valid forms, the count in the state each
action needs, and A's counted lines and receipts as state."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import select

from daiyun.core import db
from daiyun.platform.storefront import service as catalog_service
from daiyun.platform.storefront.models import Sku
from daiyun.platform.storefront.schemas import ProductCreate, SkuCreate
from daiyun.platform.warehouse import counts as stock_counts
from daiyun.platform.warehouse import service as stock_service
from daiyun.platform.warehouse.models import (
    CountKind,
    CountStatus,
    Receipt,
    StockCount,
    StockCountLine,
)
from daiyun.platform.warehouse.schemas import (
    CountCreate,
    CountedLine,
    CountEntry,
    ReceiptCreate,
    ReceivedLine,
)
from daiyun.tenants.auth.permissions import Permission, Role
from tests.platform.warehouse.conftest import make_site

P = Permission
KEEPERS = frozenset({Role.agency_admin, Role.warehouse_operator})
APPROVERS = frozenset({Role.agency_admin})
# What each count action needs the seeded count to be (the start needs its bin free).
COUNT_NEEDS = {
    "/stocktakes": CountStatus.cancelled,
    "/approve": CountStatus.submitted,
    "/submit": CountStatus.counting,
    "/cancel": CountStatus.counting,
    "/lines": CountStatus.counting,
}


def rules(
    rule: Any, tenant: str, staff: str, portal: str, stock_readers: frozenset[Role]
) -> dict[tuple[str, str], Any]:
    t = f"{portal}/t/{{tenant}}"

    def keep() -> Any:
        return rule(tenant, P.warehouse_manage, staff_only=True, pinned=KEEPERS, changes=KEEPERS)

    return {
        ("GET", f"{portal}/console/stocktakes"): rule(staff),
        ("GET", f"{portal}/console/replenishment"): rule(staff),
        ("GET", f"{t}/stocktakes/{{count_id}}"): rule(
            tenant, P.warehouse_read, staff_only=True, pinned=stock_readers
        ),
        **{
            ("POST", f"{t}/stocktakes{action}"): keep()
            for action in ("", "/{count_id}/lines", "/{count_id}/submit", "/{count_id}/cancel")
        },
        ("POST", f"{t}/replenishment/expect"): keep(),
        ("POST", f"{t}/stocktakes/{{count_id}}/approve"): rule(
            tenant, P.warehouse_approve, staff_only=True, pinned=APPROVERS, changes=APPROVERS
        ),
    }


def seed(tenant_id: uuid.UUID) -> dict[str, str]:
    """A's stock of MATRIX-CUP in a warehouse's bin A-01-01-01, and a count of that bin."""
    site = make_site(f"PM{uuid.uuid4().hex[:6].upper()}", 10)
    with db.unit_of_work(tenant_id) as session:
        sku = SkuCreate(code="MATRIX-CUP", cost_minor=100, currency="CNY")
        cup = catalog_service.create_product(session, ProductCreate(name="Cup", variants=[sku]))
        line = ReceivedLine(sku_id=cup.variants[0].id, quantity=5, location_id=site.shelf)
        stock_service.create_receipt(session, ReceiptCreate(warehouse_id=site.id, received=[line]))
        body = CountCreate(warehouse_id=site.id, kind=CountKind.cycle, location_ids=[site.shelf])
        count = stock_counts.start(session, body)
        found = CountedLine(sku_id=cup.variants[0].id, location_id=site.shelf, quantity=6)
        stock_counts.record(session, count.id, CountEntry(lines=[found]))
        return {"count_id": str(count.id)}


def form(
    path: str, tenant_id: uuid.UUID, places: dict[str, str], caller: str
) -> dict[str, str] | None:
    if path.endswith("/{tenant}/stocktakes"):
        with db.unit_of_work(tenant_id) as session:
            count = stock_counts.get(session, uuid.UUID(places["count_id"]))
        return {"warehouse_id": str(count.warehouse_id), "kind": "full"}
    if path.endswith("/replenishment/expect"):
        with db.unit_of_work(tenant_id) as session:
            count = stock_counts.get(session, uuid.UUID(places["count_id"]))
            cup = session.scalar(select(Sku.id).where(Sku.code == "MATRIX-CUP"))
        return {
            "warehouse_id": str(count.warehouse_id),
            "key": caller,
            "sku_id": str(cup),
            "quantity": "4",
        }
    if path.endswith("/stocktakes/{count_id}/lines"):
        return {"sku": "MATRIX-CUP", "bin": "A-01-01-01", "quantity": ""}
    if path.endswith("/stocktakes/{count_id}/cancel"):
        return {"reason": f"cancelled by {caller}"}
    return None


def state(tenant_id: uuid.UUID) -> tuple[object, ...]:
    with db.unit_of_work(tenant_id) as session:
        counted = sorted(
            (str(line.id), line.counted) for line in session.scalars(select(StockCountLine))
        )
        receipts = sorted(str(r.id) for r in session.scalars(select(Receipt)))
    return counted, receipts


def restore(path: str, tenant_id: uuid.UUID, places: dict[str, str]) -> None:
    """The seeded count in the state the route acts on; other counts cancelled."""
    if "/stocktakes" not in path:
        return
    seeded = uuid.UUID(places["count_id"])
    needs = next(v for k, v in COUNT_NEEDS.items() if path.endswith(k))
    with db.unit_of_work(tenant_id) as session:
        for count in session.scalars(select(StockCount)):
            count.status = needs if count.id == seeded else CountStatus.cancelled
