"""The order book's rules: import a channel's order exactly once, review it, release or cancel it.

``ingest`` is the one way orders enter: connectors (pull and push alike) hand it canonical orders
and it decides, per order, whether this is new, newer, the same, or stale. An older update never
overwrites a newer one, and every change writes its history and an outbox event in the same
transaction.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import asdict
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from daiyun.platform.audit import service as audit
from daiyun.platform.db import new_id, utcnow
from daiyun.platform.errors import Problem
from daiyun.platform.events.service import emit
from daiyun.platform.orders import repository, review
from daiyun.platform.orders.models import (
    Order,
    OrderEvent,
    OrderLine,
    OrderRefund,
    ReviewPolicy,
    ReviewState,
)
from daiyun.platform.orders.normalized import NormalizedOrder, OrderStatus

# A channel can still cancel or refund an order under review: the hold no longer matters then.
CLOSING = frozenset({OrderStatus.cancelled, OrderStatus.refunded})


class Outcome(StrEnum):
    created = "created"
    updated = "updated"
    unchanged = "unchanged"
    stale = "stale"


def ingest(
    session: Session, shop_id: uuid.UUID, channel: str, orders: Sequence[NormalizedOrder]
) -> list[tuple[Outcome, Order]]:
    """Create or update a shop's orders from the channel's latest description of them.

    Safe to call with the same orders any number of times and in any order. Two processes
    importing the same new order at once: the loser's insert hits the unique key, its savepoint
    rolls back, and the batch is applied again as updates.
    """
    latest: dict[str, NormalizedOrder] = {}
    for order in orders:  # a page can carry one order twice: keep its newest version
        kept = latest.get(order.external_id)
        if kept is None or order.source_updated_at >= kept.source_updated_at:
            latest[order.external_id] = order
    for attempt in range(2):
        try:
            with session.begin_nested():
                return _apply(session, shop_id, channel, list(latest.values()))
        except IntegrityError:
            if attempt:
                raise
    raise AssertionError("unreachable")


def _apply(
    session: Session, shop_id: uuid.UUID, channel: str, orders: list[NormalizedOrder]
) -> list[tuple[Outcome, Order]]:
    existing = repository.by_external_ids(
        session, shop_id, (o.external_id for o in orders), lock=True
    )
    reviewer = _Reviewer(session, shop_id)
    results: list[tuple[Outcome, Order]] = []
    for incoming in orders:
        stored = existing.get(incoming.external_id)
        if stored is None:
            results.append(
                (Outcome.created, _create(session, shop_id, channel, incoming, reviewer))
            )
        elif incoming.source_updated_at < stored.source_updated_at:
            results.append((Outcome.stale, stored))
        elif incoming.source_updated_at == stored.source_updated_at and _same(stored, incoming):
            results.append((Outcome.unchanged, stored))
        else:
            _update(session, stored, incoming)
            results.append((Outcome.updated, stored))
    session.flush()
    return results


class _Reviewer:
    """Review (订单审核) for one batch: the policy and the shop's norms are read once."""

    def __init__(self, session: Session, shop_id: uuid.UUID) -> None:
        self.session = session
        self.shop_id = shop_id
        stored = repository.policy(session)
        self.settings = review.ReviewSettings.from_stored(stored.settings if stored else {})
        count, total, items = repository.shop_norms(session, shop_id)
        self.norms = review.ShopNorms(count, total, items)

    def reasons(self, order: NormalizedOrder, fingerprint: str) -> list[review.HoldReason]:
        duplicates = 0
        if self.settings.check_duplicates:
            window = timedelta(hours=self.settings.duplicate_window_hours)
            duplicates = repository.count_fingerprint(
                self.session, fingerprint, order.placed_at, window, order.external_id
            )
        return review.evaluate(order, self.shop_id, self.settings, self.norms, duplicates)


def _create(
    session: Session,
    shop_id: uuid.UUID,
    channel: str,
    incoming: NormalizedOrder,
    reviewer: _Reviewer,
) -> Order:
    fingerprint = review.duplicate_fingerprint(incoming)
    reasons = [] if incoming.status in CLOSING else reviewer.reasons(incoming, fingerprint)
    auto = not reasons and review.auto_approved(incoming, shop_id, reviewer.settings)
    order = Order(
        id=new_id(),
        shop_id=shop_id,
        channel=channel,
        external_id=incoming.external_id,
        source_status=incoming.status,
        status=OrderStatus.on_hold if reasons else incoming.status,
        review_state=(
            ReviewState.held
            if reasons
            else ReviewState.auto_approved
            if auto
            else ReviewState.passed
        ),
        hold_reasons=[r.as_dict() for r in reasons],
        fingerprint=fingerprint,
    )
    _copy(order, incoming)
    session.add(order)
    _history(session, order, "created", {"status": order.source_status.value})
    emit(session, "order.created", _payload(order))
    if reasons:
        _history(session, order, "held", {"reasons": order.hold_reasons})
    return order


def _update(session: Session, order: Order, incoming: NormalizedOrder) -> None:
    before_status = order.status
    before_refunded = order.refunded_minor
    order.source_status = incoming.status
    if order.review_state == ReviewState.held and incoming.status in CLOSING:
        order.review_state = ReviewState.cancelled
    if order.review_state != ReviewState.held:
        order.status = incoming.status
    _copy(order, incoming)
    changes = {"status": [before_status.value, order.status.value]}
    _history(session, order, "updated", changes)
    emit(session, "order.updated", _payload(order))
    if order.status == OrderStatus.cancelled and before_status != OrderStatus.cancelled:
        emit(session, "order.cancelled", _payload(order))
    if order.refunded_minor > before_refunded:
        _history(
            session, order, "refunded", {"amount_minor": order.refunded_minor - before_refunded}
        )
        emit(
            session,
            "order.refunded",
            {**_payload(order), "refund_delta_minor": order.refunded_minor - before_refunded},
        )


def _same(order: Order, incoming: NormalizedOrder) -> bool:
    # Equal source times and an identical document: a redelivery, not a change.
    return order.raw == incoming.raw


def _copy(order: Order, incoming: NormalizedOrder) -> None:
    """Take every channel-owned field from the incoming description."""
    order.channel_status = incoming.channel_status[:100]
    order.currency = incoming.currency
    order.subtotal_minor = incoming.subtotal_minor
    order.discount_minor = incoming.discount_minor
    order.shipping_minor = incoming.shipping_minor
    order.tax_minor = incoming.tax_minor
    order.total_minor = incoming.total_minor
    order.refunded_minor = incoming.refunded_minor
    order.item_count = sum(line.quantity for line in incoming.lines)
    order.buyer_name = incoming.buyer_name
    order.buyer_email = incoming.buyer_email
    order.buyer_phone = incoming.buyer_phone
    order.shipping_address = (
        asdict(incoming.shipping_address) if incoming.shipping_address else None
    )
    order.placed_at = incoming.placed_at
    order.paid_at = incoming.paid_at
    order.source_offset_minutes = incoming.source_offset_minutes
    order.source_updated_at = incoming.source_updated_at
    order.raw = incoming.raw
    order.lines = [
        OrderLine(
            position=i,
            external_id=line.external_id,
            sku=line.sku[:100],
            title=line.title[:500],
            quantity=line.quantity,
            unit_price_minor=line.unit_price_minor,
            discount_minor=line.discount_minor,
            tax_minor=line.tax_minor,
            total_minor=line.total_minor,
        )
        for i, line in enumerate(incoming.lines)
    ]
    known = {refund.external_id: refund for refund in order.refunds}
    for refund in incoming.refunds:
        row = known.get(refund.external_id)
        if row is None:
            row = OrderRefund(external_id=refund.external_id)
            order.refunds.append(row)
        row.amount_minor = refund.amount_minor
        row.reason = refund.reason
        row.refunded_at = refund.refunded_at
        row.lines = refund.lines


def _history(
    session: Session,
    order: Order,
    kind: str,
    detail: dict[str, Any],
    actor: uuid.UUID | None = None,
) -> None:
    order.events.add(OrderEvent(kind=kind, at=utcnow(), detail=detail, actor_user_id=actor))


def _payload(order: Order) -> dict[str, Any]:
    return {
        "order_id": str(order.id),
        "shop_id": str(order.shop_id),
        "channel": order.channel,
        "external_id": order.external_id,
        "status": order.status.value,
        "currency": order.currency,
        "total_minor": order.total_minor,
        "refunded_minor": order.refunded_minor,
        "placed_at": order.placed_at.isoformat(),
    }


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
    _history(session, order, "released", {"note": note}, actor=user_id)
    audit.record(session, "order.released", f"order:{order.id}", {"note": note})
    emit(session, "order.updated", _payload(order))
    session.flush()
    return order


def cancel(session: Session, order_id: uuid.UUID, user_id: uuid.UUID, reason: str) -> Order:
    """Refuse a held order. The channel is not told: staff cancel it there too."""
    order = _held(session, order_id)
    order.review_state = ReviewState.cancelled
    order.status = OrderStatus.cancelled
    _history(session, order, "cancelled", {"reason": reason}, actor=user_id)
    audit.record(session, "order.cancelled", f"order:{order.id}", {"reason": reason})
    emit(session, "order.cancelled", _payload(order))
    session.flush()
    return order


def review_settings(session: Session) -> review.ReviewSettings:
    stored = repository.policy(session)
    return review.ReviewSettings.from_stored(stored.settings if stored else {})


def update_review_settings(
    session: Session, settings: review.ReviewSettings
) -> review.ReviewSettings:
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
# What billing reads
# --------------------------------------------------------------------------------------------


def orders_for_billing(
    session: Session, start: datetime, end: datetime, *, by: str, statuses: Iterable[OrderStatus]
) -> Iterator[Order]:
    """Orders placed (or paid) in ``[start, end)`` in the given statuses, streamed."""
    return repository.placed_in(session, start, end, by=by, statuses=statuses)


def refunds_for_billing(
    session: Session, start: datetime, end: datetime
) -> Iterator[tuple[OrderRefund, str]]:
    """Refunds made in ``[start, end)``, each with its order's channel."""
    return repository.refunds_in(session, start, end)
