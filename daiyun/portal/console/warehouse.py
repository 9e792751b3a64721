"""Warehouse work across the staff member's merchants (仓储): what an operator does next, in one
place. Receipts still to receive and put away, orders waiting for stock, stock that has run
low (sellable at or under the safety stock), and stock pushes to shops that failed (the shop
keeps showing an old quantity: an overselling risk). Read in one unit of work per tenant where
the user's role there grants ``warehouse:read``, through the services the warehouse's API uses;
each list shows the first few of each merchant, and says when there are more.

A merchant whose stock cannot be read shows nothing rather than failing the page, as the other
console pages do.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import datetime
from functools import partial

from sqlalchemy.orm import Session

from daiyun.connectors import service as shop_service
from daiyun.platform.orders import service as orders
from daiyun.platform.warehouse import reservations, stock_sync
from daiyun.platform.warehouse import service as warehouse
from daiyun.platform.warehouse.schemas import MissingSku, ReceiptRead, ReceiptStatus
from daiyun.platform.warehouse.sync_schemas import StockSyncStatus, SyncListingRead
from daiyun.portal.console.access import Access, quietly, tenant_unit, with_permission
from daiyun.portal.identity import TenantView
from daiyun.tenants.auth.permissions import Permission

P = Permission
# Rows each list shows per merchant; the merchant's own pages list them all.
PER_MERCHANT = 10
# SKUs read per merchant to find low stock (the stock API has no filter for it).
STOCK_SCAN = 1000


@dataclass(frozen=True)
class ReceiptRow:
    tenant: TenantView
    receipt_id: uuid.UUID
    warehouse: str
    reference: str | None
    status: ReceiptStatus
    expected: int
    received: int
    created_at: datetime


@dataclass(frozen=True)
class WaitingRow:
    tenant: TenantView
    order_id: uuid.UUID
    order_number: str
    missing: list[MissingSku]
    since: datetime


@dataclass(frozen=True)
class LowRow:
    tenant: TenantView
    sku: str
    warehouse: str
    on_hand: int
    reserved: int
    safety_stock: int
    sellable: int


@dataclass(frozen=True)
class PushFailureRow:
    tenant: TenantView
    shop: str
    listing: SyncListingRead


@dataclass
class WarehouseWork:
    receipts: list[ReceiptRow] = field(default_factory=list)
    waiting: list[WaitingRow] = field(default_factory=list)
    low: list[LowRow] = field(default_factory=list)
    push_failures: list[PushFailureRow] = field(default_factory=list)
    unread: list[TenantView] = field(default_factory=list)
    more: set[tuple[str, str]] = field(default_factory=set)  # (list, tenant slug)
    scan_stopped: list[TenantView] = field(default_factory=list)


def warehouse_work(accesses: list[Access], user_id: uuid.UUID) -> WarehouseWork:
    """The open warehouse work of every merchant where the user's role reads stock."""
    work = WarehouseWork()
    for access in with_permission(accesses, P.warehouse_read):
        with tenant_unit(access.tenant.id, user_id) as session:
            done = quietly(partial(_lists, session, access.tenant, work))
            session.rollback()
        if done is None:
            work.unread.append(access.tenant)
    work.receipts.sort(key=lambda r: r.created_at)
    work.waiting.sort(key=lambda r: r.since)
    work.low.sort(key=lambda r: (r.sellable, r.tenant.display_name.lower(), r.sku))
    work.push_failures.sort(key=lambda r: (-r.listing.attempts, r.listing.sku))
    return work


def _lists(session: Session, tenant: TenantView, work: WarehouseWork) -> bool:
    names = warehouse.warehouse_names(session)
    _receipts(session, tenant, work, names)
    exceptions, cursor = reservations.find_exceptions(session, True, None, PER_MERCHANT)
    if cursor is not None:
        work.more.add(("waiting", tenant.slug))
    numbers = orders.order_numbers(session, (row.order_id for row in exceptions))
    for row in exceptions:
        number = numbers.get(row.order_id, str(row.order_id))
        work.waiting.append(WaitingRow(tenant, row.order_id, number, row.missing, row.created_at))
    _low(session, tenant, work, names)
    _push_failures(session, tenant, work)
    return True


def _push_failures(session: Session, tenant: TenantView, work: WarehouseWork) -> None:
    """Listings whose last stock push failed, with the marketplace's error."""
    failed, cursor = stock_sync.find_listings(
        session, status=StockSyncStatus.failed, limit=PER_MERCHANT
    )
    if cursor is not None:
        work.more.add(("push_failures", tenant.slug))
    if failed:
        shops = {shop.id: shop.name for shop in shop_service.shops(session)}
        work.push_failures += [PushFailureRow(tenant, shops.get(r.shop_id, "-"), r) for r in failed]


def _receipts(
    session: Session, tenant: TenantView, work: WarehouseWork, names: dict[uuid.UUID, str]
) -> None:
    """Receipts not closed: an announced delivery to receive, or one received in part."""
    found: list[ReceiptRead] = []
    cursor: str | None = None
    while len(found) <= PER_MERCHANT:
        page, cursor = warehouse.find_receipts(session, cursor, 200)
        found += [r for r in page if r.status != ReceiptStatus.closed]
        if cursor is None:
            break
    if len(found) > PER_MERCHANT:
        work.more.add(("receipts", tenant.slug))
    work.receipts += [
        ReceiptRow(
            tenant,
            r.id,
            names.get(r.warehouse_id, str(r.warehouse_id)),
            r.reference,
            r.status,
            sum(line.expected for line in r.lines),
            sum(line.received for line in r.lines),
            r.created_at,
        )
        for r in found[:PER_MERCHANT]
    ]


def _low(
    session: Session, tenant: TenantView, work: WarehouseWork, names: dict[uuid.UUID, str]
) -> None:
    """Stock rows with nothing above the safety stock, scanning at most ``STOCK_SCAN`` SKUs."""
    low, cursor, read = [], None, 0
    while read < STOCK_SCAN:
        rows, cursor = warehouse.find_stock(
            session, sku_id=None, warehouse_id=None, cursor=cursor, limit=200
        )
        read += 200
        low += [r for r in rows if not r.is_bundle and r.on_hand - r.reserved <= r.safety_stock]
        if cursor is None:
            break
    if cursor is not None:
        work.scan_stopped.append(tenant)
    if len(low) > PER_MERCHANT:
        work.more.add(("low", tenant.slug))
    low.sort(key=lambda r: r.sellable)
    work.low += [
        LowRow(
            tenant,
            r.sku,
            names.get(r.warehouse_id, str(r.warehouse_id)),
            r.on_hand,
            r.reserved,
            r.safety_stock,
            r.sellable,
        )
        for r in low[:PER_MERCHANT]
    ]
