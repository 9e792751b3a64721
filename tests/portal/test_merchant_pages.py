"""The merchant portal's pages: what a merchant sees equals what the API answers for the same
question, exports hold exactly the tenant's filtered rows, buyers are masked for roles without
``buyers:read``, another tenant's pages are 404, and Chinese pages read in Chinese with ¥."""

from __future__ import annotations

import csv
import io
import re
import uuid
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from fastapi.testclient import TestClient

from daiyun.connectors import service as shop_service
from daiyun.connectors.models import ShopStatus
from daiyun.core.db import unit_of_work
from daiyun.platform.orders import service as order_service
from daiyun.platform.orders.normalized import NormalizedRefund, OrderStatus
from daiyun.platform.orders.rules import ReviewSettings
from daiyun.platform.reports import service as reports_service
from daiyun.portal import i18n
from daiyun.portal.i18n import Formatter
from daiyun.portal.views.merchant import orders as order_pages
from daiyun.tenants.auth.models import User
from daiyun.tenants.auth.permissions import Role
from daiyun.tenants.models import Tenant
from tests import factories
from tests.conftest import World
from tests.portal.conftest import CSRF_FIELD, PortalClient

API = "/api/v1/tenants"
SHANGHAI = ZoneInfo("Asia/Shanghai")
EN = Formatter("en", "Asia/Shanghai")
ORDER_LINK = re.compile(r'/orders/([0-9a-f-]{36})">([^<]+)</a>')
PAID = {s.value for s in OrderStatus} - {"pending", "cancelled"}


def local(day: date, hour: int, minute: int = 0) -> datetime:
    return datetime.combine(day, time(hour, minute), tzinfo=SHANGHAI).astimezone(UTC)


@dataclass
class Book:
    a: Tenant
    b: Tenant
    owner: User
    viewer: User
    other: User
    shops: dict[str, uuid.UUID]


def _order(
    external_id: str,
    placed: datetime,
    total: int,
    *,
    status: OrderStatus = OrderStatus.paid,
    quantity: int = 1,
    refund: int = 0,
) -> Any:
    order = factories.order(
        external_id,
        placed=placed,
        updated=placed + timedelta(minutes=10),
        status=status,
        total_minor=total,
        quantity=quantity,
        sku=f"SKU-{external_id}",
        buyer=f"王{external_id}",
        email=f"{external_id.lower()}@example.com",
    )
    order.paid_at = placed + timedelta(minutes=5)
    if refund:
        order.refunds = [NormalizedRefund(f"{external_id}-r", refund, placed + timedelta(hours=2))]
    return order


def _ingest(tenant: Tenant, shop_id: uuid.UUID, channel: str, *orders: Any) -> None:
    with unit_of_work(tenant.id) as session:
        order_service.ingest(session, shop_id, channel, list(orders))


@pytest.fixture
def book(world: World) -> Book:
    a, b = world.tenant(), world.tenant()
    for tenant in (a, b):
        with unit_of_work(tenant.id) as session:
            order_service.update_review_settings(session, ReviewSettings(check_duplicates=False))
    shopify = factories.shop(a.id, "shopify", external_id="lotus-tea")
    woo = factories.shop(a.id, "woocommerce", external_id="lotus-woo")
    b_shop = factories.shop(b.id, "shopify", external_id="b-store-secret")
    oct14, oct15, oct16, oct17 = (date(2026, 10, d) for d in (14, 15, 16, 17))
    _ingest(
        a,
        shopify.id,
        "shopify",
        _order("A-1001", local(oct14, 10), 5998, quantity=2),
        _order("A-1002", local(oct15, 9), 12800, status=OrderStatus.shipped),
        # Placed on 16 October in UTC, on the 17th in Shanghai: the tenant's day decides.
        _order("A-1003", local(oct17, 0, 30), 5998, quantity=2),
        _order("A-1004", local(oct15, 11), 3000, status=OrderStatus.cancelled),
        _order("A-0901", local(date(2026, 9, 20), 12), 10000),
    )
    _ingest(
        a,
        woo.id,
        "woocommerce",
        _order("W-2001", local(oct16, 15), 45000, status=OrderStatus.delivered, refund=5000),
    )
    _ingest(b, b_shop.id, "shopify", _order("B-SECRET", local(oct15, 10), 77700))
    for tenant in (a, b):
        with unit_of_work(tenant.id) as session:
            reports_service.rebuild(session, tenant)
    return Book(
        a,
        b,
        world.user(Role.merchant_owner, a),
        world.user(Role.merchant_viewer, a),
        world.user(Role.merchant_owner, b),
        {"shopify": shopify.id, "woocommerce": woo.id},
    )


def api_orders(world: World, user: User, tenant: Tenant, **params: Any) -> list[dict[str, Any]]:
    """Every order the API lists for these filters, all pages."""
    headers = world.sign_in(user)
    found: list[dict[str, Any]] = []
    cursor = None
    while True:
        answer = world.client.get(
            f"{API}/{tenant.slug}/orders",
            params={**params, "limit": 2, **({"cursor": cursor} if cursor else {})},
            headers=headers,
        )
        assert answer.status_code == 200, answer.text
        found += answer.json()["items"]
        cursor = answer.json()["next_cursor"]
        if cursor is None:
            return found


def listed(html: str) -> dict[str, str]:
    """The orders a page links to: id -> external id."""
    return {m.group(1): m.group(2) for m in ORDER_LINK.finditer(html)}


def csv_rows(content: bytes) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(content.decode("utf-8-sig"))))


def page_orders(browser: TestClient, tenant: Tenant, **params: Any) -> dict[str, str]:
    """Every order the page lists for these filters, following its next-page links."""
    found: dict[str, str] = {}
    url: str | None = f"/portal/t/{tenant.slug}/orders"
    first = True
    while url:
        answer = browser.get(url, params=params if first else None)
        assert answer.status_code == 200, answer.text
        found |= listed(answer.text)
        more = re.search(r'<a href="([^"]+)" rel="next">', answer.text)
        url = more.group(1).replace("&amp;", "&") if more else None
        first = False
    return found


# --- orders ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("page_params", "api_params"),
    [
        ({}, {}),
        ({"channel": "shopify"}, {"channel": "shopify"}),
        ({"status": "paid"}, {"status": "paid"}),
        ({"q": "a-100"}, {"q": "a-100"}),
        (
            {"from": "2026-10-14", "to": "2026-10-16"},
            {"placed_from": "2026-10-13T16:00:00Z", "placed_to": "2026-10-16T16:00:00Z"},
        ),
    ],
)
def test_the_order_list_equals_the_api_for_the_same_filters(
    world: World,
    book: Book,
    portal_as: PortalClient,
    monkeypatch: pytest.MonkeyPatch,
    page_params: dict[str, str],
    api_params: dict[str, str],
) -> None:
    monkeypatch.setattr(order_pages, "PAGE_SIZE", 2)  # several pages, followed by their links
    browser = portal_as(book.owner)
    shown = page_orders(browser, book.a, **page_params)
    expected = {
        o["id"]: o["external_id"] for o in api_orders(world, book.owner, book.a, **api_params)
    }
    assert shown == expected
    assert expected  # every filter here matches something
    assert "B-SECRET" not in shown.values()


def test_the_local_day_filter_follows_the_tenant_time_zone(
    book: Book, portal_as: PortalClient
) -> None:
    browser = portal_as(book.owner)
    shown = set(page_orders(browser, book.a, **{"from": "2026-10-14", "to": "2026-10-16"}).values())
    assert shown == {"A-1001", "A-1002", "A-1004", "W-2001"}  # A-1003 is the 17th in Shanghai
    shop = set(page_orders(browser, book.a, shop=str(book.shops["woocommerce"])).values())
    assert shop == {"W-2001"}


def test_a_bad_filter_is_explained_not_guessed(book: Book, portal_as: PortalClient) -> None:
    answer = portal_as(book.owner).get(
        f"/portal/t/{book.a.slug}/orders", params={"from": "15/10/2026", "status": "lost"}
    )
    assert answer.status_code == 400
    assert 'role="alert"' in answer.text
    assert "Dates are written YYYY-MM-DD." in answer.text
    assert not listed(answer.text)


def test_the_csv_holds_exactly_the_filtered_tenant_rows(
    world: World, book: Book, portal_as: PortalClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(order_pages, "CSV_PAGE", 2)  # streamed over several pages
    answer = portal_as(book.owner).get(
        f"/portal/t/{book.a.slug}/orders.csv", params={"channel": "shopify"}
    )
    assert answer.status_code == 200, answer.text
    assert answer.headers["content-type"].startswith("text/csv")
    disposition = answer.headers["content-disposition"]
    assert disposition.startswith("attachment;") and f"orders-{book.a.slug}-" in disposition
    rows = csv_rows(answer.content)
    expected = api_orders(world, book.owner, book.a, channel="shopify")
    assert sorted(r["order_id"] for r in rows) == sorted(o["id"] for o in expected)
    assert len(rows) == 5
    by_number = {r["external_id"]: r for r in rows}
    assert "B-SECRET" not in by_number and "W-2001" not in by_number
    first = by_number["A-1001"]
    assert first["total"] == "59.98" and first["currency"] == "CNY"
    assert first["placed_at"] == "2026-10-14T10:00:00+08:00"  # the tenant's time zone
    assert first["buyer_name"] == "王A-1001"  # the owner may read buyers
    assert by_number["A-1003"]["placed_at"].startswith("2026-10-17T00:30:00+08:00")


def test_order_detail_shows_lines_refunds_and_history(book: Book, portal_as: PortalClient) -> None:
    browser = portal_as(book.owner)
    ids = {v: k for k, v in page_orders(browser, book.a).items()}
    answer = browser.get(f"/portal/t/{book.a.slug}/orders/{ids['W-2001']}")
    assert answer.status_code == 200, answer.text
    html = answer.text
    assert "SKU-W-2001" in html
    assert EN.money(45000, "CNY") in html and EN.money(5000, "CNY") in html  # total, refund
    assert "W-2001-r" in html
    assert "Received from the channel" in html
    assert "王W-2001" in html and "w-2001@example.com" in html
    assert browser.get(f"/portal/t/{book.a.slug}/orders/not-an-id").status_code == 404
    assert browser.get(f"/portal/t/{book.a.slug}/orders/{uuid.uuid4()}").status_code == 404


def test_buyers_are_masked_for_a_role_without_buyers_read(
    world: World, book: Book, portal_as: PortalClient
) -> None:
    browser = portal_as(book.viewer)
    ids = {v: k for k, v in page_orders(browser, book.a).items()}
    listing = browser.get(f"/portal/t/{book.a.slug}/orders").text
    detail = browser.get(f"/portal/t/{book.a.slug}/orders/{ids['A-1001']}").text
    exported = csv_rows(browser.get(f"/portal/t/{book.a.slug}/orders.csv").content)
    api = world.client.get(
        f"{API}/{book.a.slug}/orders/{ids['A-1001']}", headers=world.sign_in(book.viewer)
    ).json()
    assert api["buyer_name"] == "王***" and api["buyer_email"] == "a***@example.com"
    for html in (listing, detail):
        assert "王A-1001" not in html and "a-1001@example.com" not in html
        assert api["buyer_name"] in html
    assert api["buyer_email"] in detail and api["buyer_phone"] in detail
    assert "13812345678" not in detail and "文三路" not in detail
    row = next(r for r in exported if r["external_id"] == "A-1001")
    assert (row["buyer_name"], row["buyer_email"]) == (api["buyer_name"], api["buyer_email"])


# --- dashboard -------------------------------------------------------------------------------


def kpi(html: str, name: str) -> str:
    found = re.search(rf'data-kpi="{name}">(.*?)</li>', html, re.S)
    assert found is not None, f"no {name} tile"
    return found.group(1)


def test_dashboard_figures_equal_the_order_api(
    world: World, book: Book, portal_as: PortalClient
) -> None:
    answer = portal_as(book.owner).get(
        f"/portal/t/{book.a.slug}/dashboard", params={"period": "2026-10"}
    )
    assert answer.status_code == 200, answer.text
    html = answer.text
    october = api_orders(
        world,
        book.owner,
        book.a,
        placed_from="2026-09-30T16:00:00Z",
        placed_to="2026-10-31T16:00:00Z",
    )
    paid = [o for o in october if o["status"] in PAID]
    gmv = sum(o["total_minor"] for o in paid)
    items = sum(o["item_count"] for o in paid)
    assert gmv == 5998 + 12800 + 5998 + 45000
    assert EN.money(gmv, "CNY") in kpi(html, "gmv")
    assert f">{len(paid)}<" in kpi(html, "paid-orders")
    assert EN.money(round(gmv / len(paid)), "CNY") in kpi(html, "aov")
    assert EN.number(items / len(paid), 2) in kpi(html, "items-per-order")
    assert EN.money(10000, "CNY") in kpi(html, "gmv")  # September, the previous period
    assert EN.percent(5000 / gmv, 2) in kpi(html, "refund-rate")
    # The trend is drawn and also given as a table; channels, shops and products are listed.
    assert '<svg class="chart"' in html and "<tfoot>" in html
    assert "woocommerce" in html and "SKU-W-2001" in html
    assert "B-SECRET" not in html and "SKU-B-SECRET" not in html


def test_dashboard_by_days_and_channel(book: Book, portal_as: PortalClient) -> None:
    browser = portal_as(book.owner)
    answer = browser.get(
        f"/portal/t/{book.a.slug}/dashboard",
        params={"from": "2026-10-14", "to": "2026-10-16", "channel": "shopify"},
    )
    assert answer.status_code == 200, answer.text
    assert EN.money(5998 + 12800, "CNY") in kpi(answer.text, "gmv")
    wrong = browser.get(
        f"/portal/t/{book.a.slug}/dashboard", params={"from": "2026-10-16", "to": "2026-10-14"}
    )
    assert wrong.status_code == 200 and 'role="alert"' in wrong.text
    too_long = browser.get(
        f"/portal/t/{book.a.slug}/dashboard", params={"from": "2020-01-01", "to": "2026-10-16"}
    )
    assert too_long.status_code == 200 and "at most two years" in too_long.text


# --- statements ------------------------------------------------------------------------------

CONTRACT = {
    "name": "代运营服务合同 2026",
    "effective_from": "2026-09-01",
    "terms": {
        "currency": "CNY",
        "time_zone": "Asia/Shanghai",
        "base_fee_minor": 300_000,
        "commission": {"mode": "flat", "rate": "0.05"},
    },
}


@pytest.fixture
def statement(world: World, book: Book) -> dict[str, Any]:
    finance = world.actor(Role.finance, book.a)
    base = f"{API}/{book.a.slug}"
    made = world.client.post(f"{base}/contracts", json=CONTRACT, headers=finance.headers)
    assert made.status_code == 201, made.text
    answer = world.client.post(
        f"{base}/statements", params={"period": "2026-10"}, headers=finance.headers
    )
    assert answer.status_code == 201, answer.text
    return dict(answer.json())


def test_statements_list_and_detail_equal_the_api(
    book: Book, statement: dict[str, Any], portal_as: PortalClient
) -> None:
    browser = portal_as(book.owner)
    listing = browser.get(f"/portal/t/{book.a.slug}/statements")
    assert listing.status_code == 200, listing.text
    assert "2026-10" in listing.text and EN.money(statement["total_minor"], "CNY") in listing.text
    assert "Draft" in listing.text and "Not sent" in listing.text
    detail = browser.get(f"/portal/t/{book.a.slug}/statements/{statement['id']}")
    assert detail.status_code == 200, detail.text
    for line in statement["lines"]:
        assert line["description"] in detail.text
        assert EN.money(line["amount_minor"], "CNY") in detail.text


def test_statement_downloads(
    book: Book, statement: dict[str, Any], portal_as: PortalClient
) -> None:
    browser = portal_as(book.owner)
    base = f"/portal/t/{book.a.slug}/statements/{statement['id']}"
    as_csv = browser.get(f"{base}.csv")
    assert as_csv.status_code == 200, as_csv.text
    assert as_csv.headers["content-type"].startswith("text/csv")
    assert f"statement-{book.a.slug}-2026-10.csv" in as_csv.headers["content-disposition"]
    rows = csv_rows(as_csv.content)
    assert [r["description"] for r in rows[:-1]] == [
        line["description"] for line in statement["lines"]
    ]
    as_pdf = browser.get(f"{base}.pdf")
    assert as_pdf.status_code == 200
    assert as_pdf.headers["content-type"] == "application/pdf"
    assert as_pdf.content.startswith(b"%PDF")


def test_a_statement_line_drills_down_to_its_orders(
    world: World, book: Book, statement: dict[str, Any], portal_as: PortalClient
) -> None:
    browser = portal_as(book.owner)
    commission = next(line for line in statement["lines"] if line["kind"].startswith("commission"))
    detail = browser.get(f"/portal/t/{book.a.slug}/statements/{statement['id']}").text
    link = f"/portal/t/{book.a.slug}/statements/{statement['id']}/lines/{commission['position']}"
    assert link in detail
    answer = browser.get(link)
    assert answer.status_code == 200, answer.text
    # Paid in October and in the contract's states: A-1004 was cancelled, A-0901 is September.
    shown = listed(answer.text)
    assert set(shown.values()) == {"A-1001", "A-1002", "A-1003", "W-2001"}
    # The same orders as billing's API names behind the line.
    keys = world.client.get(
        f"{API}/{book.a.slug}/statements/{statement['id']}/sources",
        params={"line": commission["position"], "limit": 200},
        headers=world.sign_in(book.owner),
    )
    assert keys.status_code == 200, keys.text
    assert set(shown) == {
        k.removeprefix("order:") for k in keys.json()["items"] if k.startswith("order:")
    }
    missing = browser.get(f"/portal/t/{book.a.slug}/statements/{statement['id']}/lines/99")
    assert missing.status_code == 404


def test_billing_pages_need_billing_read(world: World, book: Book, portal_as: PortalClient) -> None:
    agent = world.user(Role.cs_agent, book.a)
    browser = portal_as(agent)
    assert browser.get(f"/portal/t/{book.a.slug}/orders").status_code == 200
    assert browser.get(f"/portal/t/{book.a.slug}/statements").status_code == 403


# --- shops -----------------------------------------------------------------------------------


def test_shops_show_connection_and_sync_health(book: Book, portal_as: PortalClient) -> None:
    with unit_of_work(book.a.id) as session:
        shop = shop_service.get(session, book.shops["woocommerce"])
        shop.status = ShopStatus.reauthorization_needed
        shop.consecutive_failures = 3
        shop.last_error = "401 token expired"
        shop.last_error_at = datetime(2026, 10, 16, 2, 0, tzinfo=UTC)
    answer = portal_as(book.owner).get(f"/portal/t/{book.a.slug}/shops")
    assert answer.status_code == 200, answer.text
    html = answer.text
    assert "lotus-tea" in html and "lotus-woo" in html and "b-store-secret" not in html
    assert "Reauthorization needed" in html and "401 token expired" in html
    assert "Never synced" in html
    assert EN.datetime(datetime(2026, 10, 16, 2, 0, tzinfo=UTC)) in html  # 10:00 in Shanghai


# --- isolation and languages -----------------------------------------------------------------


def test_another_merchant_gets_404_everywhere(
    book: Book, statement: dict[str, Any], portal_as: PortalClient
) -> None:
    owner = portal_as(book.owner)
    ids = {v: k for k, v in page_orders(owner, book.a).items()}
    stranger = portal_as(book.other)
    a, b = f"/portal/t/{book.a.slug}", f"/portal/t/{book.b.slug}"
    for path in (
        f"{a}/dashboard",
        f"{a}/orders",
        f"{a}/orders.csv",
        f"{a}/orders/{ids['A-1001']}",
        f"{a}/statements",
        f"{a}/statements/{statement['id']}",
        f"{a}/statements/{statement['id']}.csv",
        f"{a}/statements/{statement['id']}.pdf",
        f"{a}/shops",
        # A's ids under the stranger's own tenant find nothing either.
        f"{b}/orders/{ids['A-1001']}",
        f"{b}/statements/{statement['id']}",
        f"{b}/statements/{statement['id']}.pdf",
    ):
        answer = stranger.get(path)
        assert answer.status_code == 404, path
        assert "A-1001" not in answer.text
    assert set(page_orders(stranger, book.b).values()) == {"B-SECRET"}


def test_signed_out_visitors_are_sent_to_sign_in(client: TestClient, book: Book) -> None:
    answer = client.get(f"/portal/t/{book.a.slug}/orders", follow_redirects=False)
    assert answer.status_code == 303
    assert answer.headers["location"].startswith("/portal/login?next=")


def test_chinese_pages_read_in_chinese_with_yuan(book: Book, portal_as: PortalClient) -> None:
    zh = i18n.catalog("zh_CN")
    browser = portal_as(book.owner)
    dashboard = f"/portal/t/{book.a.slug}/dashboard"
    token = CSRF_FIELD.search(browser.get(dashboard).text)
    assert token is not None
    chosen = browser.post(
        "/portal/locale",
        data={"locale": "zh_CN", "csrf_token": token.group(1), "next": dashboard},
        follow_redirects=False,
    )
    assert chosen.status_code == 303, chosen.text
    html = browser.get(dashboard, params={"period": "2026-10"}).text
    assert '<html lang="zh-CN">' in html
    assert zh["Dashboard"] in html and zh["Paid orders"] in html and zh["Refund rate"] in html
    assert "Paid orders" not in html
    assert "¥697.96" in kpi(html, "gmv") and "CN¥" not in html
    orders = browser.get(f"/portal/t/{book.a.slug}/orders").text
    assert zh["Download CSV (all pages)"] in orders and "¥59.98" in orders
    assert "2026年10月14日" in orders  # dates in the Chinese form, in Shanghai time
