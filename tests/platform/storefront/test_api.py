"""The catalog API: products with variants, SKU search, bundles, categories, margin floors; bad
input named in problem+json; another tenant's catalog is not found and stays as it was."""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient

from daiyun.tenants.auth.permissions import Role
from daiyun.tenants.models import Tenant
from tests.conftest import Actor, World

API = "/api/v1/tenants"


def _sku(code: str, cost: int = 1000, currency: str = "CNY", **extra: Any) -> dict[str, Any]:
    return {"code": code, "cost_minor": cost, "currency": currency, **extra}


def _product(client: TestClient, actor: Actor, tenant: Tenant, **body: Any) -> dict[str, Any]:
    body.setdefault("name", "Longjing tea")
    answer = client.post(f"{API}/{tenant.slug}/products", json=body, headers=actor.headers)
    assert answer.status_code == 201, answer.text
    return dict(answer.json())


def test_a_product_with_variants_is_created_listed_found_and_archived(
    world: World, client: TestClient
) -> None:
    tenant = world.tenant()
    manager = world.actor(Role.account_manager, tenant)
    viewer = world.actor(Role.merchant_viewer, tenant)
    base = f"{API}/{tenant.slug}"
    tea = client.post(f"{base}/categories", json={"name": "Tea"}, headers=manager.headers)
    assert tea.status_code == 201, tea.text
    green = client.post(
        f"{base}/categories",
        json={"name": "Green tea", "parent_id": tea.json()["id"]},
        headers=manager.headers,
    ).json()
    assert green["path"] == ["Tea", "Green tea"]
    created = _product(
        client,
        manager,
        tenant,
        name="Longjing 2026",
        brand="West Lake",
        category_id=green["id"],
        variants=[
            _sku("LJ-50", 2500, barcode="6901234567892", attributes={"size": "50 g"}),
            _sku("LJ-100", 4500, attributes={"size": "100 g"}, weight_grams=120),
        ],
    )
    assert created["status"] == "draft"
    assert [v["code"] for v in created["variants"]] == ["LJ-50", "LJ-100"]
    _product(client, manager, tenant, name="Oolong", status="active")

    def listed(**params: Any) -> list[str]:
        answer = client.get(f"{base}/products", params=params, headers=viewer.headers)
        assert answer.status_code == 200, answer.text
        return [p["name"] for p in answer.json()["items"]]

    assert listed() == ["Longjing 2026", "Oolong"]
    assert listed(category_id=tea.json()["id"]) == ["Longjing 2026"]  # the subtree counts
    assert listed(status="active") == ["Oolong"]
    assert listed(q="west lake") == ["Longjing 2026"]
    first = client.get(f"{base}/products", params={"limit": 1}, headers=viewer.headers).json()
    second = client.get(
        f"{base}/products",
        params={"limit": 1, "cursor": first["next_cursor"]},
        headers=viewer.headers,
    ).json()
    assert [p["name"] for p in first["items"] + second["items"]] == ["Longjing 2026", "Oolong"]
    assert second["next_cursor"] is None

    by_barcode = client.get(
        f"{base}/skus", params={"barcode": "6901234567892"}, headers=viewer.headers
    )
    assert [s["code"] for s in by_barcode.json()["items"]] == ["LJ-50"]
    by_code = client.get(f"{base}/skus", params={"code": "LJ-100"}, headers=viewer.headers)
    [found] = by_code.json()["items"]
    assert (found["cost_minor"], found["weight_grams"]) == (4500, 120)

    product_id = created["id"]
    added = client.post(
        f"{base}/products/{product_id}/variants", json=_sku("LJ-250", 9900), headers=manager.headers
    )
    assert added.status_code == 201, added.text
    variants = client.get(f"{base}/products/{product_id}/variants", headers=viewer.headers)
    assert [v["code"] for v in variants.json()["items"]] == ["LJ-50", "LJ-100", "LJ-250"]

    patched = client.patch(
        f"{base}/products/{product_id}",
        json={"brand": None, "status": "active"},
        headers=manager.headers,
    )
    assert (patched.json()["brand"], patched.json()["status"]) == (None, "active")
    archived = client.delete(f"{base}/products/{product_id}", headers=manager.headers)
    assert archived.status_code == 200
    assert archived.json()["status"] == "archived"
    assert client.get(f"{base}/products/{product_id}", headers=viewer.headers).json()["status"] == (
        "archived"
    )
    # A viewer reads but does not write.
    refused = client.patch(
        f"{base}/products/{product_id}", json={"name": "x"}, headers=viewer.headers
    )
    assert refused.status_code == 403


def test_bad_input_is_named_and_nothing_is_written(world: World, client: TestClient) -> None:
    tenant = world.tenant()
    manager = world.actor(Role.account_manager, tenant)
    base = f"{API}/{tenant.slug}"
    _product(client, manager, tenant, variants=[_sku("TAKEN")])

    def refused(body: dict[str, Any]) -> dict[str, Any]:
        answer = client.post(f"{base}/products", json=body, headers=manager.headers)
        assert 400 <= answer.status_code < 500, answer.text
        assert answer.headers["content-type"] == "application/problem+json"
        return {"status": answer.status_code, **answer.json()}

    taken = refused({"name": "New", "variants": [_sku("FRESH"), _sku("TAKEN")]})
    assert (taken["status"], "TAKEN" in taken["detail"]) == (409, True)
    twice = refused({"name": "New", "variants": [_sku("TWICE"), _sku("TWICE")]})
    assert (twice["status"], twice["type"].rsplit("/", 1)[-1]) == (422, "duplicate-sku-code")
    too_much = refused({"name": "New", "variants": [_sku("BIG", 10**12 + 1)]})
    assert too_much["errors"][0]["loc"] == ["body", "variants", 0, "cost_minor"]
    for bad in (
        {"name": "New", "variants": [_sku("X", True)]},  # true is not an amount
        {"name": "New", "variants": [_sku("X", currency="cny")]},
        {"name": " padded "},
        {"name": "nul\x00"},
        {"name": "New", "variants": [{**_sku("X"), "attributes": {"k": 1}}]},
        {"name": "New", "unknown": 1},
    ):
        assert refused(bad)["status"] == 422, bad
    listed = client.get(f"{base}/skus", headers=manager.headers).json()["items"]
    assert [s["code"] for s in listed] == ["TAKEN"]
    # A null for a field that always has a value is refused; one that may be empty is cleared.
    product_id = client.get(f"{base}/products", headers=manager.headers).json()["items"][0]["id"]
    nulled = client.patch(
        f"{base}/products/{product_id}", json={"name": None}, headers=manager.headers
    )
    assert nulled.status_code == 422


def test_bundles_derive_their_cost_and_refuse_foreign_currencies_and_cycles(
    world: World, client: TestClient
) -> None:
    tenant = world.tenant()
    manager = world.actor(Role.account_manager, tenant)
    base = f"{API}/{tenant.slug}"
    product = _product(
        client,
        manager,
        tenant,
        variants=[_sku("CUP", 1200), _sku("POT", 5000), _sku("USD-TIN", 300, "USD")],
    )
    ids = {v["code"]: v["id"] for v in product["variants"]}
    gift = client.post(
        f"{base}/bundles",
        json={
            "code": "GIFT",
            "name": "Gift set",
            "currency": "CNY",
            "parts": [{"sku_id": ids["CUP"], "quantity": 4}, {"sku_id": ids["POT"]}],
        },
        headers=manager.headers,
    )
    assert gift.status_code == 201, gift.text
    assert (gift.json()["cost_minor"], gift.json()["is_bundle"]) == (4 * 1200 + 5000, True)
    gift_id = gift.json()["id"]

    foreign = client.post(
        f"{base}/bundles",
        json={
            "code": "MIXED",
            "name": "Mixed",
            "currency": "CNY",
            "parts": [{"sku_id": ids["CUP"]}, {"sku_id": ids["USD-TIN"]}],
        },
        headers=manager.headers,
    )
    assert foreign.status_code == 422, foreign.text
    assert foreign.json()["skus"] == ["USD-TIN"]
    assert "USD-TIN (USD)" in foreign.json()["detail"]

    # A part's cost moves the bundle's; a cost on the bundle itself is refused.
    client.patch(f"{base}/skus/{ids['CUP']}", json={"cost_minor": 1000}, headers=manager.headers)
    read = client.get(f"{base}/bundles/{gift_id}", headers=manager.headers).json()
    assert read["cost_minor"] == 4 * 1000 + 5000
    assert [(p["code"], p["quantity"], p["unit_cost_minor"]) for p in read["parts"]] == sorted(
        [("CUP", 4, 1000), ("POT", 1, 5000)], key=lambda p: ids[p[0]]
    )
    own_cost = client.patch(
        f"{base}/skus/{gift_id}", json={"cost_minor": 1}, headers=manager.headers
    )
    assert (own_cost.status_code, own_cost.json()["type"].rsplit("/", 1)[-1]) == (
        422,
        "derived-cost",
    )
    # A part moving to another currency is refused, naming it.
    moved = client.patch(
        f"{base}/skus/{ids['POT']}", json={"currency": "USD"}, headers=manager.headers
    )
    assert (moved.status_code, moved.json()["skus"]) == (422, ["POT"])

    # Nesting is fine; a cycle is not.
    box = client.post(
        f"{base}/bundles",
        json={
            "code": "BOX",
            "product_id": product["id"],
            "currency": "CNY",
            "parts": [{"sku_id": gift_id, "quantity": 2}],
        },
        headers=manager.headers,
    )
    assert box.status_code == 201, box.text
    assert box.json()["cost_minor"] == 2 * 9000
    cycle = client.patch(
        f"{base}/skus/{gift_id}",
        json={"parts": [{"sku_id": ids["CUP"]}, {"sku_id": box.json()["id"]}]},
        headers=manager.headers,
    )
    assert (cycle.status_code, cycle.json()["type"].rsplit("/", 1)[-1]) == (422, "bundle-cycle")
    assert "GIFT" in cycle.json()["detail"] and "BOX" in cycle.json()["detail"]
    itself = client.patch(
        f"{base}/skus/{gift_id}", json={"parts": [{"sku_id": gift_id}]}, headers=manager.headers
    )
    assert itself.status_code == 422
    assert (
        client.get(f"{base}/bundles/{gift_id}", headers=manager.headers).json()["cost_minor"]
        == 9000
    )
    # A plain SKU is not a bundle.
    assert client.get(f"{base}/bundles/{ids['CUP']}", headers=manager.headers).status_code == 404


def test_categories_move_and_rename_but_never_under_themselves(
    world: World, client: TestClient
) -> None:
    tenant = world.tenant()
    manager = world.actor(Role.account_manager, tenant)
    base = f"{API}/{tenant.slug}"

    def create(name: str, parent: str | None = None) -> str:
        answer = client.post(
            f"{base}/categories", json={"name": name, "parent_id": parent}, headers=manager.headers
        )
        assert answer.status_code == 201, answer.text
        return str(answer.json()["id"])

    home = create("Home")
    kitchen = create("Kitchen", home)
    knives = create("Knives", kitchen)
    outdoor = create("Outdoor")
    under_child = client.patch(
        f"{base}/categories/{home}", json={"parent_id": knives}, headers=manager.headers
    )
    assert (under_child.status_code, under_child.json()["type"].rsplit("/", 1)[-1]) == (
        422,
        "category-cycle",
    )
    under_self = client.patch(
        f"{base}/categories/{home}", json={"parent_id": home}, headers=manager.headers
    )
    assert under_self.status_code == 422
    moved = client.patch(
        f"{base}/categories/{kitchen}",
        json={"parent_id": outdoor, "name": "Camp kitchen"},
        headers=manager.headers,
    )
    assert moved.status_code == 200, moved.text
    assert moved.json()["path"] == ["Outdoor", "Camp kitchen"]
    tree = client.get(f"{base}/categories", headers=manager.headers).json()["items"]
    assert [c["path"] for c in tree] == [
        ["Home"],
        ["Outdoor"],
        ["Outdoor", "Camp kitchen"],
        ["Outdoor", "Camp kitchen", "Knives"],
    ]
    to_root = client.patch(
        f"{base}/categories/{knives}", json={"parent_id": None}, headers=manager.headers
    )
    assert to_root.json()["path"] == ["Knives"]
    twin = client.post(f"{base}/categories", json={"name": "home"}, headers=manager.headers)
    assert twin.status_code == 409


def test_margin_floors_are_read_and_replaced(world: World, client: TestClient) -> None:
    tenant = world.tenant()
    manager = world.actor(Role.account_manager, tenant)
    owner = world.actor(Role.merchant_owner, tenant)
    base = f"{API}/{tenant.slug}"
    product = _product(client, manager, tenant, variants=[_sku("A")])
    first = client.get(f"{base}/margin-floors", headers=owner.headers).json()
    assert first == {
        "tenant": {"mode": "warn", "minimum_margin": "0"},
        "tenant_is_default": True,
        "categories": [],
        "skus": [],
    }
    body = {
        "tenant": {"mode": "block", "minimum_margin": "0.15"},
        "skus": [{"sku_id": product["variants"][0]["id"], "mode": "off"}],
    }
    put = client.put(f"{base}/margin-floors", json=body, headers=manager.headers)
    assert put.status_code == 200, put.text
    assert put.json()["tenant"] == {"mode": "block", "minimum_margin": "0.15"}
    assert put.json()["skus"][0]["mode"] == "off"
    assert client.put(f"{base}/margin-floors", json=body, headers=owner.headers).status_code == 403
    ghost = {**body, "categories": [{"category_id": product["id"], "mode": "warn"}]}
    unknown = client.put(f"{base}/margin-floors", json=ghost, headers=manager.headers)
    assert (unknown.status_code, product["id"] in unknown.json()["detail"]) == (422, True)
    for margin in ("-0.1", "10.5", "0.12345"):
        bad = {"tenant": {"mode": "warn", "minimum_margin": margin}}
        answer = client.put(f"{base}/margin-floors", json=bad, headers=manager.headers)
        assert answer.status_code == 422, margin
    assert client.get(f"{base}/margin-floors", headers=owner.headers).json() == put.json()


def test_another_tenants_catalog_is_not_found_and_stays_as_it_was(
    world: World, client: TestClient
) -> None:
    a, b = world.tenant(), world.tenant()
    staff_a = world.actor(Role.account_manager, a)
    staff_b = world.actor(Role.account_manager, b)
    product = _product(client, staff_b, b, variants=[_sku("B-1")])
    sku_id = product["variants"][0]["id"]
    category = client.post(
        f"{API}/{b.slug}/categories", json={"name": "B's"}, headers=staff_b.headers
    ).json()
    before = client.get(f"{API}/{b.slug}/products/{product['id']}", headers=staff_b.headers)

    # Through A's path, B's ids name nothing.
    for method, path, body in (
        ("GET", f"/products/{product['id']}", None),
        ("PATCH", f"/products/{product['id']}", {"name": "Hijacked"}),
        ("DELETE", f"/products/{product['id']}", None),
        ("GET", f"/products/{product['id']}/variants", None),
        ("POST", f"/products/{product['id']}/variants", _sku("A-1")),
        ("GET", f"/skus/{sku_id}", None),
        ("PATCH", f"/skus/{sku_id}", {"cost_minor": 1}),
        ("PATCH", f"/categories/{category['id']}", {"name": "Hijacked"}),
    ):
        answer = client.request(method, f"{API}/{a.slug}{path}", json=body, headers=staff_a.headers)
        assert answer.status_code == 404, (method, path, answer.text)
    # Nor can A's objects point at B's.
    into_b = client.post(
        f"{API}/{a.slug}/products",
        json={"name": "A's", "category_id": category["id"]},
        headers=staff_a.headers,
    )
    assert into_b.status_code == 422
    bundle = client.post(
        f"{API}/{a.slug}/bundles",
        json={"code": "A-B", "name": "x", "currency": "CNY", "parts": [{"sku_id": sku_id}]},
        headers=staff_a.headers,
    )
    assert bundle.status_code == 422
    # And B's own path is closed to A's staff.
    assert client.get(f"{API}/{b.slug}/products", headers=staff_a.headers).status_code == 404
    assert client.get(f"{API}/{a.slug}/skus", headers=staff_a.headers).json()["items"] == []

    after = client.get(f"{API}/{b.slug}/products/{product['id']}", headers=staff_b.headers)
    assert after.json() == before.json()
    names = client.get(f"{API}/{b.slug}/categories", headers=staff_b.headers).json()["items"]
    assert [c["name"] for c in names] == ["B's"]


def test_the_same_sku_code_may_live_in_two_tenants(world: World, client: TestClient) -> None:
    a, b = world.tenant(), world.tenant()
    admin = world.actor(Role.agency_admin)
    _product(client, admin, a, variants=[_sku("SAME")])
    _product(client, admin, b, variants=[_sku("SAME")])
    again = client.post(
        f"{API}/{a.slug}/products",
        json={"name": "x", "variants": [_sku("SAME")]},
        headers=admin.headers,
    )
    assert again.status_code == 409
    for tenant in (a, b):
        found = client.get(
            f"{API}/{tenant.slug}/skus", params={"code": "SAME"}, headers=admin.headers
        )
        assert len(found.json()["items"]) == 1
