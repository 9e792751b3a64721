"""Redemptions given back when their order is called off: a cancelled or fully refunded order
frees its single-use code, the buyer's allowance, the campaign's budget and GMV and the flash
units it bought; a redelivered event gives nothing back twice; a partial refund keeps the use."""

from __future__ import annotations

import uuid
from datetime import timedelta

from sqlalchemy import select

from daiyun.core import db
from daiyun.core.events import service as events
from daiyun.core.events.models import OutboxEvent
from daiyun.core.ids import utcnow
from daiyun.platform.marketing import pricing, reversals, service, tasks
from daiyun.platform.marketing.schemas import CouponCreate
from daiyun.platform.orders import service as order_service
from daiyun.platform.orders.normalized import NormalizedOrder, OrderStatus
from tests import factories
from tests.platform.marketing.conftest import Market

T1 = factories.T0 + timedelta(hours=1)


def _incoming(external_id: str, codes: list[str], **values: object) -> NormalizedOrder:
    incoming = factories.order(external_id, sku="TEA", quantity=2, total_minor=5_000, **values)  # type: ignore[arg-type]
    incoming.raw = {"discount_codes": [{"code": c} for c in codes]}
    incoming.discount_minor = 1_000 if codes else 0
    return incoming


def _ingest(market: Market, incoming: NormalizedOrder) -> uuid.UUID:
    with db.unit_of_work(market.tenant.id) as session:
        [(_, order)] = order_service.ingest(session, market.shop_id, "shopify", [incoming])
        return order.id


def _attributed(market: Market, external_id: str, codes: list[str]) -> uuid.UUID:
    order_id = _ingest(market, _incoming(external_id, codes, placed=utcnow()))
    with db.unit_of_work(market.tenant.id) as session:
        assert pricing.attribute_order(session, order_id) == 1
    return order_id


def _called_off(
    market: Market, external_id: str, codes: list[str], status: OrderStatus
) -> list[str]:
    """The order comes in again with ``status``; its events' handlers run. Returns their names."""
    _ingest(market, _incoming(external_id, codes, placed=utcnow(), status=status, updated=T1))
    with db.unit_of_work(market.tenant.id) as session:
        topics = ("order.cancelled", "order.refunded", "order.updated")
        ids = session.scalars(select(OutboxEvent.id).where(OutboxEvent.topic.in_(topics))).all()
        return [name for event_id in ids for name in events.handle(session, event_id)]


def _counts(market: Market, promotion_id: uuid.UUID) -> tuple[int, int, int, int]:
    """(the promotion's redemptions, the campaign's discount cost, GMV and redemptions)."""
    with db.unit_of_work(market.tenant.id) as session:
        p = service.get_promotion(session, promotion_id)
        c = service.get_campaign(session, market.campaign_id)
        return p.redeemed, c.discount_cost_minor, c.attributed_gmv_minor, c.redemptions


def _code_refusal(market: Market, buyer: str) -> str | None:
    with db.unit_of_work(market.tenant.id) as session:
        return service.lookup_coupon(session, "ONCE", buyer).reason


def test_a_cancelled_order_gives_back_its_single_use_code_and_budget(market: Market) -> None:
    promotion = market.promotion(name="Once", kind="order", value=1_000, requires_coupon=True)
    with db.unit_of_work(market.tenant.id) as session:
        service.create_coupon(
            session, CouponCreate(promotion_id=promotion, code="ONCE", total_limit=1)
        )
    order_id = _attributed(market, "rev-1", ["ONCE"])
    assert _counts(market, promotion) == (1, 1_000, 5_000, 1)
    assert _code_refusal(market, "other@example.com") == "the code has been used up"

    ran = _called_off(market, "rev-1", ["ONCE"], OrderStatus.cancelled)

    assert f"{tasks.__name__}.give_back_called_off" in ran
    assert _counts(market, promotion) == (0, 0, 0, 0)
    assert _code_refusal(market, "other@example.com") is None  # the next buyer may use it
    with db.unit_of_work(market.tenant.id) as session:
        rows, _ = pricing.find_redemptions(session, None, order_id, None, 10)
        [row] = pricing.redemption_reads(session, rows)
        assert row.reversed_at is not None  # kept in the history, marked given back
        # The event again (or order.updated after it): nothing is standing, nothing moves.
        assert reversals.reverse_order(session, order_id) == 0
        # Ingesting the cancelled order again never attributes it anew.
        assert pricing.attribute_order(session, order_id) == 0
    assert _counts(market, promotion) == (0, 0, 0, 0)


def test_a_fully_refunded_order_frees_the_buyers_allowance(market: Market) -> None:
    promotion = market.promotion(name="Mine", kind="order", value=1_000, requires_coupon=True)
    with db.unit_of_work(market.tenant.id) as session:
        service.create_coupon(
            session, CouponCreate(promotion_id=promotion, code="ONCE", per_buyer_limit=1)
        )
    _attributed(market, "rev-2", ["ONCE"])
    buyer = "xiaoming@example.com"  # the factory order's buyer
    assert _code_refusal(market, buyer) == "this buyer has used the code as often as allowed"

    _called_off(market, "rev-2", ["ONCE"], OrderStatus.refunded)

    assert _code_refusal(market, buyer) is None
    assert _counts(market, promotion)[0] == 0


def test_a_partial_refund_keeps_the_use(market: Market) -> None:
    promotion = market.promotion(name="Kept", kind="order", value=1_000, requires_coupon=True)
    with db.unit_of_work(market.tenant.id) as session:
        service.create_coupon(session, CouponCreate(promotion_id=promotion, code="ONCE"))
    order_id = _attributed(market, "rev-3", ["ONCE"])
    _called_off(market, "rev-3", ["ONCE"], OrderStatus.partially_refunded)
    with db.unit_of_work(market.tenant.id) as session:
        assert reversals.reverse_order(session, order_id) == 0
    assert _counts(market, promotion) == (1, 1_000, 5_000, 1)


def test_flash_units_of_a_cancelled_order_go_back_into_the_running_sale(market: Market) -> None:
    flash = market.promotion(
        name="秒杀",
        kind="flash",
        sku_ids=[market.skus["TEA"]],
        flash_price_minor=2_500,
        flash_stock=3,
    )
    _attributed(market, "rev-4", [])
    with db.unit_of_work(market.tenant.id) as session:
        sold = service.get_promotion(session, flash)
        assert (sold.flash_sold, sold.carved) == (2, 1)
    assert market.sellable()[1] == 1  # the carve-out still held back

    _called_off(market, "rev-4", [], OrderStatus.cancelled)

    with db.unit_of_work(market.tenant.id) as session:
        back = service.get_promotion(session, flash)
        assert (back.flash_sold, back.carved, back.redeemed) == (0, 3, 0)
    # The two units are the flash sale's again, held back from the shop's ordinary stock.
    assert market.sellable() == (97, 3)
