"""Pricing carts and recording redemptions: the service side of the engine in ``rules``.

A quote reads the live promotions, the codes, the buyer's past uses, each SKU's categories and
margin floor, and hands them to :func:`rules.price`. A redemption does the same under the lock
(campaigns, promotions, coupons, in that order), so what it counts is what it writes over:
concurrent orders never take a coupon, a budget, a buyer's allowance or a flash sale's stock
past its limit. Orders coming in are attributed by the codes the marketplace reports and the
flash-sale SKUs they bought, once per order.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy.orm import Session

from daiyun.core.db import take_write_lock
from daiyun.core.errors import Problem
from daiyun.core.ids import utcnow
from daiyun.core.pagination import paginate
from daiyun.platform.marketing import repository, rules, service
from daiyun.platform.marketing.models import (
    Campaign,
    Coupon,
    Promotion,
    Redemption,
    RedemptionSource,
)
from daiyun.platform.marketing.schemas import (
    CartIn,
    CouponVerdict,
    DiscountRead,
    PricedLineRead,
    QuoteRead,
    RedemptionIn,
    RedemptionRead,
    RedemptionResult,
    SkippedRead,
)
from daiyun.platform.orders import service as order_service
from daiyun.platform.orders.normalized import NOT_PAID
from daiyun.platform.storefront import floors
from daiyun.platform.storefront import service as catalog
from daiyun.platform.storefront.rules import FloorMode


@dataclass
class Priced:
    quote: rules.Quote
    currency: str
    promotions: dict[uuid.UUID, Promotion]
    campaigns: dict[uuid.UUID, Campaign]
    unlocked: dict[uuid.UUID, Coupon]  # promotion id → the code that unlocked it
    verdicts: list[CouponVerdict] = field(default_factory=list)

    def read(self) -> QuoteRead:
        q = self.quote
        return QuoteRead(
            currency=self.currency,
            lines=[
                PricedLineRead(
                    sku_id=line.sku_id,
                    quantity=line.quantity,
                    unit_price_minor=line.unit_price_minor,
                    subtotal_minor=line.subtotal_minor,
                    discount_minor=line.discount_minor,
                    total_minor=line.total_minor,
                    floor_minor=line.floor_minor,
                )
                for line in q.lines
            ],
            subtotal_minor=q.subtotal_minor,
            discount_minor=q.discount_minor,
            shipping_minor=q.shipping_minor,
            shipping_discount_minor=q.shipping_discount_minor,
            total_minor=q.total_minor,
            discounts=[
                DiscountRead(
                    promotion_id=a.offer_id,
                    name=a.name,
                    kind=a.kind,
                    amount_minor=a.amount_minor,
                    explanation=a.explanation,
                    capped_by=a.capped_by,
                    coupon=a.coupon,
                    allocations=a.allocations,
                )
                for a in q.applied
            ],
            skipped=[
                SkippedRead(promotion_id=s.offer_id, name=s.name, reason=s.reason)
                for s in q.skipped
            ],
            coupons=self.verdicts,
        )


def _lines(session: Session, cart: CartIn) -> list[rules.Line]:
    """The cart's lines with each SKU's categories (its product's and their ancestors) and the
    lowest unit price its margin floor allows (none when the floor is off)."""
    parents = {c.id: c.parent_id for c in catalog.category_tree(session).items}
    known: dict[uuid.UUID, tuple[frozenset[uuid.UUID], int]] = {}
    lines = []
    for n, line in enumerate(cart.lines):
        if line.sku_id not in known:
            sku = catalog.get_sku(session, line.sku_id)
            chain: set[uuid.UUID] = set()
            category = catalog.get_product(session, sku.product_id).category_id
            while category is not None and category not in chain:
                chain.add(category)
                category = parents.get(category)
            check = floors.check_price(session, sku.id, line.unit_price_minor, cart.currency)
            floor = 0 if check.mode is FloorMode.off else check.floor_minor
            known[line.sku_id] = (frozenset(chain), floor)
        categories, floor = known[line.sku_id]
        lines.append(
            rules.Line(str(n), line.sku_id, line.quantity, line.unit_price_minor, categories, floor)
        )
    return lines


def _offer(promotion: Promotion, coupon: Coupon | None, flash_units: int) -> rules.Offer:
    return rules.Offer(
        id=promotion.id,
        name=promotion.name,
        kind=promotion.kind,
        value_type=promotion.value_type,
        value=promotion.value,
        tiers=tuple(rules.Tier(t["threshold_minor"], t["off_minor"]) for t in promotion.tiers),
        cap_minor=promotion.cap_minor,
        sku_ids=frozenset(uuid.UUID(s) for s in promotion.sku_ids),
        category_ids=frozenset(uuid.UUID(c) for c in promotion.category_ids),
        min_order_minor=max(promotion.min_order_minor, coupon.min_order_minor if coupon else 0),
        buy_quantity=promotion.buy_quantity,
        get_quantity=promotion.get_quantity,
        flash_price_minor=promotion.flash_price_minor or 0,
        flash_units=flash_units,
        stacking=promotion.stacking,
        priority=promotion.priority,
        campaign_id=promotion.campaign_id,
        coupon=coupon.code if coupon else None,
    )


def price_cart(session: Session, cart: CartIn, at: datetime) -> Priced:
    """Price ``cart`` as of ``at`` under the live promotions in its currency."""
    lines = _lines(session, cart)
    live = repository.live_promotions(session, at)
    campaigns = repository.campaigns_by_id(session, {p.campaign_id for p in live})
    live = [p for p in live if campaigns[p.campaign_id].currency == cart.currency]
    promotions = {p.id: p for p in live}
    codes = list(dict.fromkeys(c.upper() for c in cart.coupon_codes))
    coupons = repository.coupons_by_code(session, codes)
    buyer_uses = repository.buyer_uses(session, cart.buyer, promotions) if cart.buyer else {}
    coupon_uses = (
        repository.buyer_coupon_uses(session, cart.buyer, [c.id for c in coupons.values()])
        if cart.buyer
        else {}
    )
    subtotal = sum(line.subtotal_minor for line in lines)
    verdicts: list[CouponVerdict] = []
    unlocked: dict[uuid.UUID, Coupon] = {}
    for code in codes:
        coupon = coupons.get(code)
        reason: str | None = "no such code"
        if coupon is not None:
            promotion = promotions.get(coupon.promotion_id) or service.get_promotion(
                session, coupon.promotion_id
            )
            reason = service.coupon_refusal(
                coupon, promotion, at, coupon_uses.get(coupon.id, 0), subtotal
            )
            if reason is None and promotion.id not in promotions:
                reason = f"the code's promotion is not in {cart.currency}"
            if reason is None and promotion.id in unlocked:
                reason = "another code for the same promotion is in the cart"
            if reason is None:
                unlocked[promotion.id] = coupon
        verdicts.append(CouponVerdict(code=code, accepted=reason is None, reason=reason))
    offers: list[rules.Offer] = []
    early: list[rules.Skipped] = []
    for promotion in live:
        if promotion.requires_coupon and promotion.id not in unlocked:
            continue
        used, bought = buyer_uses.get(promotion.id, (0, 0))
        units = 0
        why = None
        if promotion.total_limit is not None and promotion.redeemed >= promotion.total_limit:
            why = "used as often as allowed"
        elif promotion.kind is rules.Kind.flash:
            left = promotion.flash_stock - promotion.flash_sold
            units = rules.flash_allowance(left, promotion.per_buyer_limit, bought)
            if units == 0:
                why = "sold out" if left <= 0 else "this buyer has had the flash units allowed"
        elif promotion.per_buyer_limit is not None and used >= promotion.per_buyer_limit:
            why = "this buyer has used it as often as allowed"
        if why:
            early.append(rules.Skipped(promotion.id, promotion.name, why))
            continue
        offers.append(_offer(promotion, unlocked.get(promotion.id), units))
    budgets = {c.id: max(0, c.budget_minor - c.discount_cost_minor) for c in campaigns.values()}
    quote = rules.price(lines, offers, cart.shipping_minor, budgets)
    quote.skipped[:0] = early
    # An accepted code whose promotion then gave nothing is reported with the reason.
    applied = {a.offer_id for a in quote.applied}
    skipped = {s.offer_id: s.reason for s in quote.skipped}
    for n, verdict in enumerate(verdicts):
        coupon = coupons.get(verdict.code)
        if verdict.accepted and coupon is not None and coupon.promotion_id not in applied:
            reason = skipped.get(coupon.promotion_id, "its promotion gave no discount")
            verdicts[n] = CouponVerdict(code=verdict.code, accepted=False, reason=reason)
    return Priced(quote, cart.currency, promotions, campaigns, unlocked, verdicts)


def quote(session: Session, cart: CartIn) -> QuoteRead:
    at = service.local_instant(session, "at", cart.at) or utcnow()
    return price_cart(session, cart, at).read()


def _lock_for(session: Session, at: datetime, codes: list[str]) -> None:
    live = repository.live_promotions(session, at)
    coupons = repository.coupons_by_code(session, codes)
    repository.lock(
        session,
        {p.campaign_id for p in live},
        {p.id for p in live} | {c.promotion_id for c in coupons.values()},
        {c.id for c in coupons.values()},
    )


def redemption_reads(session: Session, rows: list[Redemption]) -> list[RedemptionRead]:
    """The rows as read, each with when it was given back (its order called off), if it was."""
    given_back = repository.reversed_at(session, [r.id for r in rows])
    return [
        RedemptionRead.model_validate(r).model_copy(update={"reversed_at": given_back.get(r.id)})
        for r in rows
    ]


def redeem(session: Session, body: RedemptionIn) -> tuple[RedemptionResult, bool]:
    """Record the promotions a cart (an order) uses, under the lock; the same key again returns
    what was recorded (False: nothing new). A code that cannot be honoured refuses the whole
    redemption (409 naming the code and why)."""
    take_write_lock(session)  # before any read (SQLite): see core.db
    at = service.local_instant(session, "at", body.at) or utcnow()
    _lock_for(session, at, [c.upper() for c in body.coupon_codes])
    done = repository.with_key(session, body.key)
    if done:
        return RedemptionResult(quote=None, redemptions=redemption_reads(session, done)), False
    priced = price_cart(session, body, at)
    refused = [v for v in priced.verdicts if not v.accepted]
    if refused:
        raise Problem(
            409,
            "coupon-refused",
            f"The code {refused[0].code} cannot be used: {refused[0].reason}",
            code=refused[0].code,
        )
    rows = _record(
        session, priced, body.key, body.buyer, None, RedemptionSource.api, priced.quote.total_minor
    )
    return RedemptionResult(quote=priced.read(), redemptions=redemption_reads(session, rows)), True


def _count(
    session: Session,
    promotion: Promotion,
    campaign: Campaign,
    coupon: Coupon | None,
    discount: int,
    units: int,
) -> None:
    """Move the counters a redemption changes (under the lock) and give flash units back to
    the warehouse's sellable stock as the orders take them."""
    promotion.redeemed += 1
    if coupon is not None:
        coupon.redeemed += 1
    campaign.discount_cost_minor += discount
    campaign.redemptions += 1
    if units:
        promotion.flash_sold += units
        give = min(units, promotion.carved)
        if give and promotion.flash_warehouse_id is not None:
            promotion.carved -= give
            service.shift_safety(
                session, uuid.UUID(promotion.sku_ids[0]), promotion.flash_warehouse_id, -give
            )


def _record(
    session: Session,
    priced: Priced,
    key: str,
    buyer: str,
    order_id: uuid.UUID | None,
    source: RedemptionSource,
    order_total: int,
) -> list[Redemption]:
    rows: list[Redemption] = []
    credited: set[uuid.UUID] = set()
    for applied in priced.quote.applied:
        promotion = priced.promotions[applied.offer_id]
        campaign = priced.campaigns[promotion.campaign_id]
        coupon = priced.unlocked.get(promotion.id)
        units = sum(applied.units.values())
        row = Redemption(
            key=key,
            promotion_id=promotion.id,
            campaign_id=campaign.id,
            coupon_id=coupon.id if coupon else None,
            order_id=order_id,
            buyer=buyer,
            source=source,
            currency=priced.currency,
            discount_minor=applied.amount_minor,
            order_total_minor=order_total,
            units=units,
            explanation=applied.explanation[:500],
        )
        session.add(row)
        rows.append(row)
        _count(session, promotion, campaign, coupon, applied.amount_minor, units)
        if campaign.id not in credited:  # an order's GMV counts once per campaign
            campaign.attributed_gmv_minor += order_total
            credited.add(campaign.id)
    session.flush()
    return rows


def find_redemptions(
    session: Session,
    promotion_id: uuid.UUID | None,
    order_id: uuid.UUID | None,
    cursor: str | None,
    limit: int,
) -> tuple[list[Redemption], str | None]:
    stmt = repository.redemptions(promotion_id=promotion_id, order_id=order_id)
    return paginate(session, stmt, Redemption.id, cursor, limit)


# --------------------------------------------------------------------------------------------
# Attribution of incoming orders
# --------------------------------------------------------------------------------------------


def attribute_order(session: Session, order_id: uuid.UUID) -> int:
    """Record the coupons and flash sales an incoming order used, once (the key is the order):
    the codes its marketplace reports and the flash-sale SKUs it bought at the flash price
    while the sale ran. The marketplace already sold at these terms, so nothing is refused; the
    counters move under the lock all the same. Returns the redemptions recorded."""
    take_write_lock(session)
    order = order_service.get_order(session, order_id)
    if order is None or order.status in NOT_PAID:
        return 0
    codes = rules.codes_reported(order.raw or {})
    coupons = repository.coupons_by_code(session, codes)
    live = repository.live_promotions(session, order.placed_at)
    flash = {
        catalog.get_sku(session, uuid.UUID(p.sku_ids[0])).code: p
        for p in live
        if p.kind is rules.Kind.flash
    }
    bought = [line for line in order.lines if line.sku in flash]
    if not coupons and not bought:
        return 0
    key = f"order:{order.id.hex}"
    repository.lock(
        session,
        {p.campaign_id for p in live},
        {p.id for p in live} | {c.promotion_id for c in coupons.values()},
        {c.id for c in coupons.values()},
    )
    if repository.with_key(session, key):
        return 0
    buyer = order.buyer_email or f"{order.channel}:{order.external_id}"
    credited: set[uuid.UUID] = set()  # an order's GMV counts once per campaign

    def attributed(
        promotion: Promotion, coupon: Coupon | None, discount: int, units: int, text: str
    ) -> None:
        campaign = service.get_campaign(session, promotion.campaign_id)
        session.add(
            Redemption(
                key=key,
                promotion_id=promotion.id,
                campaign_id=campaign.id,
                coupon_id=coupon.id if coupon else None,
                order_id=order.id,
                buyer=buyer,
                source=RedemptionSource.order,
                currency=order.currency,
                discount_minor=discount,
                order_total_minor=order.total_minor,
                units=units,
                explanation=f"attributed from the order: {text}"[:500],
            )
        )
        _count(session, promotion, campaign, coupon, discount, units)
        if campaign.id not in credited:
            campaign.attributed_gmv_minor += order.total_minor
            credited.add(campaign.id)

    recorded = 0
    # The order's discount is shared evenly among the codes it reports (the remainder to the
    # first ones in code order); two codes of one promotion count as one use of the first.
    first = {c.promotion_id: code for code, c in sorted(coupons.items(), reverse=True)}
    used = {code: coupons[code] for code in sorted(first.values())}
    share, extra = divmod(order.discount_minor, max(1, len(used)))
    for n, (code, coupon) in enumerate(used.items()):
        promotion = service.get_promotion(session, coupon.promotion_id)
        attributed(promotion, coupon, share + (1 if n < extra else 0), 0, f"code {code}")
        recorded += 1
    units_by_sku: dict[str, tuple[int, int]] = {}
    for line in bought:
        promotion = flash[line.sku]
        if line.unit_price_minor > (promotion.flash_price_minor or 0):
            continue  # sold at the list price: not the flash sale's
        units, discount = units_by_sku.get(line.sku, (0, 0))
        units_by_sku[line.sku] = (units + line.quantity, discount + line.discount_minor)
    for sku, (quantity, discount) in sorted(units_by_sku.items()):
        promotion = flash[sku]
        units = min(quantity, max(0, promotion.flash_stock - promotion.flash_sold))
        if units and promotion.id not in {c.promotion_id for c in coupons.values()}:
            attributed(
                promotion, None, discount, units, f"flash price for {units} unit(s) of {sku}"
            )
            recorded += 1
    session.flush()
    return recorded
