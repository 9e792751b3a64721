"""Marketing's service: settings, campaigns, promotions (with a flash sale's stock carve-out)
and coupons. Pricing carts and recording redemptions is :mod:`.pricing`.

Every function takes a session bound to the tenant, flushes and audits; none commits.
"""

from __future__ import annotations

import secrets
import uuid
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from daiyun.core.audit import service as audit
from daiyun.core.errors import Problem
from daiyun.core.ids import instant, utcnow
from daiyun.core.pagination import paginate
from daiyun.platform.marketing import repository, rules
from daiyun.platform.marketing.models import (
    Campaign,
    CarveStatus,
    Coupon,
    MarginPolicy,
    MarketingSettings,
    Promotion,
)
from daiyun.platform.marketing.schemas import (
    CampaignCreate,
    CampaignRead,
    CampaignUpdate,
    CouponBatchRead,
    CouponBulkCreate,
    CouponCreate,
    CouponLookup,
    CouponRead,
    MarketingSettingsIn,
    MarketingSettingsRead,
    PromotionCreate,
    PromotionRead,
    PromotionUpdate,
)
from daiyun.platform.storefront import floors
from daiyun.platform.storefront import service as catalog
from daiyun.platform.storefront.rules import FloorMode
from daiyun.platform.warehouse import service as warehouse
from daiyun.platform.warehouse.schemas import SkuRuleIn, StockSettingsIn
from daiyun.tenants import service as tenant_service


def _unprocessable(kind: str, detail: str, **extra: Any) -> Problem:
    return Problem(422, kind, detail, **extra)


def _not_found(what: str) -> Problem:
    return Problem(404, "not-found", f"No such {what}")


def local_instant(session: Session, name: str, value: datetime | None) -> datetime | None:
    """A caller's time in UTC: with an offset it is that instant; without one it is read in the
    tenant's time zone (to the second: a flash sale's window is what the merchant means)."""
    if value is None:
        return None
    if value.tzinfo is None:
        value = value.replace(tzinfo=ZoneInfo(tenant_service.time_zone(session)))
    return instant(name, value)


# --------------------------------------------------------------------------------------------
# Settings
# --------------------------------------------------------------------------------------------


def settings(session: Session) -> MarketingSettingsRead:
    stored = repository.settings(session)
    return MarketingSettingsRead(
        margin_policy=stored.margin_policy if stored else MarginPolicy.refuse
    )


def set_settings(session: Session, body: MarketingSettingsIn) -> MarketingSettingsRead:
    stored = repository.settings(session)
    before = settings(session).model_dump(mode="json")
    if stored is None:
        stored = MarketingSettings(margin_policy=body.margin_policy)
        session.add(stored)
    stored.margin_policy = body.margin_policy
    session.flush()
    audit.record(session, "marketing.settings.updated", "marketing-settings", {"before": before})
    return settings(session)


# --------------------------------------------------------------------------------------------
# Campaigns
# --------------------------------------------------------------------------------------------


def campaign_read(campaign: Campaign) -> CampaignRead:
    return CampaignRead(
        id=campaign.id,
        name=campaign.name,
        goal=campaign.goal,
        starts_at=campaign.starts_at,
        ends_at=campaign.ends_at,
        currency=campaign.currency,
        budget_minor=campaign.budget_minor,
        discount_cost_minor=campaign.discount_cost_minor,
        attributed_gmv_minor=campaign.attributed_gmv_minor,
        redemptions=campaign.redemptions,
        budget_left_minor=max(0, campaign.budget_minor - campaign.discount_cost_minor),
    )


def _window(start: datetime | None, end: datetime | None) -> None:
    if start is not None and end is not None and end <= start:
        raise _unprocessable("empty-window", "The end comes after the start")


def get_campaign(session: Session, campaign_id: uuid.UUID) -> Campaign:
    found = repository.get_campaign(session, campaign_id)
    if found is None:
        raise _not_found("campaign")
    return found


def find_campaigns(
    session: Session, cursor: str | None, limit: int
) -> tuple[list[Campaign], str | None]:
    return paginate(session, repository.campaigns(), Campaign.id, cursor, limit)


def _name_free(session: Session, name: str, own: uuid.UUID | None = None) -> None:
    found = repository.campaign_named(session, name)
    if found is not None and found.id != own:
        raise Problem(409, "name-taken", f"A campaign is already named {name!r}")


def create_campaign(session: Session, body: CampaignCreate) -> Campaign:
    """A campaign (its name is unique: 409)."""
    start = local_instant(session, "starts_at", body.starts_at)
    end = local_instant(session, "ends_at", body.ends_at)
    _window(start, end)
    _name_free(session, body.name)
    campaign = Campaign(
        **body.model_dump(exclude={"starts_at", "ends_at"}), starts_at=start, ends_at=end
    )
    campaign.discount_cost_minor = campaign.attributed_gmv_minor = campaign.redemptions = 0
    session.add(campaign)
    session.flush()
    audit.record(session, "campaign.created", f"campaign:{campaign.id}", {"name": body.name})
    return campaign


def update_campaign(session: Session, campaign_id: uuid.UUID, body: CampaignUpdate) -> Campaign:
    campaign = get_campaign(session, campaign_id)
    changes = body.model_dump(exclude_unset=True)
    if changes.get("name") is not None:
        _name_free(session, changes["name"], campaign.id)
    for name in ("starts_at", "ends_at"):
        if name in changes:
            changes[name] = local_instant(session, name, changes[name]) or getattr(campaign, name)
    _window(changes.get("starts_at", campaign.starts_at), changes.get("ends_at", campaign.ends_at))
    for name, value in changes.items():
        if value is not None or name == "goal":
            setattr(campaign, name, value)
    session.flush()
    audit.record(
        session,
        "campaign.updated",
        f"campaign:{campaign.id}",
        body.model_dump(mode="json", exclude_unset=True),
    )
    return campaign


# --------------------------------------------------------------------------------------------
# Promotions
# --------------------------------------------------------------------------------------------


def promotion_read(promotion: Promotion) -> PromotionRead:
    return PromotionRead.model_validate(promotion)


def get_promotion(session: Session, promotion_id: uuid.UUID) -> Promotion:
    found = repository.get_promotion(session, promotion_id)
    if found is None:
        raise _not_found("promotion")
    return found


def find_promotions(
    session: Session,
    campaign_id: uuid.UUID | None,
    active: bool | None,
    cursor: str | None,
    limit: int,
) -> tuple[list[Promotion], str | None]:
    return paginate(
        session, repository.promotions(campaign_id, active), Promotion.id, cursor, limit
    )


def _known_targets(session: Session, body: PromotionCreate) -> None:
    for sku_id in body.sku_ids:
        catalog.get_sku(session, sku_id)  # 404 names an unknown SKU
    known = {c.id for c in catalog.category_tree(session).items}
    unknown = [c for c in body.category_ids if c not in known]
    if unknown:
        raise _unprocessable("unknown-category", f"No such category: {unknown[0]}")


def _margin_check(session: Session, body: PromotionCreate, currency: str) -> None:
    """Under the refuse policy, a flash price under a SKU's margin floor is refused here (the
    engine caps every discount at the floor in any case; other kinds have no price to judge
    until a cart names one)."""
    if body.kind is not rules.Kind.flash or body.flash_price_minor is None:
        return
    if settings(session).margin_policy is not MarginPolicy.refuse:
        return
    # A warn floor holds here as in the engine: a promotion never sells under it.
    check = floors.check_price(session, body.sku_ids[0], body.flash_price_minor, currency)
    if check.mode is not FloorMode.off and body.flash_price_minor < check.floor_minor:
        raise _unprocessable(
            "below-margin-floor",
            f"SKU {check.code}: a flash price of {body.flash_price_minor:,} {currency} minor "
            f"units is under its floor of {check.floor_minor:,} (set by {check.source})",
            sku=check.code,
            floor_minor=check.floor_minor,
            price_minor=body.flash_price_minor,
        )


def create_promotion(session: Session, body: PromotionCreate) -> Promotion:
    """A promotion in a campaign; a flash sale carves its stock out of the warehouse."""
    campaign = get_campaign(session, body.campaign_id)
    start = local_instant(session, "starts_at", body.starts_at) or campaign.starts_at
    end = local_instant(session, "ends_at", body.ends_at) or campaign.ends_at
    _window(start, end)
    if start < campaign.starts_at or end > campaign.ends_at:
        raise _unprocessable("outside-campaign", "A promotion runs within its campaign's dates")
    tiers = [rules.Tier(t.threshold_minor, t.off_minor) for t in body.tiers]
    if body.kind is rules.Kind.tiered and (why := rules.tiers_valid(tiers)):
        raise _unprocessable("invalid-tiers", why)
    _known_targets(session, body)
    _margin_check(session, body, campaign.currency)
    values = body.model_dump(exclude={"starts_at", "ends_at", "tiers", "sku_ids", "category_ids"})
    promotion = Promotion(
        **values,
        tiers=[t.model_dump() for t in body.tiers],
        sku_ids=[s.hex for s in body.sku_ids],
        category_ids=[c.hex for c in body.category_ids],
        starts_at=start,
        ends_at=end,
        active=True,
        redeemed=0,
        flash_sold=0,
        carve_status=CarveStatus.none,
        carved=0,
    )
    if body.kind is rules.Kind.flash:
        promotion.flash_warehouse_id = _carve(session, body.sku_ids[0], body.flash_stock)
        promotion.carve_status, promotion.carved = CarveStatus.held, body.flash_stock
    session.add(promotion)
    session.flush()
    audit.record(
        session, "promotion.created", f"promotion:{promotion.id}", body.model_dump(mode="json")
    )
    return promotion


def update_promotion(session: Session, promotion_id: uuid.UUID, body: PromotionUpdate) -> Promotion:
    """Rename, reorder or stop a promotion; stopping a flash sale gives back its carve-out."""
    promotion = get_promotion(session, promotion_id)
    for name, value in body.model_dump(exclude_unset=True).items():
        if value is not None:
            setattr(promotion, name, value)
    if not promotion.active:
        release_carve(session, promotion)
    session.flush()
    audit.record(
        session,
        "promotion.updated",
        f"promotion:{promotion.id}",
        body.model_dump(mode="json", exclude_unset=True),
    )
    return promotion


# The carve-out: the flash stock is added to the SKU's safety stock in one warehouse, so the
# warehouse's sellable quantity (what every channel is offered) leaves it to the flash sale;
# each unit sold gives one back (the order's reservation holds it then), and the window's end
# gives back the rest.


def _carve(session: Session, sku_id: uuid.UUID, quantity: int) -> uuid.UUID:
    items, _ = warehouse.find_stock(session, sku_id=sku_id, warehouse_id=None, cursor=None, limit=1)
    stocked = [i for i in items if not i.is_bundle]
    best = max(stocked, key=lambda i: (i.sellable, i.warehouse_id.hex), default=None)
    if best is None or best.sellable < quantity:
        have = best.sellable if best else 0
        raise _unprocessable(
            "insufficient-stock",
            f"A flash sale of {quantity} needs that many sellable in one warehouse "
            f"(at most {have})",
            available=have,
        )
    shift_safety(session, sku_id, best.warehouse_id, quantity)
    return best.warehouse_id


def shift_safety(session: Session, sku_id: uuid.UUID, warehouse_id: uuid.UUID, delta: int) -> None:
    """Add ``delta`` to the SKU's safety stock in the warehouse, through the warehouse."""
    current = warehouse.stock_settings(session)
    kept: list[SkuRuleIn] = []
    found = False
    for rule in current.skus:
        if rule.sku_id == sku_id and rule.warehouse_id == warehouse_id:
            rule = rule.model_copy(update={"safety_stock": max(0, rule.safety_stock + delta)})
            found = True
        kept.append(rule)
    if not found:
        kept.append(SkuRuleIn(sku_id=sku_id, warehouse_id=warehouse_id, safety_stock=max(0, delta)))
    body = StockSettingsIn(default_warehouse_id=current.default_warehouse_id, skus=kept)
    warehouse.set_stock_settings(session, body)


def release_carve(session: Session, promotion: Promotion) -> int:
    """Give back what a flash sale still holds (once); returns the units given back."""
    if promotion.carve_status is not CarveStatus.held:
        return 0
    given = promotion.carved
    if given and promotion.flash_warehouse_id is not None:
        shift_safety(session, uuid.UUID(promotion.sku_ids[0]), promotion.flash_warehouse_id, -given)
    promotion.carved, promotion.carve_status = 0, CarveStatus.released
    audit.record(session, "promotion.flash.released", f"promotion:{promotion.id}", {"units": given})
    return given


def release_ended(session: Session, now: datetime | None = None) -> int:
    """Release every flash sale whose window has ended or which was stopped."""
    return sum(
        release_carve(session, p) for p in repository.flash_to_release(session, now or utcnow())
    )


# --------------------------------------------------------------------------------------------
# Coupons
# --------------------------------------------------------------------------------------------


def _coupon_promotion(session: Session, promotion_id: uuid.UUID) -> Promotion:
    promotion = get_promotion(session, promotion_id)
    if not promotion.requires_coupon:
        raise _unprocessable(
            "not-a-coupon-promotion", "Codes unlock a promotion created with requires_coupon"
        )
    return promotion


def _coupon_values(session: Session, body: CouponCreate | CouponBulkCreate) -> dict[str, Any]:
    start = local_instant(session, "starts_at", body.starts_at)
    end = local_instant(session, "ends_at", body.ends_at)
    _window(start, end)
    values = body.model_dump(
        include={"promotion_id", "total_limit", "per_buyer_limit", "min_order_minor"}
    )
    return {**values, "starts_at": start, "ends_at": end, "active": True, "redeemed": 0}


def create_coupon(session: Session, body: CouponCreate) -> Coupon:
    """One code (unique in the tenant without regard to case: 409)."""
    _coupon_promotion(session, body.promotion_id)
    code = body.code.upper()
    if repository.codes_taken(session, [code]):
        raise Problem(409, "code-taken", f"The code {code} exists")
    coupon = Coupon(code=code, batch=None, **_coupon_values(session, body))
    session.add(coupon)
    try:
        with session.begin_nested():
            session.flush()
    except IntegrityError as exc:
        raise Problem(409, "code-taken", f"The code {code} exists") from exc
    audit.record(session, "coupon.created", f"coupon:{coupon.id}", {"code": code})
    return coupon


def generate_coupons(session: Session, body: CouponBulkCreate) -> CouponBatchRead:
    """``count`` random codes ``PREFIX-XXXXXXXX`` for the promotion, as one batch."""
    _coupon_promotion(session, body.promotion_id)
    values = _coupon_values(session, body)
    batch = f"{body.prefix.upper()}-{uuid.uuid4().hex[:8]}"
    codes: list[str] = []
    while len(codes) < body.count:
        wanted = body.count - len(codes)
        fresh = rules.generate_codes(body.prefix.upper(), wanted, secrets.token_bytes(8 * wanted))
        fresh = [c for c in dict.fromkeys(fresh) if c not in codes]
        taken = repository.codes_taken(session, fresh)
        codes.extend(c for c in fresh if c not in taken)
    session.add_all(Coupon(code=code, batch=batch, **values) for code in codes)
    session.flush()
    audit.record(
        session,
        "coupon.generated",
        f"promotion:{body.promotion_id}",
        {"batch": batch, "count": len(codes)},
    )
    return CouponBatchRead(batch=batch, promotion_id=body.promotion_id, codes=codes)


def find_coupons(
    session: Session,
    promotion_id: uuid.UUID | None,
    batch: str | None,
    cursor: str | None,
    limit: int,
) -> tuple[list[Coupon], str | None]:
    return paginate(session, repository.coupons(promotion_id, batch), Coupon.id, cursor, limit)


def coupon_refusal(
    coupon: Coupon, promotion: Promotion, at: datetime, buyer_uses: int, subtotal: int | None
) -> str | None:
    """Why a code cannot be used now (None: it can)."""
    if not coupon.active or not promotion.active:
        return "the code is no longer active"
    if (coupon.starts_at and at < coupon.starts_at) or at < promotion.starts_at:
        return "the code is not valid yet"
    if (coupon.ends_at and at >= coupon.ends_at) or at >= promotion.ends_at:
        return "the code has expired"
    if coupon.total_limit is not None and coupon.redeemed >= coupon.total_limit:
        return "the code has been used up"
    if coupon.per_buyer_limit is not None and buyer_uses >= coupon.per_buyer_limit:
        return "this buyer has used the code as often as allowed"
    if subtotal is not None and subtotal < coupon.min_order_minor:
        return f"the order is under the code's minimum of {coupon.min_order_minor:,}"
    return None


def lookup_coupon(session: Session, code: str, buyer: str | None) -> CouponLookup:
    coupon = repository.coupons_by_code(session, [code]).get(code.upper())
    if coupon is None:
        raise _not_found("code")
    promotion = get_promotion(session, coupon.promotion_id)
    uses = (
        repository.buyer_coupon_uses(session, buyer, [coupon.id]).get(coupon.id, 0) if buyer else 0
    )
    reason = coupon_refusal(coupon, promotion, utcnow(), uses, None)
    return CouponLookup(
        coupon=CouponRead.model_validate(coupon),
        promotion_name=promotion.name,
        usable=reason is None,
        reason=reason,
    )
