"""Marketing's service on a real database: 满减 quotes with their explanation, coupons (single
and bulk, limits, minimum, validity), flash sales (carve-out from the warehouse, units at the
flash price, release after the window, the margin floor refused or capped), redemptions
recorded once per key against the campaign's budget, and orders attributed from their events."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta

import pytest
from sqlalchemy import select

from daiyun.core import db
from daiyun.core.errors import Problem
from daiyun.core.events import service as events
from daiyun.core.events.models import OutboxEvent
from daiyun.core.ids import utcnow
from daiyun.platform.marketing import pricing, service, tasks
from daiyun.platform.marketing.models import MarginPolicy
from daiyun.platform.marketing.schemas import (
    CampaignCreate,
    CouponBulkCreate,
    CouponCreate,
    MarketingSettingsIn,
    PromotionUpdate,
    RedemptionIn,
)
from daiyun.platform.orders import service as order_service
from tests import factories
from tests.platform.marketing.conftest import Market

MANJIAN = {
    "name": "满300减30, 满500减80",
    "kind": "tiered",
    "tiers": [
        {"threshold_minor": 30_000, "off_minor": 3_000},
        {"threshold_minor": 50_000, "off_minor": 8_000},
    ],
    "cap_minor": 6_000,
}


def _redeem(market: Market, key: str, *lines: tuple[str, int, int], **values: object) -> object:
    cart = market.cart(*lines, buyer=values.pop("buyer", "a@example.com"), **values)  # type: ignore[arg-type]
    body = RedemptionIn(key=key, **cart.model_dump())
    with db.unit_of_work(market.tenant.id) as session:
        return pricing.redeem(session, body)


def _campaign(market: Market) -> tuple[int, int, int]:
    with db.unit_of_work(market.tenant.id) as session:
        c = service.get_campaign(session, market.campaign_id)
        return c.discount_cost_minor, c.attributed_gmv_minor, c.redemptions


def test_manjian_quote_takes_its_tier_caps_and_explains(market: Market) -> None:
    market.promotion(**MANJIAN)
    under = market.quote(("TEA", 2, 10_000))
    assert under.discount_minor == 0
    assert "first tier" in under.skipped[0].reason
    reached = market.quote(("TEA", 2, 10_000), ("CUP", 2, 6_000))
    assert reached.discount_minor == 3_000
    [discount] = reached.discounts
    assert "满减" in discount.explanation
    assert sum(discount.allocations.values()) == 3_000
    top = market.quote(("TEA", 5, 10_000))
    assert (top.discount_minor, top.discounts[0].capped_by) == (6_000, "cap")
    assert top.total_minor == 44_000


def test_a_category_promotion_reaches_skus_in_its_subtree_and_stops_at_the_floor(
    market: Market,
) -> None:
    market.promotion(
        name="Green 95% off",
        kind="items",
        value_type="percent",
        value=9_500,
        category_ids=[market.green],
    )
    quote = market.quote(("TEA", 2, 3_000))
    # TEA costs 10.00 and the default floor (warn, no margin) keeps it at cost: 20.00 of 60.00.
    assert quote.lines[0].floor_minor == 2_000
    assert (quote.total_minor, quote.discounts[0].capped_by) == (2_000, "margin-floor")


def test_coupons_unlock_their_promotion_within_their_limits(market: Market) -> None:
    promotion = market.promotion(
        name="SPRING 20 off", kind="order", value=2_000, requires_coupon=True, min_order_minor=5_000
    )
    with db.unit_of_work(market.tenant.id) as session:
        service.create_coupon(
            session,
            CouponCreate(promotion_id=promotion, code="spring20", total_limit=2, per_buyer_limit=1),
        )
        with pytest.raises(Problem) as taken:
            service.create_coupon(session, CouponCreate(promotion_id=promotion, code="SPRING20"))
    assert taken.value.status == 409
    assert market.quote(("TEA", 3, 3_000)).discount_minor == 0
    assert market.quote(("TEA", 3, 3_000), coupon_codes=["Spring20"]).discount_minor == 2_000
    small = market.quote(("TEA", 1, 3_000), coupon_codes=["SPRING20"])
    assert small.coupons[0].accepted is False and "minimum" in small.coupons[0].reason
    assert (
        market.quote(("TEA", 3, 3_000), coupon_codes=["NOPE"]).coupons[0].reason == "no such code"
    )
    _redeem(market, "o-1", ("TEA", 3, 3_000), coupon_codes=["SPRING20"], buyer="a@x.com")
    with pytest.raises(Problem) as again:
        _redeem(market, "o-2", ("TEA", 3, 3_000), coupon_codes=["SPRING20"], buyer="a@x.com")
    assert again.value.status == 409 and "as often" in again.value.detail
    _redeem(market, "o-3", ("TEA", 3, 3_000), coupon_codes=["SPRING20"], buyer="b@x.com")
    with db.unit_of_work(market.tenant.id) as session:
        looked = service.lookup_coupon(session, "spring20", None)
    assert (looked.usable, looked.reason, looked.coupon.redeemed) == (
        False,
        "the code has been used up",
        2,
    )


def test_bulk_codes_are_unique_and_listed_by_batch(market: Market) -> None:
    promotion = market.promotion(name="Welcome", kind="order", value=500, requires_coupon=True)
    with db.unit_of_work(market.tenant.id) as session:
        made = service.generate_coupons(
            session, CouponBulkCreate(promotion_id=promotion, prefix="wel", count=120)
        )
        listed, cursor = service.find_coupons(session, promotion, made.batch, None, 200)
    assert len(set(made.codes)) == 120 and all(c.startswith("WEL-") for c in made.codes)
    assert {c.code for c in listed} == set(made.codes) and cursor is None
    assert all(c.total_limit == 1 for c in listed)


def test_a_flash_sale_carves_its_stock_sells_it_and_gives_back_the_rest(market: Market) -> None:
    assert market.sellable() == (100, 0)
    flash = market.promotion(
        name="秒杀 TEA",
        kind="flash",
        sku_ids=[market.skus["TEA"]],
        flash_price_minor=1_500,
        flash_stock=5,
        per_buyer_limit=2,
    )
    assert market.sellable() == (95, 5)
    quote = market.quote(("TEA", 3, 3_000), buyer="a@x.com")
    # Two units at the flash price (the buyer's limit), the third at the list price.
    assert quote.discount_minor == 3_000
    _redeem(market, "f-1", ("TEA", 3, 3_000), buyer="a@x.com")
    _redeem(market, "f-2", ("TEA", 1, 3_000), buyer="a@x.com")  # nothing left for a@x.com
    _redeem(market, "f-3", ("TEA", 9, 3_000), buyer="b@x.com")
    with db.unit_of_work(market.tenant.id) as session:
        sold = service.get_promotion(session, flash)
        assert (sold.flash_sold, sold.carved) == (4, 1)
    assert market.sellable() == (99, 1)  # the sold units are the orders' to reserve
    with db.unit_of_work(market.tenant.id) as session:
        assert service.release_ended(session, utcnow() + timedelta(days=30)) == 1
        assert service.release_ended(session, utcnow() + timedelta(days=30)) == 0
    assert market.sellable() == (100, 0)


def test_a_flash_sale_needs_the_stock_and_respects_the_floor_policy(market: Market) -> None:
    flash = {"name": "秒杀", "kind": "flash", "sku_ids": [market.skus["TEA"]]}
    with pytest.raises(Problem) as short:
        market.promotion(**flash, flash_price_minor=1_500, flash_stock=101)
    assert short.value.kind == "insufficient-stock"
    with pytest.raises(Problem) as under:
        market.promotion(**flash, flash_price_minor=900, flash_stock=1)
    assert under.value.kind == "below-margin-floor"
    with db.unit_of_work(market.tenant.id) as session:
        service.set_settings(session, MarketingSettingsIn(margin_policy=MarginPolicy.cap))
    market.promotion(**flash, flash_price_minor=900, flash_stock=1)
    quote = market.quote(("TEA", 1, 3_000))
    assert (quote.total_minor, quote.discounts[0].capped_by) == (1_000, "margin-floor")


def test_stopping_a_flash_sale_releases_its_stock(market: Market) -> None:
    flash = market.promotion(
        name="秒杀",
        kind="flash",
        sku_ids=[market.skus["CUP"]],
        flash_price_minor=600,
        flash_stock=10,
    )
    assert market.sellable("CUP") == (40, 10)
    with db.unit_of_work(market.tenant.id) as session:
        service.update_promotion(session, flash, PromotionUpdate(active=False))
    assert market.sellable("CUP") == (50, 0)
    assert market.quote(("CUP", 1, 1_000)).discount_minor == 0


def test_a_redemption_is_recorded_once_per_key_against_the_budget(market: Market) -> None:
    market.promotion(**MANJIAN)
    first, created = _redeem(market, "order-9", ("TEA", 5, 10_000))  # type: ignore[misc]
    again, created_again = _redeem(market, "order-9", ("TEA", 5, 10_000))  # type: ignore[misc]
    assert (created, created_again) == (True, False)
    assert [r.id for r in again.redemptions] == [r.id for r in first.redemptions]
    assert _campaign(market) == (6_000, 44_000, 1)


def test_budget_left_caps_the_next_discount(market: Market) -> None:
    with db.unit_of_work(market.tenant.id) as session:
        small = service.create_campaign(
            session,
            CampaignCreate(
                name="Tiny",
                starts_at=utcnow() - timedelta(hours=1),
                ends_at=utcnow() + timedelta(days=1),
                currency="CNY",
                budget_minor=2_500,
            ),
        )
    market.campaign_id = small.id
    market.promotion(name="20 off", kind="order", value=2_000)
    _redeem(market, "b-1", ("TEA", 2, 10_000))
    quote = market.quote(("TEA", 2, 10_000))
    assert (quote.discount_minor, quote.discounts[0].capped_by) == (500, "budget")


def test_naive_times_are_the_tenants_local_time(market: Market) -> None:
    local = datetime(2030, 5, 1, 20, 0, 0)
    with db.unit_of_work(market.tenant.id) as session:
        campaign = service.create_campaign(
            session,
            CampaignCreate(
                name="Local",
                starts_at=local,
                ends_at=local + timedelta(hours=1),
                currency="CNY",
                budget_minor=1,
            ),
        )
    # Asia/Shanghai is UTC+8: 20:00:00 there is 12:00:00 UTC.
    assert (campaign.starts_at.hour, campaign.starts_at.second) == (12, 0)


def _order_with(market: Market, external_id: str, codes: list[str], **values: object) -> uuid.UUID:
    incoming = factories.order(external_id, sku="TEA", quantity=2, total_minor=5_000, **values)  # type: ignore[arg-type]
    incoming.raw = {"discount_codes": [{"code": c} for c in codes]}
    incoming.discount_minor = 1_000
    with db.unit_of_work(market.tenant.id) as session:
        [(_, order)] = order_service.ingest(session, market.shop_id, "shopify", [incoming])
        return order.id


def test_incoming_orders_are_attributed_from_their_events_once(market: Market) -> None:
    promotion = market.promotion(name="VIP", kind="order", value=1_000, requires_coupon=True)
    with db.unit_of_work(market.tenant.id) as session:
        service.create_coupon(session, CouponCreate(promotion_id=promotion, code="VIP10"))
    order_id = _order_with(market, "att-1", ["vip10", "UNKNOWN"], placed=utcnow())
    with db.unit_of_work(market.tenant.id) as session:
        created = session.scalars(
            select(OutboxEvent.id).where(OutboxEvent.topic == "order.created")
        ).all()
        ran = [name for event_id in created for name in events.handle(session, event_id)]
        assert f"{tasks.__name__}.attribute_order" in ran
        assert pricing.attribute_order(session, order_id) == 0  # again: nothing new
        rows, _ = pricing.find_redemptions(session, None, order_id, None, 10)
    assert [(r.discount_minor, r.source.value, r.buyer) for r in rows] == [
        (1_000, "order", "xiaoming@example.com")
    ]
    assert _campaign(market) == (1_000, 5_000, 1)


def test_an_order_bought_at_the_flash_price_takes_flash_units(market: Market) -> None:
    market.promotion(
        name="秒杀",
        kind="flash",
        sku_ids=[market.skus["TEA"]],
        flash_price_minor=2_500,
        flash_stock=3,
    )
    order_id = _order_with(market, "att-2", [], placed=utcnow())
    with db.unit_of_work(market.tenant.id) as session:
        assert pricing.attribute_order(session, order_id) == 1
        [row], _ = pricing.find_redemptions(session, None, order_id, None, 10)
    assert row.units == 2
    assert market.sellable() == (99, 1)
