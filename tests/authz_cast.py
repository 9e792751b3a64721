"""The cast of the route matrix (SECURITY.md 12): tenants A and B, one caller per kind of actor,
the objects each route acts on, and the state a refused write must leave unchanged.
"""

from __future__ import annotations

import itertools
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date
from typing import Any

import httpx
from fastapi import FastAPI
from sqlalchemy import delete, select

from daiyun.billing import service as billing
from daiyun.billing.facts import Period
from daiyun.billing.models import (
    BilledFact,
    Contract,
    ContractVersion,
    StatementLine,
    StatementStatus,
)
from daiyun.billing.models import Statement as BillingStatement
from daiyun.billing.schemas import ContractCreate
from daiyun.billing.terms import ContractTerms
from daiyun.connectors.models import Shop, SyncRun, WebhookDelivery
from daiyun.core import db
from daiyun.core.audit.models import AuditEntry
from daiyun.platform.orders import service as order_service
from daiyun.platform.orders.models import Order, ReviewState
from daiyun.platform.orders.normalized import OrderStatus
from daiyun.platform.rates.models import ExchangeRate
from daiyun.tenants.auth.models import AccessToken, ApiKey, User
from daiyun.tenants.auth.permissions import STAFF_ROLES, Role
from daiyun.tenants.models import Membership, Tenant
from tests import factories
from tests.authz import (
    API,
    DENIED,
    R,
    Route,
    columns_of,
    problem_kind,
)
from tests.authz_tables import (
    CREATE_CONTRACT,
)
from tests.conftest import World
from tests.isolation_parts import PARTS

WRITES = frozenset({"POST", "PUT", "PATCH", "DELETE"})
# POSTs that compute an answer and store nothing (a part's optional ``COMPUTES``).
COMPUTES: frozenset[Route] = frozenset().union(
    *(getattr(part, "COMPUTES", frozenset()) for part in PARTS)
)


def operations_of(app: FastAPI) -> dict[Route, int]:
    """Every (METHOD, path) in the OpenAPI schema with its documented success status."""
    found: dict[Route, int] = {}
    for path, item in app.openapi()["paths"].items():
        for method, operation in item.items():
            codes = [int(c) for c in operation["responses"] if c.startswith("2")]
            assert codes, f"{method.upper()} {path} documents no success status"
            # A creating POST that replays a retry declares 200 as well; the first call creates.
            found[(method.upper(), path)] = 201 if 201 in codes else min(codes)
    return found


# --------------------------------------------------------------------------------------------
# The cast: tenants A and B, one caller per kind of actor
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Caller:
    name: str
    user: User | None  # None: anonymous
    headers: dict[str, str]
    role_in_a: Role | None  # None: not a member of A (or anonymous)


@dataclass
class Cast:
    a: Tenant
    b: Tenant
    callers: list[Caller]
    victim: User  # a staff member of A, the target of DELETE .../members/{user_id}
    candidate: User  # an unassigned staff user, the body of POST .../members
    shop: Shop  # A's shop; the order is held on it, the delivery came from it
    order_id: uuid.UUID
    statement_id: uuid.UUID  # A's draft statement of 2026-01
    writes: Iterator[int] = field(default_factory=itertools.count)
    placeholders: dict[str, str] = field(default_factory=dict)

    def caller(self, name: str) -> Caller:
        return next(c for c in self.callers if c.name == name)


def make_cast(world: World) -> Cast:
    a, b = world.tenant(), world.tenant()

    def signed_in(name: str, role: Role, tenant: Tenant | None, role_in_a: Role | None) -> Caller:
        actor = world.actor(role, tenant)
        return Caller(name, actor.user, actor.headers, role_in_a)

    callers = [
        Caller("anonymous", None, {}, None),
        signed_in("merchant A owner", R.merchant_owner, a, R.merchant_owner),
        signed_in("merchant A viewer", R.merchant_viewer, a, R.merchant_viewer),
        signed_in("merchant B owner", R.merchant_owner, b, None),
        *(
            signed_in(f"staff A {role.value}", role, a, role)
            for role in sorted(STAFF_ROLES, key=str)
        ),
        signed_in("staff not assigned to A (account_manager of B)", R.account_manager, b, None),
        signed_in("agency admin", R.agency_admin, None, R.agency_admin),  # last: it may write
    ]
    victim = world.user(R.recruiter, a)
    candidate = world.user(R.cs_agent)
    admin_id = next(c.user.id for c in callers if c.name == "agency admin" and c.user)
    shop = factories.shop(a.id)
    with db.unit_of_work(a.id) as session:
        [(_, order)] = order_service.ingest(
            session, shop.id, shop.channel, [factories.order(phone="not a phone")]
        )
        delivery = WebhookDelivery(
            shop_id=shop.id,
            source=f"shopify:{shop.id}",
            external_id="e1",
            topic="orders/create",
            body="{}",
        )
        session.add(delivery)
        session.flush()
    with db.unit_of_work(a.id) as session:
        terms = ContractTerms(currency="CNY", base_fee_minor=100_00)
        contract = billing.create_contract(
            session,
            ContractCreate(name="A", effective_from=date(2026, 1, 1), terms=terms),
            admin_id,
        )
        statement = billing.generate(session, Period(2026, 1))
    cast = Cast(a, b, callers, victim, candidate, shop, order.id, statement.id)
    cast.placeholders = {
        "tenant": a.slug,
        "user_id": str(victim.id),
        "shop_id": str(shop.id),
        "order_id": str(order.id),
        "delivery_id": str(delivery.id),
        "contract_id": str(contract.id),
        "statement_id": str(statement.id),
    }
    for part in PARTS:  # each sees the places before it: the shop, the order, the SKU ("part_id")
        cast.placeholders.update(part.seed(a.id, dict(cast.placeholders)))
    return cast


def prepare_route(route: Route, cast: Cast) -> None:
    """Before each caller: what a part needs (its optional ``prepare``); and before POST
    .../contracts, A has no contract yet (creating it is the point). The route runs after every
    other billing route, which need A's contract."""
    for part in PARTS:
        if hasattr(part, "prepare"):
            part.prepare(in_tenant(route), cast.a.id, cast.placeholders)
    if route != CREATE_CONTRACT:
        return
    with db.unit_of_work(cast.a.id) as session:
        for model in (BilledFact, StatementLine, BillingStatement, ContractVersion, Contract):
            session.execute(delete(model))


def restore_route(route: Route, cast: Cast) -> None:
    """Put A's objects back as they were, so the next allowed caller can act on them too."""
    for part in PARTS:
        part.restore(in_tenant(route), cast.a.id, cast.placeholders)
    with db.unit_of_work(cast.a.id) as session:
        if route[1].endswith(("/finalize", "/void")):
            statement = session.scalar(
                select(BillingStatement).where(BillingStatement.id == cast.statement_id)
            )
            assert statement is not None
            session.execute(delete(BilledFact))
            statement.status = StatementStatus.draft
        if route[1].endswith(("/release", "/cancel")):
            order = session.scalar(select(Order).where(Order.id == cast.order_id))
            assert order is not None
            order.review_state, order.status = ReviewState.held, OrderStatus.on_hold
        if route[1].endswith("/sync"):
            for run in session.scalars(select(SyncRun)):
                run.status = "succeeded"


@dataclass(frozen=True)
class TenantState:
    row: dict[str, Any]
    members: list[tuple[str, str]]  # (user id, role)
    audit: list[tuple[str, str, str]]  # (action, target, actor id)
    parts: list[list[dict[str, Any]]]  # every row of each department part's tenant tables


def tenant_state(tenant: Tenant) -> TenantState:
    """The tenant row, its memberships and its audit log (refused attempts aside), read afresh
    through a session bound to the tenant."""
    with db.unit_of_work(tenant.id) as session:
        row = session.get(Tenant, tenant.id)
        members = sorted(
            (str(m.user_id), m.role.value) for m in session.scalars(select(Membership))
        )
        audit = sorted(
            (e.action, e.target, str(e.actor_id))
            for e in session.scalars(
                select(AuditEntry).where(
                    AuditEntry.tenant_id == tenant.id, AuditEntry.action != DENIED
                )
            )
        )
        parts = [part.tenant_state(session) for part in PARTS]
        return TenantState(columns_of(row), members, audit, parts)


def platform_state(cast: Cast) -> tuple[object, ...]:
    """Tenants, users, API keys, sessions and the platform audit log, plus A's and B's state."""
    with db.unit_of_work() as session:
        tenants = sorted(
            (t.slug, t.display_name, t.status.value) for t in session.scalars(select(Tenant))
        )
        users = sorted(
            (u.email, u.role.value, u.is_active, u.locale, u.time_zone)
            for u in session.scalars(select(User))
        )
        rates = sorted((r.day, r.rate) for r in session.scalars(select(ExchangeRate)))
        keys = sorted((str(k.id), k.revoked_at is None) for k in session.scalars(select(ApiKey)))
        tokens = sorted(
            (str(t.id), t.revoked_at is None) for t in session.scalars(select(AccessToken))
        )
        audit = sorted(
            (e.action, e.target)
            for e in session.scalars(
                select(AuditEntry).where(
                    AuditEntry.tenant_id.is_(None), AuditEntry.action != DENIED
                )
            )
        )
        parts = [part.platform_state(session) for part in PARTS]
    state = (tenants, users, rates, keys, tokens, audit, parts)
    return (*state, tenant_state(cast.a), tenant_state(cast.b))


def in_tenant(route: Route) -> str:
    """A route's path after ``/tenants/{tenant}``, as the parts name their routes."""
    return route[1].removeprefix(f"{API}/tenants/{{tenant}}")


def check_refusal(answer: httpx.Response, status: int) -> str | None:
    """The problem type that goes with a refusal, and the Bearer challenge with a 401."""
    kinds = {401: "unauthorized", 403: "forbidden", 404: "not-found"}
    if status in kinds and problem_kind(answer) != kinds[status]:
        return f"problem type {problem_kind(answer)!r}, expected {kinds[status]!r}"
    if status == 401 and answer.headers.get("www-authenticate") != "Bearer":
        return "401 without 'WWW-Authenticate: Bearer'"
    return None
