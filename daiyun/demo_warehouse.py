"""The demo's warehouses and stock (仓储), seeded by :func:`daiyun.demo.seed`: the agency's
Hangzhou and Shenzhen warehouses with their bins, and each demo merchant's opening stock of every
SKU its shops sell, received into them (the tea in a dated lot), so the orders the sandbox shops
send reserve stock as they come in. Each merchant's least popular SKU is received one unit short
of demand so an out-of-stock order shows, and a purchase order for it is announced (an ASN) for
the console's warehouse work. Min/max rules and an approved stocktake that found a unit missing
give the replenishment and stocktake pages something to show.

Idempotent as the rest of the demo: a warehouse is found by its code, and a merchant whose
opening receipt exists is left alone.
"""

from __future__ import annotations

import uuid
from datetime import date
from itertools import cycle

from sqlalchemy.orm import Session

from daiyun.core.db import unit_of_work
from daiyun.platform.storefront import service as catalog_service
from daiyun.platform.warehouse import counts, replenishment
from daiyun.platform.warehouse import service as warehouse
from daiyun.platform.warehouse.schemas import (
    CountCreate,
    CountedLine,
    CountEntry,
    CountKind,
    CountSubmit,
    ExpectedLine,
    LocationCreate,
    ReceiptCreate,
    ReceivedLine,
    ReplenishmentRuleIn,
    ReplenishmentRules,
    WarehouseCreate,
)
from daiyun.sandboxes.marketplaces.catalogs import CATALOGS, sold_items
from daiyun.tenants.models import Tenant

OPENING = "DEMO-OPENING"
RESTOCK = "DEMO-PO-0001"
# (code, name, address, priority): allocation tries Hangzhou first, then Shenzhen.
WAREHOUSES = (
    (
        "DEMO-HZ",
        "杭州仓 Hangzhou",
        {"country": "CN", "province": "浙江省", "city": "杭州市", "district": "余杭区"},
        10,
    ),
    (
        "DEMO-SZ",
        "深圳仓 Shenzhen",
        {"country": "CN", "province": "广东省", "city": "深圳市", "district": "龙岗区"},
        20,
    ),
)
# Pickable bins: zone A, aisles 01-02, shelves 01-03, bins 01-02; and a quarantine cage.
BINS = [("A", f"{a:02}", f"{s:02}", f"{b:02}") for a in (1, 2) for s in (1, 2, 3) for b in (1, 2)]
# Units received per unit of a SKU's popularity (its weight in the sandbox's orders).
HANGZHOU_PER_POPULARITY = 40
SHENZHEN_PER_POPULARITY = 15
TEA_LOT = ("2026-SPRING", date(2028, 3, 31))


def ensure_warehouses() -> tuple[list[uuid.UUID], list[str]]:
    """The demo's warehouses (found or made) with their pickable bins, Hangzhou first."""
    created: list[str] = []
    ids: list[uuid.UUID] = []
    with unit_of_work() as session:
        existing = {w.code: w for w in warehouse.find_warehouses(session, None, 500)[0]}
        for code, name, address, priority in WAREHOUSES:
            found = existing.get(code)
            if found is None:
                body = WarehouseCreate(code=code, name=name, address=address, priority=priority)
                found = warehouse.create_warehouse(session, body)
                for zone, aisle, shelf, bin_ in BINS:
                    spot = LocationCreate(zone=zone, aisle=aisle, shelf=shelf, bin=bin_)
                    warehouse.create_location(session, found.id, spot)
                cage = LocationCreate(zone="Q", aisle="01", shelf="01", bin="01", pickable=False)
                warehouse.create_location(session, found.id, cage)
                created.append(f"warehouse {code}")
            ids.append(found.id)
    return ids, created


def _pickable(warehouse_id: uuid.UUID) -> list[uuid.UUID]:
    with unit_of_work() as session:
        rows, _ = warehouse.find_locations(session, warehouse_id, None, 100)
        return [row.id for row in rows if row.pickable]


def ensure_stock(tenant: Tenant, warehouse_ids: list[uuid.UUID]) -> list[str]:
    """The merchant's opening stock in each demo warehouse, and the restock it awaits."""
    catalog = CATALOGS.get(tenant.slug)
    if catalog is None:
        return []
    items = [(code, popularity) for code, _, _, _, popularity in sold_items(catalog)]
    items = items[:-1]  # the bundle last: its stock is its parts'
    short = min(items, key=lambda item: item[1])[0]
    hangzhou, shenzhen = warehouse_ids
    with unit_of_work(tenant.id) as session:
        receipts, _ = warehouse.find_receipts(session, None, 500)
        if any(r.reference == OPENING for r in receipts):
            return []
        ids = {code: _sku(session, code) for code, _ in items}
        for site, per_popularity in (
            (hangzhou, HANGZHOU_PER_POPULARITY),
            (shenzhen, SHENZHEN_PER_POPULARITY),
        ):
            bins = cycle(_pickable(site))
            lines = [
                ReceivedLine(
                    sku_id=ids[code],
                    quantity=1 if code == short else popularity * per_popularity,
                    location_id=next(bins),
                    lot=TEA_LOT[0] if code.startswith("TEA-") else None,
                    expires_on=TEA_LOT[1] if code.startswith("TEA-") else None,
                )
                for code, popularity in items
                if code != short or site == hangzhou
            ]
            warehouse.create_receipt(
                session, ReceiptCreate(warehouse_id=site, reference=OPENING, received=lines)
            )
        restock = ExpectedLine(sku_id=ids[short], quantity=50)
        warehouse.create_receipt(
            session, ReceiptCreate(warehouse_id=shenzhen, reference=RESTOCK, expected=[restock])
        )
    return [f"opening stock of {len(items)} SKUs in 2 warehouses -> {tenant.slug}"]


def ensure_planning(tenant: Tenant, warehouse_ids: list[uuid.UUID]) -> list[str]:
    """Min/max rules for every SKU at Hangzhou (so the SKU received short is suggested for
    reordering, the others once their sales run them down) and a finished cycle count of one
    Hangzhou bin that found one unit missing, approved, for the stocktake pages."""
    catalog = CATALOGS.get(tenant.slug)
    if catalog is None:
        return []
    items = [(code, popularity) for code, _, _, _, popularity in sold_items(catalog)][:-1]
    hangzhou = warehouse_ids[0]
    with unit_of_work(tenant.id) as session:
        if counts.find(session, None, None, 1)[0]:
            return []
        ids = {code: _sku(session, code) for code, _ in items}
        rules = [
            ReplenishmentRuleIn(
                sku_id=ids[code],
                warehouse_id=hangzhou,
                min_quantity=popularity * HANGZHOU_PER_POPULARITY // 4,
                max_quantity=popularity * HANGZHOU_PER_POPULARITY,
                lead_time_days=14,
            )
            for code, popularity in items
        ]
        replenishment.set_rules(session, ReplenishmentRules(rules=rules))
        first_bin = _pickable(hangzhou)[0]
        body = CountCreate(warehouse_id=hangzhou, kind=CountKind.cycle, location_ids=[first_bin])
        count = counts.start(session, body)
        # One unit of the bin's first SKU with more than one on the shelf is not found.
        missing = next((line.sku_id for line in count.lines if line.expected > 1), None)
        found = [
            CountedLine(
                sku_id=line.sku_id,
                location_id=line.location_id,
                lot=line.lot,
                quantity=line.expected - (1 if line.sku_id == missing else 0),
            )
            for line in count.lines
        ]
        if found:
            counts.record(session, count.id, CountEntry(lines=found))
        counts.submit(session, count.id, CountSubmit(missing_as_zero=True))
        counts.approve(session, count.id)
    return [f"replenishment rules and an approved stocktake -> {tenant.slug}"]


def _sku(session: Session, code: str) -> uuid.UUID:
    found, _ = catalog_service.find_skus(session, code=code, limit=1)
    return found[0].id
