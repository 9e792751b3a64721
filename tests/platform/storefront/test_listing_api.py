"""The listings and prices API: a listing created once per Idempotency-Key, filtered by shop and
sync state, published and unlisted; a price under a blocking floor named in problem+json, an
override refused without prices:override and audited with it; price lists scheduled; another
tenant's listing is not found."""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient

from daiyun.tenants.auth.permissions import Role
from tests import factories
from tests.conftest import World
from tests.platform.storefront.listing_helpers import catalog

API = "/api/v1/tenants"


def test_a_listing_is_created_once_published_priced_and_unlisted(
    world: World, client: TestClient
) -> None:
    tenant = world.tenant()
    manager = world.actor(Role.account_manager, tenant)
    admin = world.actor(Role.agency_admin)
    viewer = world.actor(Role.merchant_viewer, tenant)
    base = f"{API}/{tenant.slug}"
    sku = catalog(tenant.id, count=1).skus[0]
    shop = factories.shop(tenant.id, "woocommerce")
    body: dict[str, Any] = {
        "sku_id": str(sku),
        "shop_id": str(shop.id),
        "list_price_minor": 20_00,
    }
    headers = {**manager.headers, "Idempotency-Key": "listing-1"}
    created = client.post(f"{base}/listings", json=body, headers=headers)
    assert created.status_code == 201, created.text
    again = client.post(f"{base}/listings", json=body, headers=headers)
    assert again.status_code == 201 and again.json()["id"] == created.json()["id"]
    assert client.post(f"{base}/listings", json=body, headers=manager.headers).status_code == 409
    listing = created.json()
    assert (listing["state"], listing["sync_status"], listing["title"]) == (
        "draft",
        None,
        "Longjing",
    )
    url = f"{base}/listings/{listing['id']}"
    published = client.post(f"{url}/publish", headers=manager.headers)
    assert published.status_code == 200, published.text
    assert (published.json()["state"], published.json()["sync_status"]) == (
        "in_review",
        "pending",
    )
    assert client.post(f"{url}/publish", headers=viewer.headers).status_code == 403
    assert client.post(f"{url}/retry", headers=manager.headers).status_code == 409
    pending = client.get(
        f"{base}/listings",
        params={"shop_id": str(shop.id), "sync_status": "pending"},
        headers=viewer.headers,
    )
    assert [x["id"] for x in pending.json()["items"]] == [listing["id"]]
    assert (
        client.get(
            f"{base}/listings", params={"sync_status": "failed"}, headers=viewer.headers
        ).json()["items"]
        == []
    )

    # Cost 10.00 CNY under a blocking 20 % floor: 11.00 is refused, naming SKU, floor, price.
    floors = {"tenant": {"mode": "block", "minimum_margin": "0.2"}}
    assert (
        client.put(f"{base}/margin-floors", json=floors, headers=manager.headers).status_code == 200
    )
    price_url = f"{base}/prices/listings/{listing['id']}"
    refused = client.put(price_url, json={"list_price_minor": 11_00}, headers=manager.headers)
    assert refused.status_code == 422
    assert refused.headers["content-type"] == "application/problem+json"
    assert refused.json()["type"].endswith("below-margin-floor")
    assert (
        refused.json()["sku"],
        refused.json()["floor_minor"],
        refused.json()["price_minor"],
    ) == (
        "TEA-0",
        12_00,
        11_00,
    )
    override = {"list_price_minor": 11_00, "override_reason": "Matching a rival's price"}
    assert client.put(price_url, json=override, headers=manager.headers).status_code == 403
    accepted = client.put(price_url, json=override, headers=admin.headers)
    assert accepted.status_code == 200, accepted.text
    assert accepted.json()["price_overridden"] and accepted.json()["prior_price_minor"] == 20_00
    audit = client.get(f"{base}/audit", headers=admin.headers).json()["items"]
    assert any(e["action"] == "catalog.price.overridden" for e in audit)

    unlisted = client.post(f"{url}/unlist", headers=manager.headers)
    assert unlisted.json()["state"] == "unlisted"
    assert client.post(f"{url}/unlist", headers=manager.headers).status_code == 409


def test_price_lists_are_scheduled_and_read(world: World, client: TestClient) -> None:
    tenant = world.tenant()
    manager = world.actor(Role.account_manager, tenant)
    base = f"{API}/{tenant.slug}"
    sku = catalog(tenant.id, count=1).skus[0]
    shop = factories.shop(tenant.id, "woocommerce")
    listing = client.post(
        f"{base}/listings",
        json={"sku_id": str(sku), "shop_id": str(shop.id), "list_price_minor": 20_00},
        headers=manager.headers,
    ).json()
    body = {
        "name": "Double 11",
        "starts_at": "2030-11-11T00:00:00+08:00",
        "ends_at": "2030-11-12T00:00:00+08:00",
        "items": [{"listing_id": listing["id"], "list_price_minor": 18_00}],
    }
    headers = {**manager.headers, "Idempotency-Key": "double-11"}
    created = client.post(f"{base}/prices/schedules", json=body, headers=headers)
    assert created.status_code == 201, created.text
    assert (
        client.post(f"{base}/prices/schedules", json=body, headers=headers).json() == created.json()
    )
    assert created.json()["status"] == "scheduled"
    listed = client.get(f"{base}/prices/schedules", headers=manager.headers).json()["items"]
    assert [x["id"] for x in listed] == [created.json()["id"]]
    backwards = {**body, "ends_at": "2030-11-10T00:00:00Z"}
    answer = client.post(f"{base}/prices/schedules", json=backwards, headers=manager.headers)
    assert answer.status_code == 422 and answer.json()["type"].endswith("empty-period")


def test_another_tenants_listing_is_not_found_and_stays_as_it_was(
    world: World, client: TestClient
) -> None:
    a, b = world.tenant(), world.tenant()
    manager_a = world.actor(Role.account_manager, a)
    manager_b = world.actor(Role.account_manager, b)
    sku = catalog(a.id, count=1).skus[0]
    shop = factories.shop(a.id, "woocommerce")
    listing = client.post(
        f"{API}/{a.slug}/listings",
        json={"sku_id": str(sku), "shop_id": str(shop.id), "list_price_minor": 20_00},
        headers=manager_a.headers,
    ).json()
    for method, path, body in (
        ("GET", f"/listings/{listing['id']}", None),
        ("POST", f"/listings/{listing['id']}/publish", None),
        ("PUT", f"/prices/listings/{listing['id']}", {"list_price_minor": 1_00}),
    ):
        answer = client.request(
            method, f"{API}/{b.slug}{path}", json=body, headers=manager_b.headers
        )
        assert answer.status_code == 404, (path, answer.text)
    assert client.get(f"{API}/{b.slug}/listings", headers=manager_b.headers).json()["items"] == []
    kept = client.get(f"{API}/{a.slug}/listings/{listing['id']}", headers=manager_a.headers).json()
    assert (kept["state"], kept["list_price_minor"]) == ("draft", 20_00)
