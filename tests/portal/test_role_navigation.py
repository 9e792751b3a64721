"""Each role sees its work, and only that: the menu lists exactly the pages the role opens,
switching merchant lands on a page the role may open, empty states say whether there is nothing
or whether the role may not see it, and error pages keep the menu and sign-out and speak words.
"""

from __future__ import annotations

import re

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from daiyun.portal.navigation import TAB_OF, TENANT_PAGES, tenant_home
from daiyun.tenants.auth.permissions import MERCHANT_ROLES, Role, allows
from daiyun.tenants.models import Tenant
from tests.conftest import World
from tests.portal.conftest import csrf_of, sign_in_portal

PORTAL = "/portal"
NAV = re.compile(r'<nav aria-label="Main">(.*?)</nav>', re.S)
HREF = re.compile(r'href="([^"]+)"')
CONSOLE_TABS = re.compile(r'<nav class="tabs" aria-label="Console">(.*?)</nav>', re.S)


def menu(html: str) -> list[str]:
    """The addresses the page's main menu links to."""
    found = NAV.search(html)
    return HREF.findall(found.group(1)) if found else []


def console_tabs(html: str) -> list[str]:
    """The addresses of the console's tabs on a console page."""
    found = CONSOLE_TABS.search(html)
    return HREF.findall(found.group(1)) if found else []


def browser_of(app: FastAPI, world: World, role: Role, tenant: Tenant) -> TestClient:
    browser = TestClient(app, raise_server_exceptions=False)
    sign_in_portal(browser, world.user(role, tenant))
    return browser


def switch(browser: TestClient, tenant: Tenant) -> str:
    """Open ``tenant`` as a staff member does (the switch form); returns where it lands."""
    token = csrf_of(browser.get(f"{PORTAL}/tenants").text)
    answer = browser.post(
        f"{PORTAL}/switch",
        data={"csrf_token": token, "tenant": tenant.slug},
        follow_redirects=False,
    )
    assert answer.status_code == 303, answer.text
    return str(answer.headers["location"])


@pytest.mark.parametrize("role", list(Role))
def test_the_menu_lists_exactly_the_pages_the_role_opens(
    world: World, app: FastAPI, role: Role
) -> None:
    tenant = world.tenant()
    browser = browser_of(app, world, role, tenant)
    landing = (
        switch(browser, tenant)
        if role not in MERCHANT_ROLES
        else browser.get(f"{PORTAL}/", follow_redirects=False).headers["location"]
    )
    page = browser.get(landing)
    assert page.status_code == 200, (role, landing, page.text[:200])
    assert 'action="/portal/logout"' in page.text  # signed in, with a way out

    base = f"{PORTAL}/t/{tenant.slug}"
    opens = {
        f"{base}/{d.path}"
        for d in TENANT_PAGES.values()
        if d.permission is not None and allows(role, d.permission)
    }
    links = menu(page.text)
    tenant_links = {link for link in links if link.startswith(base)}
    # A page that is a tab of an entry the role opens is reached through that entry's tabs.
    as_tabs = {
        f"{base}/{TENANT_PAGES[tab].path}"
        for tab, entry in TAB_OF.items()
        if f"{base}/{TENANT_PAGES[entry].path}" in opens
    }
    if opens:
        assert tenant_links == opens - as_tabs, role
    for tab, entry in TAB_OF.items():
        if f"{base}/{TENANT_PAGES[tab].path}" in as_tabs:
            entry_page = browser.get(f"{base}/{TENANT_PAGES[entry].path}").text
            assert f'href="{base}/{TENANT_PAGES[tab].path}"' in entry_page, (role, tab)
    for name, destination in TENANT_PAGES.items():
        target = f"{base}/{destination.path}"
        answer = browser.get(target)
        # Every link opens; every page left out of the menu is refused.
        assert answer.status_code == (200 if target in opens else 403), (role, name)
    for link in links:
        assert browser.get(link).status_code == 200, (role, link)
    # On the console, each of its tabs opens too.
    if role not in MERCHANT_ROLES:
        for tab in console_tabs(browser.get(f"{PORTAL}/console").text):
            assert browser.get(tab).status_code == 200, (role, tab)


def test_a_warehouse_user_sees_no_shops_or_statements_link(world: World, app: FastAPI) -> None:
    tenant = world.tenant()
    browser = browser_of(app, world, Role.warehouse_operator, tenant)
    switch(browser, tenant)
    links = menu(browser.get(f"{PORTAL}/t/{tenant.slug}/orders").text)
    assert f"{PORTAL}/t/{tenant.slug}/orders" in links
    assert not any(link.endswith(("/shops", "/statements")) for link in links)
    # On a merchant's page the console is its overview alone (the header keeps to one row).
    assert [link for link in links if link.startswith(f"{PORTAL}/console")] == [f"{PORTAL}/console"]
    # The console shows only the work of the role: no review queue, sync or billing; the
    # catalog work, as the role reads the catalog (to pick what it ships), and the warehouse's
    # (its work, stocktakes, replenishment, fulfilment, shipments and carrier rules), and
    # after-sales cases, whose returns come back through the warehouse.
    console = browser.get(f"{PORTAL}/console").text
    assert menu(console) == [f"{PORTAL}/console"]
    assert console_tabs(console) == [
        f"{PORTAL}/console",
        f"{PORTAL}/console/catalog",
        f"{PORTAL}/console/warehouse",
        f"{PORTAL}/console/stocktakes",
        f"{PORTAL}/console/replenishment",
        f"{PORTAL}/console/fulfillment",
        f"{PORTAL}/console/shipments",
        f"{PORTAL}/console/returns",
        f"{PORTAL}/console/carriers",
        f"{PORTAL}/console/aftersales",
    ]


def test_a_recruiter_who_switches_merchant_lands_on_its_openings(
    world: World, app: FastAPI
) -> None:
    tenant = world.tenant()
    browser = browser_of(app, world, Role.recruiter, tenant)
    home = f"{PORTAL}/t/{tenant.slug}/recruiting"
    assert tenant_home(tenant.slug, Role.recruiter) == home
    landing = switch(browser, tenant)
    assert landing == home
    page = browser.get(landing)
    assert page.status_code == 200
    assert 'action="/portal/logout"' in page.text
    assert home in menu(page.text)


def test_a_refusal_keeps_the_menu_and_sign_out_and_speaks_words(world: World, app: FastAPI) -> None:
    tenant = world.tenant()
    browser = browser_of(app, world, Role.cs_agent, tenant)
    answer = browser.get(f"{PORTAL}/t/{tenant.slug}/statements")
    assert answer.status_code == 403
    text = answer.text
    assert "<h1>Not allowed</h1>" in text
    assert "Your role does not include this page." in text
    assert "forbidden" not in text and ">403<" not in text and "403 ·" not in text
    assert 'action="/portal/logout"' in text
    links = menu(text)
    assert f"{PORTAL}/t/{tenant.slug}/orders" in links
    assert f"{PORTAL}/t/{tenant.slug}/statements" not in links
    # The sign-out form on the error page works.
    out = browser.post(
        f"{PORTAL}/logout", data={"csrf_token": csrf_of(text)}, follow_redirects=False
    )
    assert out.status_code == 303
    assert browser.get(f"{PORTAL}/tenants", follow_redirects=False).status_code == 303


def test_a_missing_page_keeps_the_menu_but_names_no_one_elses_tenant(
    world: World, app: FastAPI
) -> None:
    mine, theirs = world.tenant(), world.tenant()
    browser = browser_of(app, world, Role.merchant_owner, mine)
    answer = browser.get(f"{PORTAL}/t/{theirs.slug}/orders")
    assert answer.status_code == 404
    assert "<h1>Page not found</h1>" in answer.text
    assert "not-found" not in answer.text
    assert theirs.display_name not in answer.text
    assert 'action="/portal/logout"' in answer.text
    assert not any(theirs.slug in link for link in menu(answer.text))


@pytest.mark.parametrize(
    ("path", "refusal"),
    [
        ("review", "Your role does not review orders at any of your merchants"),
        ("sync", "Your role does not see shops at any of your merchants"),
        ("billing", "Your role does not see billing at any of your merchants"),
        ("warehouse", "Your role does not see stock at any of your merchants"),
        ("marketing", "Your role does not see promotions at any of your merchants"),
    ],
)
def test_console_empty_states_tell_a_refusal_from_nothing(
    world: World, app: FastAPI, path: str, refusal: str
) -> None:
    tenant = world.tenant()
    recruiter = browser_of(app, world, Role.recruiter, tenant)
    page = recruiter.get(f"{PORTAL}/console/{path}")
    assert page.status_code == 200
    assert refusal in page.text
    assert "No orders are waiting" not in page.text
    assert "No draft statements are waiting" not in page.text

    # An account manager of this new merchant alone: the admin's queues hold other tests' work.
    manager = browser_of(app, world, Role.account_manager, tenant)
    page = manager.get(f"{PORTAL}/console/{path}")
    assert refusal not in page.text
    if path == "review":
        assert "No orders are waiting for review." in page.text
    if path == "billing":
        assert "No draft statements are waiting." in page.text
    if path == "warehouse":
        assert "No delivery is waiting to be received." in page.text
    if path == "marketing":
        assert "No campaign is planned." in page.text
