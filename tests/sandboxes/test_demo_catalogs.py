"""The demo merchants' catalogs: each demo shop's generated orders name only SKUs of its
merchant's catalog (best sellers more often), and the demo seeds that catalog once, every SKU the
shops sell in it with a cost in the merchant's currency and the bundle's cost from its parts."""

from __future__ import annotations

from collections import Counter

from daiyun.core.db import unit_of_work
from daiyun.demo import SHOPS, TENANTS
from daiyun.demo_catalog import ensure_catalog, ensure_listings
from daiyun.platform.storefront import listings
from daiyun.platform.storefront import service as catalog_service
from daiyun.platform.storefront.listing_rules import ListingState
from daiyun.sandboxes.marketplaces.catalogs import CATALOGS, sold_items
from daiyun.sandboxes.marketplaces.state import SandboxState
from daiyun.tenants import service as tenant_service
from daiyun.tenants.models import TenantStatus
from daiyun.tenants.schemas import TenantCreate
from tests import factories
from tests.conftest import World


def test_each_demo_shop_sells_only_its_merchants_skus() -> None:
    state = SandboxState(seed=15)
    for spec in SHOPS:
        state.register_shop(
            spec.channel, spec.external_id, spec.credentials, currency=spec.currency
        )
        orders = state.create_orders(spec.channel, spec.external_id, 300, history=False)
        sold = Counter(line.sku for order in orders for line in order.lines)
        items = sold_items(CATALOGS[spec.tenant])
        assert set(sold) <= {code for code, *_ in items}, spec.external_id
        # Most of the catalog sells, the most popular SKU more than the least.
        popularity = {code: weight for code, _, _, _, weight in items}
        assert len(sold) > len(items) * 2 // 3
        top = max(popularity, key=lambda code: popularity[code])
        assert sold[top] > min(sold.values())
    state.close()


def test_the_demo_catalog_holds_every_sku_its_shops_sell_and_is_seeded_once(
    world: World,
) -> None:
    spec = next(t for t in TENANTS if t.slug == "north-peak")
    with unit_of_work() as session:
        tenant = tenant_service.create_tenant(
            session,
            TenantCreate(
                slug=spec.slug,
                display_name=spec.display_name,
                legal_name=spec.legal_name,
                status=TenantStatus.active,
                default_currency=spec.currency,
            ),
        )
    assert ensure_catalog(tenant)
    assert ensure_catalog(tenant) == []  # a second run adds nothing
    shop = factories.shop(tenant.id, "amazon")
    assert ensure_listings(tenant) and ensure_listings(tenant) == []
    with unit_of_work(tenant.id) as session:
        skus, cursor = catalog_service.find_skus(session, limit=200)
        assert cursor is None
        tree = catalog_service.category_tree(session).items
    catalog = CATALOGS[spec.slug]
    assert {s.code for s in skus} == {code for code, *_ in sold_items(catalog)}
    assert len(skus) >= 24 and {s.currency for s in skus} == {"USD"}
    by_code = {s.code: s for s in skus}
    bundle = by_code[catalog.bundle.code]
    assert bundle.is_bundle and bundle.cost_minor == sum(
        by_code[code].cost_minor * n for code, n in catalog.bundle.parts
    )
    jacket = by_code["JKT-RDG-BLK-M"]
    # 38 % of its 129.00 shelf price.
    assert (jacket.attributes, jacket.cost_minor) == ({"colour": "black", "size": "M"}, 4902)
    assert ["露营 Camping", "帐篷 Tents"] in [c.path for c in tree]
    # Every SKU is listed on the shop at its shelf price, sent to be published.
    with unit_of_work(tenant.id) as session:
        listed, _ = listings.find(session, shop_id=shop.id, limit=200)
    assert {row.sku_id for row in listed} == {s.id for s in skus}
    assert {row.state for row in listed} == {ListingState.in_review}
    by_sku = {row.sku_id: row for row in listed}
    assert by_sku[jacket.id].list_price_minor == 12899  # 129.00 less a cent
