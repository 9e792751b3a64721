"""The catalog's portal pages: products with their variants and costs, found by name or SKU code;
a product's variants and a bundle's parts; the portfolio's scatter and table agree with the API;
its thresholds change only for a role that manages the catalog; Chinese pages read in Chinese."""

from __future__ import annotations

import re
import uuid

from fastapi.testclient import TestClient
from sqlalchemy import select

from daiyun.connectors import service as shop_service
from daiyun.core.db import unit_of_work
from daiyun.platform.storefront.listing_rules import SyncStatus
from daiyun.platform.storefront.models import Listing
from daiyun.tenants.auth.permissions import Role
from daiyun.tenants.models import Tenant
from tests.conftest import Actor, World
from tests.platform.storefront.test_portfolio import _catalog, _sales
from tests.portal.conftest import PortalClient, csrf_of
from tests.portal.test_zh_and_time import choose_chinese, untranslated  # noqa: F401 (fixture)

PORTAL = "/portal"
POINT = re.compile(r'<circle [^>]*class="q-(\w+)[^"]*" data-sku="([^"]+)"')
ROW = re.compile(r'<tr data-sku="([^"]+)" data-quadrant="(\w+)"')


def test_products_are_listed_searched_and_shown_with_their_variants(
    world: World, client: TestClient, portal_as: PortalClient
) -> None:
    tenant = world.tenant()
    manager = world.actor(Role.account_manager, tenant)
    _catalog(client, manager, tenant)
    client.post(
        f"/api/v1/tenants/{tenant.slug}/products",
        json={"name": "Camp stove", "brand": "North", "variants": []},
        headers=manager.headers,
    )
    browser = portal_as(world.user(Role.merchant_viewer, tenant))
    base = f"{PORTAL}/t/{tenant.slug}/products"

    listed = browser.get(base)
    assert listed.status_code == 200, listed.text
    assert "Longjing" in listed.text and "Camp stove" in listed.text
    assert "<code>SET</code>" in listed.text and "¥10.00" in listed.text  # A's cost
    by_code = browser.get(base, params={"q": "SET"})
    assert "Longjing" in by_code.text and "Camp stove" not in by_code.text
    by_brand = browser.get(base, params={"q": "north"})
    assert "Camp stove" in by_brand.text and "Longjing" not in by_brand.text
    drafts = browser.get(base, params={"status": "draft"})
    assert "Camp stove" in drafts.text and "Longjing" not in drafts.text
    nothing = browser.get(base, params={"q": "no such thing"})
    assert "No product matches this search." in nothing.text

    link = re.search(r'href="(/portal/t/[^"]+/products/[0-9a-f-]{36})">Longjing', listed.text)
    assert link is not None
    detail = browser.get(link.group(1))
    assert detail.status_code == 200
    # The bundle names its parts and its cost (two A at 10.00) comes from them.
    assert "2 × A" in detail.text and "¥20.00" in detail.text
    assert browser.get(f"{base}/not-an-id").status_code == 404


def test_the_portfolio_page_draws_what_the_api_answers(
    world: World, client: TestClient, portal_as: PortalClient
) -> None:
    tenant = world.tenant()
    manager = world.actor(Role.account_manager, tenant)
    _catalog(client, manager, tenant)
    _sales(tenant)
    api = client.get(
        f"/api/v1/tenants/{tenant.slug}/portfolio",
        params={"period": "2026-10"},
        headers=manager.headers,
    ).json()
    owner = portal_as(world.user(Role.merchant_owner, tenant))
    url = f"{PORTAL}/t/{tenant.slug}/portfolio"
    page = owner.get(url, params={"period": "2026-10"})
    assert page.status_code == 200, page.text
    # Every SKU in the table with the API's quadrant; a point for each that sold in either month.
    assert ROW.findall(page.text) == [(r["code"], r["quadrant"]) for r in api["skus"]]
    sold = {
        r["code"]: r["quadrant"] for r in api["skus"] if r["gmv_minor"] or r["previous_gmv_minor"]
    }
    assert {code: q for q, code in POINT.findall(page.text)} == sold
    assert 'data-threshold="share"' in page.text and "share 10.0%" in page.text
    assert "Change the thresholds" not in page.text  # the owner may not change them

    # The owner's form post is refused, the account manager's is saved.
    refused = owner.post(
        f"{url}/settings",
        data={"csrf_token": csrf_of(page.text), "share": "40", "growth": "5"},
        follow_redirects=False,
    )
    assert refused.status_code == 403
    staff = portal_as(world.user(Role.account_manager, tenant))
    form = staff.get(url, params={"period": "2026-10"})
    assert "Change the thresholds" in form.text
    saved = staff.post(
        f"{url}/settings",
        data={
            "csrf_token": csrf_of(form.text),
            "share": "43.47",
            "growth": "200",
            "period": "2026-10",
        },
        follow_redirects=False,
    )
    assert saved.status_code == 303
    after = staff.get(saved.headers["location"])
    assert "Thresholds saved." in after.text
    assert ("B", "star") in ROW.findall(after.text) and ("A", "cash_cow") in ROW.findall(after.text)
    bad = staff.post(
        f"{url}/settings",
        data={"csrf_token": csrf_of(form.text), "share": "101", "growth": "x"},
        follow_redirects=False,
    )
    assert "bad-thresholds" in bad.headers["location"]

    wrong = owner.get(url, params={"period": "2026-13"})
    assert wrong.status_code == 200 and "The month is not valid" in wrong.text


def test_the_catalog_pages_read_in_chinese(
    world: World,
    client: TestClient,
    portal_as: PortalClient,
    untranslated: set[str],  # noqa: F811
) -> None:
    tenant = world.tenant()
    manager = world.actor(Role.account_manager, tenant)
    _catalog(client, manager, tenant)
    _sales(tenant)
    staff = portal_as(world.user(Role.account_manager, tenant))
    choose_chinese(staff)
    base = f"{PORTAL}/t/{tenant.slug}"
    products = staff.get(f"{base}/products")
    assert 'lang="zh-CN"' in products.text and "在售" in products.text
    link = re.search(r'href="(/portal/t/[^"]+/products/[0-9a-f-]{36})"', products.text)
    assert link is not None and staff.get(link.group(1)).status_code == 200
    chart = staff.get(f"{base}/portfolio", params={"period": "2026-10"})
    assert "潜力产品" in chart.text and "滞销品" in chart.text and "¥300.00" in chart.text
    assert staff.get(f"{base}/portfolio", params={"period": "bad"}).status_code == 200
    _listings(client, manager, tenant)
    listed = staff.get(f"{base}/listings")
    assert "低于毛利底线" in listed.text and "同步失败" in listed.text
    console = staff.get(f"{PORTAL}/console/catalog")
    assert console.status_code == 200 and "平台错误" in console.text
    assert not untranslated, sorted(untranslated)


def test_the_console_lists_the_catalogs_of_the_merchants_the_role_reads(
    world: World, client: TestClient, portal_as: PortalClient
) -> None:
    mine, other = world.tenant(), world.tenant()
    manager = world.actor(Role.account_manager, mine)
    _catalog(client, manager, mine)
    _sales(mine)
    staff = world.user(Role.account_manager, mine)
    page = portal_as(staff).get(f"{PORTAL}/console/catalog")
    assert page.status_code == 200
    assert f'data-merchant="{mine.slug}"' in page.text
    assert f'data-merchant="{other.slug}"' not in page.text  # not assigned to it
    assert f"/portal/t/{mine.slug}/portfolio?period=" in page.text

    # A recruiter reads no catalog: the page says so instead of looking empty.
    recruiter = portal_as(world.user(Role.recruiter, mine)).get(f"{PORTAL}/console/catalog")
    assert recruiter.status_code == 200
    assert "Your role does not see the catalog" in recruiter.text
    # A new merchant with nothing yet is listed, its figures zeros.
    fresh = world.tenant()
    newcomer = portal_as(world.user(Role.account_manager, fresh)).get(f"{PORTAL}/console/catalog")
    assert f'data-merchant="{fresh.slug}"' in newcomer.text
    # A merchant's user has no console.
    owner = portal_as(world.user(Role.merchant_owner, mine))
    assert owner.get(f"{PORTAL}/console/catalog").status_code == 404


def _listings(client: TestClient, manager: Actor, tenant: Tenant) -> tuple[str, str]:
    """A listed at 12.00 under a 50 % floor in warn mode (its cost is 10.00), B at 50.00 whose
    last push failed. Returns their listing ids."""
    base = f"/api/v1/tenants/{tenant.slug}"
    floors = {"tenant": {"mode": "warn", "minimum_margin": "0.5"}}
    assert client.put(f"{base}/margin-floors", json=floors, headers=manager.headers).is_success
    with unit_of_work(tenant.id) as session:
        shop_id = str(shop_service.shops(session)[0].id)
    skus = client.get(f"{base}/skus", headers=manager.headers).json()["items"]
    ids = {s["code"]: s["id"] for s in skus}
    made = []
    for code, price in (("A", 1200), ("B", 5000)):
        body = {"sku_id": ids[code], "shop_id": shop_id, "list_price_minor": price}
        answer = client.post(f"{base}/listings", json=body, headers=manager.headers)
        assert answer.status_code == 201, answer.text
        made.append(answer.json()["id"])
    assert client.get(f"{base}/listings/{made[0]}", headers=manager.headers).json()["floor_flag"]
    with unit_of_work(tenant.id) as session:
        failed = session.scalar(select(Listing).where(Listing.id == uuid.UUID(made[1])))
        assert failed is not None
        failed.sync_status = SyncStatus.failed
        failed.sync_error = "HTTP 503 from the marketplace: try again later"
        failed.sync_attempts = 3
    return made[0], made[1]


def test_listings_show_sync_state_failures_and_prices_under_the_floor(
    world: World, client: TestClient, portal_as: PortalClient
) -> None:
    tenant = world.tenant()
    manager = world.actor(Role.account_manager, tenant)
    _catalog(client, manager, tenant)
    _sales(tenant)
    under, failing = _listings(client, manager, tenant)
    viewer = portal_as(world.user(Role.merchant_viewer, tenant))
    url = f"{PORTAL}/t/{tenant.slug}/listings"
    page = viewer.get(url)
    assert page.status_code == 200, page.text
    assert f'data-listing="{under}"' in page.text and f'data-listing="{failing}"' in page.text
    assert "Under the margin floor" in page.text
    assert "1 listings failed to sync" in page.text
    failed = viewer.get(url, params={"sync": "failed"})
    assert (
        f'data-listing="{failing}"' in failed.text and f'data-listing="{under}"' not in failed.text
    )
    assert "HTTP 503 from the marketplace" in failed.text and "3 attempts" in failed.text
    assert "No listing matches this filter." in viewer.get(url, params={"sync": "synced"}).text

    staff = portal_as(world.user(Role.account_manager, tenant))
    console = staff.get(f"{PORTAL}/console/catalog").text
    assert f'data-merchant="{tenant.slug}" data-unmatched="X-OLD"' in console
    assert f'data-merchant="{tenant.slug}" data-failed="B"' in console
    assert f'data-merchant="{tenant.slug}" data-floor="A"' in console
    assert "HTTP 503 from the marketplace" in console
