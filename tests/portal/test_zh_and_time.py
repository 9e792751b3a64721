"""The Chinese portal and times: every message a zh page shows is translated (pages are crawled and
each lookup that misses the catalog is caught), channels read as users know them, the language
chosen on the sign-in page survives signing in, and one moment reads the same on console and
merchant pages: in the tenant's zone, labelled, or in the zone the reader chose."""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from daiyun.connectors.channels import CONNECTORS
from daiyun.core.db import unit_of_work
from daiyun.platform.orders import service as order_service
from daiyun.portal import i18n
from daiyun.portal.i18n import CHANNEL_NAMES, Formatter
from daiyun.tenants.auth.permissions import Role
from daiyun.tenants.models import Tenant
from tests import factories
from tests.conftest import World
from tests.portal.conftest import PortalClient, csrf_of, portal_sign_in, sign_in_portal
from tests.portal.test_console_pages import held_order
from tests.portal.test_merchant_pages import Book, book, statement  # noqa: F401 (fixtures)

PORTAL = "/portal"


def choose_chinese(browser: TestClient, path: str = f"{PORTAL}/tenants") -> None:
    token = csrf_of(browser.get(path).text)
    answer = browser.post(
        f"{PORTAL}/locale",
        data={"csrf_token": token, "locale": "zh_CN", "next": path},
        follow_redirects=False,
    )
    assert answer.status_code == 303, answer.text


@pytest.fixture
def untranslated(monkeypatch: pytest.MonkeyPatch) -> Iterator[set[str]]:
    """Every message a zh page looked up and the catalog did not have."""
    missed: set[str] = set()
    real = Formatter.gettext

    def gettext(self: Formatter, message: str, **values: Any) -> str:
        if self.locale == "zh_CN" and message and message not in i18n.catalog("zh_CN"):
            missed.add(message)
        return real(self, message, **values)

    monkeypatch.setattr(Formatter, "gettext", gettext)
    yield missed


def _links(html: str, pattern: str) -> list[str]:
    return sorted(set(re.findall(pattern, html)))


def test_every_message_a_zh_page_shows_is_translated(
    world: World,
    book: Book,  # noqa: F811
    statement: dict[str, Any],  # noqa: F811
    portal_as: PortalClient,
    untranslated: set[str],
) -> None:
    held_order(book.a, book.shops["shopify"], "H-ZH")
    base = f"{PORTAL}/t/{book.a.slug}"
    admin = portal_as(world.user(Role.agency_admin))
    choose_chinese(admin)
    pages = [
        f"{PORTAL}/console",
        f"{PORTAL}/console/review",
        f"{PORTAL}/console/sync",
        f"{PORTAL}/console/billing",
        f"{PORTAL}/tenants",
        f"{PORTAL}/preferences",
        f"{base}/dashboard",
        f"{base}/orders",
        f"{base}/statements",
        f"{base}/statements/{statement['id']}",
        f"{base}/statements/{statement['id']}/review",
        f"{base}/shops",
    ]
    for path in pages:
        answer = admin.get(path)
        assert answer.status_code == 200, (path, answer.text[:300])
        assert 'lang="zh-CN"' in answer.text, path
    orders = admin.get(f"{base}/orders").text
    for order in _links(orders, rf'href="({re.escape(base)}/orders/[0-9a-f-]{{36}})"')[:3]:
        assert admin.get(order).status_code == 200
    detail = admin.get(f"{base}/statements/{statement['id']}").text
    for line in _links(detail, r'href="([^"]+/lines/\d+)"'):
        assert admin.get(line).status_code == 200
    # Error pages, as a role that meets refusals.
    agent = portal_as(world.user(Role.cs_agent, book.a))
    choose_chinese(agent)
    assert agent.get(f"{base}/statements").status_code == 403
    assert agent.get(f"{PORTAL}/no-such-page").status_code == 404
    assert agent.get(f"{PORTAL}/console/billing").status_code == 200
    recruiter = portal_as(world.user(Role.recruiter, book.a))
    choose_chinese(recruiter)
    assert recruiter.get(f"{PORTAL}/tenants?nothing={book.a.slug}").status_code == 200
    assert not untranslated, sorted(untranslated)


def test_the_zh_review_heading_does_not_repeat_itself(world: World, app: FastAPI) -> None:
    tenant = world.tenant()
    browser = TestClient(app, raise_server_exceptions=False)
    sign_in_portal(browser, world.user(Role.cs_agent, tenant))
    choose_chinese(browser)
    heading = re.search(r"<h1>(.*?)</h1>", browser.get(f"{PORTAL}/console/review").text, re.S)
    assert heading is not None
    assert re.sub(r"<[^>]+>", "", heading.group(1)).strip() == "订单审核队列"


def test_every_channel_has_a_translated_name() -> None:
    assert set(CONNECTORS) <= set(CHANNEL_NAMES)
    zh = Formatter("zh_CN")
    assert [zh.channel(c) for c in ("taobao", "pinduoduo", "jd", "douyin")] == [
        "淘宝/天猫",
        "拼多多",
        "京东",
        "抖店",
    ]
    assert Formatter("en").channel("taobao") == "Taobao/Tmall"


def _order_of(tenant: Tenant, channel: str, external_id: str) -> uuid.UUID:
    shop = factories.shop(tenant.id, "shopify")
    with unit_of_work(tenant.id) as session:
        [(_, stored)] = order_service.ingest(
            session, shop.id, channel, [factories.order(external_id)]
        )
        return stored.id


def test_an_order_names_its_channel_as_users_know_it(world: World, app: FastAPI) -> None:
    tenant = world.tenant()
    order_id = _order_of(tenant, "taobao", "TB-1")
    browser = TestClient(app, raise_server_exceptions=False)
    sign_in_portal(browser, world.user(Role.merchant_owner, tenant))
    choose_chinese(browser)
    page = browser.get(f"{PORTAL}/t/{tenant.slug}/orders/{order_id}").text
    assert "<td>淘宝/天猫</td>" in page
    assert "<td>taobao</td>" not in page


def test_the_language_chosen_on_the_sign_in_page_survives_signing_in(
    world: World, app: FastAPI
) -> None:
    tenant = world.tenant()
    owner = world.user(Role.merchant_owner, tenant)
    browser = TestClient(app, raise_server_exceptions=False)
    choose_chinese(browser, f"{PORTAL}/login")
    assert 'lang="zh-CN"' in browser.get(f"{PORTAL}/login").text
    answer = portal_sign_in(browser, owner.email)
    assert answer.status_code == 303
    landing = browser.get(answer.headers["location"])
    assert landing.status_code == 200
    assert 'lang="zh-CN"' in landing.text
    # Kept on the user: a new browser, without the cookie, reads Chinese too.
    other = TestClient(app, raise_server_exceptions=False)
    sign_in_portal(other, owner)
    assert 'lang="zh-CN"' in other.get(f"{PORTAL}/t/{tenant.slug}/dashboard").text


def test_one_moment_reads_the_same_on_console_and_merchant_pages(
    world: World, app: FastAPI
) -> None:
    tenant = world.tenant()  # Asia/Shanghai by default
    shop = factories.shop(tenant.id, "shopify")
    order_id = held_order(tenant, shop.id, "H-TZ")
    admin = TestClient(app, raise_server_exceptions=False)
    sign_in_portal(admin, world.user(Role.agency_admin))
    with unit_of_work(tenant.id) as session:
        order = order_service.get_order(session, order_id)
        assert order is not None
        placed = order.placed_at
    shanghai = Formatter("en", "Asia/Shanghai").datetime(placed)
    assert shanghai.endswith(" UTC+8")
    console = admin.get(f"{PORTAL}/console/review").text
    merchant = admin.get(f"{PORTAL}/t/{tenant.slug}/orders/{order_id}").text
    assert shanghai in console and shanghai in merchant

    # The reader's own zone, chosen once, is used on both.
    token = csrf_of(admin.get(f"{PORTAL}/preferences").text)
    saved = admin.post(
        f"{PORTAL}/preferences",
        data={"csrf_token": token, "locale": "en", "time_zone": "America/New_York"},
        follow_redirects=False,
    )
    assert saved.status_code == 303
    new_york = Formatter("en", user_zone="America/New_York").datetime(placed)
    assert re.search(r" UTC-[45]$", new_york)
    assert new_york in admin.get(f"{PORTAL}/console/review").text
    assert new_york in admin.get(f"{PORTAL}/t/{tenant.slug}/orders/{order_id}").text
    assert shanghai not in admin.get(f"{PORTAL}/console/review").text

    # An unknown zone is refused and changes nothing.
    refused = admin.post(
        f"{PORTAL}/preferences",
        data={"csrf_token": token, "locale": "en", "time_zone": "Mars/Olympus"},
        follow_redirects=False,
    )
    assert refused.status_code == 400
    assert new_york in admin.get(f"{PORTAL}/console/review").text
