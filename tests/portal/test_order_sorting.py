"""The order list's order: newest first by default, sortable by placed time and total both ways
(in the page and the API), with a count of every match; pages follow each other by keyset, so
ties, later imports and filters neither repeat nor lose an order."""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient

from daiyun.core.db import unit_of_work
from daiyun.platform.orders import service as order_service
from daiyun.platform.orders.rules import ReviewSettings
from daiyun.portal.views.merchant import orders as order_pages
from daiyun.tenants.auth.models import User
from daiyun.tenants.auth.permissions import Role
from daiyun.tenants.models import Tenant
from tests import factories
from tests.conftest import World
from tests.portal.conftest import PortalClient

API = "/api/v1/tenants"
ROW = re.compile(r'<th scope="row"><a href="[^"]*/orders/[0-9a-f-]{36}">([^<]+)</a>')
NEXT = re.compile(r'<a href="([^"]+)" rel="next">')
T0 = datetime(2026, 10, 1, 2, 0, tzinfo=UTC)
# (external id, hours after T0, total): ties on both keys, so the id has to break them.
ORDERS = [
    ("O-01", 0, 5000),
    ("O-02", 5, 1200),
    ("O-03", 5, 9900),
    ("O-04", 30, 5000),
    ("O-05", 2, 5000),
    ("O-06", 48, 300),
    ("O-07", 30, 12000),
]


@dataclass
class Shop:
    tenant: Tenant
    other: Tenant
    owner: User
    shop_id: uuid.UUID
    # external id -> (placed at, total, order id)
    orders: dict[str, tuple[datetime, int, uuid.UUID]]


def _ingest(tenant: Tenant, shop_id: uuid.UUID, *specs: tuple[str, int, int]) -> None:
    orders = [
        factories.order(
            ext,
            placed=T0 + timedelta(hours=hours),
            updated=T0 + timedelta(hours=hours, minutes=5),
            total_minor=total,
        )
        for ext, hours, total in specs
    ]
    with unit_of_work(tenant.id) as session:
        order_service.ingest(session, shop_id, "shopify", orders)


def _stored(tenant: Tenant) -> dict[str, tuple[datetime, int, uuid.UUID]]:
    with unit_of_work(tenant.id) as session:
        rows, _ = order_service.find_orders(session, limit=200)
        return {o.external_id: (o.placed_at, o.total_minor, o.id) for o in rows}


@pytest.fixture
def shop(world: World) -> Shop:
    tenant, other = world.tenant(), world.tenant()
    for t in (tenant, other):
        with unit_of_work(t.id) as session:
            order_service.update_review_settings(session, ReviewSettings(check_duplicates=False))
    shop_id = factories.shop(tenant.id, "shopify", external_id="sorted-shop").id
    # One order at a time, in the list's order: import order (the id) differs from both keys.
    for spec in ORDERS:
        _ingest(tenant, shop_id, spec)
    other_shop = factories.shop(other.id, "shopify", external_id="other-shop").id
    _ingest(other, other_shop, ("X-01", 100, 99999), ("X-02", -5, 1))
    owner = world.user(Role.merchant_owner, tenant)
    return Shop(tenant, other, owner, shop_id, _stored(tenant))


def expected(shop: Shop, key: str, descending: bool) -> list[str]:
    """External ids in (key, id) order, the id breaking ties the same way."""
    index = {"placed": 0, "total": 1}[key]
    ordered = sorted(shop.orders, key=lambda e: (shop.orders[e][index], shop.orders[e][2]))
    return ordered[::-1] if descending else ordered


def page_walk(browser: TestClient, first_url: str) -> tuple[list[str], list[str]]:
    """The external ids of every page in the order shown, and every page's HTML."""
    shown: list[str] = []
    pages: list[str] = []
    url: str | None = first_url
    while url:
        assert len(pages) < 20, "the next-page links go round in a circle"
        answer = browser.get(url)
        assert answer.status_code == 200, answer.text
        pages.append(answer.text)
        shown += ROW.findall(answer.text)
        more = NEXT.search(answer.text)
        url = more.group(1).replace("&amp;", "&") if more else None
    return shown, pages


def api_walk(world: World, shop: Shop, **params: Any) -> list[str]:
    headers = world.sign_in(shop.owner)
    found: list[str] = []
    cursor = None
    while True:
        answer = world.client.get(
            f"{API}/{shop.tenant.slug}/orders",
            params={**params, "limit": 3, **({"cursor": cursor} if cursor else {})},
            headers=headers,
        )
        assert answer.status_code == 200, answer.text
        found += [o["external_id"] for o in answer.json()["items"]]
        cursor = answer.json()["next_cursor"]
        if cursor is None:
            return found


def test_the_list_opens_newest_first_with_the_count_of_every_page(
    shop: Shop, portal_as: PortalClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(order_pages, "PAGE_SIZE", 3)
    shown, pages = page_walk(portal_as(shop.owner), f"/portal/t/{shop.tenant.slug}/orders")
    assert shown == expected(shop, "placed", descending=True)
    assert shown[0] == "O-06"  # the order that came in last is on the first page, at the top
    assert len(pages) == 3
    for html in pages:  # the count is of every match, on every page (not of the page's rows)
        assert '<strong class="order-count" data-count="7">7 orders</strong>' in html
    assert 'data-sort="placed"' in pages[0] and 'aria-sort="descending"' in pages[0]


@pytest.mark.parametrize(
    ("column", "direction"),
    [("placed", "asc"), ("placed", "desc"), ("total", "asc"), ("total", "desc")],
)
def test_each_sort_pages_through_every_order_once_in_order(
    world: World,
    shop: Shop,
    portal_as: PortalClient,
    monkeypatch: pytest.MonkeyPatch,
    column: str,
    direction: str,
) -> None:
    monkeypatch.setattr(order_pages, "PAGE_SIZE", 2)
    url = f"/portal/t/{shop.tenant.slug}/orders?sort={column}&dir={direction}"
    shown, pages = page_walk(portal_as(shop.owner), url)
    want = expected(shop, column, descending=direction == "desc")
    assert shown == want
    # The sort travels with every next-page link, and the API sorts the same way.
    for html in pages[:-1]:
        link = NEXT.search(html)
        assert link is not None and f"sort={column}" in link.group(1)
        assert f"dir={direction}" in link.group(1)
    api_sort = ("-" if direction == "desc" else "") + {"placed": "placed_at"}.get(column, column)
    assert api_walk(world, shop, sort=api_sort) == want


def test_a_header_link_sorts_by_its_column_and_keeps_the_filters(
    shop: Shop, portal_as: PortalClient
) -> None:
    browser = portal_as(shop.owner)
    base = f"/portal/t/{shop.tenant.slug}/orders"
    html = browser.get(base, params={"q": "O-0"}).text
    total_link = re.search(r'data-sort="total">\s*<a href="([^"]+)"', html)
    assert total_link is not None
    href = total_link.group(1).replace("&amp;", "&")
    assert "q=O-0" in href and "sort=total" in href and "dir=desc" in href
    shown, pages = page_walk(browser, href)
    assert shown == expected(shop, "total", descending=True)
    # On the sorted page, the same header turns the order around.
    again = re.search(r'data-sort="total">\s*<a href="([^"]+)"', pages[0])
    assert again is not None and "dir=asc" in again.group(1)
    # The filter form carries the sort, so filtering does not lose it.
    assert '<input type="hidden" name="sort" value="total">' in pages[0]


def test_pages_continue_where_they_stopped_when_orders_arrive_meanwhile(
    shop: Shop, portal_as: PortalClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(order_pages, "PAGE_SIZE", 3)
    browser = portal_as(shop.owner)
    first = browser.get(f"/portal/t/{shop.tenant.slug}/orders?sort=total&dir=desc").text
    head = ROW.findall(first)
    # Two orders come in before the next page is opened: one that sorts before the page just
    # read, one after it. The rest of the walk shows each remaining order exactly once.
    _ingest(shop.tenant, shop.shop_id, ("N-BIG", 60, 50000), ("N-SMALL", 61, 100))
    more = NEXT.search(first)
    assert more is not None
    rest, _ = page_walk(browser, more.group(1).replace("&amp;", "&"))
    assert head + rest == [*expected(shop, "total", descending=True), "N-SMALL"]


def test_the_count_and_the_list_are_the_tenants_own(
    shop: Shop, portal_as: PortalClient, world: World
) -> None:
    html = portal_as(shop.owner).get(f"/portal/t/{shop.tenant.slug}/orders?sort=total").text
    assert 'data-count="7"' in html and "X-0" not in html
    with unit_of_work(shop.other.id) as session:
        assert order_service.count_orders(session) == 2
        assert order_service.count_orders(session, text="x-01") == 1


def test_the_api_refuses_a_cursor_of_another_sort_or_none_it_issued(
    world: World, shop: Shop
) -> None:
    headers = world.sign_in(shop.owner)
    url = f"{API}/{shop.tenant.slug}/orders"
    by_total = world.client.get(url, params={"sort": "-total", "limit": 2}, headers=headers).json()
    cursor = by_total["next_cursor"]
    assert cursor
    placed = world.client.get(url, params={"sort": "placed_at", "cursor": cursor}, headers=headers)
    assert placed.status_code == 400
    assert placed.json()["type"].endswith("invalid-cursor")
    for forged in ("bm90IGpzb24", "WyItdG90YWwiLCJ4IiwiMDAiXQ"):  # not JSON; a total of "x"
        answer = world.client.get(url, params={"sort": "-total", "cursor": forged}, headers=headers)
        assert answer.status_code == 400, answer.text
    unknown = world.client.get(url, params={"sort": "buyer"}, headers=headers)
    assert 400 <= unknown.status_code < 500
    # Without a sort the API keeps its import order (the id), as clients already page it.
    assert api_walk(world, shop) == sorted(shop.orders, key=lambda e: shop.orders[e][2])
