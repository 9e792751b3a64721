"""Shops: connecting, credentials encrypted to the tenant and the shop, pausing, disconnecting."""

from __future__ import annotations

import base64
import os

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from daiyun.connectors import service
from daiyun.connectors.models import Shop, ShopStatus, WebhookRoute
from daiyun.core import crypto
from daiyun.core.config import get_settings
from daiyun.core.db import unit_of_work
from daiyun.tenants.auth.permissions import Role
from tests import factories
from tests.conftest import World

API = "/api/v1/tenants"


def _body(channel: str = "shopify", external_id: str = "lotus.myshopify.com") -> dict[str, object]:
    return {
        "channel": channel,
        "name": "Lotus Tea 天猫旗舰店",
        "external_id": external_id,
        "credentials": factories.CREDENTIALS[channel],
    }


def test_connect_answers_the_webhook_url_and_never_the_credentials(
    world: World, client: TestClient
) -> None:
    tenant = world.tenant()
    manager = world.actor(Role.account_manager, tenant)
    answer = client.post(f"{API}/{tenant.slug}/shops", json=_body(), headers=manager.headers)
    assert answer.status_code == 201, answer.text
    shop = answer.json()
    for secret in factories.CREDENTIALS["shopify"].values():
        if secret != "lotus.myshopify.com":
            assert secret not in answer.text
    assert shop["webhook_url"].startswith(f"{get_settings().base_url}/webhooks/shopify/")
    assert shop["status"] == "active"
    assert shop["lag_seconds"] is None
    with unit_of_work(tenant.id) as session:
        stored = session.scalar(select(Shop))
        assert stored is not None
        assert "shpat_test" not in stored.credentials_ciphertext
        assert service.credentials(stored) == factories.CREDENTIALS["shopify"]
    listed = client.get(f"{API}/{tenant.slug}/shops", headers=manager.headers).json()["items"]
    assert [s["id"] for s in listed] == [shop["id"]]
    again = client.post(f"{API}/{tenant.slug}/shops", json=_body(), headers=manager.headers)
    assert again.status_code == 409


@pytest.mark.parametrize(
    ("change", "kind"),
    [
        ({"channel": "myspace"}, "unknown-channel"),
        ({"credentials": {"shop_domain": "x.myshopify.com"}}, "invalid-credentials"),
        (
            {"credentials": {**factories.CREDENTIALS["shopify"], "password": "x"}},
            "invalid-credentials",
        ),
        ({"api_base_url": "not a url"}, "validation-error"),
    ],
)
def test_bad_connections_are_refused_and_store_nothing(
    world: World, client: TestClient, change: dict[str, object], kind: str
) -> None:
    tenant = world.tenant()
    manager = world.actor(Role.account_manager, tenant)
    answer = client.post(
        f"{API}/{tenant.slug}/shops", json={**_body(), **change}, headers=manager.headers
    )
    assert answer.status_code == 422, answer.text
    assert answer.json()["type"].endswith(f"/{kind}")
    with unit_of_work(tenant.id) as session:
        assert session.scalar(select(Shop)) is None


def test_credentials_copied_to_another_tenants_shop_do_not_decrypt(world: World) -> None:
    a, b = world.tenant(), world.tenant()
    theirs = factories.shop(a.id)
    mine = factories.shop(b.id)
    with unit_of_work(b.id) as session:
        target = service.get(session, mine.id)
        target.credentials_ciphertext = theirs.credentials_ciphertext
    with unit_of_work(b.id) as session, pytest.raises(crypto.SecretUnreadable):
        service.credentials(service.get(session, mine.id))


def test_rotate_keys_re_encrypts_every_shop(world: World, monkeypatch: pytest.MonkeyPatch) -> None:
    old, new = (base64.b64encode(os.urandom(32)).decode() for _ in range(2))
    monkeypatch.setattr(get_settings(), "encryption_keys", f"1:{old}")
    tenant = world.tenant()
    shop = factories.shop(tenant.id)
    assert shop.credentials_ciphertext.startswith("v1.")
    monkeypatch.setattr(get_settings(), "encryption_keys", f"2:{new},1:{old}")
    with unit_of_work(tenant.id) as session:
        assert service.rotate_credentials(session) == 1
        assert service.rotate_credentials(session) == 0
    monkeypatch.setattr(get_settings(), "encryption_keys", f"2:{new}")
    with unit_of_work(tenant.id) as session:
        stored = service.get(session, shop.id)
        assert stored.credentials_ciphertext.startswith("v2.")
        assert service.credentials(stored) == factories.CREDENTIALS["shopify"]


def test_pause_resume_and_disconnect(world: World, client: TestClient) -> None:
    tenant = world.tenant()
    manager = world.actor(Role.account_manager, tenant)
    shop = factories.shop(tenant.id)
    url = f"{API}/{tenant.slug}/shops/{shop.id}"
    paused = client.patch(url, json={"status": "paused"}, headers=manager.headers)
    assert paused.json()["status"] == "paused"
    refused = client.post(f"{url}/sync", json={}, headers=manager.headers)
    assert refused.status_code == 409
    assert refused.json()["type"].endswith("/shop-not-active")
    assert client.patch(url, json={"status": "active"}, headers=manager.headers).status_code == 200

    assert client.delete(url, headers=manager.headers).status_code == 204
    gone = client.get(url, headers=manager.headers).json()
    assert gone["status"] == ShopStatus.disconnected
    assert gone["webhook_url"] is None
    with unit_of_work(tenant.id) as session:
        assert service.get(session, shop.id).credentials_ciphertext == ""
        assert session.get(WebhookRoute, shop.webhook_key) is None
    hook = client.post(f"/webhooks/shopify/{shop.webhook_key}", content=b"{}")
    assert hook.status_code == 404
    assert client.patch(url, json={"name": "x"}, headers=manager.headers).status_code == 409
