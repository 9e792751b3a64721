"""The merchant's shop stock sync tab: a failed push shows with the marketplace's error and its
retry, the failures are the first view, and a warehouse operator sends a shop's quantities again;
a merchant reads the tab but has no such button, and a POST of theirs is refused and changes
nothing."""

from __future__ import annotations

import re

from daiyun.core.db import unit_of_work
from daiyun.core.ids import utcnow
from daiyun.platform.warehouse import stock_sync
from daiyun.platform.warehouse.sync_schemas import StockSyncStatus
from daiyun.sandboxes.marketplaces.state import Faults
from daiyun.tenants.auth.permissions import Role
from tests.conftest import World
from tests.platform.warehouse.test_stock_sync import Shops, sandbox, shops  # noqa: F401
from tests.portal.conftest import PortalClient, csrf_of

ROW = re.compile(
    r'<tr data-listing="[^"]+" data-status="(\w+)">\s*<th scope="row"><a [^>]+>([^<]+)<'
)


def _failed_tea(found: Shops) -> None:
    """TEA changes; the WooCommerce shop's push of it and of the bundle SET made of it fails (the
    marketplace answers 500 for a while); the Shopify shop's waits for its push."""
    found.adjust("TEA", 4)
    found.sandbox.state.set_faults(Faults(fail_next=50))
    found.push("woocommerce", now=utcnow())
    found.sandbox.state.set_faults(Faults())


def test_a_failed_push_is_the_first_view_with_its_error(
    shops: Shops,  # noqa: F811
    world: World,
    portal_as: PortalClient,
) -> None:
    _failed_tea(shops)
    viewer = portal_as(world.user(Role.merchant_viewer, shops.tenant))
    base = f"/portal/t/{shops.tenant.slug}/stock/sync"

    first = viewer.get(base)
    assert first.status_code == 200, first.text
    assert sorted(ROW.findall(first.text)) == [("failed", "SET"), ("failed", "TEA")]
    assert "500" in first.text and "attempts" in first.text
    assert "Send this shop" not in first.text  # a merchant cannot resend

    everything = viewer.get(base, params={"status": "all"})
    assert sorted(ROW.findall(everything.text)) == [
        ("failed", "SET"),
        ("failed", "TEA"),
        ("pending", "SET"),
        ("pending", "TEA"),
    ]

    shopify = shops.shops["shopify"]
    one_shop = viewer.get(base, params={"status": "all", "shop": str(shopify)})
    assert sorted(ROW.findall(one_shop.text)) == [("pending", "SET"), ("pending", "TEA")]


def test_a_warehouse_operator_sends_a_shop_again_and_a_merchant_cannot(
    shops: Shops,  # noqa: F811
    world: World,
    portal_as: PortalClient,
) -> None:
    _failed_tea(shops)
    woo = shops.shops["woocommerce"]
    base = f"/portal/t/{shops.tenant.slug}/stock/sync"

    def pending() -> list[str]:
        with unit_of_work(shops.tenant.id) as session:
            rows, _ = stock_sync.find_listings(session, shop_id=woo, status=StockSyncStatus.pending)
        return sorted(r.sku for r in rows)

    assert pending() == []
    owner = portal_as(world.user(Role.merchant_owner, shops.tenant))
    page = owner.get(base, params={"shop": str(woo), "status": "all"})
    refused = owner.post(
        f"{base}/resync",
        data={"csrf_token": csrf_of(page.text), "shop_id": str(woo)},
        follow_redirects=False,
    )
    assert refused.status_code == 403  # managing stock is not a merchant's
    assert pending() == []  # still failed, as before

    operator = portal_as(world.user(Role.warehouse_operator, shops.tenant))
    page = operator.get(base, params={"shop": str(woo), "status": "all"})
    assert "Send this shop&#39;s quantities again" in page.text
    sent = operator.post(
        f"{base}/resync",
        data={"csrf_token": csrf_of(page.text), "shop_id": str(woo), "next": base},
        follow_redirects=True,
    )
    assert sent.status_code == 200
    assert "2 listings will be sent their quantity again." in sent.text
    assert pending() == ["SET", "TEA"]


def test_the_console_lists_failed_pushes_of_the_operators_merchants_only(
    shops: Shops,  # noqa: F811
    world: World,
    portal_as: PortalClient,
) -> None:
    _failed_tea(shops)
    mine = portal_as(world.user(Role.warehouse_operator, shops.tenant))
    page = mine.get("/portal/console/warehouse")
    assert page.status_code == 200, page.text
    failed = re.findall(r'data-push-failed="([^"]+)"', page.text)
    assert sorted(failed) == ["SET", "TEA"]
    assert "HTTP 500" in page.text

    elsewhere = portal_as(world.user(Role.warehouse_operator, world.tenant()))
    page = elsewhere.get("/portal/console/warehouse")
    assert page.status_code == 200
    assert "data-push-failed" not in page.text
    assert "No stock push to a shop is failing." in page.text
