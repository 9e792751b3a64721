"""Concurrent redemptions never pass a limit: 110 buyers race for a code limited to 100 uses,
and 30 buyers race for a flash sale of 10 units, each over its own connection, committed for
real. Exactly 100 codes are used (10 buyers are refused) and exactly 10 flash units sold, on
SQLite (the write lock) and PostgreSQL (row locks)."""

from __future__ import annotations

import threading
import uuid
from collections.abc import Callable

from sqlalchemy.engine import Engine

from daiyun.core import db
from daiyun.core.errors import Problem
from daiyun.platform.marketing import pricing, service
from daiyun.platform.marketing.schemas import CouponCreate, RedemptionIn
from daiyun.tenants import service as tenant_service
from daiyun.tenants.schemas import TenantCreate
from tests.platform.marketing.conftest import Market, make_market, retire


def _market() -> Market:
    slug = f"promo-race-{uuid.uuid4().hex[:8]}"
    with db.unit_of_work() as session:
        tenant = tenant_service.create_tenant(
            session, TenantCreate(slug=slug, display_name="Race", legal_name="Race Ltd")
        )
    return make_market(tenant)


def _race(count: int, attempt: Callable[[int], str]) -> list[str]:
    start = threading.Barrier(count)
    outcomes: list[str] = []
    errors: list[BaseException] = []
    lock = threading.Lock()

    def run(n: int) -> None:
        try:
            start.wait()
            outcome = attempt(n)
            with lock:
                outcomes.append(outcome)
        except BaseException as exc:
            with lock:
                errors.append(exc)

    threads = [threading.Thread(target=run, args=(n,)) for n in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    return outcomes


def _redeem(market: Market, n: int, code: str | None, sku: str) -> str:
    body = RedemptionIn(
        key=f"race-{n}",
        buyer=f"buyer-{n}@example.com",
        currency="CNY",
        lines=[{"sku_id": market.skus[sku], "quantity": 1, "unit_price_minor": 5_000}],  # type: ignore[list-item]
        coupon_codes=[code] if code else [],
    )
    try:
        with db.unit_of_work(market.tenant.id) as session:
            result, _ = pricing.redeem(session, body)
    except Problem as exc:
        return exc.kind
    return "redeemed" if result.redemptions else "nothing"


def test_a_code_limited_to_100_is_used_exactly_100_times(real_connections: Engine) -> None:
    market = _market()
    try:
        promotion = market.promotion(
            name="100 codes", kind="order", value=500, requires_coupon=True
        )
        with db.unit_of_work(market.tenant.id) as session:
            service.create_coupon(
                session, CouponCreate(promotion_id=promotion, code="RACE100", total_limit=100)
            )
        outcomes = _race(110, lambda n: _redeem(market, n, "RACE100", "TEA"))
        assert (outcomes.count("redeemed"), outcomes.count("coupon-refused")) == (100, 10)
        with db.unit_of_work(market.tenant.id) as session:
            [coupon], _ = service.find_coupons(session, promotion, None, None, 5)
            campaign = service.get_campaign(session, market.campaign_id)
        assert coupon.redeemed == 100
        assert (campaign.redemptions, campaign.discount_cost_minor) == (100, 50_000)
    finally:
        retire(market.site)


def test_thirty_buyers_for_ten_flash_units_get_exactly_ten(real_connections: Engine) -> None:
    market = _market()
    try:
        flash = market.promotion(
            name="秒杀",
            kind="flash",
            sku_ids=[market.skus["CUP"]],
            flash_price_minor=1_000,
            flash_stock=10,
        )
        outcomes = _race(30, lambda n: _redeem(market, n, None, "CUP"))
        assert (outcomes.count("redeemed"), outcomes.count("nothing")) == (10, 20)
        with db.unit_of_work(market.tenant.id) as session:
            sale = service.get_promotion(session, flash)
            assert (sale.flash_sold, sale.carved) == (10, 0)
        assert market.sellable("CUP") == (50, 0)
    finally:
        retire(market.site)
