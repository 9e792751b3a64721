"""Marketing's part of the isolation tests (the interface is described at the top of
tests/platform/warehouse/isolation.py).

Reading campaigns, promotions, codes and redemptions, and pricing a cart, is marketing:read
(merchants and most staff); planning and recording is marketing:manage (marketers, account
managers, admins). Ad spend and the ROAS report follow the same split: reading spend and the
report (JSON and CSV) is marketing:read, recording and importing spend marketing:manage.
Pricing a cart is a POST that stores nothing: it is listed in ``COMPUTES``,
where the route matrix expects A unchanged after an allowed call too.
"""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from daiyun.core import db
from daiyun.platform.marketing import ad_spend, service
from daiyun.platform.marketing.models import (
    AdChannel,
    AdSpend,
    AdSpendSource,
    Campaign,
    Coupon,
    MarginPolicy,
    MarketingSettings,
    Promotion,
    Redemption,
    RedemptionReversal,
    RedemptionSource,
)
from daiyun.platform.marketing.rules import Kind
from daiyun.platform.marketing.schemas import (
    AdSpendBatchIn,
    AdSpendIn,
    CampaignCreate,
    CouponCreate,
    MarketingSettingsIn,
    PromotionCreate,
)
from daiyun.tenants.auth.permissions import Permission
from tests.authz import API, P, R, Route, TenantRule, rows_of, rules

TENANT_TABLES = (
    MarketingSettings,
    Campaign,
    Promotion,
    Coupon,
    Redemption,
    RedemptionReversal,
    AdSpend,
)
MARKETING_READERS = frozenset(
    {
        R.agency_admin,
        R.account_manager,
        R.cs_agent,
        R.marketer,
        R.finance,
        R.merchant_owner,
        R.merchant_viewer,
    }
)
MARKETERS = frozenset({R.agency_admin, R.account_manager, R.marketer})
READ = TenantRule(P.marketing_read, MARKETING_READERS)
QUOTE = ("POST", f"{API}/tenants/{{tenant}}/pricing/quote")

TENANT_RULES = rules(
    (
        ("GET", "/marketing-settings"),
        ("PUT", "/marketing-settings"),
        ("GET", "/campaigns"),
        ("POST", "/campaigns"),
        ("GET", "/campaigns/{campaign_id}"),
        ("PATCH", "/campaigns/{campaign_id}"),
        ("GET", "/promotions"),
        ("POST", "/promotions"),
        ("GET", "/promotions/{promotion_id}"),
        ("PATCH", "/promotions/{promotion_id}"),
        ("GET", "/coupons"),
        ("POST", "/coupons"),
        ("POST", "/coupons/bulk"),
        ("GET", "/coupons/lookup"),
        ("GET", "/redemptions"),
        ("POST", "/redemptions"),
        ("GET", "/ad-spend"),
        ("POST", "/ad-spend"),
        ("POST", "/ad-spend/import"),
        ("GET", "/marketing-reports/roas"),
        ("GET", "/marketing-reports/roas.csv"),
    ),
    read=READ,
    write=TenantRule(P.marketing_manage, MARKETERS),
) | {QUOTE: READ}
OTHER_RULES: dict[Route, str | Permission] = {}
# POSTs that compute and store nothing: allowed or not, A stays as it was.
COMPUTES: frozenset[Route] = frozenset({QUOTE})
SEEDED_CODE = "MATRIXCODE"
WINDOW = {"starts_at": "2026-01-01T00:00:00Z", "ends_at": "2040-01-01T00:00:00Z"}


def _campaign(session: Session, name: str) -> Campaign:
    return service.create_campaign(
        session,
        CampaignCreate(
            name=name,
            starts_at=datetime(2026, 1, 1, tzinfo=UTC),
            ends_at=datetime(2040, 1, 1, tzinfo=UTC),
            currency="CNY",
            budget_minor=10**11,
        ),
    )


def seed(tenant_id: uuid.UUID, places: dict[str, str]) -> dict[str, str]:
    """A campaign with an order promotion (every cart gets it) and a coupon promotion and code."""
    with db.unit_of_work(tenant_id) as session:
        campaign = _campaign(session, "Matrix campaign")
        every = service.create_promotion(
            session,
            PromotionCreate(campaign_id=campaign.id, name="1 off", kind=Kind.order, value=100),
        )
        coded = service.create_promotion(
            session,
            PromotionCreate(
                campaign_id=campaign.id,
                name="Coded",
                kind=Kind.order,
                value=200,
                requires_coupon=True,
            ),
        )
        service.create_coupon(session, CouponCreate(promotion_id=coded.id, code=SEEDED_CODE))
        ad_spend.record(
            session,
            AdSpendBatchIn(
                rows=[
                    AdSpendIn(
                        day=date(2026, 3, 1),
                        channel=AdChannel.ztc,
                        ad_campaign="Matrix campaign",
                        campaign_id=campaign.id,
                        currency="CNY",
                        spend_minor=100_00,
                    )
                ]
            ),
        )
    return {
        "campaign_id": str(campaign.id),
        "promotion_id": str(every.id),
        "coupon_promotion_id": str(coded.id),
    }


def _cart(places: dict[str, str]) -> dict[str, Any]:
    line = {"sku_id": places["part_id"], "quantity": 1, "unit_price_minor": 50_00}
    return {"currency": "CNY", "lines": [line], "buyer": "matrix@example.com"}


def request(path: str, method: str, places: dict[str, str], n: int) -> dict[str, Any] | None:
    """A valid body for each marketing route, new values each call."""
    route = (method, path)
    if route == ("PUT", "/marketing-settings"):
        return {"json": {"margin_policy": "cap" if n % 2 else "refuse"}}
    if route == ("POST", "/campaigns"):
        body = {"name": f"Matrix {n}", "currency": "CNY", "budget_minor": n, **WINDOW}
        return {"json": body, "headers": {"Idempotency-Key": f"matrix-campaign-{n}"}}
    if route == ("PATCH", "/campaigns/{campaign_id}"):
        return {"json": {"name": f"Matrix renamed {n}", "budget_minor": 10**11 + n}}
    if route == ("POST", "/promotions"):
        body = {"campaign_id": places["campaign_id"], "name": f"P{n}", "kind": "order", "value": n}
        return {"json": body}
    if route == ("PATCH", "/promotions/{promotion_id}"):
        return {"json": {"name": f"1 off ({n})"}}
    if route == ("POST", "/coupons"):
        body = {"promotion_id": places["coupon_promotion_id"], "code": f"MATRIX-{n}"}
        return {"json": body}
    if route == ("POST", "/coupons/bulk"):
        body = {"promotion_id": places["coupon_promotion_id"], "prefix": f"M{n}", "count": 2}
        return {"json": body}
    if route == ("GET", "/coupons/lookup"):
        return {"params": {"code": SEEDED_CODE}}
    if route == ("POST", "/pricing/quote"):
        return {"json": {**_cart(places), "coupon_codes": [SEEDED_CODE]}}
    if route == ("POST", "/redemptions"):
        return {"json": {**_cart(places), "key": f"matrix-order-{n}"}}
    if route == ("POST", "/ad-spend"):
        row = {"day": "2026-03-01", "channel": "meta", "ad_campaign": f"Matrix {n}"}
        return {"json": {"rows": [{**row, "currency": "CNY", "spend_minor": n + 1}]}}
    if route == ("POST", "/ad-spend/import"):
        text = f"日期,计划名称,花费\n2026-02-{1 + n % 28:02d},Matrix {n},{n + 1}\n"
        return {
            "files": {"file": ("ztc.csv", text.encode(), "text/csv")},
            "data": {"channel": "ztc"},
        }
    if route[0] == "GET" and route[1].startswith("/marketing-reports/roas"):
        return {"params": {"first": "2026-03-01", "last": "2026-03-31", "by": "campaign"}}
    return None


def other_request(path: str, method: str, n: int) -> dict[str, Any] | None:
    return None


def restore(path: str, tenant_id: uuid.UUID, places: dict[str, str]) -> None:
    """Nothing to put back: every write names new values."""


def tenant_state(session: Session) -> list[tuple[Any, ...]]:
    return rows_of(session, TENANT_TABLES)


def platform_state(session: Session) -> list[tuple[Any, ...]]:
    return []


BULK_UPDATES: dict[type[Any], tuple[str, Any]] = {
    MarketingSettings: ("updated_at", datetime(2026, 1, 1, tzinfo=UTC)),
    Campaign: ("goal", "tests-bulk"),
    Promotion: ("name", "tests-bulk"),
    Coupon: ("batch", "tests-bulk"),
    Redemption: ("explanation", "tests-bulk"),  # append-only: refused, still scoped
    RedemptionReversal: ("at", datetime(2026, 1, 1, tzinfo=UTC)),  # append-only too
    AdSpend: ("ad_group", "tests-bulk"),
}
APPEND_ONLY: frozenset[type[Any]] = frozenset({Redemption, RedemptionReversal})


def guard_seed(
    tenant_id: uuid.UUID, sku_id: uuid.UUID, order_ids: list[uuid.UUID]
) -> dict[type[Any], set[uuid.UUID]]:
    """Settings, a campaign, a coupon promotion and its code, and a redemption of it by the
    first order (so the campaign, promotion, code and order are all referenced by it), given
    back (the order called off)."""
    with db.unit_of_work(tenant_id) as session:
        service.set_settings(session, MarketingSettingsIn(margin_policy=MarginPolicy.cap))
        campaign = _campaign(session, f"Guard {uuid.uuid4().hex[:6]}")
        promotion = service.create_promotion(
            session,
            PromotionCreate(
                campaign_id=campaign.id,
                name="Guard",
                kind=Kind.order,
                value=100,
                requires_coupon=True,
                sku_ids=[sku_id],
            ),
        )
        coupon = service.create_coupon(
            session, CouponCreate(promotion_id=promotion.id, code=f"G{uuid.uuid4().hex[:8]}")
        )
        redemption = Redemption(
            key=f"guard:{order_ids[0].hex}",
            promotion_id=promotion.id,
            campaign_id=campaign.id,
            coupon_id=coupon.id,
            order_id=order_ids[0],
            buyer="guard@example.com",
            source=RedemptionSource.order,
            currency="CNY",
            discount_minor=100,
            order_total_minor=1000,
            units=0,
            explanation="seeded",
        )
        session.add(redemption)
        session.flush()
        session.add(RedemptionReversal(redemption_id=redemption.id, order_id=order_ids[0]))
        session.add(
            AdSpend(
                day=datetime(2026, 3, 1, tzinfo=UTC).date(),
                channel=AdChannel.ztc,
                ad_campaign="Guard",
                ad_group="",
                campaign_id=campaign.id,
                currency="CNY",
                spend_minor=100,
                home_currency="CNY",
                home_spend_minor=100,
                rate="1",
                source=AdSpendSource.api,
            )
        )
        session.flush()
        return {
            model: set(session.scalars(select(model.id).where(model.tenant_id == tenant_id)))
            for model in TENANT_TABLES
        }
