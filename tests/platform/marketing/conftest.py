"""A merchant to run promotions for: a category tree (Tea > Green), TEA (cost 10.00) and CUP
(cost 5.00) in it, a warehouse holding 100 TEA and 50 CUP, a shop its orders come from, and a
campaign in CNY open from a day ago to a week ahead."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import pytest

from daiyun.core import db
from daiyun.core.ids import utcnow
from daiyun.platform.marketing import pricing, service
from daiyun.platform.marketing.schemas import (
    CampaignCreate,
    CartIn,
    CartLineIn,
    PromotionCreate,
    QuoteRead,
)
from daiyun.platform.orders import service as order_service
from daiyun.platform.orders.rules import ReviewSettings
from daiyun.platform.storefront import service as catalog
from daiyun.platform.storefront.schemas import CategoryCreate, ProductCreate, SkuCreate
from daiyun.platform.warehouse import service as warehouse
from daiyun.platform.warehouse.schemas import (
    ReceiptCreate,
    ReceivedLine,
    WarehouseUpdate,
)
from daiyun.tenants.models import Tenant
from tests import factories
from tests.conftest import World
from tests.platform.warehouse.conftest import Site, make_site


@dataclass
class Market:
    tenant: Tenant
    shop_id: uuid.UUID
    site: Site
    campaign_id: uuid.UUID
    green: uuid.UUID
    skus: dict[str, uuid.UUID] = field(default_factory=dict)

    def promotion(self, **values: Any) -> uuid.UUID:
        body = PromotionCreate(campaign_id=self.campaign_id, **values)
        with db.unit_of_work(self.tenant.id) as session:
            return service.create_promotion(session, body).id

    def cart(self, *lines: tuple[str, int, int], **values: Any) -> CartIn:
        return CartIn(
            currency="CNY",
            lines=[
                CartLineIn(sku_id=self.skus[code], quantity=q, unit_price_minor=p)
                for code, q, p in lines
            ],
            **values,
        )

    def quote(self, *lines: tuple[str, int, int], **values: Any) -> QuoteRead:
        with db.unit_of_work(self.tenant.id) as session:
            return pricing.quote(session, self.cart(*lines, **values))

    def sellable(self, code: str = "TEA") -> tuple[int, int]:
        """(sellable, safety stock) of a SKU in the market's warehouse."""
        with db.unit_of_work(self.tenant.id) as session:
            items, _ = warehouse.find_stock(
                session, sku_id=self.skus[code], warehouse_id=self.site.id, cursor=None, limit=5
            )
        return (items[0].sellable, items[0].safety_stock) if items else (0, 0)


def make_market(tenant: Tenant, *, start: datetime | None = None) -> Market:
    tag = uuid.uuid4().hex[:6].upper()
    site = make_site(f"MK{tag}", 9500)
    with db.unit_of_work(tenant.id) as session:
        order_service.update_review_settings(session, ReviewSettings(check_duplicates=False))
        tea = catalog.create_category(session, CategoryCreate(name="Tea"))
        green = catalog.create_category(session, CategoryCreate(name="Green", parent_id=tea.id))
        product = catalog.create_product(
            session,
            ProductCreate(
                name="Longjing",
                category_id=green.id,
                variants=[
                    SkuCreate(code="TEA", cost_minor=1000, currency="CNY"),
                    SkuCreate(code="CUP", cost_minor=500, currency="CNY"),
                ],
            ),
        )
        skus = {v.code: v.id for v in product.variants}
        lines = [
            ReceivedLine(sku_id=skus["TEA"], quantity=100, location_id=site.shelf),
            ReceivedLine(sku_id=skus["CUP"], quantity=50, location_id=site.shelf),
        ]
        warehouse.create_receipt(session, ReceiptCreate(warehouse_id=site.id, received=lines))
        begin = start or utcnow() - timedelta(days=1)
        campaign = service.create_campaign(
            session,
            CampaignCreate(
                name="Double 11",
                goal="GMV 1m",
                starts_at=begin,
                ends_at=begin + timedelta(days=8),
                currency="CNY",
                budget_minor=1_000_000,
            ),
        )
    return Market(
        tenant=tenant,
        shop_id=factories.shop(tenant.id).id,
        site=site,
        campaign_id=campaign.id,
        green=green.id,
        skus=skus,
    )


def retire(site: Site) -> None:
    """Out of the way of other tests' allocation."""
    with db.unit_of_work() as session:
        warehouse.update_warehouse(session, site.id, WarehouseUpdate(active=False))


@pytest.fixture
def market(world: World) -> Iterator[Market]:
    yield make_market(world.tenant())
