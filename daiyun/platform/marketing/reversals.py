"""Redemptions given back: an order cancelled or fully refunded returns what it used.

A cancelled order did not really use its coupon, its place in a limited promotion, the buyer's
allowance or the campaign's budget; keeping them counted would refuse the next buyer and show a
discount cost nobody paid. Each of the order's standing redemptions gets a reversal row (both
tables append-only: the history shows the use and its return) and the counters move back under
the same lock that moved them forward, so a reversal racing a redemption never miscounts, and a
second reversal (a redelivered event) finds nothing standing and changes nothing.

A partial refund keeps the redemption: the buyer kept part of the order at the promotion's terms.
"""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy.orm import Session

from daiyun.core.ids import utcnow
from daiyun.platform.marketing import repository, service
from daiyun.platform.marketing.models import CarveStatus, Redemption, RedemptionReversal
from daiyun.platform.orders import service as order_service
from daiyun.platform.orders.normalized import OrderStatus

CALLED_OFF = (OrderStatus.cancelled, OrderStatus.refunded)


def reverse_order(session: Session, order_id: uuid.UUID, now: datetime | None = None) -> int:
    """Give back the redemptions of an order that was called off. Returns how many."""
    order = order_service.get_order(session, order_id)
    if order is None or order.status not in CALLED_OFF:
        return 0
    standing = repository.standing_of_order(session, order_id)
    if not standing:
        return 0
    repository.lock(
        session,
        {r.campaign_id for r in standing},
        {r.promotion_id for r in standing},
        {r.coupon_id for r in standing if r.coupon_id is not None},
    )
    # Read again under the lock: a concurrent reversal may have given them back meanwhile.
    standing = repository.standing_of_order(session, order_id)
    at = now or utcnow()
    debited: set[uuid.UUID] = set()  # the order's GMV was credited once per campaign
    for row in standing:
        _give_back(session, row, at, row.campaign_id not in debited)
        debited.add(row.campaign_id)
    session.flush()
    return len(standing)


def _give_back(session: Session, row: Redemption, at: datetime, debit_gmv: bool) -> None:
    """The counters ``pricing._count`` moved, moved back; flash units sold go back into the
    carve-out while the sale still holds it (after the window they are the warehouse's)."""
    promotion = service.get_promotion(session, row.promotion_id)
    campaign = service.get_campaign(session, row.campaign_id)
    promotion.redeemed = max(0, promotion.redeemed - 1)
    if row.coupon_id is not None:
        coupon = repository.get_coupon(session, row.coupon_id)
        coupon.redeemed = max(0, coupon.redeemed - 1)
    campaign.discount_cost_minor -= row.discount_minor
    campaign.redemptions = max(0, campaign.redemptions - 1)
    if debit_gmv:
        campaign.attributed_gmv_minor -= row.order_total_minor
    if row.units:
        promotion.flash_sold = max(0, promotion.flash_sold - row.units)
        live = promotion.active and promotion.ends_at > at
        if promotion.carve_status is CarveStatus.held and live:
            promotion.carved += row.units
            if promotion.flash_warehouse_id is not None:
                service.shift_safety(
                    session,
                    uuid.UUID(promotion.sku_ids[0]),
                    promotion.flash_warehouse_id,
                    row.units,
                )
    session.add(RedemptionReversal(redemption_id=row.id, order_id=row.order_id, at=at))
