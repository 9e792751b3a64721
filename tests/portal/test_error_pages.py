"""An error page's language switch works: the page carries the token the switch checks, for a
signed-in user (their session's) and for a visitor (the sign-in cookie's)."""

from __future__ import annotations

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from daiyun.portal.web import LOGIN_CSRF_COOKIE
from daiyun.tenants.auth.permissions import Role
from tests.conftest import World
from tests.portal.conftest import csrf_of, sign_in_portal


def switch_language(browser: TestClient, page: str, locale: str = "zh_CN") -> int:
    """Post the page's language form, as a browser would, and return the answer's status."""
    answer = browser.post(
        "/portal/locale",
        data={"csrf_token": csrf_of(page), "locale": locale, "next": "/portal/tenants"},
        follow_redirects=False,
    )
    return answer.status_code


@pytest.mark.parametrize("where", ["other-tenant", "no-such-page", "role-forbids"])
def test_a_signed_in_users_error_page_switches_language(
    world: World, app: FastAPI, where: str
) -> None:
    mine, theirs = world.tenant(), world.tenant()
    agent = world.user(Role.cs_agent, mine)
    browser = TestClient(app, raise_server_exceptions=False)
    sign_in_portal(browser, agent)
    path, status = {
        # refused in the tenant check, after the session was read
        "other-tenant": (f"/portal/t/{theirs.slug}/dashboard", 404),
        # no route at all: the session was never read in this request
        "no-such-page": ("/portal/no-such-page", 404),
        # customer service may not read billing
        "role-forbids": (f"/portal/t/{mine.slug}/statements", 403),
    }[where]

    error = browser.get(path)

    assert error.status_code == status, error.text
    assert 'action="/portal/locale"' in error.text
    assert switch_language(browser, error.text) == 303
    assert 'lang="zh-CN"' in browser.get("/portal/tenants").text


def test_a_visitors_error_page_switches_language(client: TestClient) -> None:
    error = client.get("/portal/no-such-page")
    assert error.status_code == 404
    # A visitor has no session: the page sets the sign-in cookie its form's token must match.
    assert client.cookies.get(LOGIN_CSRF_COOKIE) == csrf_of(error.text)
    assert switch_language(client, error.text) == 303
    again = client.get("/portal/no-such-page")
    assert 'lang="zh-CN"' in again.text
    # The same token on the next page: the cookie is not replaced while it lives.
    assert csrf_of(again.text) == csrf_of(error.text)
