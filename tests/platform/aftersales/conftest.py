"""An after-sales desk to test in: a merchant with a shop, a catalog SKU, a warehouse with a
pickable shelf and a quarantine cage, and helpers to place orders and read stock."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import timedelta

import pytest
from sqlalchemy import select

from daiyun.core import db
from daiyun.core.ids import utcnow
from daiyun.platform.orders import service as order_service
from daiyun.platform.orders.normalized import NormalizedRefund
from daiyun.platform.storefront import service as catalog_service
from daiyun.platform.storefront.schemas import ProductCreate, SkuCreate
from daiyun.platform.warehouse.models import Stock
from daiyun.tenants.auth.permissions import Role
from daiyun.tenants.models import Tenant
from tests import factories
from tests.conftest import World
from tests.platform.warehouse.conftest import Site, make_site

SKU = "AS-TEA"


@dataclass
class Counter:
    world: World
    tenant: Tenant
    shop_id: uuid.UUID
    sku_id: uuid.UUID
    site: Site
    agent: uuid.UUID

    def order(
        self,
        quantity: int = 2,
        total_minor: int = 10_000,
        days_ago: int = 1,
        refunds: list[NormalizedRefund] | None = None,
        external_id: str | None = None,
    ) -> uuid.UUID:
        """A paid order of ``quantity`` units of the SKU, placed ``days_ago`` days ago."""
        incoming = factories.order(
            external_id or f"as-{uuid.uuid4().hex[:10]}",
            sku=SKU,
            quantity=quantity,
            total_minor=total_minor,
            refunds=refunds,
        )
        when = utcnow() - timedelta(days=days_ago)
        incoming.placed_at = incoming.paid_at = when
        incoming.source_updated_at = when
        with db.unit_of_work(self.tenant.id) as session:
            [(_, order)] = order_service.ingest(session, self.shop_id, "shopify", [incoming])
            return order.id

    def on_hand(self, location_id: uuid.UUID) -> int:
        with db.unit_of_work(self.tenant.id) as session:
            rows = session.scalars(
                select(Stock).where(Stock.sku_id == self.sku_id, Stock.location_id == location_id)
            )
            return sum(row.on_hand for row in rows)


def make_counter(world: World) -> Counter:
    tenant = world.tenant()
    shop = factories.shop(tenant.id)
    with db.unit_of_work(tenant.id) as session:
        product = catalog_service.create_product(
            session,
            ProductCreate(
                name="Tea", variants=[SkuCreate(code=SKU, cost_minor=1000, currency="CNY")]
            ),
        )
        sku_id = product.variants[0].id
    site = make_site(f"AS{uuid.uuid4().hex[:6].upper()}", 10)
    agent = world.user(Role.cs_agent, tenant).id
    return Counter(world, tenant, shop.id, sku_id, site, agent)


@pytest.fixture
def counter(world: World) -> Counter:
    return make_counter(world)
