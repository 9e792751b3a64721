"""A user's own time zone is kept with the account: chosen once on the preferences page (or
through ``PATCH /api/v1/me``), it is the zone of every page the user opens from any browser,
while the tenant's other users keep reading the tenant's zone. The cookie browsers kept it in
before is adopted once by an account without a zone, then dropped; no page reads it."""

from __future__ import annotations

import re
import uuid
from datetime import datetime

from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import select

from daiyun.core.db import unit_of_work
from daiyun.platform.orders import service as order_service
from daiyun.portal.i18n import Formatter
from daiyun.portal.web import ZONE_COOKIE
from daiyun.tenants.auth.models import User
from daiyun.tenants.auth.permissions import Role
from daiyun.tenants.models import Tenant
from tests import factories
from tests.conftest import World
from tests.portal.conftest import csrf_of, portal_sign_in, sign_in_portal

PORTAL = "/portal"
API = "/api/v1"
# Where TestClient keeps the cookies the app sets (httpx adds ".local" to a dotless host).
HOST = "testserver.local"


def _order(tenant: Tenant, external_id: str) -> tuple[uuid.UUID, datetime]:
    shop = factories.shop(tenant.id, "shopify")
    with unit_of_work(tenant.id) as session:
        [(_, stored)] = order_service.ingest(
            session, shop.id, "shopify", [factories.order(external_id)]
        )
        return stored.id, stored.placed_at


def _settings(user: User) -> tuple[str, str | None]:
    """The language and zone the account keeps, read from the database."""
    with unit_of_work() as session:
        row = session.scalar(select(User).where(User.id == user.id))
        assert row is not None
        return row.locale, row.time_zone


def _save(browser: TestClient, zone: str, locale: str = "en") -> tuple[int, str, str]:
    """Post the preferences form; the status, the page it leads to, and the Set-Cookie sent."""
    token = csrf_of(browser.get(f"{PORTAL}/preferences").text)
    answer = browser.post(
        f"{PORTAL}/preferences",
        data={"csrf_token": token, "locale": locale, "time_zone": zone},
        follow_redirects=False,
    )
    cookies = "\n".join(answer.headers.get_list("set-cookie"))
    if answer.status_code == 303:
        return 303, browser.get(answer.headers["location"]).text, cookies
    return answer.status_code, answer.text, cookies


def _fresh(app: FastAPI) -> TestClient:
    return TestClient(app, raise_server_exceptions=False)


def test_the_zone_chosen_on_the_preferences_page_follows_the_user_to_another_browser(
    world: World, app: FastAPI
) -> None:
    tenant = world.tenant()  # Asia/Shanghai
    order_id, placed = _order(tenant, "TZ-1")
    owner = world.user(Role.merchant_owner, tenant)
    viewer = world.user(Role.merchant_viewer, tenant)
    tokyo = Formatter("en", user_zone="Asia/Tokyo").datetime(placed)
    shanghai = Formatter("en", "Asia/Shanghai").datetime(placed)
    assert tokyo.endswith(" UTC+9") and shanghai.endswith(" UTC+8")
    order_page = f"{PORTAL}/t/{tenant.slug}/orders/{order_id}"
    orders_page = f"{PORTAL}/t/{tenant.slug}/orders"

    first = _fresh(app)
    sign_in_portal(first, owner)
    status, page, cookies = _save(first, "Asia/Tokyo")
    assert status == 303
    assert 'role="status"' in page and 'value="Asia/Tokyo" selected' in page
    # Kept on the account, not in the browser: no zone cookie is set (an old one is deleted).
    assert _settings(owner) == ("en", "Asia/Tokyo")
    assert f'{ZONE_COOKIE}=""' in cookies and "Max-Age=0" in cookies
    assert ZONE_COOKIE not in first.cookies
    token = csrf_of(first.get(f"{PORTAL}/tenants").text)
    signed_out = first.post(f"{PORTAL}/logout", data={"csrf_token": token}, follow_redirects=False)
    assert signed_out.status_code == 303

    # A fresh browser, no cookie at all: the order reads in Tokyo time, labelled as such.
    second = _fresh(app)
    sign_in_portal(second, owner)
    assert not {ZONE_COOKIE} & set(second.cookies.keys())
    for path in (order_page, orders_page):
        html = second.get(path).text
        assert tokyo in html, path
        assert shanghai not in html, path
    assert 'value="Asia/Tokyo" selected' in second.get(f"{PORTAL}/preferences").text

    # Another user of the same tenant still reads the tenant's zone.
    other = _fresh(app)
    sign_in_portal(other, viewer)
    for path in (order_page, orders_page):
        html = other.get(path).text
        assert shanghai in html, path
        assert tokyo not in html, path

    # Choosing "each merchant's own zone" again clears the account's zone.
    status, _, _ = _save(second, "")
    assert status == 303
    assert _settings(owner) == ("en", None)
    assert shanghai in second.get(order_page).text


def test_an_unknown_zone_is_refused_on_the_page_and_nothing_is_saved(
    world: World, app: FastAPI
) -> None:
    tenant = world.tenant()
    owner = world.user(Role.merchant_owner, tenant)
    browser = _fresh(app)
    sign_in_portal(browser, owner)
    assert _save(browser, "Europe/Berlin")[0] == 303
    # The language in the same form is not saved either: the form is refused whole.
    status, page, cookies = _save(browser, "Mars/Olympus", locale="zh_CN")
    assert status == 400
    assert "not one of those offered. Nothing was saved." in page
    assert 'value="Europe/Berlin" selected' in page
    assert "set-cookie" not in cookies.lower() and cookies == ""
    assert _settings(owner) == ("en", "Europe/Berlin")
    # A zone the IANA database knows but the page does not offer is refused the same way.
    assert _save(browser, "Asia/Kolkata")[0] == 400
    assert _settings(owner) == ("en", "Europe/Berlin")


def test_a_zone_cookie_is_no_source_of_times(world: World, app: FastAPI) -> None:
    tenant = world.tenant()
    order_id, placed = _order(tenant, "TZ-2")
    owner = world.user(Role.merchant_owner, tenant)
    browser = _fresh(app)
    sign_in_portal(browser, owner)
    # Set after sign-in (as a session opened before accounts kept zones would carry it).
    browser.cookies.set(ZONE_COOKIE, "America/New_York", path=PORTAL, domain=HOST)
    html = browser.get(f"{PORTAL}/t/{tenant.slug}/orders/{order_id}").text
    assert Formatter("en", "Asia/Shanghai").datetime(placed) in html
    assert Formatter("en", user_zone="America/New_York").datetime(placed) not in html
    assert _settings(owner) == ("en", None)


def test_a_zone_the_browser_kept_is_adopted_once_by_an_account_without_one(
    world: World, app: FastAPI
) -> None:
    tenant = world.tenant()
    order_id, placed = _order(tenant, "TZ-3")
    newcomer = world.user(Role.merchant_owner, tenant)
    browser = _fresh(app)
    browser.cookies.set(ZONE_COOKIE, "Europe/London", path=PORTAL, domain=HOST)
    answer = portal_sign_in(browser, newcomer.email)
    assert answer.status_code == 303
    assert f'{ZONE_COOKIE}=""' in "\n".join(answer.headers.get_list("set-cookie"))
    assert ZONE_COOKIE not in browser.cookies
    assert _settings(newcomer) == ("en", "Europe/London")
    london = Formatter("en", user_zone="Europe/London").datetime(placed)
    assert london in browser.get(f"{PORTAL}/t/{tenant.slug}/orders/{order_id}").text

    # An account with a zone of its own keeps it; the browser's old cookie is only dropped.
    settled = world.user(Role.merchant_viewer, tenant)
    first = _fresh(app)
    sign_in_portal(first, settled)
    assert _save(first, "Asia/Tokyo")[0] == 303
    other = _fresh(app)
    other.cookies.set(ZONE_COOKIE, "America/Los_Angeles", path=PORTAL, domain=HOST)
    sign_in_portal(other, settled)
    assert _settings(settled) == ("en", "Asia/Tokyo")
    assert ZONE_COOKIE not in other.cookies
    # A cookie naming a zone not offered is dropped without being adopted.
    odd = world.user(Role.merchant_viewer, tenant)
    third = _fresh(app)
    third.cookies.set(ZONE_COOKIE, "Mars/Olympus", path=PORTAL, domain=HOST)
    sign_in_portal(third, odd)
    assert _settings(odd) == ("en", None)


def test_the_sign_in_page_needs_no_zone(app: FastAPI, client: TestClient) -> None:
    browser = _fresh(app)
    browser.cookies.set(ZONE_COOKIE, "Asia/Tokyo", path=PORTAL, domain=HOST)
    page = browser.get(f"{PORTAL}/login")
    assert page.status_code == 200 and 'name="email"' in page.text
    # An unsigned visitor's error page renders too (no account, no zone).
    missing = browser.get(f"{PORTAL}/no-such-page")
    assert missing.status_code == 404 and "<h1>" in missing.text


def test_the_api_shows_and_changes_the_callers_own_zone(
    world: World, app: FastAPI, client: TestClient
) -> None:
    tenant = world.tenant()
    order_id, placed = _order(tenant, "TZ-4")
    owner = world.actor(Role.merchant_owner, tenant)
    colleague = world.actor(Role.merchant_viewer, tenant)
    me = client.get(f"{API}/me", headers=owner.headers)
    assert me.status_code == 200 and me.json()["time_zone"] is None

    changed = client.patch(f"{API}/me", json={"time_zone": "Asia/Tokyo"}, headers=owner.headers)
    assert changed.status_code == 200, changed.text
    assert changed.json()["time_zone"] == "Asia/Tokyo"
    assert changed.json()["tenants"] == me.json()["tenants"]
    assert client.get(f"{API}/me", headers=owner.headers).json()["time_zone"] == "Asia/Tokyo"
    assert client.get(f"{API}/me", headers=colleague.headers).json()["time_zone"] is None
    # The portal reads the same setting.
    browser = _fresh(app)
    sign_in_portal(browser, owner.user)
    tokyo = Formatter("en", user_zone="Asia/Tokyo").datetime(placed)
    assert tokyo in browser.get(f"{PORTAL}/t/{tenant.slug}/orders/{order_id}").text

    # An unknown zone: 422 problem+json naming the field, nothing saved.
    for zone in ("Mars/Olympus", "Asia/Kolkata", "", "asia/tokyo", 9):
        refused = client.patch(f"{API}/me", json={"time_zone": zone}, headers=owner.headers)
        assert refused.status_code == 422, (zone, refused.text)
        assert refused.headers["content-type"].startswith("application/problem+json")
        body = refused.json()
        assert body["type"].endswith("/validation-error")
        assert any(e["loc"] == ["body", "time_zone"] for e in body["errors"]), body
    assert _settings(owner.user) == ("en", "Asia/Tokyo")

    # A field left out stays; the language changes on its own; null is refused for it.
    kept = client.patch(f"{API}/me", json={"locale": "zh-CN"}, headers=owner.headers)
    assert kept.status_code == 200, kept.text
    assert (kept.json()["locale"], kept.json()["time_zone"]) == ("zh-CN", "Asia/Tokyo")
    assert (
        client.patch(f"{API}/me", json={"locale": None}, headers=owner.headers).status_code == 422
    )
    assert client.patch(f"{API}/me", json={}, headers=owner.headers).json()["time_zone"] == (
        "Asia/Tokyo"
    )
    assert 'lang="zh-CN"' in browser.get(f"{PORTAL}/t/{tenant.slug}/dashboard").text

    # null: each tenant's own zone again.
    cleared = client.patch(f"{API}/me", json={"time_zone": None}, headers=owner.headers)
    assert cleared.status_code == 200 and cleared.json()["time_zone"] is None
    assert _settings(owner.user) == ("zh-CN", None)

    # Without a sign-in: 401, and the account is as it was.
    anonymous = client.patch(f"{API}/me", json={"time_zone": "UTC"})
    assert anonymous.status_code == 401
    assert _settings(owner.user) == ("zh-CN", None)


def test_the_document_lists_the_zones_and_the_refusal(app: FastAPI) -> None:
    document = app.openapi()
    operation = document["paths"][f"{API}/me"]["patch"]
    assert "application/problem+json" in operation["responses"]["422"]["content"]
    schema = document["components"]["schemas"]["MeUpdate"]["properties"]["time_zone"]
    listed = {z for option in schema["anyOf"] for z in option.get("enum", [])}
    assert {"Asia/Tokyo", "Asia/Shanghai", "UTC"} <= listed and "Mars/Olympus" not in listed
    assert any(option.get("type") == "null" for option in schema["anyOf"])
    read = document["components"]["schemas"]["MeRead"]["properties"]
    assert "time_zone" in read and re.match(r"^[A-Z]", read["time_zone"]["description"])
