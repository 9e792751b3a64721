"""Shared set-up of the listing tests: a tenant's catalog and shops on the sandbox marketplaces."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from daiyun.core.db import unit_of_work
from daiyun.platform.storefront import listings, service
from daiyun.platform.storefront.listing_schemas import ListingCreate
from daiyun.platform.storefront.rules import FloorMode
from daiyun.platform.storefront.schemas import FloorIn, MarginFloorsIn, ProductCreate, SkuCreate
from daiyun.sandboxes.marketplaces.server import Sandbox
from tests import factories

# Sandbox limits high enough that the tests measure behaviour, not the marketplaces' pace.
FAST: dict[str, dict[str, float] | None] = {
    "shopify": {"leak_per_second": 500.0},
    "woocommerce": None,
    "amazon": {"rate": 500.0, "burst": 500.0},
}
SHOP_NAMES = {"shopify": "lotus.myshopify.com", "woocommerce": "lotus-store", "amazon": "A1SELLER"}


@dataclass
class Catalog:
    skus: list[uuid.UUID]
    codes: list[str]


def catalog(tenant_id: uuid.UUID, count: int = 3, cost: int = 10_00) -> Catalog:
    """``count`` SKUs (codes TEA-0...; products of up to 100), each costing ``cost`` CNY fen."""
    found = Catalog([], [])
    with unit_of_work(tenant_id) as session:
        for first in range(0, count, 100):
            product = service.create_product(
                session,
                ProductCreate(
                    name="Longjing",
                    variants=[
                        SkuCreate(code=f"TEA-{n}", cost_minor=cost, currency="CNY")
                        for n in range(first, min(count, first + 100))
                    ],
                ),
            )
            found.skus += [v.id for v in product.variants]
            found.codes += [v.code for v in product.variants]
    return found


def floor(tenant_id: uuid.UUID, mode: FloorMode, margin: str = "0.2") -> None:
    with unit_of_work(tenant_id) as session:
        service.set_margin_floors(
            session, MarginFloorsIn(tenant=FloorIn(mode=mode, minimum_margin=margin))
        )


def connect(sandbox: Sandbox, tenant_id: uuid.UUID, channel: str) -> uuid.UUID:
    """The same shop on the sandbox (in CNY) and in Daiyun; returns the Daiyun shop id."""
    name = SHOP_NAMES[channel]
    sandbox.state.register_shop(
        channel, name, dict(factories.CREDENTIALS[channel]), currency="CNY", rate=FAST[channel]
    )
    shop = factories.shop(
        tenant_id, channel, name, api_base_url=sandbox.api_base_url(channel, name)
    )
    return shop.id


def listed(
    tenant_id: uuid.UUID, shop_id: uuid.UUID, skus: list[uuid.UUID], price: int = 20_00
) -> list[uuid.UUID]:
    """A published-to-be listing per SKU on the shop (publish asked, nothing pushed yet)."""
    ids = []
    with unit_of_work(tenant_id) as session:
        for sku_id in skus:
            listing = listings.create(
                session,
                ListingCreate(sku_id=sku_id, shop_id=shop_id, list_price_minor=price),
                can_override=False,
            )
            listings.publish(session, listing.id)
            ids.append(listing.id)
    return ids
