"""Sync and webhook health: failing shops, how far each trails its channel, recent deliveries."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from daiyun.connectors import service as shop_service
from daiyun.connectors.schemas import DeliveryStatus, ShopStatus
from daiyun.portal.console.access import Access, tenant_unit, with_permission
from daiyun.portal.identity import TenantView
from daiyun.tenants.auth.permissions import Permission

P = Permission
# How many webhook deliveries a page lists per tenant.
DELIVERY_LIMIT = 20


def is_failing(shop: Any) -> bool:
    """A shop whose sync is failing now: its last pull failed, or it needs new credentials."""
    if shop.status == ShopStatus.disconnected:
        return False
    return shop.status == ShopStatus.reauthorization_needed or bool(
        shop.last_error and shop.consecutive_failures > 0
    )


@dataclass(frozen=True)
class ShopHealth:
    tenant: TenantView
    name: str
    channel: str
    status: str
    lag_seconds: int | None
    last_success_at: datetime | None
    last_error: str | None
    last_error_at: datetime | None
    consecutive_failures: int
    failing: bool


@dataclass(frozen=True)
class DeliveryRow:
    tenant: TenantView
    id: uuid.UUID
    shop_name: str
    topic: str
    status: str
    received_at: datetime
    attempts: int
    error: str | None
    can_replay: bool

    @property
    def failed(self) -> bool:
        return self.status == DeliveryStatus.failed


@dataclass
class Health:
    shops: list[ShopHealth] = field(default_factory=list)
    deliveries: list[DeliveryRow] = field(default_factory=list)

    @property
    def failing(self) -> list[ShopHealth]:
        return [s for s in self.shops if s.failing]


def sync_health(accesses: list[Access], user_id: uuid.UUID) -> Health:
    """Shops (failing first, then by lag) and recent webhook deliveries of the tenants where
    the user may see shops."""
    health = Health()
    for access in with_permission(accesses, P.shops_read):
        with tenant_unit(access.tenant.id, user_id) as session:
            names: dict[uuid.UUID, str] = {}
            for shop in shop_service.shops(session):
                names[shop.id] = shop.name
                if shop.status == ShopStatus.disconnected:
                    continue
                read = shop_service.read(shop)
                health.shops.append(
                    ShopHealth(
                        access.tenant,
                        shop.name,
                        shop.channel,
                        shop.status.value,
                        read.lag_seconds,
                        shop.last_success_at,
                        shop.last_error,
                        shop.last_error_at,
                        shop.consecutive_failures,
                        is_failing(shop),
                    )
                )
            for delivery in shop_service.recent_deliveries(session, DELIVERY_LIMIT):
                health.deliveries.append(
                    DeliveryRow(
                        access.tenant,
                        delivery.id,
                        names.get(delivery.shop_id, str(delivery.shop_id)),
                        delivery.topic,
                        delivery.status.value,
                        delivery.received_at,
                        delivery.attempts,
                        delivery.error,
                        access.can(P.shops_manage),
                    )
                )
            session.rollback()
    health.shops.sort(
        key=lambda s: (not s.failing, -(s.lag_seconds or 0), s.tenant.display_name, s.name)
    )
    health.deliveries.sort(key=lambda d: d.received_at, reverse=True)
    return health


def lag_text(seconds: int | None) -> tuple[int, str] | None:
    """A lag as (amount, unit) in its largest whole unit: minutes, hours or days."""
    if seconds is None:
        return None
    span = timedelta(seconds=seconds)
    if span >= timedelta(days=1):
        return span.days, "d"
    if span >= timedelta(hours=1):
        return seconds // 3600, "h"
    return seconds // 60, "min"
