"""The order review queue (订单审核): held orders across tenants, decided one by one or in bulk."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from daiyun.core.audit import service as audit
from daiyun.core.errors import Problem
from daiyun.platform.orders import service as order_service
from daiyun.portal.console.access import Access, tenant_unit, with_permission, writable
from daiyun.portal.identity import TenantView, Viewer
from daiyun.tenants.auth.permissions import Permission

P = Permission
# How many held orders a page lists per tenant.
QUEUE_LIMIT = 200
DEFAULT_CANCEL_REASON = "Cancelled in order review"


@dataclass(frozen=True)
class HeldOrder:
    """A held order as the queue shows it: no buyer details, only the review's reasons."""

    tenant: TenantView
    id: uuid.UUID
    external_id: str
    channel: str
    placed_at: datetime
    total_minor: int
    currency: str
    # (code, the reason as stored): the page says its detail in the reader's language.
    reasons: tuple[tuple[str, dict[str, Any]], ...]

    @property
    def value(self) -> str:
        """The checkbox value of the bulk form: ``tenant-slug:order-id``."""
        return f"{self.tenant.slug}:{self.id}"


@dataclass
class Queue:
    orders: list[HeldOrder] = field(default_factory=list)
    # Every reason code present before the reason filter, for the filter's choices.
    codes: list[str] = field(default_factory=list)


def review_queue(
    accesses: list[Access], user_id: uuid.UUID, tenant: str | None, reason: str | None
) -> Queue:
    """Held orders of the tenants where the user may review, optionally of one tenant or one
    reason, oldest first."""
    queue = Queue()
    codes: set[str] = set()
    for access in with_permission(accesses, P.orders_review):
        if tenant and access.tenant.slug != tenant:
            continue
        with tenant_unit(access.tenant.id, user_id) as session:
            for order in order_service.held(session, QUEUE_LIMIT):
                reasons = tuple((str(r.get("code", "")), dict(r)) for r in order.hold_reasons)
                codes.update(code for code, _ in reasons)
                if reason and reason not in {code for code, _ in reasons}:
                    continue
                queue.orders.append(
                    HeldOrder(
                        access.tenant,
                        order.id,
                        order.external_id,
                        order.channel,
                        order.placed_at,
                        order.total_minor,
                        order.currency,
                        reasons,
                    )
                )
            session.rollback()
    queue.orders.sort(key=lambda o: (o.placed_at, o.id))
    queue.codes = sorted(codes)
    return queue


def decide(
    session: Session, order_id: uuid.UUID, user_id: uuid.UUID, action: str, text: str
) -> bool:
    """Release or cancel one held order; False when it is no longer on hold (or not found)."""
    try:
        with session.begin_nested():
            if action == "release":
                order_service.release(session, order_id, user_id, text or None)
            else:
                order_service.cancel(session, order_id, user_id, text or DEFAULT_CANCEL_REASON)
    except Problem as refused:
        if refused.status not in (404, 409):
            raise
        return False
    return True


@dataclass
class BulkResult:
    done: int = 0
    skipped: int = 0


def parse_choice(value: str) -> tuple[str, uuid.UUID] | None:
    """``tenant-slug:order-id`` as its two parts, or None when malformed."""
    slug, _, order = value.rpartition(":")
    try:
        return (slug, uuid.UUID(order)) if slug else None
    except ValueError:
        return None


def decide_many(
    accesses: list[Access], user: Viewer, choices: list[str], action: str, text: str
) -> BulkResult:
    """Release or cancel the checked orders, each in its tenant and only where the user may
    review orders and the tenant is not suspended; anything else is skipped (a tenant outside
    theirs is audited as denied)."""
    result = BulkResult()
    reviewable = {
        a.tenant.slug: a for a in with_permission(accesses, P.orders_review) if writable(a)
    }
    mine = {a.tenant.slug for a in accesses}
    by_tenant: dict[str, list[uuid.UUID]] = {}
    for value in choices:
        parsed = parse_choice(value)
        if parsed is None:
            result.skipped += 1
            continue
        slug, order_id = parsed
        if slug not in reviewable:
            if slug not in mine:
                audit.record_denial(user.id, "tenant.access_denied", f"tenant:{slug[:100]}")
            result.skipped += 1
            continue
        by_tenant.setdefault(slug, [])
        if order_id not in by_tenant[slug]:
            by_tenant[slug].append(order_id)
    for slug, order_ids in by_tenant.items():
        with tenant_unit(reviewable[slug].tenant.id, user.id) as session:
            for order_id in order_ids:
                if decide(session, order_id, user.id, action, text):
                    result.done += 1
                else:
                    result.skipped += 1
    return result
