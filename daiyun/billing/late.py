"""Late orders: orders that arrive, or become billable, after their month was finalized.

They are billed as adjustment lines of the next statement (BILLING.md 5). Finding them by
scanning every closed month's orders costs a scan of the tenant's order book per month (there is
no index on the payment date), on every statement. Instead the order book's events name the
candidates as they happen (:func:`note`, subscribed in :mod:`daiyun.billing.tasks`), and a
statement looks up only those (``Selection.late``).

An order is a candidate when, by either of its dates (placed, paid) and in any time zone of the
contract's versions, its month is before the current month or has a live statement (draft or
finalized). The first catches the usual late order; the second the order that arrives while a
month is being finalized: a finalize works on a draft committed before it, so once the order
is committed (before its event is handled) the draft is there to be seen. An order already
billed, of a status or currency no version bills (a foreign currency is billed by a
version that converts foreign sales), or of a tenant without a contract is not a
candidate (an event that makes it billable later records it then). Recording too many is
harmless: the statement's own filters apply to candidates as to any order.

Candidates are dropped once billed, or once older than :data:`LATE_FACT_MONTHS`; a voided
statement's adjusted orders become candidates again, as their facts are released.
"""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta

from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from daiyun.billing import repository
from daiyun.billing.facts import Period
from daiyun.billing.models import LateOrder, Statement
from daiyun.billing.terms import ContractTerms, ForeignSales
from daiyun.core.ids import utcnow
from daiyun.platform.orders import service as order_service

# How far back late facts are looked for: finalized periods older than this stay as they are.
LATE_FACT_MONTHS = 12


def note(session: Session, order_id: uuid.UUID) -> None:
    """Record (or forget) an order as a late-order candidate after an event about it. The
    order is read as it is now: events may be handled late and out of order."""
    contract = repository.contract(session)
    order = order_service.get_order(session, order_id)
    if contract is None or order is None:
        return
    versions = [ContractTerms.model_validate(v.terms) for v in contract.versions]
    found = repository.late_order(session, order_id)
    billable = any(
        order.status in terms.base.statuses
        and (order.currency == terms.currency or terms.foreign_sales != ForeignSales.exclude)
        for terms in versions
    )
    if not billable or repository.is_billed(session, order_id):
        if found is not None:
            session.delete(found)
        return
    dates = {order.placed_at, order.paid_at or order.placed_at}
    now = utcnow()
    live = {Period.parse(text) for text in repository.live_periods(session)}
    zones = {terms.time_zone for terms in versions}
    if not any(
        Period.containing(at, zone) < Period.containing(now, zone)
        or Period.containing(at, zone) in live
        for at in dates
        for zone in zones
    ):
        return
    earliest = min(dates)
    if found is not None:
        found.at = earliest
        return
    try:
        with session.begin_nested():  # the same order's events handled at once elsewhere
            session.add(LateOrder(order_id=order_id, at=earliest))
            session.flush()
    except IntegrityError:
        pass


def billed(session: Session, statement: Statement) -> None:
    """A statement was finalized: forget what it billed, and candidates too old to adjust."""
    oldest = Period.parse(statement.period)
    for _ in range(LATE_FACT_MONTHS + 1):
        oldest = oldest.previous()
    # A day's margin for the time zone the month is read in.
    repository.drop_late_orders(session, statement.id, _midnight(oldest) - timedelta(days=1))


def released(session: Session, statement: Statement) -> None:
    """A statement is being voided: the orders it billed as adjustments of closed periods are
    late again (its own period's orders are found again when that period is billed)."""
    for order_id in repository.adjusted_orders(session, statement.id, statement.period):
        if repository.late_order(session, order_id) is None:
            session.add(LateOrder(order_id=order_id, at=_midnight(Period.parse(statement.period))))
    session.flush()


def _midnight(period: Period) -> datetime:
    return period.bounds("UTC")[0]
