"""Shops: connect, change, pause, disconnect; their credentials, encrypted to the tenant."""

from __future__ import annotations

import json
import secrets
import uuid
from typing import Any

from sqlalchemy import event
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from daiyun.connectors import addresses, hosts, repository
from daiyun.connectors.channels import CONNECTORS, connector_for
from daiyun.connectors.channels.base import ShopAccess
from daiyun.connectors.models import DeliveryStatus, Shop, ShopStatus, WebhookDelivery, WebhookRoute
from daiyun.connectors.schemas import Credentials, ShopCreate, ShopRead, ShopUpdate
from daiyun.core import crypto
from daiyun.core.audit import service as audit
from daiyun.core.config import get_settings
from daiyun.core.errors import Problem
from daiyun.core.ids import new_id, utcnow
from daiyun.core.tenancy import current_tenant
from daiyun.tenants import service as tenant_service
from daiyun.tenants.models import TenantStatus

# Credential fields that name an account rather than unlock it: left readable in stored errors.
PUBLIC_CREDENTIAL_FIELDS = frozenset(
    {"shop_domain", "store_url", "seller_id", "marketplace_ids", "app_key", "client_id"}
)
# A tenant in one of these states has its shops neither pull nor call out nor have their pushes
# applied: pushes are kept and applied once it is active again (offboarded: never, see README).
DORMANT_TENANT = frozenset({TenantStatus.suspended, TenantStatus.offboarded})


def _webhook_address_changed(session: Session, shop: Shop) -> None:
    """The webhook ingress may remember this shop's secret: drop it in this process now and
    again once the change commits (so a push read in between is not remembered either).
    Other processes see the change within the ingress cache's lifetime."""
    tenant_id, shop_id = shop.tenant_id, shop.id
    addresses.forget_shop(tenant_id, shop_id)
    event.listen(
        session, "after_commit", lambda _s: addresses.forget_shop(tenant_id, shop_id), once=True
    )


def _purpose(shop_id: uuid.UUID) -> str:
    # Bound to the shop as well as the tenant: a ciphertext copied to another row is useless.
    return f"shop-credentials:{shop_id}"


def _check_credentials(channel: str, credentials: Credentials) -> None:
    connector = connector_for(channel)
    fields = connector.credential_fields
    optional = getattr(connector, "optional_credential_fields", ())
    missing = [f for f in fields if not credentials.get(f)]
    unknown = sorted(set(credentials) - set(fields) - set(optional))
    if missing or unknown:
        raise Problem(
            422,
            "invalid-credentials",
            f"{channel} credentials need {', '.join(fields)}",
            missing=missing,
            unknown=unknown,
        )


def _seal(session: Session, shop: Shop, credentials: Credentials) -> None:
    tenant = current_tenant(session)
    assert tenant is not None
    shop.credentials_ciphertext = crypto.encrypt(
        json.dumps(credentials, sort_keys=True), tenant, _purpose(shop.id)
    )


def credentials(shop: Shop) -> dict[str, Any]:
    """The shop's decrypted credentials, for a connector call; never logged or returned."""
    if not shop.credentials_ciphertext:
        raise Problem(409, "shop-disconnected", "The shop is disconnected")
    plain = crypto.decrypt(shop.credentials_ciphertext, shop.tenant_id, _purpose(shop.id))
    loaded: dict[str, Any] = json.loads(plain)
    return loaded


def access(shop: Shop) -> ShopAccess:
    return ShopAccess(shop.external_id, credentials(shop), shop.api_base_url)


def secrets_of(shop: Shop) -> list[str]:
    """The shop's secret credential values, to be masked in anything stored for display."""
    try:
        stored = credentials(shop) if shop.credentials_ciphertext else {}
    except (Problem, crypto.SecretUnreadable, ValueError):
        return []
    return [
        v for k, v in stored.items() if isinstance(v, str) and k not in PUBLIC_CREDENTIAL_FIELDS
    ]


def dormant_tenant(session: Session, tenant_id: uuid.UUID) -> TenantStatus | None:
    """The tenant's status if it is suspended or offboarded (its shops stay still), else None."""
    tenant = tenant_service.get_tenant(session, tenant_id)
    if tenant is None:
        return TenantStatus.offboarded
    return tenant.status if tenant.status in DORMANT_TENANT else None


def _check_hosts(channel: str, api_base_url: str | None, given: Credentials) -> None:
    """Refuse a shop whose requests would go to a host it may not call (SECURITY.md 27)."""
    connector = connector_for(channel)
    policy = connector.host_policy(ShopAccess("", given, api_base_url))
    urls = (api_base_url,) if api_base_url else connector.default_base_urls(given)
    refused = hosts.first_refusal(policy, urls)
    if refused is not None:
        host, reason = refused
        raise Problem(422, "host-not-allowed", reason, host=host)


def _base_url(value: object) -> str | None:
    return str(value).rstrip("/") if value else None


def connect(session: Session, body: ShopCreate) -> Shop:
    """Connect a tenant's store on a channel; answers with its webhook URL."""
    if body.channel not in CONNECTORS:
        raise Problem(
            422, "unknown-channel", f"Channel must be one of {', '.join(sorted(CONNECTORS))}"
        )
    _check_credentials(body.channel, body.credentials)
    _check_hosts(body.channel, _base_url(body.api_base_url), body.credentials)
    shop = Shop(
        id=new_id(),
        channel=body.channel,
        name=body.name,
        external_id=body.external_id,
        api_base_url=_base_url(body.api_base_url),
        webhook_key=secrets.token_urlsafe(32),
    )
    _seal(session, shop, body.credentials)
    try:
        with session.begin_nested():
            session.add(shop)
            session.flush()
    except IntegrityError as exc:
        raise Problem(
            409, "shop-exists", f"This tenant already has {body.channel} shop {body.external_id}"
        ) from exc
    tenant = current_tenant(session)
    assert tenant is not None
    session.add(
        WebhookRoute(key=shop.webhook_key, channel=shop.channel, tenant_id=tenant, shop_id=shop.id)
    )
    audit.record(session, "shop.connected", f"shop:{shop.id}", {"channel": shop.channel})
    session.flush()
    return shop


def get(session: Session, shop_id: uuid.UUID, *, lock: bool = False) -> Shop:
    shop = repository.shop(session, shop_id, lock=lock)
    if shop is None:
        raise Problem(404, "not-found", "No such shop")
    return shop


def _moves_hosts(shop: Shop, body: ShopUpdate) -> bool:
    """Whether the change points the shop's requests somewhere else: a new API base URL, or
    new credentials naming another store (the merchant-site hosts or default bases differ)."""
    new_base = _base_url(body.api_base_url)
    if new_base is not None and new_base != shop.api_base_url:
        return True
    if body.credentials is None:
        return False
    connector = connector_for(shop.channel)
    old = credentials(shop)
    return connector.merchant_hosts(old) != connector.merchant_hosts(
        body.credentials
    ) or connector.default_base_urls(old) != connector.default_base_urls(body.credentials)


def update(
    session: Session, shop_id: uuid.UUID, body: ShopUpdate, *, agency_admin: bool = False
) -> Shop:
    """Rename, pause or resume a shop, or replace its credentials (which clears a re-auth).

    Pointing the shop at other hosts is the agency admin's alone, and only with the credentials
    entered again in the same change: whoever may manage shops cannot send the stored ones
    elsewhere. Resuming a paused shop queues the pushes stored while it was paused.
    """
    shop = get(session, shop_id, lock=True)
    if shop.status == ShopStatus.disconnected:
        raise Problem(409, "shop-disconnected", "A disconnected shop cannot change; connect anew")
    if _moves_hosts(shop, body):
        if not agency_admin:
            raise Problem(403, "admin-only", "Only the agency admin may change where a shop calls")
        if body.credentials is None:
            raise Problem(
                422,
                "credentials-required",
                "Changing the API base URL needs the shop's credentials entered again",
            )
    new_base = _base_url(body.api_base_url) or shop.api_base_url
    if body.credentials is not None:
        _check_credentials(shop.channel, body.credentials)
    if body.api_base_url is not None or body.credentials is not None:
        _check_hosts(shop.channel, new_base, body.credentials or credentials(shop))
    changes: dict[str, Any] = body.model_dump(exclude_unset=True, exclude={"credentials"})
    if body.name is not None:
        shop.name = body.name
    shop.api_base_url = new_base
    if body.credentials is not None:
        _seal(session, shop, body.credentials)
        changes["credentials"] = "replaced"
        if shop.status == ShopStatus.reauthorization_needed:
            shop.status = ShopStatus.active
    if body.status is not None:
        if shop.status == ShopStatus.reauthorization_needed and body.status == "active":
            raise Problem(409, "reauthorization-needed", "Give the shop new credentials first")
        resumed = shop.status == ShopStatus.paused and body.status == "active"
        shop.status = ShopStatus(body.status)
        if resumed:
            # The webhooks workers' relay hands them on once this change commits.
            changes["released_deliveries"] = repository.release_held(session, shop.id)
    audit.record(
        session, "shop.updated", f"shop:{shop.id}", {k: str(v) for k, v in changes.items()}
    )
    session.flush()
    _webhook_address_changed(session, shop)
    return shop


def store_refreshed(session: Session, shop: Shop, refreshed: dict[str, Any]) -> None:
    """Keep tokens a marketplace refreshed during a call (merged into the shop's credentials)."""
    _seal(session, shop, {**credentials(shop), **refreshed})
    session.flush()
    _webhook_address_changed(session, shop)


def disconnect(session: Session, shop_id: uuid.UUID) -> None:
    """Stop pulling and refuse its webhooks; its credentials are erased, its orders kept."""
    shop = get(session, shop_id, lock=True)
    shop.status = ShopStatus.disconnected
    shop.credentials_ciphertext = ""
    route = repository.route(session, shop.webhook_key)
    if route is not None:
        session.delete(route)
    audit.record(session, "shop.disconnected", f"shop:{shop.id}")
    session.flush()
    _webhook_address_changed(session, shop)


def rotate_credentials(session: Session) -> int:
    """Re-encrypt the bound tenant's shop credentials under the current key; returns how many
    changed."""
    changed = 0
    for shop in repository.all_shops(session):
        if not shop.credentials_ciphertext:
            continue
        rotated = crypto.rotate(shop.credentials_ciphertext, shop.tenant_id, _purpose(shop.id))
        if rotated != shop.credentials_ciphertext:
            shop.credentials_ciphertext = rotated
            changed += 1
    session.flush()
    return changed


def webhook_url(shop: Shop) -> str | None:
    if (
        shop.status == ShopStatus.disconnected
        or connector_for(shop.channel).webhook_secret_field is None
    ):
        return None
    return f"{get_settings().base_url.rstrip('/')}/webhooks/{shop.channel}/{shop.webhook_key}"


def read(shop: Shop) -> ShopRead:
    lag = None
    if shop.sync_cursor is not None:
        lag = max(0, int((utcnow() - shop.sync_cursor).total_seconds()))
    return ShopRead(
        id=shop.id,
        channel=shop.channel,
        name=shop.name,
        external_id=shop.external_id,
        status=shop.status,
        api_base_url=shop.api_base_url,
        webhook_url=webhook_url(shop),
        sync_cursor=shop.sync_cursor,
        lag_seconds=lag,
        last_sync_at=shop.last_sync_at,
        last_success_at=shop.last_success_at,
        last_error=shop.last_error,
        last_error_at=shop.last_error_at,
        consecutive_failures=shop.consecutive_failures,
        created_at=shop.created_at,
    )


def shops(session: Session) -> list[Shop]:
    """Every shop of the bound tenant, disconnected ones included."""
    return repository.all_shops(session)


def recent_deliveries(session: Session, limit: int = 20) -> list[WebhookDelivery]:
    """The bound tenant's latest webhook deliveries with their outcome, newest first."""
    return repository.recent_deliveries(session, limit)


def replay_delivery(session: Session, delivery_id: uuid.UUID) -> WebhookDelivery:
    """Queue a stored delivery to be applied again, audited (harmless: an older update never
    overwrites a newer one). The relay hands it to a worker once the unit of work commits."""
    delivery = repository.delivery(session, delivery_id, lock=True)
    if delivery is None:
        raise Problem(404, "not-found", "No such delivery")
    delivery.status = DeliveryStatus.received
    delivery.error = None
    audit.record(session, "webhook.replayed", f"webhook_delivery:{delivery.id}")
    session.flush()
    return delivery
