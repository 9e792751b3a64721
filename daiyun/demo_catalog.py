"""The demo merchants' catalogs (商品目录), seeded by :func:`daiyun.demo.seed`: the products,
variants, categories and bundle each merchant's sandbox shops sell
(``daiyun.sandboxes.marketplaces.catalogs``), so every generated order line matches a SKU; and
every SKU listed on each of the merchant's shops at its shelf price, published where the shop's
marketplace has a listing API (the worker then pushes them to the sandbox), a draft elsewhere.

Idempotent as the rest of the demo: a product whose first SKU exists is left alone.
"""

from __future__ import annotations

import uuid

from sqlalchemy.orm import Session

from daiyun.connectors import service as shop_service
from daiyun.connectors.channels import connector_for
from daiyun.connectors.channels.outbound import LISTINGS
from daiyun.core.db import unit_of_work
from daiyun.platform.storefront import listings
from daiyun.platform.storefront import service as catalog_service
from daiyun.platform.storefront.listing_schemas import ListingCreate
from daiyun.platform.storefront.schemas import (
    BundleCreate,
    CatalogStatus,
    CategoryCreate,
    PartIn,
    ProductCreate,
    SkuCreate,
)
from daiyun.sandboxes.marketplaces.catalogs import CATALOGS, DemoProduct, sold_items
from daiyun.sandboxes.marketplaces.generator import local_price
from daiyun.tenants.models import Tenant

# The catalogs' categories in Chinese: a category is named in both languages, as the merchants.
CATEGORY_NAMES = {
    "Tea": "茶叶",
    "Green tea": "绿茶",
    "Oolong": "乌龙茶",
    "Dark tea": "黑茶",
    "White tea": "白茶",
    "Black tea": "红茶",
    "Gift sets": "礼盒",
    "Teaware": "茶具",
    "Clothing": "服装",
    "Jackets": "冲锋衣",
    "Base layers": "打底衣",
    "Camping": "露营",
    "Tents": "帐篷",
    "Sleeping": "睡眠",
    "Cooking": "炊具",
    "Kits": "套装",
    "Packs": "背包",
    "Accessories": "配件",
    "Bedding": "床品",
    "Lighting": "灯具",
    "Kitchen": "厨房",
    "Sets": "套装",
    "Storage": "收纳",
}


def _category_name(english: str) -> str:
    return f"{CATEGORY_NAMES[english]} {english}"


def ensure_catalog(tenant: Tenant) -> list[str]:
    """The merchant's catalog, costed in its own currency; what was added, for the demo's
    summary."""
    catalog = CATALOGS.get(tenant.slug)
    if catalog is None:
        return []
    currency = tenant.default_currency
    added = 0
    with unit_of_work(tenant.id) as session:
        categories = {tuple(c.path): c.id for c in catalog_service.category_tree(session).items}
        for product in catalog.products:
            if _sku_id(session, product.skus[0].code) is not None:
                continue
            category_id = _category(session, categories, product.category)
            catalog_service.create_product(session, _product(product, category_id, currency))
            added += 1
        bundle = catalog.bundle
        if _sku_id(session, bundle.code) is None:
            parts = [PartIn(sku_id=_part(session, code), quantity=n) for code, n in bundle.parts]
            body = BundleCreate(
                code=bundle.code,
                currency=currency,
                parts=parts,
                name=f"{bundle.name_zh} {bundle.name_en}",
                category_id=_category(session, categories, bundle.category),
                brand=catalog.products[0].brand,
            )
            catalog_service.create_bundle(session, body)
            added += 1
    return [f"{added} catalog products -> {tenant.slug}"] if added else []


def _sku_id(session: Session, code: str) -> uuid.UUID | None:
    found, _ = catalog_service.find_skus(session, code=code, limit=1)
    return found[0].id if found else None


def _part(session: Session, code: str) -> uuid.UUID:
    found = _sku_id(session, code)
    if found is None:  # the catalogs name their own SKUs: a typo there is a bug
        raise LookupError(f"the demo bundle's part {code} is not in the catalog")
    return found


def _category(
    session: Session, known: dict[tuple[str, ...], uuid.UUID], path: tuple[str, ...]
) -> uuid.UUID:
    """The category at ``path`` (English names), made with its ancestors where missing."""
    names = tuple(_category_name(name) for name in path)
    for depth in range(1, len(names) + 1):
        if names[:depth] not in known:
            body = CategoryCreate(name=names[depth - 1], parent_id=known.get(names[: depth - 1]))
            known[names[:depth]] = catalog_service.create_category(session, body).id
    return known[names]


def _product(product: DemoProduct, category_id: uuid.UUID, currency: str) -> ProductCreate:
    return ProductCreate(
        name=f"{product.name_zh} {product.name_en}",
        category_id=category_id,
        brand=product.brand,
        status=CatalogStatus.active,
        variants=[
            SkuCreate(
                code=sku.code,
                attributes=dict(sku.attributes),
                weight_grams=sku.weight_grams,
                # A share of the shelf price in the merchant's currency, whole minor units.
                cost_minor=local_price(sku.usd_cents, currency, charm=False)
                * sku.cost_percent
                // 100,
                currency=currency,
            )
            for sku in product.skus
        ],
    )


def ensure_listings(tenant: Tenant) -> list[str]:
    """Every catalog SKU listed on each of the merchant's shops (a listing that exists is left
    alone); what was added, for the demo's summary."""
    catalog = CATALOGS.get(tenant.slug)
    if catalog is None:
        return []
    added = 0
    with unit_of_work(tenant.id) as session:
        for shop in shop_service.shops(session):
            can_publish = LISTINGS in connector_for(shop.channel).outbound
            for code, _, _, usd_cents, _ in sold_items(catalog):
                sku_id = _sku_id(session, code)
                if sku_id is None:
                    continue
                if listings.find(session, shop_id=shop.id, sku_id=sku_id, limit=1)[0]:
                    continue
                sku = catalog_service.get_sku(session, sku_id)
                body = ListingCreate(
                    sku_id=sku_id,
                    shop_id=shop.id,
                    list_price_minor=local_price(usd_cents, sku.currency),
                )
                listing = listings.create(session, body, can_override=False)
                if can_publish:
                    listings.publish(session, listing.id)
                added += 1
    return [f"{added} listings -> {tenant.slug}"] if added else []
