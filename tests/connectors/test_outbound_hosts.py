"""A shop's credentials go only to its marketplace (SECURITY.md 27, issue 13 item 1).

Whoever may manage shops cannot point a stored token at a host of their choosing: the hosts a
shop may call are its connector's official ones plus the deployment's allowlist (the tests allow
127.0.0.1, where the sandboxes listen), checked when the shop is saved and before every request;
moving a shop elsewhere is the agency admin's alone and needs the credentials again; and what a
far end answers is stored only as a short, clean excerpt without secrets.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from daiyun.connectors import hosts, repository, sync
from daiyun.connectors import service as shop_service
from daiyun.connectors.channels.base import ShopAccess
from daiyun.connectors.channels.shopify import ShopifyConnector
from daiyun.connectors.channels.woocommerce import WooCommerceConnector
from daiyun.connectors.errors import STORED_ERROR_CHARS, HostNotAllowed, for_display
from daiyun.connectors.http import ShopHttp
from daiyun.connectors.models import Shop
from daiyun.core.config import get_settings
from daiyun.core.db import unit_of_work
from daiyun.core.ids import utcnow
from daiyun.tenants.auth.permissions import Role
from tests import factories
from tests.conftest import World
from tests.connectors.test_http_client import LoopbackServer, Scripted

API = "/api/v1/tenants"
TOKEN = factories.CREDENTIALS["shopify"]["access_token"]
ORDERS_PATH = "/shopify/lotus.myshopify.com/admin/api/2024-10/orders.json"


@pytest.fixture
def far_end() -> Iterator[tuple[Scripted, str]]:
    """A loopback stand-in that records every request it gets (an attacker, or a marketplace)."""
    scripted = Scripted()
    with LoopbackServer(scripted.app()) as server:
        yield scripted, server.base_url


def _allow_only(monkeypatch: pytest.MonkeyPatch, value: str) -> None:
    monkeypatch.setattr(get_settings(), "marketplace_hosts", value)


# --- the policy -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("url", "allowed"),
    [
        ("https://lotus.myshopify.com/admin/api/2024-10/orders.json", True),
        ("https://LOTUS.myshopify.com./admin", True),
        ("http://lotus.myshopify.com/admin", False),  # official hosts only over TLS
        ("https://myshopify.com/admin", False),  # the subdomain is the shop
        ("https://lotus.myshopify.com.evil.example/admin", False),
        ("https://evilmyshopify.com/admin", False),
        ("https://evil.example@lotus.myshopify.com/admin", True),  # userinfo is not the host
        ("https://lotus.myshopify.com@evil.example/admin", False),
        ("https://169.254.169.254/latest/meta-data", False),
        ("http://127.0.0.1:6379/", True),  # the tests' allowlist: any port of 127.0.0.1
        ("http://localhost:8000/", False),
        ("file:///etc/passwd", False),
    ],
)
def test_a_shopify_shop_calls_only_shopify_and_the_allowlist(url: str, allowed: bool) -> None:
    policy = ShopifyConnector.host_policy(ShopAccess("s", factories.CREDENTIALS["shopify"]))
    assert (policy.refusal(url) is None) is allowed


def test_an_allowlist_entry_with_a_port_allows_that_port_only(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    _allow_only(monkeypatch, " sandbox.test:8100 , [::1]:9000")
    policy = hosts.allowlist_only()
    assert policy.refusal("http://sandbox.test:8100/x") is None
    assert policy.refusal("http://[::1]:9000/x") is None
    assert policy.refusal("http://sandbox.test:8101/x") is not None
    assert policy.refusal("http://sandbox.test/x") is not None
    assert policy.refusal("http://127.0.0.1:8100/x") is not None


@pytest.mark.parametrize(
    ("store_url", "host"),
    [
        ("https://shop.example.com", "shop.example.com"),
        ("http://shop.example.com", None),  # the merchant's site only over HTTPS
        ("https://10.0.0.7", None),
        ("https://[::1]", None),
        ("https://localhost", None),
        ("https://intranet", None),
        ("https://db.internal", None),
        ("not a url", None),
    ],
)
def test_a_woocommerce_shop_calls_its_own_public_https_site(
    store_url: str, host: str | None
) -> None:
    credentials = {**factories.CREDENTIALS["woocommerce"], "store_url": store_url}
    assert WooCommerceConnector.merchant_hosts(credentials) == ((host,) if host else ())


def test_a_merchant_name_resolving_to_a_private_address_is_refused_at_call_time(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    policy = hosts.HostPolicy("woocommerce", (), ("shop.example.com",))
    monkeypatch.setattr(
        hosts.socket, "getaddrinfo", lambda *a, **k: [(2, 1, 6, "", ("10.1.2.3", 443))]
    )
    assert "public addresses" in (policy.refusal("https://shop.example.com/wp-json") or "")
    monkeypatch.setattr(
        hosts.socket, "getaddrinfo", lambda *a, **k: [(2, 1, 6, "", ("93.184.215.14", 443))]
    )
    assert policy.refusal("https://shop.example.com/wp-json") is None


def test_a_client_no_connector_claimed_sends_nothing_outside_the_allowlist(
    far_end: tuple[Scripted, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    scripted, url = far_end
    _allow_only(monkeypatch, "sandbox.test")
    with ShopHttp(f"test:{uuid.uuid4()}") as http, pytest.raises(HostNotAllowed, match="127"):
        http.request("GET", f"{url}/anything")
    assert not scripted.seen


# --- saving a shop ----------------------------------------------------------------------------


def _connect_body(**change: Any) -> dict[str, Any]:
    return {
        "channel": "shopify",
        "name": "Lotus",
        "external_id": "lotus.myshopify.com",
        "credentials": factories.CREDENTIALS["shopify"],
        **change,
    }


@pytest.mark.parametrize(
    ("change", "host"),
    [
        ({"api_base_url": "https://attacker.example/steal"}, "attacker.example"),
        ({"api_base_url": "http://lotus.myshopify.com"}, "lotus.myshopify.com"),
        (
            {"credentials": {**factories.CREDENTIALS["shopify"], "shop_domain": "evil.example"}},
            "evil.example",
        ),
        (
            {
                "channel": "woocommerce",
                "credentials": {
                    **factories.CREDENTIALS["woocommerce"],
                    "store_url": "https://169.254.169.254",
                },
            },
            "169.254.169.254",
        ),
    ],
)
def test_connecting_a_shop_to_a_host_it_may_not_call_is_refused_naming_it(
    world: World, client: TestClient, change: dict[str, Any], host: str
) -> None:
    tenant = world.tenant()
    manager = world.actor(Role.account_manager, tenant)
    answer = client.post(
        f"{API}/{tenant.slug}/shops", json=_connect_body(**change), headers=manager.headers
    )
    assert answer.status_code == 422, answer.text
    assert answer.headers["content-type"].startswith("application/problem+json")
    problem = answer.json()
    assert problem["type"].endswith("/host-not-allowed")
    assert problem["host"] == host
    assert host in problem["detail"]
    with unit_of_work(tenant.id) as session:
        assert session.scalar(select(Shop)) is None


def _stored(tenant_id: uuid.UUID, shop_id: uuid.UUID) -> tuple[str | None, str]:
    with unit_of_work(tenant_id) as session:
        shop = shop_service.get(session, shop_id)
        return shop.api_base_url, shop.credentials_ciphertext


def test_only_the_agency_admin_moves_a_shop_and_only_with_its_credentials(
    world: World, client: TestClient, far_end: tuple[Scripted, str]
) -> None:
    _, allowed_url = far_end
    tenant = world.tenant()
    manager = world.actor(Role.account_manager, tenant)
    admin = world.actor(Role.agency_admin)
    shop = factories.shop(tenant.id, external_id="lotus.myshopify.com")
    url = f"{API}/{tenant.slug}/shops/{shop.id}"
    before = _stored(tenant.id, shop.id)
    credentials = factories.CREDENTIALS["shopify"]

    # shops:manage is not enough, even with the credentials: 403, nothing changed.
    for body in (
        {"api_base_url": f"{allowed_url}/shopify/lotus.myshopify.com"},
        {"api_base_url": f"{allowed_url}/x", "credentials": credentials},
        {"credentials": {**credentials, "shop_domain": "other.myshopify.com"}},
    ):
        refused = client.patch(url, json=body, headers=manager.headers)
        assert refused.status_code == 403, refused.text
        assert refused.json()["type"].endswith("/admin-only")
        assert _stored(tenant.id, shop.id) == before

    # The admin without the credentials: 422, nothing changed.
    bare = client.patch(url, json={"api_base_url": f"{allowed_url}/x"}, headers=admin.headers)
    assert bare.status_code == 422, bare.text
    assert bare.json()["type"].endswith("/credentials-required")
    assert _stored(tenant.id, shop.id) == before

    # The admin, with credentials, to a host no shop may call: 422 naming it, nothing changed.
    away = client.patch(
        url,
        json={"api_base_url": "https://attacker.example", "credentials": credentials},
        headers=admin.headers,
    )
    assert away.status_code == 422, away.text
    assert away.json()["host"] == "attacker.example"
    assert _stored(tenant.id, shop.id) == before

    # The admin, with credentials, to an allowed host: done.
    moved = client.patch(
        url,
        json={"api_base_url": f"{allowed_url}/shopify/x", "credentials": credentials},
        headers=admin.headers,
    )
    assert moved.status_code == 200, moved.text
    assert moved.json()["api_base_url"] == f"{allowed_url}/shopify/x"

    # Renaming, pausing and re-entering the same credentials stay with shops:manage.
    same = client.patch(
        url, json={"name": "Lotus 2", "credentials": credentials}, headers=manager.headers
    )
    assert same.status_code == 200, same.text


# --- every request --------------------------------------------------------------------------


def _run(tenant_id: uuid.UUID, shop_id: uuid.UUID) -> tuple[str, str | None, str | None]:
    with unit_of_work(tenant_id) as session:
        shop = shop_service.get(session, shop_id, lock=True)
        run_id = sync.plan(session, shop, "manual", utcnow() - timedelta(hours=2)).id
    outcome = sync.execute(tenant_id, run_id)
    with unit_of_work(tenant_id) as session:
        run = repository.run(session, run_id)
        assert run is not None
        return outcome, run.error, shop_service.get(session, shop_id).last_error


def test_a_stored_row_pointing_elsewhere_is_never_called(
    world: World, far_end: tuple[Scripted, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A base URL stored before hosts were checked (or edited behind the API's back) is
    refused before the request: the token never leaves."""
    scripted, attacker = far_end
    tenant = world.tenant()
    shop = factories.shop(tenant.id, external_id="lotus.myshopify.com")
    with unit_of_work(tenant.id) as session:
        shop_service.get(session, shop.id).api_base_url = f"{attacker}/shopify/lotus"
    _allow_only(monkeypatch, "sandbox.test")  # the attacker's port is not allowed

    outcome, run_error, last_error = _run(tenant.id, shop.id)

    assert outcome == "failed"
    assert not scripted.seen  # not one request, so no token, reached it
    assert run_error is not None and "127.0.0.1" in run_error and "may not call" in run_error
    assert last_error == run_error
    assert TOKEN not in run_error


def test_a_remote_error_body_is_stored_as_a_short_clean_excerpt_without_secrets(
    world: World, far_end: tuple[Scripted, str]
) -> None:
    scripted, url = far_end
    tenant = world.tenant()
    shop = factories.shop(
        tenant.id,
        external_id="lotus.myshopify.com",
        api_base_url=f"{url}/shopify/lotus.myshopify.com",
    )
    echoed = f"token {TOKEN} was \x1b[31mrefused\x00\u202e\n" + "A" * 5000
    scripted.script(ORDERS_PATH, (400, {}, {"errors": echoed}))

    outcome, run_error, last_error = _run(tenant.id, shop.id)

    assert outcome == "failed"
    assert len(scripted.seen[ORDERS_PATH]) == 1
    for stored in (run_error, last_error):
        assert stored is not None
        assert stored.startswith("shopify answered HTTP 400")
        assert len(stored) <= STORED_ERROR_CHARS
        assert TOKEN not in stored
        assert not any(ord(c) < 32 or c == "\u202e" for c in stored)


def test_an_error_for_display_masks_secrets_even_split_by_control_characters() -> None:
    shown = for_display(
        "a shpat_\x00secret9 and lwa-secret-2\r\nend", ["shpat_secret9", "lwa-secret-2"]
    )
    assert shown == "a [redacted] and [redacted] end"
    assert for_display("x" * 1000).endswith("…")
    assert len(for_display("x" * 1000)) == STORED_ERROR_CHARS
