"""The stock sync's part of the isolation tests (interface: tests/platform/warehouse/isolation.py).

Its routes are the warehouse's (read: warehouse:read, write: warehouse:manage); its tenant
tables are the share rules, each shop's push schedule and each listing's sync.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from daiyun.core import db
from daiyun.platform.storefront import listings
from daiyun.platform.storefront.listing_rules import ListingState
from daiyun.platform.storefront.models import Listing
from daiyun.platform.warehouse import stock_sync
from daiyun.platform.warehouse.models import (
    ShareKind,
    StockSyncListing,
    StockSyncRule,
    StockSyncShop,
)
from daiyun.platform.warehouse.sync_schemas import SyncRuleCreate
from daiyun.tenants.auth.permissions import Permission
from tests.authz import ORDER_READERS, STOCK_KEEPERS, P, Route, TenantRule, rows_of, rules

TENANT_TABLES = (StockSyncRule, StockSyncShop, StockSyncListing)
RULE = "/stock-sync/rules/{rule_id}"

TENANT_RULES = rules(
    (
        ("GET", "/stock-sync/rules"),
        ("POST", "/stock-sync/rules"),
        ("GET", RULE),
        ("PUT", RULE),
        ("DELETE", RULE),
        ("GET", "/stock-sync/listings"),
        ("POST", "/stock-sync/resync"),
    ),
    read=TenantRule(P.warehouse_read, ORDER_READERS),
    write=TenantRule(P.warehouse_manage, STOCK_KEEPERS),
)
OTHER_RULES: dict[Route, str | Permission] = {}


def _synced_listing(session: Session, listing_id: uuid.UUID) -> None:
    """Give a listing its stock sync row: marked as on the marketplace for a resync, then put
    back as it was (the catalog's routes want it as they left it)."""
    listing = listings.get(session, listing_id)
    before = (listing.state, listing.pushed_version)
    listing.state, listing.pushed_version = ListingState.published, 1
    session.flush()
    stock_sync.resync(session, listing.shop_id)
    listing.state, listing.pushed_version = before
    session.flush()


def seed(tenant_id: uuid.UUID, places: dict[str, str]) -> dict[str, str]:
    """A rule of the shop for the SKU, and the listing's sync row."""
    with db.unit_of_work(tenant_id) as session:
        rule = stock_sync.create_rule(
            session,
            SyncRuleCreate(
                shop_id=uuid.UUID(places["shop_id"]),
                sku_id=uuid.UUID(places["part_id"]),
                kind=ShareKind.ratio,
                ratio_percent=40,
            ),
        )
        _synced_listing(session, uuid.UUID(places["listing_id"]))
    return {"rule_id": str(rule.id)}


def request(path: str, method: str, places: dict[str, str], n: int) -> dict[str, Any] | None:
    if (method, path) == ("POST", "/stock-sync/rules"):
        body = {"shop_id": places["shop_id"], "kind": "fixed", "fixed_quantity": 1 + n}
        return {"json": body, "headers": {"Idempotency-Key": f"matrix-sync-rule-{n}"}}
    if (method, path) == ("PUT", RULE):
        return {"json": {"kind": "ratio", "ratio_percent": 1 + n % 50, "safety_floor": n}}
    if (method, path) == ("DELETE", RULE):
        return {}
    if (method, path) == ("POST", "/stock-sync/resync"):
        return {"json": {"shop_id": places["shop_id"]}}
    return None


def restore(path: str, tenant_id: uuid.UUID, places: dict[str, str]) -> None:
    """After a rule is made or deleted: the seeded rule alone, as seeded."""
    if path not in ("/stock-sync/rules", RULE):
        return
    rule_id = uuid.UUID(places["rule_id"])
    with db.unit_of_work(tenant_id) as session:
        session.execute(delete(StockSyncRule).where(StockSyncRule.id != rule_id))
        if session.scalar(select(StockSyncRule).where(StockSyncRule.id == rule_id)) is None:
            sku_id = uuid.UUID(places["part_id"])
            session.add(
                StockSyncRule(
                    id=rule_id,
                    shop_id=uuid.UUID(places["shop_id"]),
                    sku_id=sku_id,
                    scope=sku_id.hex,
                    kind=ShareKind.ratio,
                    ratio_percent=40,
                    safety_floor=0,
                    warehouse_ids=[],
                )
            )


def tenant_state(session: Session) -> list[tuple[Any, ...]]:
    return rows_of(session, TENANT_TABLES)


def platform_state(session: Session) -> list[Any]:
    return []


def other_request(path: str, method: str, n: int) -> dict[str, Any] | None:
    return None


BULK_UPDATES: dict[type[Any], tuple[str, Any]] = {
    StockSyncRule: ("safety_floor", 77),
    StockSyncShop: ("resynced_at", datetime(2026, 1, 1, tzinfo=UTC)),
    StockSyncListing: ("error", "tests-bulk"),
}
APPEND_ONLY: frozenset[type[Any]] = frozenset()


def guard_seed(
    tenant_id: uuid.UUID, sku_id: uuid.UUID, order_ids: list[uuid.UUID]
) -> dict[type[Any], set[uuid.UUID]]:
    """A rule of the shop of the tenant's listing (seeded by the catalog) and the listing's
    sync row."""
    with db.unit_of_work(tenant_id) as session:
        listing = session.scalars(select(Listing).order_by(Listing.id)).first()
        assert listing is not None
        stock_sync.create_rule(
            session,
            SyncRuleCreate(
                shop_id=listing.shop_id, sku_id=None, kind=ShareKind.fixed, fixed_quantity=5
            ),
        )
        _synced_listing(session, listing.id)
        return {
            model: set(session.scalars(select(model.id).where(model.tenant_id == tenant_id)))
            for model in TENANT_TABLES
        }
