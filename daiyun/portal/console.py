"""What the agency console reads and does across a staff member's tenants.

Every tenant is worked on in its own unit of work bound to that tenant (and the acting user, so
audit entries name them): the ORM guard never sees two tenants in one session. Only the tenants
the user may open are covered, and each figure or action is checked against the user's role in
that tenant. Other domains are used through their services; a tenant whose domain refuses a
read (no contract yet, say) shows no figure rather than failing the page.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy.orm import Session

from daiyun.billing import service as billing_service
from daiyun.billing.facts import Period
from daiyun.billing.models import StatementStatus
from daiyun.connectors import service as shop_service
from daiyun.connectors import webhooks
from daiyun.connectors.models import DeliveryStatus, ShopStatus
from daiyun.core.audit import service as audit
from daiyun.core.db import unit_of_work
from daiyun.core.errors import Problem
from daiyun.core.ids import utcnow
from daiyun.core.tenancy import bind_user
from daiyun.platform.orders import repository as order_repository
from daiyun.platform.orders import service as order_service
from daiyun.platform.orders.normalized import OrderStatus
from daiyun.platform.reports import service as report_service
from daiyun.portal.web import tenants_of
from daiyun.tenants.auth.deps import memberships_of
from daiyun.tenants.auth.models import User
from daiyun.tenants.auth.permissions import Permission, Role, allows
from daiyun.tenants.models import Tenant

P = Permission
# How many held orders, failing shops and deliveries a page lists per tenant.
QUEUE_LIMIT = 200
DELIVERY_LIMIT = 20
# Line kinds (the part before the first colon) that make up the commission accrued.
COMMISSION_KINDS = ("commission", "clawback")


@dataclass(frozen=True)
class Access:
    """A tenant the user may open, and their role there."""

    tenant: Tenant
    role: Role

    def can(self, permission: Permission) -> bool:
        return allows(self.role, permission)


def accessible(db: Session, user: User) -> list[Access]:
    """The user's tenants with their role in each: all of them for an agency admin."""
    if user.merchant_tenant_id is not None:
        return []
    tenants = tenants_of(db, user)
    if user.role == Role.agency_admin:
        return [Access(t, Role.agency_admin) for t in tenants]
    roles = {m.tenant_id: m.role for m in memberships_of(db, user.id)}
    return [Access(t, roles[t.id]) for t in tenants if t.id in roles]


def with_permission(accesses: list[Access], permission: Permission) -> list[Access]:
    return [a for a in accesses if a.can(permission)]


@contextmanager
def tenant_unit(tenant_id: uuid.UUID, user_id: uuid.UUID) -> Iterator[Session]:
    """A unit of work bound to one tenant and the acting user; commits when the block ends."""
    with unit_of_work(tenant_id) as session:
        bind_user(session, user_id)
        yield session


def _quietly(read: Callable[[], Any]) -> Any:
    """A figure, or None when the domain refuses it for this tenant (a 4xx Problem)."""
    try:
        return read()
    except Problem as refused:
        if refused.status >= 500:
            raise
        return None


# --- tenants overview ------------------------------------------------------------------------


@dataclass
class TenantRow:
    """One merchant's figures; None where the user's role may not see one (or there is none)."""

    tenant: Tenant
    role: Role
    gmv_minor: int | None = None
    gmv_currency: str | None = None
    commission_minor: int | None = None
    commission_currency: str | None = None
    held: int | None = None
    sync_errors: int | None = None
    unpaid: int | None = None


SORTS: dict[str, Callable[[TenantRow], Any]] = {
    "name": lambda r: r.tenant.display_name.casefold(),
    "gmv": lambda r: r.gmv_minor,
    "commission": lambda r: r.commission_minor,
    "held": lambda r: r.held,
    "sync_errors": lambda r: r.sync_errors,
    "unpaid": lambda r: r.unpaid,
}
# The direction a column sorts in when first chosen: figures largest first, names A to Z.
DEFAULT_DIRECTION = {key: "asc" if key == "name" else "desc" for key in SORTS}


def month_so_far(tenant: Tenant, now: datetime | None = None) -> tuple[date, date]:
    """The first day of the tenant's current month and today, in its time zone."""
    today = (now or utcnow()).astimezone(ZoneInfo(tenant.time_zone)).date()
    return today.replace(day=1), today


def current_period(tenant: Tenant, now: datetime | None = None) -> Period:
    first, _ = month_so_far(tenant, now)
    return Period(first.year, first.month)


def commission_of(lines: list[Any]) -> int:
    """Commission net of clawbacks on a statement's (or preview's) lines."""
    return sum(
        line.amount_minor for line in lines if line.kind.split(":", 1)[0] in COMMISSION_KINDS
    )


def is_failing(shop: Any) -> bool:
    """A shop whose sync is failing now: its last pull failed, or it needs new credentials."""
    if shop.status == ShopStatus.disconnected:
        return False
    return shop.status == ShopStatus.reauthorization_needed or bool(
        shop.last_error and shop.consecutive_failures > 0
    )


def tenant_row(access: Access, user_id: uuid.UUID, now: datetime | None = None) -> TenantRow:
    """The overview figures of one tenant, each only if the role may see it."""
    tenant = access.tenant
    row = TenantRow(tenant, access.role)
    with tenant_unit(tenant.id, user_id) as session:
        if access.can(P.orders_read):
            first, today = month_so_far(tenant, now)
            board = _quietly(lambda: report_service.dashboard(session, tenant, first, today))
            if board is not None:
                row.gmv_minor, row.gmv_currency = board.totals.gmv_minor, board.currency
            row.held = order_repository.count_with_status(session, OrderStatus.on_hold)
        if access.can(P.shops_read):
            row.sync_errors = sum(1 for s in shop_service.shops(session) if is_failing(s))
        if access.can(P.billing_read):
            period = current_period(tenant, now)
            computed = _quietly(lambda: billing_service.compute(session, period))
            if computed is not None:
                row.commission_minor = commission_of(computed.lines)
                row.commission_currency = computed.terms.currency
            row.unpaid = len(billing_service.unpaid(session))
        # Reads only: nothing of this unit of work is meant to be kept.
        session.rollback()
    return row


def overview(
    accesses: list[Access], user_id: uuid.UUID, sort: str = "name", direction: str = "asc"
) -> list[TenantRow]:
    """Every accessible tenant's row, sorted; rows without the figure always come last."""
    rows = [tenant_row(access, user_id) for access in accesses]
    key = SORTS.get(sort, SORTS["name"])
    known = [r for r in rows if key(r) is not None]
    unknown = [r for r in rows if key(r) is None]
    known.sort(key=lambda r: (key(r), r.tenant.display_name.casefold()))
    if direction == "desc":
        known.reverse()
    unknown.sort(key=lambda r: r.tenant.display_name.casefold())
    return known + unknown


# --- order review queue (订单审核) ---------------------------------------------------------


@dataclass(frozen=True)
class HeldOrder:
    """A held order as the queue shows it: no buyer details, only the review's reasons."""

    tenant: Tenant
    id: uuid.UUID
    external_id: str
    channel: str
    placed_at: datetime
    total_minor: int
    currency: str
    reasons: tuple[tuple[str, str], ...]

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
            for order in order_repository.held(session, QUEUE_LIMIT):
                reasons = tuple(
                    (str(r.get("code", "")), str(r.get("detail", ""))) for r in order.hold_reasons
                )
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


DEFAULT_CANCEL_REASON = "Cancelled in order review"


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
    accesses: list[Access], user: User, choices: list[str], action: str, text: str
) -> BulkResult:
    """Release or cancel the checked orders, each in its tenant and only where the user may
    review orders; anything else is skipped (a tenant outside theirs is audited as denied)."""
    result = BulkResult()
    reviewable = {a.tenant.slug: a for a in with_permission(accesses, P.orders_review)}
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


# --- sync and webhook health ---------------------------------------------------------------


@dataclass(frozen=True)
class ShopHealth:
    tenant: Tenant
    name: str
    channel: str
    status: str
    lag_seconds: int | None
    last_success_at: datetime | None
    last_error: str | None
    last_error_at: datetime | None
    consecutive_failures: int
    failing: bool


@dataclass(frozen=True)
class DeliveryRow:
    tenant: Tenant
    id: uuid.UUID
    shop_name: str
    topic: str
    status: str
    received_at: datetime
    attempts: int
    error: str | None
    can_replay: bool

    @property
    def failed(self) -> bool:
        return self.status == DeliveryStatus.failed


@dataclass
class Health:
    shops: list[ShopHealth] = field(default_factory=list)
    deliveries: list[DeliveryRow] = field(default_factory=list)

    @property
    def failing(self) -> list[ShopHealth]:
        return [s for s in self.shops if s.failing]


def sync_health(accesses: list[Access], user_id: uuid.UUID) -> Health:
    """Shops (failing first, then by lag) and recent webhook deliveries of the tenants where
    the user may see shops."""
    health = Health()
    for access in with_permission(accesses, P.shops_read):
        with tenant_unit(access.tenant.id, user_id) as session:
            names: dict[uuid.UUID, str] = {}
            for shop in shop_service.shops(session):
                names[shop.id] = shop.name
                if shop.status == ShopStatus.disconnected:
                    continue
                read = shop_service.read(shop)
                health.shops.append(
                    ShopHealth(
                        access.tenant,
                        shop.name,
                        shop.channel,
                        shop.status.value,
                        read.lag_seconds,
                        shop.last_success_at,
                        shop.last_error,
                        shop.last_error_at,
                        shop.consecutive_failures,
                        is_failing(shop),
                    )
                )
            for delivery in shop_service.recent_deliveries(session, DELIVERY_LIMIT):
                health.deliveries.append(
                    DeliveryRow(
                        access.tenant,
                        delivery.id,
                        names.get(delivery.shop_id, str(delivery.shop_id)),
                        delivery.topic,
                        delivery.status.value,
                        delivery.received_at,
                        delivery.attempts,
                        delivery.error,
                        access.can(P.shops_manage),
                    )
                )
            session.rollback()
    health.shops.sort(
        key=lambda s: (not s.failing, -(s.lag_seconds or 0), s.tenant.display_name, s.name)
    )
    health.deliveries.sort(key=lambda d: d.received_at, reverse=True)
    return health


def replay(session: Session, delivery_id: uuid.UUID) -> None:
    """Queue a stored delivery again (the relay hands it to a worker), audited as the API does."""
    delivery = webhooks.replay(session, delivery_id)
    audit.record(session, "webhook.replayed", f"webhook_delivery:{delivery.id}")
    session.flush()


# --- billing -------------------------------------------------------------------------------


@dataclass(frozen=True)
class DraftRow:
    tenant: Tenant
    id: uuid.UUID
    period: str
    total_minor: int
    currency: str
    generated_at: datetime | None
    can_manage: bool


def draft_statements(accesses: list[Access], user_id: uuid.UUID) -> list[DraftRow]:
    """Draft statements of the tenants where the user may read billing, oldest period first."""
    rows: list[DraftRow] = []
    for access in with_permission(accesses, P.billing_read):
        with tenant_unit(access.tenant.id, user_id) as session:
            for statement in billing_service.drafts(session):
                rows.append(
                    DraftRow(
                        access.tenant,
                        statement.id,
                        statement.period,
                        statement.total_minor,
                        statement.currency,
                        statement.generated_at,
                        access.can(P.billing_manage),
                    )
                )
            session.rollback()
    rows.sort(key=lambda r: (r.period, r.tenant.display_name.casefold()))
    return rows


@dataclass(frozen=True)
class LineView:
    kind: str
    description: str
    basis_minor: int
    quantity: str
    rate: str | None
    amount_minor: int
    adjusts_period: str | None

    @property
    def key(self) -> tuple[str, str | None]:
        # Not the description: it quotes the line's basis, which is what may have changed.
        return (self.kind, self.adjusts_period)

    @classmethod
    def of(cls, line: Any) -> LineView:
        rate = line.rate
        return cls(
            kind=line.kind,
            description=line.description,
            basis_minor=int(line.basis_minor),
            quantity=_plain(line.quantity),
            rate=None if rate is None or rate == "" else _plain(rate),
            amount_minor=int(line.amount_minor),
            adjusts_period=line.adjusts_period,
        )


def _plain(value: Any) -> str:
    """A quantity or rate as comparable text (``2`` and ``2.00`` are the same)."""
    try:
        number = Decimal(str(value)).normalize()
    except ArithmeticError:
        return str(value)
    return f"{number:f}"


@dataclass(frozen=True)
class LineChange:
    """One line of the comparison: added, removed, changed or same."""

    change: str
    before: LineView | None
    after: LineView | None

    @property
    def delta_minor(self) -> int:
        return (self.after.amount_minor if self.after else 0) - (
            self.before.amount_minor if self.before else 0
        )


def compare_lines(stored: list[Any], preview: list[Any]) -> list[LineChange]:
    """The stored draft's lines against a fresh preview's, matched by kind and adjusted period
    (in order, when one key appears several times); in the preview's order, removed lines
    last."""
    before = [LineView.of(line) for line in stored]
    after = [LineView.of(line) for line in preview]
    waiting: dict[tuple[str, str | None], list[LineView]] = {}
    for line in before:
        waiting.setdefault(line.key, []).append(line)
    changes: list[LineChange] = []
    for line in after:
        matches = waiting.get(line.key)
        if not matches:
            changes.append(LineChange("added", None, line))
            continue
        old = matches.pop(0)
        changes.append(LineChange("same" if old == line else "changed", old, line))
    for rest in waiting.values():
        changes.extend(LineChange("removed", line, None) for line in rest)
    return changes


@dataclass(frozen=True)
class DraftReview:
    statement: Any
    preview_total_minor: int | None
    changes: list[LineChange]
    problem: str | None

    @property
    def changed(self) -> bool:
        return any(c.change != "same" for c in self.changes) or (
            self.preview_total_minor is not None
            and self.preview_total_minor != self.statement.total_minor
        )


def review_draft(session: Session, statement_id: uuid.UUID) -> DraftReview:
    """A statement with what regenerating it now would change, line by line (nothing saved)."""
    statement = billing_service.get_statement(session, statement_id)
    if statement.status != StatementStatus.draft:
        kept = [LineChange("same", LineView.of(x), LineView.of(x)) for x in statement.lines]
        return DraftReview(statement, None, kept, None)
    try:
        computed = billing_service.compute(session, Period.parse(statement.period))
    except Problem as refused:
        if refused.status >= 500:
            raise
        changes = [LineChange("same", LineView.of(x), LineView.of(x)) for x in statement.lines]
        return DraftReview(statement, None, changes, refused.detail)
    changes = compare_lines(list(statement.lines), list(computed.lines))
    return DraftReview(statement, computed.total_minor, changes, None)


def regenerate(session: Session, statement_id: uuid.UUID) -> None:
    """Rebuild a draft in place from the facts as they are now (409 once finalized)."""
    statement = billing_service.get_statement(session, statement_id)
    if statement.status != StatementStatus.draft:
        raise Problem(409, "not-a-draft", f"The statement is {statement.status.value}")
    billing_service.generate(session, Period.parse(statement.period))


def finalize(session: Session, statement_id: uuid.UUID) -> None:
    """Finalize a draft through the billing service (which regenerates, freezes and audits)."""
    billing_service.finalize(session, statement_id)


def lag_text(seconds: int | None) -> tuple[int, str] | None:
    """A lag as (amount, unit) in its largest whole unit: minutes, hours or days."""
    if seconds is None:
        return None
    span = timedelta(seconds=seconds)
    if span >= timedelta(days=1):
        return span.days, "d"
    if span >= timedelta(hours=1):
        return seconds // 3600, "h"
    return seconds // 60, "min"
