"""The fulfilment API (发货): per merchant its parcels, exceptions, waves and pack station; at
the agency level, waves in a warehouse over every merchant the caller works for."""

from __future__ import annotations

import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request, Response

from daiyun.core.errors import Problem, problem_response
from daiyun.core.idempotency import IdempotencyKey, idempotent
from daiyun.core.openapi import problems
from daiyun.core.pagination import Cursor, Limit, Page

# The ship step's (shipping.py; its routes are the block at the end of this module).
from daiyun.platform.fulfillment import (
    pack,
    service,
    shipping,
    waves,
)
from daiyun.platform.fulfillment.models import ExceptionKind, FoState, PushStatus, ShipmentStatus
from daiyun.platform.fulfillment.pdf import pick_list_pdf
from daiyun.platform.fulfillment.schemas import (
    AgencyWaveCreate,
    ExceptionRead,
    FulfillmentOrderDetail,
    FulfillmentOrderRead,
    MergeIn,
    MergeSuggestion,
    PackFinish,
    ResolveIn,
    ScanIn,
    ScanRead,
    SettingsIn,
    SettingsRead,
    SplitIn,
    WaveCreate,
    WaveDetail,
    WaveRead,
)
from daiyun.platform.fulfillment.shipping_schemas import (
    CarrierRuleRead,
    CarrierRulesIn,
    CarrierRulesRead,
    ShipIn,
    ShipmentRead,
)
from daiyun.platform.warehouse import service as warehouse
from daiyun.tenants import service as tenant_service
from daiyun.tenants.auth.deps import CurrentUser, SessionDep, TenantAccess, tenant_access
from daiyun.tenants.auth.models import User
from daiyun.tenants.auth.permissions import Permission, Role, allows
from daiyun.tenants.models import TenantStatus

router = APIRouter(tags=["fulfillment"])
P = Permission
Reader = Annotated[TenantAccess, Depends(tenant_access(P.warehouse_read))]
Operator = Annotated[TenantAccess, Depends(tenant_access(P.warehouse_manage))]
TENANT = "/tenants/{tenant}"
PDF: dict[int | str, dict[str, Any]] = {
    200: {"content": {"application/pdf": {}}, "description": "The pick list as a PDF"}
}


def _own(access: TenantAccess) -> list[waves.Merchant]:
    return [waves.Merchant(access.tenant.id, access.tenant.display_name)]


# --------------------------------------------------------------------------------------------
# Fulfilment orders
# --------------------------------------------------------------------------------------------


@router.get(f"{TENANT}/fulfillment-orders", response_model=Page[FulfillmentOrderRead])
def list_fulfillment_orders(
    session: SessionDep,
    access: Reader,
    state: FoState | None = None,
    warehouse_id: uuid.UUID | None = None,
    wave_id: uuid.UUID | None = None,
    order_id: uuid.UUID | None = None,
    cursor: Cursor = None,
    limit: Limit = 50,
) -> Page[FulfillmentOrderRead]:
    """The merchant's parcels (one per order and warehouse, or merged), oldest first, by state
    (awaiting stock, ready, in wave, picked, packed, shipped, delivered, exception, cancelled,
    merged), warehouse, wave or order."""
    items, next_cursor = service.find(
        session,
        state=state,
        warehouse_id=warehouse_id,
        wave_id=wave_id,
        order_id=order_id,
        cursor=cursor,
        limit=limit,
    )
    return Page(items=items, next_cursor=next_cursor)


@router.get(f"{TENANT}/fulfillment-orders/merge-suggestions", response_model=list[MergeSuggestion])
def list_merge_suggestions(session: SessionDep, access: Reader) -> list[MergeSuggestion]:
    """Ready parcels of one buyer, shop and address in one warehouse, not yet in a wave: what
    may ship as one parcel (合单)."""
    return service.merge_suggestions(session)


@router.get(f"{TENANT}/fulfillment-orders/{{fo_id}}", response_model=FulfillmentOrderDetail)
def get_fulfillment_order(
    session: SessionDep, access: Reader, fo_id: uuid.UUID
) -> FulfillmentOrderDetail:
    """One parcel with its lines and every transition, with who made it."""
    return service.detail(session, fo_id)


@router.post(
    f"{TENANT}/fulfillment-orders/{{fo_id}}/merge",
    response_model=FulfillmentOrderRead,
    responses=problems(409, 422),
)
def merge_fulfillment_orders(
    session: SessionDep, access: Operator, fo_id: uuid.UUID, body: MergeIn
) -> FulfillmentOrderRead:
    """Merge the parcels named into this one (合单): all of one buyer, shop, address and
    warehouse, ready and not in a wave (409 otherwise; 422 for parcels that do not exist).
    This one carries every line, the others become ``merged``."""
    return service.merge(session, fo_id, body.ids)


@router.post(
    f"{TENANT}/fulfillment-orders/{{fo_id}}/split",
    response_model=FulfillmentOrderRead,
    status_code=201,
    responses=problems(409, 422),
)
def split_fulfillment_order(
    session: SessionDep, access: Operator, fo_id: uuid.UUID, body: SplitIn
) -> FulfillmentOrderRead:
    """Move units of a ready parcel into a new parcel (拆单, partial shipment): 409 unless the
    merchant allows partial shipment; 422 if the parcel does not hold them or nothing stays."""
    return service.split(session, fo_id, body)


@router.post(
    f"{TENANT}/fulfillment-orders/{{fo_id}}/pack/scan",
    response_model=ScanRead,
    responses=problems(409, 422),
)
def scan_item(
    request: Request, session: SessionDep, access: Operator, fo_id: uuid.UUID, body: ScanIn
) -> ScanRead | Response:
    """Check one scanned barcode (a SKU's barcode or code) against a picked parcel: 422
    ``wrong-item`` for a SKU it does not hold, ``too-many`` past its quantity (each counted as
    a scan error); 409 if the parcel is not picked."""
    result = pack.scan(session, fo_id, body.barcode)
    if isinstance(result, pack.Refusal):
        # Answered rather than raised: the request commits, so the scan error is kept.
        return problem_response(422, result.kind, result.detail, request, barcode=body.barcode)
    return result


@router.post(
    f"{TENANT}/fulfillment-orders/{{fo_id}}/pack/finish",
    response_model=FulfillmentOrderRead,
    responses=problems(409),
)
def finish_packing(
    session: SessionDep, access: Operator, fo_id: uuid.UUID, body: PackFinish
) -> FulfillmentOrderRead:
    """Close a picked parcel whose every unit is scanned, with its weight: it is packed. 409
    while units are missing or when it is not picked."""
    return pack.finish(session, fo_id, body.weight_grams)


# --------------------------------------------------------------------------------------------
# Exceptions
# --------------------------------------------------------------------------------------------


@router.get(f"{TENANT}/exceptions", response_model=Page[ExceptionRead])
def list_exceptions(
    session: SessionDep,
    access: Reader,
    open_only: bool = Query(default=True, alias="open"),
    kind: ExceptionKind | None = None,
    cursor: Cursor = None,
    limit: Limit = 50,
) -> Page[ExceptionRead]:
    """Fulfilment exceptions (异常订单): out of stock, address not serviceable, intercepted
    (cancelled or refunded before shipment), shipping deadline near; open ones with the
    actions that resolve them."""
    items, next_cursor = service.find_exceptions(session, open_only, kind, cursor, limit)
    return Page(items=items, next_cursor=next_cursor)


@router.post(
    f"{TENANT}/exceptions/{{exception_id}}/resolve",
    response_model=ExceptionRead,
    responses=problems(409, 422),
)
def resolve_exception(
    session: SessionDep, access: Operator, exception_id: uuid.UUID, body: ResolveIn
) -> ExceptionRead:
    """Resolve an exception with one of its actions (422 for another): ``retry`` (reserve
    again, or resume where the parcel stopped), ``cancel``, ``returned_to_shelf``,
    ``acknowledge``. 409 once resolved, or when stock is still short."""
    return service.resolve(session, exception_id, body.action)


# --------------------------------------------------------------------------------------------
# Waves, as the merchant sees them
# --------------------------------------------------------------------------------------------


@router.post(f"{TENANT}/waves", response_model=WaveDetail, status_code=201, responses=problems(409))
def create_wave(
    session: SessionDep,
    access: Operator,
    body: WaveCreate,
    idempotency_key: IdempotencyKey = None,
) -> Response:
    """Plan a wave (波次) of the merchant's ready parcels in a warehouse by rule (single-item
    parcels only, one zone, up to ``max_orders``; the nearest deadline first). 409 when none
    matches."""
    return idempotent(
        session,
        access.user.id,
        idempotency_key,
        {"tenant": access.tenant.slug, **body.model_dump(mode="json")},
        lambda: waves.create(session, body.warehouse_id, body, _own(access)),
        status_code=201,
    )


@router.get(f"{TENANT}/waves", response_model=Page[WaveRead])
def list_waves(
    session: SessionDep, access: Reader, cursor: Cursor = None, limit: Limit = 50
) -> Page[WaveRead]:
    """The waves holding one of the merchant's parcels, oldest first; each lists only the
    merchant's own parcels."""
    items, next_cursor = waves.find(session, _own(access), None, cursor, limit, own=True)
    return Page(items=items, next_cursor=next_cursor)


@router.get(f"{TENANT}/waves/{{wave_id}}", response_model=WaveDetail)
def get_wave(session: SessionDep, access: Reader, wave_id: uuid.UUID) -> WaveDetail:
    """A wave with the merchant's pick lines in walk order (bin by bin)."""
    return waves.detail(session, wave_id, _own(access))


@router.get(f"{TENANT}/waves/{{wave_id}}/pick-list", response_class=Response, responses=PDF)
def wave_pick_list(session: SessionDep, access: Reader, wave_id: uuid.UUID) -> Response:
    """The merchant's part of the wave's pick list as a PDF (拣货单)."""
    return _pdf(session, waves.detail(session, wave_id, _own(access)))


@router.post(f"{TENANT}/waves/{{wave_id}}/pick", response_model=WaveDetail, responses=problems(409))
def confirm_pick(session: SessionDep, access: Operator, wave_id: uuid.UUID) -> WaveDetail:
    """The merchant's parcels in the wave are picked (409 if the wave is not open)."""
    return waves.confirm_pick(session, wave_id, _own(access))


def _pdf(session: SessionDep, wave: WaveDetail) -> Response:
    name = warehouse.warehouse_names(session).get(wave.warehouse_id, "")
    return Response(
        pick_list_pdf(wave, name),
        media_type="application/pdf",
        headers={"Content-Disposition": f'attachment; filename="pick-list-{wave.number}.pdf"'},
    )


# --------------------------------------------------------------------------------------------
# Waves in a warehouse (agency level, across merchants)
# --------------------------------------------------------------------------------------------


def _merchants(
    session: SessionDep, user: User, permission: Permission, *, write: bool
) -> list[waves.Merchant]:
    """The merchants where the caller's role grants ``permission`` (writes skip a suspended
    merchant unless the caller is an agency admin); 403 when the caller's own role lacks it."""
    if not allows(user.role, permission):
        raise Problem(403, "forbidden", f"This needs the {permission.value} permission")
    found = []
    for tenant in tenant_service.tenants_open_to(session, user.id):
        role = tenant_service.role_of(session, user.id, tenant.id)
        if role is None or not allows(role, permission):
            continue
        if write and tenant.status == TenantStatus.suspended and role != Role.agency_admin:
            continue
        found.append(waves.Merchant(tenant.id, tenant.display_name))
    return found


@router.post(
    "/warehouses/{warehouse_id}/waves",
    response_model=WaveDetail,
    status_code=201,
    responses=problems(409, 422),
)
def create_agency_wave(
    session: SessionDep,
    user: CurrentUser,
    warehouse_id: uuid.UUID,
    body: AgencyWaveCreate,
    idempotency_key: IdempotencyKey = None,
) -> Response:
    """Plan a wave in the warehouse over every merchant the caller works for (or those named
    in ``tenants``, 422 for one the caller cannot work for): one pick walk for several
    merchants' parcels."""
    merchants = _merchants(session, user, P.warehouse_manage, write=True)
    if body.tenants is not None:
        slugs = {t.id: t.slug for t in tenant_service.tenants_open_to(session, user.id)}
        named = set(body.tenants)
        merchants = [m for m in merchants if slugs.get(m.id) in named]
        if len(merchants) != len(named):
            raise Problem(422, "unknown-tenant", "Some tenants named cannot be worked on")
    return idempotent(
        session,
        user.id,
        idempotency_key,
        {"warehouse_id": str(warehouse_id), **body.model_dump(mode="json")},
        lambda: waves.create(session, warehouse_id, body, merchants),
        status_code=201,
    )


@router.get("/warehouses/{warehouse_id}/waves", response_model=Page[WaveRead])
def list_agency_waves(
    session: SessionDep,
    user: CurrentUser,
    warehouse_id: uuid.UUID,
    cursor: Cursor = None,
    limit: Limit = 50,
) -> Page[WaveRead]:
    """The warehouse's waves, oldest first, each listing the parcels of the merchants the
    caller works for."""
    merchants = _merchants(session, user, P.warehouse_read, write=False)
    warehouse.get_warehouse(session, warehouse_id)
    items, next_cursor = waves.find(session, merchants, warehouse_id, cursor, limit, own=False)
    return Page(items=items, next_cursor=next_cursor)


@router.get("/warehouses/{warehouse_id}/waves/{wave_id}", response_model=WaveDetail)
def get_agency_wave(
    session: SessionDep, user: CurrentUser, warehouse_id: uuid.UUID, wave_id: uuid.UUID
) -> WaveDetail:
    """A wave with the pick list of every merchant's parcels the caller works for."""
    merchants = _merchants(session, user, P.warehouse_read, write=False)
    return waves.detail(session, wave_id, merchants, warehouse_id, agency=True)


@router.get(
    "/warehouses/{warehouse_id}/waves/{wave_id}/pick-list", response_class=Response, responses=PDF
)
def agency_pick_list(
    session: SessionDep, user: CurrentUser, warehouse_id: uuid.UUID, wave_id: uuid.UUID
) -> Response:
    """The wave's pick list as a PDF (拣货单), every merchant's lines in one walk."""
    merchants = _merchants(session, user, P.warehouse_read, write=False)
    return _pdf(session, waves.detail(session, wave_id, merchants, warehouse_id, agency=True))


@router.post(
    "/warehouses/{warehouse_id}/waves/{wave_id}/pick",
    response_model=WaveDetail,
    responses=problems(409),
)
def confirm_agency_pick(
    session: SessionDep, user: CurrentUser, warehouse_id: uuid.UUID, wave_id: uuid.UUID
) -> WaveDetail:
    """Every parcel of the wave (of the merchants the caller works for) is picked."""
    merchants = _merchants(session, user, P.warehouse_manage, write=True)
    return waves.confirm_pick(session, wave_id, merchants, warehouse_id, agency=True)


# --------------------------------------------------------------------------------------------
# Settings
# --------------------------------------------------------------------------------------------


@router.get(f"{TENANT}/fulfillment-settings", response_model=SettingsRead)
def get_settings(session: SessionDep, access: Reader) -> SettingsRead:
    """Merging (auto, suggest or off), partial shipment, and the shipping deadline in hours
    from payment with its warning."""
    return service.settings(session)


@router.put(f"{TENANT}/fulfillment-settings", response_model=SettingsRead, responses=problems(422))
def put_settings(session: SessionDep, access: Operator, body: SettingsIn) -> SettingsRead:
    """Replace the merchant's fulfilment settings."""
    return service.set_settings(session, body)


# ============================================================================================
# Shipping: ship a packed parcel, its label, tracking and push; carrier rules (shipping.py)
# ============================================================================================

LABEL_PDF: dict[int | str, dict[str, Any]] = {
    200: {"content": {"application/pdf": {}}, "description": "The 100 x 150 mm label as a PDF"}
}


@router.post(
    f"{TENANT}/shipments",
    response_model=ShipmentRead,
    status_code=201,
    responses=problems(404, 409, 422, 503),
)
def ship_parcel(body: ShipIn, session: SessionDep, access: Operator) -> Any:
    """Ship a packed parcel: the carrier (named, or chosen by the carrier rules) issues its
    waybill, the stock leaves the ledger, the tracking number goes to the marketplace from a
    task. Shipping a shipped parcel answers its shipment. An address the carrier does not
    serve answers 409 ``address-unserviceable`` and leaves the parcel in exception."""
    try:
        shipment = shipping.ship(session, body.fulfillment_order_id, carrier=body.carrier)
    except shipping.Unserviceable as exc:
        # Answered, not raised: the exception the parcel is now in is kept (committed).
        return problem_response(409, "address-unserviceable", str(exc))
    return ShipmentRead.of(shipment)


@router.get(f"{TENANT}/shipments", response_model=Page[ShipmentRead])
def list_shipments(
    session: SessionDep,
    access: Reader,
    status: ShipmentStatus | None = None,
    push_status: PushStatus | None = None,
    fulfillment_order_id: uuid.UUID | None = None,
    cursor: Cursor = None,
    limit: Limit = 50,
) -> Page[ShipmentRead]:
    """The merchant's shipments, newest first, by status (shipped, delivered, exception),
    push status (pending, pushed, refused, unsupported) or parcel."""
    items, next_cursor = shipping.find(
        session, status, push_status, fulfillment_order_id, cursor, limit
    )
    return Page(items=[ShipmentRead.of(s) for s in items], next_cursor=next_cursor)


@router.get(
    f"{TENANT}/shipments/{{shipment_id}}", response_model=ShipmentRead, responses=problems(404)
)
def get_shipment(shipment_id: uuid.UUID, session: SessionDep, access: Reader) -> ShipmentRead:
    return ShipmentRead.of(shipping.get(session, shipment_id))


@router.get(
    f"{TENANT}/shipments/{{shipment_id}}/label",
    response_class=Response,
    responses={**LABEL_PDF, **problems(404)},
)
def shipment_label(shipment_id: uuid.UUID, session: SessionDep, access: Reader) -> Response:
    """The carrier label (电子面单) as printed when the parcel shipped."""
    shipment, pdf = shipping.label(session, shipment_id)
    name = f"label-{shipment.waybill_no}.pdf"
    return Response(
        pdf,
        media_type="application/pdf",
        headers={"Content-Disposition": f'inline; filename="{name}"'},
    )


@router.post(
    f"{TENANT}/shipments/{{shipment_id}}/tracking",
    response_model=ShipmentRead,
    responses=problems(404, 422, 503),
)
def refresh_shipment_tracking(
    shipment_id: uuid.UUID, session: SessionDep, access: Operator
) -> ShipmentRead:
    """Read the carrier's tracking now (beat reads it every five minutes anyway)."""
    return ShipmentRead.of(shipping.refresh_tracking(session, shipment_id))


@router.post(
    f"{TENANT}/shipments/{{shipment_id}}/push",
    response_model=ShipmentRead,
    responses=problems(404, 409),
)
def repush_shipment(shipment_id: uuid.UUID, session: SessionDep, access: Operator) -> ShipmentRead:
    """Send the tracking number to the marketplace again now (after a refusal was fixed)."""
    return ShipmentRead.of(shipping.repush(session, shipment_id))


@router.get(f"{TENANT}/carrier-rules", response_model=CarrierRulesRead)
def get_carrier_rules(session: SessionDep, access: Reader) -> CarrierRulesRead:
    """Which carrier ships a parcel: the first rule matching its warehouse, destination
    province and weight; none matching, the default carrier."""
    return _rules_read(shipping.carrier_rules(session))


@router.put(f"{TENANT}/carrier-rules", response_model=CarrierRulesRead, responses=problems(422))
def put_carrier_rules(
    body: CarrierRulesIn, session: SessionDep, access: Operator
) -> CarrierRulesRead:
    rows = [rule.model_dump() for rule in body.rules]
    return _rules_read(shipping.set_carrier_rules(session, rows))


def _rules_read(rules: list[Any]) -> CarrierRulesRead:
    return CarrierRulesRead(
        rules=[CarrierRuleRead.model_validate(r) for r in rules],
        default_carrier=shipping.DEFAULT_CARRIER,
    )
