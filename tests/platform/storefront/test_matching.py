"""Order lines matched to SKUs: by a listing's marketplace SKU id on the shop, else by the
merchant's SKU code; the rest listed for mapping, grouped by shop and string; a mapping re-links
the lines already there and the ones still to come; another tenant's lines and SKUs stay out."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from daiyun.core import db
from daiyun.platform.orders import service as order_service
from daiyun.platform.storefront import matching
from daiyun.platform.storefront.listing_rules import ListingState
from daiyun.platform.storefront.models import Listing
from daiyun.tenants.auth.permissions import Role
from daiyun.tenants.models import Tenant
from tests import factories
from tests.conftest import World
from tests.core.tasks_fixtures import celery_broker

API = "/api/v1/tenants"


@pytest.fixture(autouse=True)
def broker(tmp_path: Path) -> Iterator[str]:
    with celery_broker(tmp_path) as url:
        yield url


def ingest(tenant: Tenant, shop_id: uuid.UUID, external_id: str, sku: str) -> None:
    with db.unit_of_work(tenant.id) as session:
        order_service.ingest(session, shop_id, "shopify", [factories.order(external_id, sku=sku)])


def resolved(tenant: Tenant) -> dict[str, tuple[str | None, str | None]]:
    """Each line's order external id → (matched SKU code, how)."""
    with db.unit_of_work(tenant.id) as session:
        lines = matching.resolved_lines(session)
        rows = session.execute(select(lines.c.order_id, lines.c.sku_id, lines.c.matched_by))
        found = {order_id: (sku_id, how) for order_id, sku_id, how in rows}
        answer: dict[str, tuple[str | None, str | None]] = {}
        for order_id, (sku_id, how) in found.items():
            order = order_service.get_order(session, order_id)
            assert order is not None
            code = None
            if sku_id is not None:
                from daiyun.platform.storefront import service

                code = service.get_sku(session, sku_id).code
            answer[order.external_id] = (code, how)
        return answer


def test_lines_match_by_listing_then_code_and_a_mapping_relinks_past_and_future_lines(
    world: World, client: TestClient
) -> None:
    tenant, other = world.tenant(), world.tenant()
    manager = world.actor(Role.account_manager, tenant)
    viewer = world.actor(Role.merchant_viewer, tenant)
    base = f"{API}/{tenant.slug}"
    shop, second = factories.shop(tenant.id), factories.shop(tenant.id)
    theirs = factories.shop(other.id)
    product = client.post(
        f"{base}/products",
        json={
            "name": "Longjing",
            "variants": [
                {"code": "LJ-50", "cost_minor": 2500, "currency": "CNY"},
                {"code": "LJ-100", "cost_minor": 4500, "currency": "CNY"},
            ],
        },
        headers=manager.headers,
    ).json()
    ids = {v["code"]: v["id"] for v in product["variants"]}
    with db.unit_of_work(tenant.id) as session:
        session.add(
            Listing(
                sku_id=uuid.UUID(ids["LJ-100"]),
                shop_id=shop.id,
                title="Longjing 100 g",
                state=ListingState.published,
                currency="CNY",
                list_price_minor=9900,
                external_sku_id="4470001",
            )
        )
    ingest(tenant, shop.id, "1", "LJ-50")  # the merchant's code
    ingest(tenant, shop.id, "2", "4470001")  # the listing's marketplace SKU id on this shop
    ingest(tenant, second.id, "3", "4470001")  # the same id on another shop: no listing there
    ingest(tenant, shop.id, "4", "TB-LJ50-OLD")  # a string nobody knows
    ingest(tenant, shop.id, "5", "TB-LJ50-OLD")
    ingest(other, theirs.id, "9", "MYSTERY")  # another tenant's line

    assert resolved(tenant) == {
        "1": ("LJ-50", "code"),
        "2": ("LJ-100", "listing"),
        "3": (None, None),
        "4": (None, None),
        "5": (None, None),
    }
    listed = client.get(f"{base}/catalog/unmatched-lines", headers=viewer.headers)
    assert listed.status_code == 200, listed.text
    groups = {(g["shop_id"], g["marketplace_sku"]): g for g in listed.json()["items"]}
    assert set(groups) == {(str(second.id), "4470001"), (str(shop.id), "TB-LJ50-OLD")}
    old = groups[(str(shop.id), "TB-LJ50-OLD")]
    assert (old["lines"], old["orders"], old["example_title"]) == (2, 2, "西湖龙井 250g")
    # Pages of one group each, in (shop, string) order.
    first = client.get(
        f"{base}/catalog/unmatched-lines", params={"limit": 1}, headers=viewer.headers
    ).json()
    rest = client.get(
        f"{base}/catalog/unmatched-lines",
        params={"limit": 1, "cursor": first["next_cursor"]},
        headers=viewer.headers,
    ).json()
    assert len(first["items"] + rest["items"]) == 2 and rest["next_cursor"] is None
    only = client.get(
        f"{base}/catalog/unmatched-lines",
        params={"shop_id": str(second.id)},
        headers=viewer.headers,
    ).json()["items"]
    assert [g["marketplace_sku"] for g in only] == ["4470001"]

    body = {"shop_id": str(shop.id), "marketplace_sku": "TB-LJ50-OLD", "sku_id": ids["LJ-50"]}
    denied = client.post(
        f"{base}/catalog/unmatched-lines/mappings", json=body, headers=viewer.headers
    )
    assert denied.status_code == 403
    assert (
        len(client.get(f"{base}/catalog/unmatched-lines", headers=viewer.headers).json()["items"])
        == 2
    )  # the refusal mapped nothing
    mapped = client.post(
        f"{base}/catalog/unmatched-lines/mappings",
        json=body,
        headers={**manager.headers, "Idempotency-Key": "map-1"},
    )
    assert mapped.status_code == 201, mapped.text
    assert (mapped.json()["sku_code"], mapped.json()["lines"]) == ("LJ-50", 2)
    replay = client.post(
        f"{base}/catalog/unmatched-lines/mappings",
        json=body,
        headers={**manager.headers, "Idempotency-Key": "map-1"},
    )
    assert replay.headers.get("idempotent-replayed") == "true"

    ingest(tenant, shop.id, "6", "TB-LJ50-OLD")  # a line that comes after the mapping
    after = resolved(tenant)
    assert {k: after[k] for k in ("4", "5", "6")} == {k: ("LJ-50", "mapping") for k in "456"}
    assert after["3"] == (None, None)
    remaining = client.get(f"{base}/catalog/unmatched-lines", headers=viewer.headers).json()
    assert [g["marketplace_sku"] for g in remaining["items"]] == ["4470001"]

    # Mapping the same string again moves its lines, past and future, to the new SKU; a
    # mapping also overrides what the code would say.
    client.post(
        f"{base}/catalog/unmatched-lines/mappings",
        json={**body, "sku_id": ids["LJ-100"]},
        headers=manager.headers,
    )
    client.post(
        f"{base}/catalog/unmatched-lines/mappings",
        json={"shop_id": str(shop.id), "marketplace_sku": "LJ-50", "sku_id": ids["LJ-100"]},
        headers=manager.headers,
    )
    again = resolved(tenant)
    assert again["4"] == again["6"] == ("LJ-100", "mapping")
    assert again["1"] == ("LJ-100", "mapping")


def test_a_mapping_names_the_tenants_own_shop_and_sku_and_theirs_are_unseen(
    world: World, client: TestClient
) -> None:
    tenant, other = world.tenant(), world.tenant()
    manager = world.actor(Role.account_manager, tenant)
    outsider = world.actor(Role.account_manager, other)
    shop, theirs = factories.shop(tenant.id), factories.shop(other.id)
    their_product = client.post(
        f"{API}/{other.slug}/products",
        json={"name": "X", "variants": [{"code": "X-1", "cost_minor": 1, "currency": "CNY"}]},
        headers=outsider.headers,
    ).json()
    ingest(tenant, shop.id, "1", "UNKNOWN")
    ingest(other, theirs.id, "1", "UNKNOWN")

    def refused(body: dict[str, Any]) -> str:
        answer = client.post(
            f"{API}/{tenant.slug}/catalog/unmatched-lines/mappings",
            json=body,
            headers=manager.headers,
        )
        assert answer.status_code == 422, answer.text
        return str(answer.json()["type"]).rsplit("/", 1)[-1]

    their_sku = their_product["variants"][0]["id"]
    assert refused(
        {"shop_id": str(shop.id), "marketplace_sku": "UNKNOWN", "sku_id": their_sku}
    ) == ("unknown-sku")
    assert refused(
        {"shop_id": str(theirs.id), "marketplace_sku": "UNKNOWN", "sku_id": their_sku}
    ) == ("unknown-shop")
    mine = client.get(f"{API}/{tenant.slug}/catalog/unmatched-lines", headers=manager.headers)
    assert [(g["shop_id"], g["lines"]) for g in mine.json()["items"]] == [(str(shop.id), 1)]
    assert (
        client.get(
            f"{API}/{other.slug}/catalog/unmatched-lines", headers=manager.headers
        ).status_code
        == 404
    )
