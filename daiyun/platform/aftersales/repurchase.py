"""The repurchase report (复购): of the follow-ups completed in a period, per outcome, how many
buyers ordered again within a window after the call. What the follow-up desk is for: a visit
that finds a buyer satisfied or interested should be followed by orders, and the outcomes show
which calls bring buyers back.

A buyer is recognised by the e-mail on the order followed (marketplaces that mask it leave the
buyer unidentified: counted as followed, never as repurchased, and the rate is over the
identified). Days are the merchant's, in its time zone.
"""

from __future__ import annotations

from datetime import date, timedelta

from sqlalchemy.orm import Session

from daiyun.core import periods
from daiyun.platform.aftersales import repository, rules
from daiyun.platform.aftersales.schemas import RepurchaseReport, RepurchaseRow
from daiyun.platform.orders import buyers
from daiyun.tenants import service as tenant_service


def report(session: Session, first: date, last: date, within_days: int) -> RepurchaseReport:
    start, end = periods.bounds(first, last, tenant_service.time_zone(session))
    within = timedelta(days=within_days)
    done = repository.done_between(session, start, end)
    emails = buyers.buyer_emails(session, {order_id for _, order_id, _ in done})
    later = buyers.orders_of(session, set(emails.values()), start, end + within)
    rows = rules.repurchases(
        ((outcome, emails.get(order_id), at) for outcome, order_id, at in done), later, within
    )
    return RepurchaseReport(
        first=first,
        last=last,
        within_days=within_days,
        rows=[
            RepurchaseRow(
                outcome=r.outcome,
                followed=r.followed,
                identified=r.identified,
                repurchased=r.repurchased,
                rate=round(r.repurchased / r.identified, 4) if r.identified else None,
            )
            for r in rows
        ],
    )
