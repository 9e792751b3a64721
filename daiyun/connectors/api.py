"""Shops, their syncs and webhook deliveries (tenant routes), and the public webhook ingress."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Depends, Request, Response
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse

from daiyun.connectors import repository, service, sync, webhooks
from daiyun.connectors.channels import connector_for
from daiyun.connectors.models import DeliveryStatus, Shop, SyncRun, WebhookDelivery
from daiyun.connectors.schemas import (
    Acknowledgement,
    DeliveryRead,
    ShopCreate,
    ShopRead,
    ShopUpdate,
    SyncRequest,
    SyncRunRead,
)
from daiyun.connectors.tasks import process_delivery, run_sync
from daiyun.core.audit import service as audit
from daiyun.core.idempotency import IdempotencyKey, idempotent
from daiyun.core.ids import instant
from daiyun.core.pagination import Cursor, Limit, Page, paginate
from daiyun.core.tasks import enqueue_after_commit
from daiyun.tenants.auth.deps import SessionDep, TenantAccess, tenant_access
from daiyun.tenants.auth.permissions import Permission, Role

router = APIRouter(prefix="/tenants/{tenant}", tags=["shops"])
ingress = APIRouter(tags=["webhooks"])
P = Permission
Reader = Annotated[TenantAccess, Depends(tenant_access(P.shops_read))]
Manager = Annotated[TenantAccess, Depends(tenant_access(P.shops_manage))]


@router.post("/shops", status_code=201, response_model=ShopRead)
def connect_shop(
    session: SessionDep, access: Manager, body: ShopCreate, idempotency_key: IdempotencyKey = None
) -> Response:
    """Connect a store on a channel. Credentials are encrypted; the answer carries the URL to
    register as the shop's webhook, never the credentials."""
    return idempotent(
        session,
        access.user.id,
        idempotency_key,
        {"tenant": access.tenant.slug, **body.model_dump(mode="json")},
        lambda: service.read(service.connect(session, body)),
    )


@router.get("/shops", response_model=Page[ShopRead])
def list_shops(
    session: SessionDep, access: Reader, cursor: Cursor = None, limit: Limit = 50
) -> Page[ShopRead]:
    """The tenant's shops with their sync health (last success, lag, last error)."""
    rows, next_cursor = paginate(session, repository.shops(), Shop.id, cursor, limit)
    return Page(items=[service.read(s) for s in rows], next_cursor=next_cursor)


@router.get("/shops/{shop_id}", response_model=ShopRead)
def get_shop(session: SessionDep, access: Reader, shop_id: uuid.UUID) -> ShopRead:
    """One shop and its sync health."""
    return service.read(service.get(session, shop_id))


@router.patch("/shops/{shop_id}", response_model=ShopRead)
def update_shop(
    session: SessionDep, access: Manager, shop_id: uuid.UUID, body: ShopUpdate
) -> ShopRead:
    """Rename, pause or resume a shop, or give it new credentials. Changing where the shop
    calls (its API base URL, or credentials naming another store) is for the agency admin
    alone (403 otherwise) and needs the credentials in the same request; a host the shop may
    not call is refused (422 ``host-not-allowed``, naming it). Resuming a paused shop applies
    the webhooks stored while it was paused."""
    admin = access.role == Role.agency_admin
    return service.read(service.update(session, shop_id, body, agency_admin=admin))


@router.delete("/shops/{shop_id}", status_code=204)
def disconnect_shop(session: SessionDep, access: Manager, shop_id: uuid.UUID) -> Response:
    """Disconnect a shop: no more pulls or webhooks, credentials erased, orders kept."""
    service.disconnect(session, shop_id)
    return Response(status_code=204)


@router.post("/shops/{shop_id}/sync", status_code=202, response_model=SyncRunRead)
def start_sync(
    session: SessionDep, access: Manager, shop_id: uuid.UUID, body: SyncRequest | None = None
) -> SyncRunRead:
    """Pull the shop's orders now (or backfill from ``since``); 409 while a run is alive, for
    a shop not active, and for a suspended or offboarded tenant."""
    body = body or SyncRequest()
    since, until = instant("since", body.since), instant("until", body.until)
    shop = service.get(session, shop_id, lock=True)
    run = sync.plan(session, shop, "backfill" if since else "manual", since, until)
    audit.record(session, "shop.sync_started", f"shop:{shop.id}", {"run": str(run.id)})
    enqueue_after_commit(session, run_sync, str(access.tenant.id), str(run.id))
    return SyncRunRead.model_validate(run)


@router.get("/shops/{shop_id}/sync-runs", response_model=Page[SyncRunRead])
def list_sync_runs(
    session: SessionDep,
    access: Reader,
    shop_id: uuid.UUID,
    cursor: Cursor = None,
    limit: Limit = 50,
) -> Page[SyncRunRead]:
    """The shop's sync runs, oldest first: window, pages, orders created and updated, errors."""
    service.get(session, shop_id)
    rows, next_cursor = paginate(session, repository.runs(shop_id), SyncRun.id, cursor, limit)
    return Page(items=[SyncRunRead.model_validate(r) for r in rows], next_cursor=next_cursor)


@router.get("/webhook-deliveries", response_model=Page[DeliveryRead])
def list_deliveries(
    session: SessionDep,
    access: Reader,
    shop_id: uuid.UUID | None = None,
    status: DeliveryStatus | None = None,
    cursor: Cursor = None,
    limit: Limit = 50,
) -> Page[DeliveryRead]:
    """Webhook deliveries received, oldest first, with their outcome."""
    stmt = repository.deliveries(shop_id, status)
    rows, next_cursor = paginate(session, stmt, WebhookDelivery.id, cursor, limit)
    return Page(items=[DeliveryRead.model_validate(d) for d in rows], next_cursor=next_cursor)


@router.post(
    "/webhook-deliveries/{delivery_id}/replay", status_code=202, response_model=DeliveryRead
)
def replay_delivery(session: SessionDep, access: Manager, delivery_id: uuid.UUID) -> DeliveryRead:
    """Apply a stored delivery again (an older update still never overwrites a newer one)."""
    delivery = service.replay_delivery(session, delivery_id)
    enqueue_after_commit(session, process_delivery, str(access.tenant.id), str(delivery.id))
    return DeliveryRead.model_validate(delivery)


@ingress.post("/webhooks/{channel}/{shop_key}", response_model=Acknowledgement)
async def receive_webhook(
    channel: str, shop_key: str, request: Request
) -> Response | Acknowledgement:
    """A marketplace's push: 200 once stored (or already stored), 401 on a bad signature,
    400 on a malformed body, 413 over the size limit, 503 when storage is down (so the
    marketplace retries). Processing happens in a task, queued by the webhooks workers' relay
    (the broker is not part of the answer)."""
    body = await request.body()
    receipt = await run_in_threadpool(
        webhooks.receive, channel, shop_key[:64], request.headers, body
    )
    reply = connector_for(channel).webhook_reply
    if reply is not None:  # the marketplace's own "received" body
        return JSONResponse(reply)
    return Acknowledgement(status=receipt.status, delivery_id=receipt.delivery_id)
