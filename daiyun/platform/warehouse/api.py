"""The warehouse API (仓储): the agency's warehouses and bins, and per owner (tenant) its stock,
ledger, receipts, adjustments, reservations, out-of-stock exceptions, transfers and settings."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Response

from daiyun.core.errors import Problem
from daiyun.core.idempotency import IdempotencyKey, idempotent
from daiyun.core.ids import DateTime, instant
from daiyun.core.openapi import problems
from daiyun.core.pagination import Cursor, Limit, Page
from daiyun.platform.warehouse import (
    api_sync,
    counts,
    replenishment,
    reservations,
    service,
    transfers,
)
from daiyun.platform.warehouse.models import CountStatus, MoveKind
from daiyun.platform.warehouse.schemas import (
    AdjustmentCreate,
    AdjustmentRead,
    AlertRead,
    CountCreate,
    CountEntry,
    CountRead,
    CountSubmit,
    CountSummary,
    LocationCreate,
    LocationRead,
    MoveRead,
    ReceiptCreate,
    ReceiptRead,
    ReceiveIn,
    ReplenishmentRules,
    ReplenishmentRulesRead,
    ReservationRead,
    StockExceptionRead,
    StockRead,
    StockSettingsIn,
    StockSettingsRead,
    SuggestionRead,
    TransferCreate,
    TransferRead,
    TransferReceive,
    WarehouseCreate,
    WarehouseRead,
    WarehouseUpdate,
)
from daiyun.tenants.auth.deps import CurrentUser, SessionDep, TenantAccess, tenant_access
from daiyun.tenants.auth.models import User
from daiyun.tenants.auth.permissions import Permission, allows

router = APIRouter(tags=["warehouse"])
P = Permission
Reader = Annotated[TenantAccess, Depends(tenant_access(P.warehouse_read))]
Manager = Annotated[TenantAccess, Depends(tenant_access(P.warehouse_manage))]
Approver = Annotated[TenantAccess, Depends(tenant_access(P.warehouse_approve))]
TENANT = "/tenants/{tenant}"


def _agency(user: User, permission: Permission) -> None:
    # Warehouses are the agency's, not a merchant's: the user's own role decides.
    if not allows(user.role, permission):
        raise Problem(403, "forbidden", f"This needs the {permission.value} permission")


# --------------------------------------------------------------------------------------------
# Warehouses and locations (agency level)
# --------------------------------------------------------------------------------------------


@router.get("/warehouses", response_model=Page[WarehouseRead])
def list_warehouses(
    session: SessionDep, user: CurrentUser, cursor: Cursor = None, limit: Limit = 50
) -> Page[WarehouseRead]:
    """The agency's warehouses, oldest first."""
    _agency(user, P.warehouse_read)
    rows, next_cursor = service.find_warehouses(session, cursor, limit)
    return Page(items=[WarehouseRead.model_validate(r) for r in rows], next_cursor=next_cursor)


@router.post("/warehouses", response_model=WarehouseRead, status_code=201, responses=problems(409))
def create_warehouse(
    session: SessionDep,
    user: CurrentUser,
    body: WarehouseCreate,
    idempotency_key: IdempotencyKey = None,
) -> Response:
    """Add a warehouse (its code is unique: 409)."""
    _agency(user, P.warehouse_manage)
    return idempotent(
        session,
        user.id,
        idempotency_key,
        body.model_dump(mode="json"),
        lambda: WarehouseRead.model_validate(service.create_warehouse(session, body)),
    )


@router.patch("/warehouses/{warehouse_id}", response_model=WarehouseRead)
def update_warehouse(
    session: SessionDep, user: CurrentUser, warehouse_id: uuid.UUID, body: WarehouseUpdate
) -> WarehouseRead:
    """Rename a warehouse, change its time zone or allocation priority, or (de)activate it."""
    _agency(user, P.warehouse_manage)
    return WarehouseRead.model_validate(service.update_warehouse(session, warehouse_id, body))


@router.get("/warehouses/{warehouse_id}/locations", response_model=Page[LocationRead])
def list_locations(
    session: SessionDep,
    user: CurrentUser,
    warehouse_id: uuid.UUID,
    cursor: Cursor = None,
    limit: Limit = 50,
) -> Page[LocationRead]:
    """A warehouse's bins, oldest first."""
    _agency(user, P.warehouse_read)
    rows, next_cursor = service.find_locations(session, warehouse_id, cursor, limit)
    return Page(items=[LocationRead.model_validate(r) for r in rows], next_cursor=next_cursor)


@router.post(
    "/warehouses/{warehouse_id}/locations",
    response_model=LocationRead,
    status_code=201,
    responses=problems(409),
)
def create_location(
    session: SessionDep,
    user: CurrentUser,
    warehouse_id: uuid.UUID,
    body: LocationCreate,
    idempotency_key: IdempotencyKey = None,
) -> Response:
    """Add a bin (zone-aisle-shelf-bin, unique in the warehouse: 409)."""
    _agency(user, P.warehouse_manage)
    return idempotent(
        session,
        user.id,
        idempotency_key,
        {"warehouse_id": str(warehouse_id), **body.model_dump(mode="json")},
        lambda: LocationRead.model_validate(service.create_location(session, warehouse_id, body)),
    )


# --------------------------------------------------------------------------------------------
# Stock and the ledger
# --------------------------------------------------------------------------------------------


@router.get(f"{TENANT}/stock", response_model=Page[StockRead])
def list_stock(
    session: SessionDep,
    access: Reader,
    sku_id: uuid.UUID | None = None,
    warehouse_id: uuid.UUID | None = None,
    cursor: Cursor = None,
    limit: Limit = 50,
) -> Page[StockRead]:
    """Stock per SKU and warehouse: on hand, reserved, safety stock and sellable (on hand −
    reserved − safety stock; a bundle's from its parts), with each batch and bin. Pages go by
    SKU, in catalog order."""
    items, next_cursor = service.find_stock(
        session, sku_id=sku_id, warehouse_id=warehouse_id, cursor=cursor, limit=limit
    )
    return Page(items=items, next_cursor=next_cursor)


@router.get(f"{TENANT}/stock/ledger", response_model=Page[MoveRead])
def list_moves(
    session: SessionDep,
    access: Reader,
    sku_id: uuid.UUID | None = None,
    kind: MoveKind | None = None,
    since: DateTime | None = Query(default=None, alias="from", description="Inclusive, ISO 8601"),
    until: DateTime | None = Query(default=None, alias="to", description="Exclusive, ISO 8601"),
    cursor: Cursor = None,
    limit: Limit = 50,
) -> Page[MoveRead]:
    """The stock ledger (库存流水), oldest first: every change with its reason, source
    document and actor."""
    rows, next_cursor = service.find_moves(
        session,
        sku_id=sku_id,
        kind=kind,
        since=instant("from", since),
        until=instant("to", until),
        cursor=cursor,
        limit=limit,
    )
    return Page(items=[MoveRead.model_validate(r) for r in rows], next_cursor=next_cursor)


# --------------------------------------------------------------------------------------------
# Receipts and adjustments
# --------------------------------------------------------------------------------------------


@router.post(
    f"{TENANT}/receipts", response_model=ReceiptRead, status_code=201, responses=problems(422)
)
def create_receipt(
    session: SessionDep,
    access: Manager,
    body: ReceiptCreate,
    idempotency_key: IdempotencyKey = None,
) -> Response:
    """Record a receipt (入库): an expected delivery (ASN lines) to receive later, goods
    received and put away to bins now, or both."""
    return idempotent(
        session,
        access.user.id,
        idempotency_key,
        {"tenant": access.tenant.slug, **body.model_dump(mode="json")},
        lambda: service.create_receipt(session, body),
    )


@router.get(f"{TENANT}/receipts", response_model=Page[ReceiptRead])
def list_receipts(
    session: SessionDep, access: Reader, cursor: Cursor = None, limit: Limit = 50
) -> Page[ReceiptRead]:
    """The owner's receipts with expected and received quantities, oldest first."""
    items, next_cursor = service.find_receipts(session, cursor, limit)
    return Page(items=items, next_cursor=next_cursor)


@router.get(f"{TENANT}/receipts/{{receipt_id}}", response_model=ReceiptRead)
def get_receipt(session: SessionDep, access: Reader, receipt_id: uuid.UUID) -> ReceiptRead:
    """One receipt."""
    return service.get_receipt(session, receipt_id)


@router.post(
    f"{TENANT}/receipts/{{receipt_id}}/receive",
    response_model=ReceiptRead,
    responses=problems(409, 422),
)
def receive(
    session: SessionDep, access: Manager, receipt_id: uuid.UUID, body: ReceiveIn
) -> ReceiptRead:
    """Receive goods against a receipt and put them away; ``close`` when nothing more is
    coming. A closed receipt takes nothing (409)."""
    return service.receive(session, receipt_id, body)


@router.post(
    f"{TENANT}/adjustments",
    response_model=AdjustmentRead,
    status_code=201,
    responses=problems(409, 422),
)
def create_adjustment(
    session: SessionDep,
    access: Manager,
    body: AdjustmentCreate,
    idempotency_key: IdempotencyKey = None,
) -> Response:
    """Correct stock with a reason. Below zero is refused (409 ``negative-stock``) unless the
    SKU or the location allows it."""
    return idempotent(
        session,
        access.user.id,
        idempotency_key,
        {"tenant": access.tenant.slug, **body.model_dump(mode="json")},
        lambda: AdjustmentRead.model_validate(service.create_adjustment(session, body)),
    )


@router.get(f"{TENANT}/adjustments", response_model=Page[AdjustmentRead])
def list_adjustments(
    session: SessionDep, access: Reader, cursor: Cursor = None, limit: Limit = 50
) -> Page[AdjustmentRead]:
    """The owner's adjustments, oldest first."""
    rows, next_cursor = service.find_adjustments(session, cursor, limit)
    return Page(items=[AdjustmentRead.model_validate(r) for r in rows], next_cursor=next_cursor)


# --------------------------------------------------------------------------------------------
# Reservations and out-of-stock exceptions
# --------------------------------------------------------------------------------------------


@router.get(f"{TENANT}/reservations", response_model=Page[ReservationRead])
def list_reservations(
    session: SessionDep,
    access: Reader,
    order_id: uuid.UUID | None = None,
    cursor: Cursor = None,
    limit: Limit = 50,
) -> Page[ReservationRead]:
    """What each order holds (预占), per stock row; orders are reserved once paid and out of
    review, released on cancel or a refund before shipment."""
    items, next_cursor = reservations.find_reservations(session, order_id, cursor, limit)
    return Page(items=items, next_cursor=next_cursor)


@router.get(f"{TENANT}/reservations/{{order_id}}", response_model=ReservationRead)
def get_reservation(session: SessionDep, access: Reader, order_id: uuid.UUID) -> ReservationRead:
    """What one order holds; ``status`` is null for an order that never held stock (not paid
    yet, or held for review)."""
    return reservations.get_reservation(session, order_id)


@router.get(f"{TENANT}/stock-exceptions", response_model=Page[StockExceptionRead])
def list_stock_exceptions(
    session: SessionDep,
    access: Reader,
    open_only: bool = Query(default=True, alias="open"),
    cursor: Cursor = None,
    limit: Limit = 50,
) -> Page[StockExceptionRead]:
    """Orders that could not be fully reserved (缺货异常), naming the missing SKUs."""
    items, next_cursor = reservations.find_exceptions(session, open_only, cursor, limit)
    return Page(items=items, next_cursor=next_cursor)


# --------------------------------------------------------------------------------------------
# Transfers
# --------------------------------------------------------------------------------------------


@router.post(
    f"{TENANT}/transfers",
    response_model=TransferRead,
    status_code=201,
    responses=problems(409, 422),
)
def create_transfer(
    session: SessionDep,
    access: Manager,
    body: TransferCreate,
    idempotency_key: IdempotencyKey = None,
) -> Response:
    """Ship goods to another warehouse (调拨): they leave now and are in transit until
    received. Not enough free stock refuses the whole transfer (409)."""
    return idempotent(
        session,
        access.user.id,
        idempotency_key,
        {"tenant": access.tenant.slug, **body.model_dump(mode="json")},
        lambda: transfers.ship(session, body),
    )


@router.get(f"{TENANT}/transfers", response_model=Page[TransferRead])
def list_transfers(
    session: SessionDep, access: Reader, cursor: Cursor = None, limit: Limit = 50
) -> Page[TransferRead]:
    """The owner's transfers, oldest first."""
    items, next_cursor = transfers.find_transfers(session, cursor, limit)
    return Page(items=items, next_cursor=next_cursor)


@router.get(f"{TENANT}/transfers/{{transfer_id}}", response_model=TransferRead)
def get_transfer(session: SessionDep, access: Reader, transfer_id: uuid.UUID) -> TransferRead:
    """One transfer."""
    return transfers.get_transfer(session, transfer_id)


@router.post(
    f"{TENANT}/transfers/{{transfer_id}}/receive",
    response_model=TransferRead,
    responses=problems(409, 422),
)
def receive_transfer(
    session: SessionDep, access: Manager, transfer_id: uuid.UUID, body: TransferReceive
) -> TransferRead:
    """Receive a transfer at its destination into a bin; a count that differs from what was
    shipped is booked with its reason. Received once (409 after)."""
    return transfers.receive(session, transfer_id, body)


# --------------------------------------------------------------------------------------------
# Stocktakes (盘点)
# --------------------------------------------------------------------------------------------


@router.post(
    f"{TENANT}/stocktakes",
    response_model=CountRead,
    status_code=201,
    responses=problems(409, 422),
)
def start_stocktake(
    session: SessionDep,
    access: Manager,
    body: CountCreate,
    idempotency_key: IdempotencyKey = None,
) -> Response:
    """Start a count (盘点) of some bins (cycle) or of every bin of a warehouse (full): the
    book's quantities are taken as expected. A bin an open count covers is refused (409)."""
    return idempotent(
        session,
        access.user.id,
        idempotency_key,
        {"tenant": access.tenant.slug, **body.model_dump(mode="json")},
        lambda: counts.start(session, body),
    )


@router.get(f"{TENANT}/stocktakes", response_model=Page[CountSummary])
def list_stocktakes(
    session: SessionDep,
    access: Reader,
    status: CountStatus | None = None,
    cursor: Cursor = None,
    limit: Limit = 50,
) -> Page[CountSummary]:
    """The owner's counts, oldest first."""
    rows, next_cursor = counts.find(session, status, cursor, limit)
    return Page(items=[CountSummary.model_validate(r) for r in rows], next_cursor=next_cursor)


@router.get(f"{TENANT}/stocktakes/{{count_id}}", response_model=CountRead)
def get_stocktake(session: SessionDep, access: Reader, count_id: uuid.UUID) -> CountRead:
    """One count with its lines: expected, counted, what the ledger moved between the start
    and the counting, and the difference that approval posts."""
    return counts.get(session, count_id)


@router.post(
    f"{TENANT}/stocktakes/{{count_id}}/lines",
    response_model=CountRead,
    responses=problems(409, 422),
)
def record_stocktake(
    session: SessionDep, access: Manager, count_id: uuid.UUID, body: CountEntry
) -> CountRead:
    """Record what was counted (typed, or scanned with ``add``). Only while counting (409)."""
    return counts.record(session, count_id, body)


@router.post(
    f"{TENANT}/stocktakes/{{count_id}}/submit", response_model=CountRead, responses=problems(409)
)
def submit_stocktake(
    session: SessionDep, access: Manager, count_id: uuid.UUID, body: CountSubmit
) -> CountRead:
    """Hand the count to an approver; uncounted lines are refused (409) unless they are
    declared empty."""
    return counts.submit(session, count_id, body)


@router.post(
    f"{TENANT}/stocktakes/{{count_id}}/approve", response_model=CountRead, responses=problems(409)
)
def approve_stocktake(session: SessionDep, access: Approver, count_id: uuid.UUID) -> CountRead:
    """Approve a submitted count: its differences are posted as one adjustment. Needs
    ``warehouse:approve``; a count is approved once (409 after)."""
    return counts.approve(session, count_id)


@router.post(
    f"{TENANT}/stocktakes/{{count_id}}/cancel", response_model=CountRead, responses=problems(409)
)
def cancel_stocktake(session: SessionDep, access: Manager, count_id: uuid.UUID) -> CountRead:
    """Drop an open count; nothing it recorded is posted."""
    return counts.cancel(session, count_id)


# --------------------------------------------------------------------------------------------
# Replenishment (补货) and alerts
# --------------------------------------------------------------------------------------------


@router.get(f"{TENANT}/replenishment", response_model=list[SuggestionRead])
def list_suggestions(
    session: SessionDep,
    access: Reader,
    warehouse_id: uuid.UUID | None = None,
    days: Annotated[int, Query(ge=1, le=365, description="Days of sales to average")] = 28,
    all_rules: Annotated[bool, Query(alias="all", description="Rules needing nothing too")] = False,
) -> list[SuggestionRead]:
    """What to order per SKU and warehouse with a min/max rule: from what is available and
    coming, the sales per day over ``days`` (from the daily product rollups) and the days of
    cover; most urgent first."""
    return replenishment.suggestions(
        session, warehouse_id=warehouse_id, days=days, all_rules=all_rules
    )


@router.get(f"{TENANT}/replenishment/rules", response_model=ReplenishmentRulesRead)
def get_replenishment_rules(session: SessionDep, access: Reader) -> ReplenishmentRulesRead:
    """The owner's min/max rules with their lead times."""
    return replenishment.get_rules(session)


@router.put(
    f"{TENANT}/replenishment/rules", response_model=ReplenishmentRulesRead, responses=problems(422)
)
def put_replenishment_rules(
    session: SessionDep, access: Manager, body: ReplenishmentRules
) -> ReplenishmentRulesRead:
    """Replace the owner's min/max rules (a minimum above its maximum is refused: 422)."""
    return replenishment.set_rules(session, body)


@router.get(f"{TENANT}/stock-alerts", response_model=list[AlertRead])
def list_stock_alerts(
    session: SessionDep,
    access: Reader,
    expiring_within: Annotated[int, Query(ge=0, le=3650)] = 30,
    slow_after: Annotated[int, Query(ge=1, le=3650)] = 60,
) -> list[AlertRead]:
    """Stock alerts: at or below the safety stock or minimum, batches expiring within
    ``expiring_within`` days or expired, slow movers (no sale in ``slow_after`` days)."""
    return replenishment.alerts(session, expiring_within=expiring_within, slow_after=slow_after)


# --------------------------------------------------------------------------------------------
# Settings
# --------------------------------------------------------------------------------------------


@router.get(f"{TENANT}/stock-settings", response_model=StockSettingsRead)
def get_stock_settings(session: SessionDep, access: Reader) -> StockSettingsRead:
    """The owner's default warehouse and per-SKU rules (safety stock per warehouse, whether a
    SKU may go below zero)."""
    return service.stock_settings(session)


@router.put(f"{TENANT}/stock-settings", response_model=StockSettingsRead, responses=problems(422))
def put_stock_settings(
    session: SessionDep, access: Manager, body: StockSettingsIn
) -> StockSettingsRead:
    """Replace the owner's default warehouse and per-SKU rules."""
    return service.set_stock_settings(session, body)


# --------------------------------------------------------------------------------------------
# Stock sync to shops (库存同步): its own module, mounted here
# --------------------------------------------------------------------------------------------

router.include_router(api_sync.router)
