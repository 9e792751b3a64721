"""Signing in to the portal in tests, the way a browser does: open the sign-in page (which sets
the ``daiyun_login_csrf`` cookie and carries the same token in its form), then post the form."""

from __future__ import annotations

import re
from collections.abc import Callable

import httpx
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from daiyun.portal import sessions
from daiyun.portal.web import LOGIN_CSRF_COOKIE
from daiyun.tenants.auth.models import User
from tests.conftest import PASSWORD

CSRF_FIELD = re.compile(r'name="csrf_token" value="([^"]*)"')


def csrf_of(html: str) -> str:
    """The CSRF token a page's forms carry."""
    found = CSRF_FIELD.search(html)
    assert found is not None and found.group(1), "the page has no CSRF token"
    return found.group(1)


def portal_sign_in(
    client: TestClient, email: str, password: str = PASSWORD, next_url: str = ""
) -> httpx.Response:
    """Open the sign-in page, then post its form (with its token), as a browser does."""
    form = client.get("/portal/login")
    assert form.status_code == 200, form.text
    assert client.cookies.get(LOGIN_CSRF_COOKIE), "the sign-in page set no CSRF cookie"
    return client.post(
        "/portal/login",
        data={
            "csrf_token": csrf_of(form.text),
            "email": email,
            "password": password,
            "next": next_url,
        },
        follow_redirects=False,
    )


def sign_in_portal(client: TestClient, user: User, password: str = PASSWORD) -> None:
    """Sign ``user`` in on ``client`` (its cookie jar then holds the portal session)."""
    answer = portal_sign_in(client, user.email, password)
    assert answer.status_code == 303, answer.text
    assert client.cookies.get(sessions.COOKIE), "no portal session cookie after sign-in"


PortalClient = Callable[[User], TestClient]


@pytest.fixture
def portal_as(app: FastAPI, client: TestClient) -> PortalClient:
    """A client of its own (its own cookies) signed in to the portal as a user.

    Requests join the test's transaction like ``client``'s do (it is requested for that)."""

    def build(user: User) -> TestClient:
        browser = TestClient(app, raise_server_exceptions=False)
        sign_in_portal(browser, user)
        return browser

    return build
