"""The order book's service: orders come in through ``ingest``; staff release or cancel held
orders and set the review rules; other departments and the portal read orders here.
"""

from __future__ import annotations

import base64
import json
import uuid
from collections import defaultdict
from collections.abc import Iterable, Iterator, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Select
from sqlalchemy.orm import Session

from daiyun.core.audit import service as audit
from daiyun.core.errors import Problem
from daiyun.core.events.service import emit
from daiyun.core.pagination import paginate
from daiyun.core.tenancy import TenantContextMissing, current_tenant
from daiyun.platform.orders import repository, rules
from daiyun.platform.orders.ingest import Ingested, Outcome, history, ingest, payload
from daiyun.platform.orders.models import Order, OrderRefund, ReviewPolicy, ReviewState
from daiyun.platform.orders.normalized import OrderStatus
from daiyun.platform.orders.schemas import OrderDetail

__all__ = ["Ingested", "OrderSort", "Outcome", "ingest"]

# --------------------------------------------------------------------------------------------
# Review decisions by staff
# --------------------------------------------------------------------------------------------


def _held(session: Session, order_id: uuid.UUID) -> Order:
    order = repository.get(session, order_id, lock=True)
    if order is None:
        raise Problem(404, "not-found", "No such order")
    if order.review_state != ReviewState.held:
        raise Problem(409, "not-on-hold", f"The order is not on hold (it is {order.status.value})")
    return order


def release(session: Session, order_id: uuid.UUID, user_id: uuid.UUID, note: str | None) -> Order:
    """Accept a held order: it takes the channel's current status."""
    order = _held(session, order_id)
    order.review_state = ReviewState.released
    order.status = order.source_status
    history(session, order, "released", {"note": note}, actor=user_id)
    audit.record(session, "order.released", f"order:{order.id}", {"note": note})
    emit(session, "order.updated", payload(order))
    session.flush()
    return order


def cancel(session: Session, order_id: uuid.UUID, user_id: uuid.UUID, reason: str) -> Order:
    """Refuse a held order. The channel is not told: staff cancel it there too."""
    order = _held(session, order_id)
    order.review_state = ReviewState.cancelled
    order.status = OrderStatus.cancelled
    history(session, order, "cancelled", {"reason": reason}, actor=user_id)
    audit.record(session, "order.cancelled", f"order:{order.id}", {"reason": reason})
    emit(session, "order.cancelled", payload(order))
    session.flush()
    return order


def review_settings(session: Session) -> rules.ReviewSettings:
    stored = repository.policy(session)
    return rules.ReviewSettings.from_stored(stored.settings if stored else {})


def update_review_settings(
    session: Session, settings: rules.ReviewSettings
) -> rules.ReviewSettings:
    """Replace the tenant's review rules (applies to orders imported from now on)."""
    stored = repository.policy(session)
    if stored is None:
        stored = ReviewPolicy()
        session.add(stored)
    before = stored.settings
    stored.settings = settings.model_dump(mode="json")
    audit.record(session, "review_policy.updated", "review_policy", {"before": before})
    session.flush()
    return settings


# --------------------------------------------------------------------------------------------
# What the portal reads (the merchant pages and the agency console)
# --------------------------------------------------------------------------------------------


OrderSort = repository.OrderSort


def _filter(
    status: OrderStatus | None,
    channel: str | None,
    shop_id: uuid.UUID | None,
    placed_from: datetime | None,
    placed_to: datetime | None,
    text: str | None,
) -> Select[Any]:
    return repository.filtered(
        repository.OrderFilter(status, channel, shop_id, placed_from, placed_to, text)
    )


def find_orders(
    session: Session,
    *,
    status: OrderStatus | None = None,
    channel: str | None = None,
    shop_id: uuid.UUID | None = None,
    placed_from: datetime | None = None,
    placed_to: datetime | None = None,
    text: str | None = None,
    sort: OrderSort = OrderSort.imported,
    cursor: str | None = None,
    limit: int = 50,
) -> tuple[list[Order], str | None]:
    """A page of the bound tenant's orders matching the filters, in ``sort`` order (by default
    the id's, as the order API lists them), and the cursor of the next page. ``placed_to`` is
    exclusive; ``text`` matches the external id, the buyer's name or the buyer's e-mail address.

    A cursor belongs to its sort: one issued for another order is refused (400), never read as a
    position in this one."""
    stmt = _filter(status, channel, shop_id, placed_from, placed_to, text)
    if sort is OrderSort.imported:
        return paginate(session, stmt, Order.id, cursor, limit)
    after = _decode_sort_cursor(sort, cursor) if cursor else None
    rows = repository.sorted_page(session, stmt, sort, after, limit + 1)
    if len(rows) <= limit:
        return rows, None
    last = rows[limit - 1]
    return rows[:limit], _encode_sort_cursor(sort, last)


def count_orders(
    session: Session,
    *,
    status: OrderStatus | None = None,
    channel: str | None = None,
    shop_id: uuid.UUID | None = None,
    placed_from: datetime | None = None,
    placed_to: datetime | None = None,
    text: str | None = None,
) -> int:
    """How many of the bound tenant's orders match the filters (as :func:`find_orders`)."""
    return repository.count(
        session, _filter(status, channel, shop_id, placed_from, placed_to, text)
    )


def _encode_sort_cursor(sort: OrderSort, last: Order) -> str:
    # The key travels with the id: the next page starts after (key, id), wherever the row is.
    key = last.placed_at.isoformat() if sort.key is Order.placed_at else last.total_minor
    raw = json.dumps([sort.value, key, last.id.hex], separators=(",", ":"))
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def _decode_sort_cursor(sort: OrderSort, cursor: str) -> tuple[Any, uuid.UUID]:
    refused = Problem(400, "invalid-cursor", "The cursor is not one this API issued")
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        issued_for, key, last_id = json.loads(raw)
        if issued_for != sort.value:
            raise refused
        if sort.key is Order.placed_at:
            value: Any = datetime.fromisoformat(key)
            if value.tzinfo is None:
                raise refused
        elif isinstance(key, int) and not isinstance(key, bool):
            value = key
        else:
            raise refused
        return value, uuid.UUID(hex=last_id)
    except (ValueError, TypeError, AttributeError) as exc:
        raise refused from exc


def find_by_external_id(session: Session, shop_id: uuid.UUID, external_id: str) -> Order | None:
    """A shop's order by the marketplace's id (a buyer's message names it so)."""
    return repository.by_external_ids(session, shop_id, [external_id], lock=False).get(external_id)


def get_order(session: Session, order_id: uuid.UUID) -> Order | None:
    """One of the bound tenant's orders, or None."""
    return repository.get(session, order_id)


def record_refund(
    session: Session,
    order_id: uuid.UUID,
    external_id: str,
    amount_minor: int,
    *,
    reason: str | None,
    lines: list[dict[str, Any]],
    refunded_at: datetime,
    actor: uuid.UUID | None = None,
) -> bool:
    """Record money returned on an order outside a marketplace sync (an after-sales refund).

    Keyed like the marketplace's own refunds (``external_id``): a refund the order already
    holds under that key, from either side, is not recorded again (False), so the order book,
    and billing's clawback reading it, count it once. Locks the order first.
    """
    order = repository.get(session, order_id, lock=True)
    if order is None:
        raise Problem(404, "not-found", "No such order")
    if any(refund.external_id == external_id for refund in order.refunds):
        return False
    order.refunds.append(
        OrderRefund(
            external_id=external_id,
            amount_minor=amount_minor,
            reason=reason,
            refunded_at=refunded_at,
            lines=lines,
        )
    )
    order.refunded_minor += amount_minor
    history(session, order, "refunded", {"amount_minor": amount_minor, "key": external_id}, actor)
    audit.record(session, "order.refunded", f"order:{order.id}", {"amount_minor": amount_minor})
    emit(session, "order.refunded", {**payload(order), "refund_delta_minor": amount_minor})
    session.flush()
    return True


def order_numbers(session: Session, order_ids: Iterable[uuid.UUID]) -> dict[uuid.UUID, str]:
    """The marketplace's order number of each order, by id (one read for a page of them)."""
    return repository.external_ids(session, set(order_ids))


def order_detail(session: Session, order_id: uuid.UUID, *, pii: bool) -> OrderDetail:
    """One order with its lines, refunds and history, buyer details masked unless ``pii``
    (404 when the bound tenant has no such order)."""
    order = repository.get(session, order_id)
    if order is None:
        raise Problem(404, "not-found", "No such order")
    return OrderDetail.build(order, repository.history(session, order.id), pii=pii)


def held(session: Session, limit: int) -> list[Order]:
    """The bound tenant's orders on hold for review (订单审核), oldest placed first."""
    return repository.held(session, limit)


def count_with_status(session: Session, status: OrderStatus) -> int:
    """How many of the bound tenant's orders are in ``status``."""
    return repository.count_with_status(session, status)


# --------------------------------------------------------------------------------------------
# What reports read
# --------------------------------------------------------------------------------------------


def placements(
    session: Session, order_ids: Iterable[uuid.UUID]
) -> list[tuple[uuid.UUID, datetime]]:
    """(shop id, placed at) of the bound tenant's orders among ``order_ids``."""
    return repository.placements(session, set(order_ids))


def started_at(session: Session, order_ids: Iterable[uuid.UUID]) -> dict[uuid.UUID, datetime]:
    """When each order was paid (placed, if unpaid): where a shipping deadline starts."""
    return repository.started_at(session, set(order_ids))


def delivered_between(
    session: Session, start: datetime, end: datetime, limit: int = 5000
) -> list[tuple[uuid.UUID, datetime]]:
    """(order, delivered at) of the orders the marketplace reports delivered (those it carried
    itself, not through the agency's warehouse), oldest first. The channel names no delivery
    time, so the moment of its last change to the order stands for it."""
    return repository.delivered_between(session, start, end, limit)


def placed_span(session: Session) -> tuple[datetime | None, datetime | None]:
    """The first and last placement time in the bound tenant's order book."""
    return repository.placed_span(session)


def currencies(session: Session) -> list[str]:
    """The currencies the bound tenant's orders have ever been in, sorted."""
    return repository.currencies(session)


def sales_by_shop(
    session: Session, start: datetime, end: datetime, shop_ids: Iterable[uuid.UUID] | None
) -> list[dict[str, Any]]:
    """Per (shop, channel, currency): orders, paid orders, GMV, items sold and refunds of the
    orders placed in ``[start, end)``."""
    shops = None if shop_ids is None else set(shop_ids)
    return repository.sales_aggregate(session, start, end, shops)


def sales_by_product(
    session: Session, start: datetime, end: datetime, shop_ids: Iterable[uuid.UUID] | None
) -> list[dict[str, Any]]:
    """Per (shop, channel, currency, SKU): quantity, revenue, orders and units refunded
    (``returned_units``, from the refunds' lines) of the paid orders placed in ``[start, end)``."""
    shops = None if shop_ids is None else set(shop_ids)
    rows = repository.product_aggregate(session, start, end, shops)
    returned: dict[tuple[Any, ...], int] = defaultdict(int)
    for shop_id, channel, currency, lines in repository.refund_lines(session, start, end, shops):
        for line in lines:
            units = line.get("quantity") if isinstance(line, dict) else None
            if isinstance(units, int) and not isinstance(units, bool) and units > 0:
                returned[(shop_id, channel, currency, line.get("sku"))] += units
    for row in rows:
        key = (row["shop_id"], row["channel"], row["currency"], row["sku"])
        # Never more returned than sold: a marketplace's refund lines are not checked at entry.
        row["returned_units"] = min(returned.get(key, 0), int(row["quantity"] or 0))
    return rows


# --------------------------------------------------------------------------------------------
# What billing reads
# --------------------------------------------------------------------------------------------


def refunds_for_billing(
    session: Session, start: datetime, end: datetime
) -> Iterator[tuple[OrderRefund, str]]:
    """Refunds made in ``[start, end)``, each with its order's channel."""
    return repository.refunds_in(session, start, end)


# Billing's set-based reads: selectables of the bound tenant's order rows, which billing joins
# with its own tables (what it billed already) in one statement rather than order by order.
BillableOrders = repository.BillableOrders
OrderWithLines = repository.OrderWithLines


def _bound_tenant(session: Session) -> uuid.UUID:
    tenant = current_tenant(session)
    if tenant is None:
        raise TenantContextMissing("no tenant bound to this session")
    return tenant


def billable_orders(session: Session, spec: BillableOrders) -> repository.OrderRows:
    """A subquery with one row per order of the bound tenant that ``spec`` selects: its id,
    channel, date, amounts, whether it was refunded in the range, and the line sums ``spec``
    asks for (see :func:`repository.billable_orders` for the columns)."""
    return repository.billable_orders(_bound_tenant(session), spec)


def refunded_order_ids(session: Session, start: datetime, end: datetime) -> repository.OrderIds:
    """A select of the ids of the bound tenant's orders refunded in ``[start, end)``."""
    return repository.refunded_order_ids(_bound_tenant(session), start, end)


def orders_with_lines(session: Session, ids: Sequence[uuid.UUID], by: str) -> list[OrderWithLines]:
    """The bound tenant's orders among ``ids``, with their lines, in the order of ``ids``; each
    dated by its paid time (``by="paid"``, placed time when unpaid) or its placed time."""
    return repository.orders_with_lines(session, _bound_tenant(session), ids, by)


# --------------------------------------------------------------------------------------------
# What the catalog reads
# --------------------------------------------------------------------------------------------


def order_line_keys(session: Session) -> repository.OrderRows:
    """A subquery with one row per order line of the bound tenant: ``line_id``, ``order_id``,
    ``shop_id``, ``placed_at``, ``marketplace_sku`` (the line's SKU string) and ``title``; the
    catalog joins it with its SKUs, listings and mappings to match lines set-based."""
    return repository.order_line_keys(_bound_tenant(session))
