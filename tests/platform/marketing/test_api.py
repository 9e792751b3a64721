"""The marketing API over HTTP: a marketer plans a campaign with a 满减 promotion, a coupon and
a flash sale; a merchant reads and prices carts but cannot plan; redemptions are recorded once
per key; bad input is a problem+json 4xx."""

from __future__ import annotations

from datetime import timedelta

from daiyun.core.ids import utcnow
from daiyun.tenants.auth.permissions import Role
from tests.conftest import World
from tests.platform.marketing.conftest import Market

API = "/api/v1"


def test_a_marketer_plans_and_a_merchant_prices_a_cart(market: Market, world: World) -> None:
    marketer = world.actor(Role.marketer, market.tenant)
    merchant = world.actor(Role.merchant_owner, market.tenant)
    base = f"{API}/tenants/{market.tenant.slug}"
    start = utcnow() - timedelta(hours=1)
    campaign = {
        "name": "618",
        "goal": "new buyers",
        "starts_at": start.isoformat(),
        "ends_at": (start + timedelta(days=3)).isoformat(),
        "currency": "CNY",
        "budget_minor": 500_000,
    }
    key = {"Idempotency-Key": "camp-618"}
    made = world.client.post(
        f"{base}/campaigns", json=campaign, headers={**marketer.headers, **key}
    )
    again = world.client.post(
        f"{base}/campaigns", json=campaign, headers={**marketer.headers, **key}
    )
    assert made.status_code == 201, made.text
    assert again.json() == made.json()
    taken = world.client.post(f"{base}/campaigns", json=campaign, headers=marketer.headers)
    assert taken.status_code == 409
    assert taken.headers["content-type"].startswith("application/problem+json")
    refused = world.client.post(
        f"{base}/campaigns", json={**campaign, "name": "x"}, headers=merchant.headers
    )
    assert refused.status_code == 403
    campaign_id = made.json()["id"]
    tiers = [{"threshold_minor": 20_000, "off_minor": 2_000}]
    manjian = {"campaign_id": campaign_id, "name": "满200减20", "kind": "tiered", "tiers": tiers}
    answer = world.client.post(f"{base}/promotions", json=manjian, headers=marketer.headers)
    assert answer.status_code == 201, answer.text
    coded = {"campaign_id": campaign_id, "name": "code", "kind": "order", "value": 500}
    coded["requires_coupon"] = True
    coded_id = world.client.post(f"{base}/promotions", json=coded, headers=marketer.headers).json()[
        "id"
    ]
    coupon = world.client.post(
        f"{base}/coupons",
        json={"promotion_id": coded_id, "code": "HELLO5", "total_limit": 10},
        headers=marketer.headers,
    )
    assert coupon.status_code == 201, coupon.text
    bulk = world.client.post(
        f"{base}/coupons/bulk",
        json={"promotion_id": coded_id, "prefix": "VIP", "count": 3},
        headers=marketer.headers,
    )
    assert bulk.status_code == 201 and len(bulk.json()["codes"]) == 3
    lookup = world.client.get(
        f"{base}/coupons/lookup", params={"code": "hello5"}, headers=merchant.headers
    )
    assert (lookup.json()["usable"], lookup.json()["promotion_name"]) == (True, "code")
    flash = {
        "campaign_id": campaign_id,
        "name": "秒杀",
        "kind": "flash",
        "sku_ids": [str(market.skus["CUP"])],
        "flash_price_minor": 800,
        "flash_stock": 2,
    }
    assert (
        world.client.post(f"{base}/promotions", json=flash, headers=marketer.headers).status_code
        == 201
    )
    cart = {
        "currency": "CNY",
        "lines": [
            {"sku_id": str(market.skus["TEA"]), "quantity": 2, "unit_price_minor": 10_000},
            {"sku_id": str(market.skus["CUP"]), "quantity": 1, "unit_price_minor": 1_500},
        ],
        "coupon_codes": ["HELLO5"],
        "buyer": "a@example.com",
    }
    quote = world.client.post(f"{base}/pricing/quote", json=cart, headers=merchant.headers)
    assert quote.status_code == 200, quote.text
    body = quote.json()
    # Flash first (15.00 → 8.00), then the 满减 on 208.00 and the code: 7.00 + 20.00 + 5.00.
    assert [d["name"] for d in body["discounts"]] == ["秒杀", "满200减20", "code"]
    assert body["discount_minor"] == 3_200
    assert body["coupons"] == [{"code": "HELLO5", "accepted": True, "reason": None}]
    listed = world.client.get(
        f"{base}/promotions", params={"campaign_id": campaign_id}, headers=merchant.headers
    )
    assert len(listed.json()["items"]) == 3


def test_redemptions_are_recorded_once_per_key(market: Market, world: World) -> None:
    marketer = world.actor(Role.marketer, market.tenant)
    viewer = world.actor(Role.merchant_viewer, market.tenant)
    base = f"{API}/tenants/{market.tenant.slug}"
    market.promotion(name="10 off", kind="order", value=1_000)
    body = {
        "key": "shop-order-1",
        "buyer": "b@example.com",
        "currency": "CNY",
        "lines": [{"sku_id": str(market.skus["TEA"]), "quantity": 1, "unit_price_minor": 5_000}],
    }
    first = world.client.post(f"{base}/redemptions", json=body, headers=marketer.headers)
    again = world.client.post(f"{base}/redemptions", json=body, headers=marketer.headers)
    assert (first.status_code, again.status_code) == (201, 200), first.text
    assert first.json()["quote"]["discount_minor"] == 1_000
    assert again.json()["quote"] is None
    assert again.json()["redemptions"] == first.json()["redemptions"]
    refused = world.client.post(f"{base}/redemptions", json=body, headers=viewer.headers)
    assert refused.status_code == 403
    listed = world.client.get(f"{base}/redemptions", headers=viewer.headers)
    assert [r["key"] for r in listed.json()["items"]] == ["shop-order-1"]
    campaign = world.client.get(f"{base}/campaigns/{market.campaign_id}", headers=viewer.headers)
    assert (campaign.json()["discount_cost_minor"], campaign.json()["attributed_gmv_minor"]) == (
        1_000,
        4_000,
    )
    bad_code = world.client.post(
        f"{base}/redemptions",
        json={**body, "key": "k2", "coupon_codes": ["NOPE"]},
        headers=marketer.headers,
    )
    assert bad_code.status_code == 409 and "NOPE" in bad_code.json()["detail"]


def test_bad_input_is_a_4xx_problem(market: Market, world: World) -> None:
    marketer = world.actor(Role.marketer, market.tenant)
    base = f"{API}/tenants/{market.tenant.slug}"
    bad = [
        ("/promotions", {"campaign_id": str(market.campaign_id), "name": "x", "kind": "tiered"}),
        (
            "/promotions",
            {
                "campaign_id": str(market.campaign_id),
                "name": "x",
                "kind": "tiered",
                "tiers": [
                    {"threshold_minor": 100, "off_minor": 50},
                    {"threshold_minor": 90, "off_minor": 60},
                ],
            },
        ),
        ("/promotions", {"campaign_id": str(market.campaign_id), "name": "x", "kind": "order"}),
        (
            "/campaigns",
            {
                "name": "backwards",
                "starts_at": "2030-01-02T00:00:00Z",
                "ends_at": "2030-01-01T00:00:00Z",
                "currency": "CNY",
                "budget_minor": 1,
            },
        ),
    ]
    for path, body in bad:
        answer = world.client.post(f"{base}{path}", json=body, headers=marketer.headers)
        assert answer.status_code == 422, (path, answer.text)
        assert answer.headers["content-type"].startswith("application/problem+json")
    ghost = world.client.post(
        f"{base}/promotions",
        json={"campaign_id": str(market.skus["TEA"]), "name": "x", "kind": "order", "value": 1},
        headers=marketer.headers,
    )
    assert ghost.status_code == 404
