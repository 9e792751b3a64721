"""Ingest: the one way orders enter the order book.

Connectors (pull and push alike) hand ``ingest`` canonical orders and it decides, per order,
whether this is new, newer, the same, or stale. An older update never overwrites a newer one, and
every change writes its history and an outbox event in the same transaction.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import fields
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

from sqlalchemy import inspect
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, make_transient_to_detached

from daiyun.core.events.service import emit, emit_many, pending_event
from daiyun.core.ids import new_id, utcnow
from daiyun.core.tenancy import TenantContextMissing, current_tenant
from daiyun.platform.orders import repository, rules
from daiyun.platform.orders.models import (
    Order,
    OrderEvent,
    OrderLine,
    OrderRefund,
    ReviewState,
)
from daiyun.platform.orders.normalized import (
    Address,
    NormalizedLine,
    NormalizedOrder,
    OrderStatus,
)

# A channel can still cancel or refund an order under review: the hold no longer matters then.
CLOSING = frozenset({OrderStatus.cancelled, OrderStatus.refunded})


class Outcome(StrEnum):
    created = "created"
    updated = "updated"
    unchanged = "unchanged"
    stale = "stale"


# What ingesting one order gave: its outcome and the stored order.
Ingested = tuple[Outcome, Order]


def ingest(
    session: Session, shop_id: uuid.UUID, channel: str, orders: Sequence[NormalizedOrder]
) -> list[Ingested]:
    """Create or update a shop's orders from the channel's latest description of them.

    Safe to call with the same orders any number of times and in any order. The batch is applied
    set-wise: one read of the stored orders, review inputs read once, new orders written with
    one insert per table. Two processes importing the same new order at once: the loser's insert
    hits the unique key, its savepoint rolls back, and the batch is applied again as updates.

    Orders already stored come back attached to the session; new ones detached, with their
    columns loaded (see ``_Batch.attach``).
    """
    latest: dict[str, NormalizedOrder] = {}
    for order in orders:  # a page can carry one order twice: keep its newest version
        kept = latest.get(order.external_id)
        if kept is None or order.source_updated_at >= kept.source_updated_at:
            latest[order.external_id] = order
    for attempt in range(2):
        try:
            with session.begin_nested():
                batch = _Batch(session, shop_id, channel)
                results = batch.apply(list(latest.values()))
        except IntegrityError:
            if attempt:
                raise
        else:
            return _Batch.attach(results)
    raise AssertionError("unreachable")


# A new order in a batch: (outcome, the order's column values) until the rows are written.
_Pending = tuple[Outcome, Order | dict[str, Any]]


class _Batch:
    """One call of ``ingest``: the stored orders and review inputs, read once, then applied."""

    def __init__(self, session: Session, shop_id: uuid.UUID, channel: str) -> None:
        tenant_id = current_tenant(session)
        if tenant_id is None:
            raise TenantContextMissing("cannot import orders without a tenant")
        self.session = session
        self.tenant_id = tenant_id
        self.shop_id = shop_id
        self.channel = channel
        self.now = utcnow()
        self.orders: list[dict[str, Any]] = []
        self.lines: list[dict[str, Any]] = []
        self.refunds: list[dict[str, Any]] = []
        self.events: list[dict[str, Any]] = []
        self.outbox: list[dict[str, Any]] = []

    def apply(self, orders: list[NormalizedOrder]) -> list[_Pending]:
        existing = repository.by_external_ids(
            self.session, self.shop_id, (o.external_id for o in orders), lock=True
        )
        fresh = [o for o in orders if o.external_id not in existing]
        fingerprints = {o.external_id: rules.duplicate_fingerprint(o) for o in fresh}
        reviewer = _Reviewer(self.session, self.shop_id)
        reviewer.load_matches(
            [fingerprints[o.external_id] for o in fresh if o.status not in CLOSING]
        )
        results: list[_Pending] = []
        for incoming in orders:
            stored = existing.get(incoming.external_id)
            if stored is None:
                fingerprint = fingerprints[incoming.external_id]
                results.append((Outcome.created, self._create(incoming, fingerprint, reviewer)))
            elif incoming.source_updated_at < stored.source_updated_at:
                results.append((Outcome.stale, stored))
            elif incoming.source_updated_at == stored.source_updated_at and _same(stored, incoming):
                results.append((Outcome.unchanged, stored))
            else:
                _update(self.session, stored, incoming)
                reviewer.changed(stored)
                results.append((Outcome.updated, stored))
        repository.insert_imported(
            self.session,
            orders=self.orders,
            lines=self.lines,
            refunds=self.refunds,
            events=self.events,
        )
        emit_many(self.session, self.outbox)
        self.session.flush()
        return results

    def _create(
        self, incoming: NormalizedOrder, fingerprint: str, reviewer: _Reviewer
    ) -> dict[str, Any]:
        reasons = [] if incoming.status in CLOSING else reviewer.reasons(incoming, fingerprint)
        auto = not reasons and rules.auto_approved(incoming, self.shop_id, reviewer.settings)
        order_id = new_id()
        hold_reasons = [r.as_dict() for r in reasons]
        row: dict[str, Any] = {
            "tenant_id": self.tenant_id,
            "id": order_id,
            "created_at": self.now,
            "updated_at": self.now,
            "shop_id": self.shop_id,
            "channel": self.channel,
            "external_id": incoming.external_id,
            "source_status": incoming.status,
            "status": OrderStatus.on_hold if reasons else incoming.status,
            "review_state": (
                ReviewState.held
                if reasons
                else ReviewState.auto_approved
                if auto
                else ReviewState.passed
            ),
            "hold_reasons": hold_reasons,
            "fingerprint": fingerprint,
            **_columns(incoming),
        }
        self.orders.append(row)
        for position, line in enumerate(incoming.lines):
            self.lines.append(
                {"tenant_id": self.tenant_id, "id": new_id(), "order_id": order_id}
                | _line_columns(position, line)
            )
        for refund in incoming.refunds:
            self.refunds.append(
                {
                    "tenant_id": self.tenant_id,
                    "id": new_id(),
                    "order_id": order_id,
                    "external_id": refund.external_id,
                    "amount_minor": refund.amount_minor,
                    "reason": refund.reason,
                    "refunded_at": refund.refunded_at,
                    "lines": refund.lines,
                }
            )
        # Ids are taken in the order the events happen, so the outbox and history keep it.
        self._event(order_id, "created", {"status": incoming.status.value})
        self.outbox.append(
            pending_event(self.tenant_id, "order.created", _payload_of(row), self.now)
        )
        if reasons:
            self._event(order_id, "held", {"reasons": hold_reasons})
        reviewer.created(order_id, incoming, fingerprint)
        return row

    def _event(self, order_id: uuid.UUID, kind: str, detail: dict[str, Any]) -> None:
        self.events.append(
            {
                "tenant_id": self.tenant_id,
                "id": new_id(),
                "order_id": order_id,
                "kind": kind,
                "at": self.now,
                "actor_user_id": None,
                "detail": detail,
            }
        )

    @staticmethod
    def attach(results: list[_Pending]) -> list[tuple[Outcome, Order]]:
        """The outcomes with their orders; a new order as a detached object, columns loaded.

        Built from the values just written rather than read back, and not added to the
        session (which costs as much as writing the row): its lines and refunds are not
        loaded, so a caller that needs them reads the order again.
        """
        done: list[tuple[Outcome, Order]] = []
        for outcome, order in results:
            if isinstance(order, dict):
                order = _detached(order)
            done.append((outcome, order))
        return done


def _detached(values: dict[str, Any]) -> Order:
    order: Order = _ORDER_CLASS.new_instance()
    order.__dict__.update(values)
    make_transient_to_detached(order)
    return order


_ORDER_CLASS = inspect(Order).class_manager


class _Reviewer:
    """Review (订单审核) for one batch: the policy, the shop's norms and likely duplicates.

    The policy and norms are read once. Stored orders sharing a fingerprint with a new order
    of the batch are read in one query, then kept up to date with the batch's own orders (as
    they are applied one after another) so a later order of the batch sees an earlier one.
    """

    def __init__(self, session: Session, shop_id: uuid.UUID) -> None:
        self.session = session
        self.shop_id = shop_id
        stored = repository.policy(session)
        self.settings = rules.ReviewSettings.from_stored(stored.settings if stored else {})
        count, total, items = repository.shop_norms(session, shop_id)
        self.norms = rules.ShopNorms(count, total, items)
        self.window = timedelta(hours=self.settings.duplicate_window_hours)
        # fingerprint -> order id -> (external id, placed at, still live)
        self.matches: dict[str, dict[uuid.UUID, tuple[str, datetime, bool]]] = {}

    def load_matches(self, fingerprints: list[str]) -> None:
        if not self.settings.check_duplicates or not fingerprints:
            return
        for fingerprint, order_id, external_id, placed_at, status in repository.fingerprint_matches(
            self.session, fingerprints
        ):
            self._remember(order_id, fingerprint, external_id, placed_at, status)

    def _remember(
        self,
        order_id: uuid.UUID,
        fingerprint: str,
        external_id: str,
        placed_at: datetime,
        status: OrderStatus,
    ) -> None:
        live = status != OrderStatus.cancelled
        self.matches.setdefault(fingerprint, {})[order_id] = (external_id, placed_at, live)

    def reasons(self, order: NormalizedOrder, fingerprint: str) -> list[rules.HoldReason]:
        duplicates = 0
        if self.settings.check_duplicates:
            low, high = order.placed_at - self.window, order.placed_at + self.window
            duplicates = sum(
                1
                for external_id, placed_at, live in self.matches.get(fingerprint, {}).values()
                if live and external_id != order.external_id and low <= placed_at <= high
            )
        return rules.evaluate(order, self.shop_id, self.settings, self.norms, duplicates)

    def created(self, order_id: uuid.UUID, order: NormalizedOrder, fingerprint: str) -> None:
        if self.settings.check_duplicates:
            self._remember(order_id, fingerprint, order.external_id, order.placed_at, order.status)

    def changed(self, order: Order) -> None:
        # Only fingerprints some new order of the batch carries matter.
        if order.fingerprint is not None and order.fingerprint in self.matches:
            self._remember(
                order.id, order.fingerprint, order.external_id, order.placed_at, order.source_status
            )


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
    history(session, order, "updated", changes)
    emit(session, "order.updated", payload(order))
    if order.status == OrderStatus.cancelled and before_status != OrderStatus.cancelled:
        emit(session, "order.cancelled", payload(order))
    if order.refunded_minor > before_refunded:
        history(
            session, order, "refunded", {"amount_minor": order.refunded_minor - before_refunded}
        )
        emit(
            session,
            "order.refunded",
            {**payload(order), "refund_delta_minor": order.refunded_minor - before_refunded},
        )


def _same(order: Order, incoming: NormalizedOrder) -> bool:
    # Equal source times and an identical document: a redelivery, not a change.
    return order.raw == incoming.raw


def _columns(incoming: NormalizedOrder) -> dict[str, Any]:
    """Every channel-owned column of an order, from the incoming description."""
    address = incoming.shipping_address
    return {
        "channel_status": incoming.channel_status[:100],
        "currency": incoming.currency,
        "subtotal_minor": incoming.subtotal_minor,
        "discount_minor": incoming.discount_minor,
        "shipping_minor": incoming.shipping_minor,
        "tax_minor": incoming.tax_minor,
        "total_minor": incoming.total_minor,
        "refunded_minor": incoming.refunded_minor,
        "item_count": sum(line.quantity for line in incoming.lines),
        "buyer_name": incoming.buyer_name,
        "buyer_email": incoming.buyer_email,
        "buyer_phone": incoming.buyer_phone,
        "shipping_address": _address(address) if address else None,
        "placed_at": incoming.placed_at,
        "paid_at": incoming.paid_at,
        "source_offset_minutes": incoming.source_offset_minutes,
        "source_updated_at": incoming.source_updated_at,
        "raw": incoming.raw,
    }


_ADDRESS_FIELDS = tuple(f.name for f in fields(Address))


def _address(address: Address) -> dict[str, Any]:
    # Flat text fields: no need for asdict's recursive deep copy.
    return {name: getattr(address, name) for name in _ADDRESS_FIELDS}


def _line_columns(position: int, line: NormalizedLine) -> dict[str, Any]:
    return {
        "position": position,
        "external_id": line.external_id,
        "sku": line.sku[:100],
        "title": line.title[:500],
        "quantity": line.quantity,
        "unit_price_minor": line.unit_price_minor,
        "discount_minor": line.discount_minor,
        "tax_minor": line.tax_minor,
        "total_minor": line.total_minor,
    }


def _copy(order: Order, incoming: NormalizedOrder) -> None:
    """Take every channel-owned field from the incoming description."""
    for key, value in _columns(incoming).items():
        setattr(order, key, value)
    order.lines = [
        OrderLine(**_line_columns(position, line)) for position, line in enumerate(incoming.lines)
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
    # The total is every refund the order holds: refunds recorded here alone (an after-sales case
    # with no marketplace request) are not in the marketplace's document, and must not drop out.
    order.refunded_minor = sum(refund.amount_minor for refund in order.refunds)


def history(
    session: Session,
    order: Order,
    kind: str,
    detail: dict[str, Any],
    actor: uuid.UUID | None = None,
) -> None:
    order.events.add(OrderEvent(kind=kind, at=utcnow(), detail=detail, actor_user_id=actor))


def payload(order: Order) -> dict[str, Any]:
    return _payload_of({key: getattr(order, key) for key in _PAYLOAD_FIELDS})


_PAYLOAD_FIELDS = (
    "id",
    "shop_id",
    "channel",
    "external_id",
    "status",
    "currency",
    "total_minor",
    "refunded_minor",
    "placed_at",
)


def _payload_of(order: dict[str, Any]) -> dict[str, Any]:
    """An outbox payload from an order's column values."""
    return {
        "order_id": str(order["id"]),
        "shop_id": str(order["shop_id"]),
        "channel": order["channel"],
        "external_id": order["external_id"],
        "status": order["status"].value,
        "currency": order["currency"],
        "total_minor": order["total_minor"],
        "refunded_minor": order["refunded_minor"],
        "placed_at": order["placed_at"].isoformat(),
    }
