"""A buyer's history in the order book, for the departments that judge or count buyers by it
(after-sales' trusted buyers, the repurchase report). A buyer is recognised by the e-mail on
their orders: marketplaces that mask it leave the buyer unknown, and callers say what that
means for them. Queries go in batches (bind-parameter limits) over the ``(tenant, e-mail)``
index.
"""

from __future__ import annotations

import uuid
from collections.abc import Collection, Sequence
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from daiyun.platform.orders.models import Order
from daiyun.platform.orders.normalized import NOT_PAID

BATCH = 500  # ids or e-mails per query


def earlier_orders(session: Session, order: Order, limit: int) -> list[uuid.UUID] | None:
    """The buyer's earlier paid orders here, by the order's e-mail (None: the order names no
    e-mail, so its buyer cannot be recognised)."""
    if not order.buyer_email:
        return None
    return _paid_orders_before(session, order.buyer_email, order.placed_at, limit)


def buyer_emails(session: Session, order_ids: Collection[uuid.UUID]) -> dict[uuid.UUID, str]:
    """The e-mail of each of these orders' buyers (orders without one are left out)."""
    ids = sorted(order_ids)
    found: dict[uuid.UUID, str] = {}
    for i in range(0, len(ids), BATCH):
        found |= _emails(session, ids[i : i + BATCH])
    return found


def orders_of(
    session: Session, emails: Collection[str], start: datetime, end: datetime
) -> dict[str, list[datetime]]:
    """When each of these buyers (by e-mail) placed paid orders in [start, end), in order."""
    wanted = sorted(emails)
    found: dict[str, list[datetime]] = {}
    for i in range(0, len(wanted), BATCH):
        for email, placed in _placed(session, wanted[i : i + BATCH], start, end):
            found.setdefault(email, []).append(placed)
    return {email: sorted(times) for email, times in found.items()}


def _paid_orders_before(
    session: Session, email: str, before: datetime, limit: int
) -> list[uuid.UUID]:
    """Ids of the bound tenant's paid orders by the buyer with ``email`` placed before
    ``before`` (at most ``limit``: callers ask whether there are enough)."""
    stmt = (
        select(Order.id)
        .where(
            Order.buyer_email == email,
            Order.placed_at < before,
            Order.status.not_in(list(NOT_PAID)),
        )
        .order_by(Order.placed_at.desc())
        .limit(limit)
    )
    return list(session.scalars(stmt))


def _emails(session: Session, order_ids: Sequence[uuid.UUID]) -> dict[uuid.UUID, str]:
    stmt = select(Order.id, Order.buyer_email).where(
        Order.id.in_(list(order_ids)), Order.buyer_email.is_not(None)
    )
    return {row[0]: row[1] for row in session.execute(stmt) if row[1] is not None}


def _placed(
    session: Session, emails: Sequence[str], start: datetime, end: datetime
) -> list[tuple[str, datetime]]:
    """(e-mail, placed at) of the paid orders these buyers placed in [start, end)."""
    stmt = select(Order.buyer_email, Order.placed_at).where(
        Order.buyer_email.in_(list(emails)),
        Order.placed_at >= start,
        Order.placed_at < end,
        Order.status.not_in(list(NOT_PAID)),
    )
    return [(row[0], row[1]) for row in session.execute(stmt) if row[0] is not None]
