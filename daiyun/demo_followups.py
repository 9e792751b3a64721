"""The demo's follow-ups (回访), seeded by :func:`daiyun.demo.seed` after the after-sales cases:
for each demo merchant a few orders its marketplace reports delivered a week or two ago (one of
them high value, so a call), the follow-ups the merchant's rules make of them, and some of those
already done with what the buyer said, so the console's follow-up queue has open, overdue and
done ones to show.

Idempotent as the rest of the demo: a merchant that has any follow-up is left alone.
"""

from __future__ import annotations

from datetime import timedelta

from daiyun.connectors import service as shop_service
from daiyun.core.db import unit_of_work
from daiyun.core.ids import utcnow
from daiyun.platform.aftersales import followups
from daiyun.platform.aftersales.schemas import FollowupComplete, Outcome
from daiyun.platform.orders import service as order_service
from daiyun.platform.orders.normalized import Address, NormalizedLine, NormalizedOrder, OrderStatus
from daiyun.tenants.models import Tenant

# (buyer, days since delivery, total in minor units, what the buyer said; None: still open)
DELIVERED = (
    ("周婷", 13, 4_900, None),  # overdue by now
    ("吴磊", 9, 3_200, None),
    ("郑洁", 10, 180_000, None),  # high value: a call
    ("王芳", 11, 2_600, (Outcome.satisfied, "很满意，茶叶新鲜")),
    ("李强", 12, 6_800, (Outcome.repurchase_intent, "Wants the spring harvest when it is in")),
    ("黄丽", 9, 3_900, (Outcome.no_answer, None)),
)


def _order(n: int, currency: str, buyer: str, days: int, cents: int) -> NormalizedOrder:
    at = utcnow() - timedelta(days=days)
    number = f"DEMO-FU-{n + 1:03d}"
    phone = f"+86139{n:08d}"
    return NormalizedOrder(
        external_id=number,
        status=OrderStatus.delivered,
        channel_status="delivered",
        currency=currency,
        total_minor=cents,
        subtotal_minor=cents,
        placed_at=at - timedelta(days=3),
        paid_at=at - timedelta(days=3),
        source_updated_at=at,
        buyer_name=buyer,
        buyer_phone=phone,
        shipping_address=Address(
            name=buyer,
            phone=phone,
            country="CN",
            province="浙江省",
            city="杭州市",
            district="西湖区",
            address1=f"文二路 {200 + n} 号",
            postal_code="310012",
        ),
        lines=[NormalizedLine(f"{number}-1", "DEMO-TEA", "Longjing tea 250 g", 1, cents)],
        raw={"id": number},
    )


def ensure_followups(tenant: Tenant) -> list[str]:
    """The merchant's delivered orders and their follow-ups, some done; what was created."""
    with unit_of_work(tenant.id) as session:
        if followups.find(session, followups.Filters(), None, 1)[0]:
            return []
        shops = shop_service.shops(session)
        if not shops:
            return []
        currency = tenant.default_currency
        incoming = [_order(n, currency, *spec[:3]) for n, spec in enumerate(DELIVERED)]
        ingested = order_service.ingest(session, shops[0].id, shops[0].channel, incoming)
        made = followups.generate(session)
        said = {order.id: spec[3] for (_, order), spec in zip(ingested, DELIVERED, strict=True)}
        for row in followups.queue(session, None):
            answer = said.get(row.order_id)
            if answer is not None:
                outcome, note = answer
                body = FollowupComplete(outcome=outcome, note=note)
                followups.complete(session, row.id, row.assignee_id, body)
    return [f"{made} follow-ups -> {tenant.slug}"] if made else []
