"""Authorization: the route matrix (SECURITY.md 12). Revoked assignments and tampered tenants
(13-14) are in tests/tenants/test_revocation_and_tampering.py; the tables are tests/authz_tables.py.

The matrix is generated from the app's OpenAPI paths. Every route needs an entry in one of two
explicit tables (routes on a tenant, other routes); the expected answer of each actor is derived
from the entry: anonymous 401, outside tenant A 404, without the permission 403, else 2xx.
"""

from __future__ import annotations

import itertools
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
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
from daiyun.core.config import get_settings
from daiyun.platform.orders import service as order_service
from daiyun.platform.orders.models import Order, ReviewState
from daiyun.platform.orders.normalized import OrderStatus
from daiyun.platform.rates.models import ExchangeRate
from daiyun.tenants.auth import service as auth_service
from daiyun.tenants.auth.models import AccessToken, ApiKey, User
from daiyun.tenants.auth.permissions import STAFF_ROLES, Permission, Role, allows
from daiyun.tenants.models import Membership, Tenant
from tests import factories
from tests.authz import (
    API,
    DENIED,
    R,
    Route,
    TenantRule,
    columns_of,
    problem_kind,
    without_instance,
)
from tests.authz_tables import (
    CREATE_CONTRACT,
    DISCONNECT,
    INVITE_VIEWER,
    OFFBOARD,
    OTHER_TABLE,
    PUBLIC,
    RATE_KEEPERS,
    SIGNATURE,
    SIGNED_IN,
    TENANT_TABLE,
)
from tests.conftest import PASSWORD, World
from tests.core.tasks_fixtures import celery_broker
from tests.isolation_parts import PARTS

WRITES = frozenset({"POST", "PUT", "PATCH", "DELETE"})
# POSTs that compute an answer and store nothing (a part's optional ``COMPUTES``).
COMPUTES: frozenset[Route] = frozenset().union(
    *(getattr(part, "COMPUTES", frozenset()) for part in PARTS)
)


def _operations(app: FastAPI) -> dict[Route, int]:
    """Every (METHOD, path) in the OpenAPI schema with its documented success status."""
    found: dict[Route, int] = {}
    for path, item in app.openapi()["paths"].items():
        for method, operation in item.items():
            codes = [int(c) for c in operation["responses"] if c.startswith("2")]
            assert codes, f"{method.upper()} {path} documents no success status"
            # A creating POST that replays a retry declares 200 as well; the first call creates.
            found[(method.upper(), path)] = 201 if 201 in codes else min(codes)
    return found


def test_every_route_has_a_matrix_entry(app: FastAPI) -> None:
    """SECURITY.md 12: a route without a matrix entry fails; tenant routes are exactly the table."""
    routes = set(_operations(app))
    assert not set(TENANT_TABLE) & set(OTHER_TABLE)
    tenant_routes = {r for r in routes if "{tenant}" in r[1]}
    assert tenant_routes == set(TENANT_TABLE), (
        f"missing from TENANT_TABLE: {sorted(tenant_routes - set(TENANT_TABLE))}; "
        f"no longer in the app: {sorted(set(TENANT_TABLE) - tenant_routes)}"
    )
    assert all(path.startswith(f"{API}/tenants/{{tenant}}") for _, path in tenant_routes)
    other = routes - tenant_routes
    assert other == set(OTHER_TABLE), (
        f"missing from OTHER_TABLE: {sorted(other - set(OTHER_TABLE))}; "
        f"no longer in the app: {sorted(set(OTHER_TABLE) - other)}"
    )


@pytest.mark.parametrize("route", sorted(TENANT_TABLE), ids=lambda r: f"{r[0]} {r[1]}")
def test_tenant_table_pins_the_roles_let_in(route: Route) -> None:
    """SECURITY.md 12: a change to the role table that widens a route shows up as a failure."""
    rule = TENANT_TABLE[route]
    assert rule.allowed() == rule.pinned, (
        f"{route}: roles with {rule.permission.value} are now {sorted(rule.allowed())}"
    )


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


def _cast(world: World) -> Cast:
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


def _prepare(route: Route, cast: Cast) -> None:
    """Before each caller: what a part needs (its optional ``prepare``); and before POST
    .../contracts, A has no contract yet (creating it is the point). The route runs after every
    other billing route, which need A's contract."""
    for part in PARTS:
        if hasattr(part, "prepare"):
            part.prepare(_in_tenant(route), cast.a.id, cast.placeholders)
    if route != CREATE_CONTRACT:
        return
    with db.unit_of_work(cast.a.id) as session:
        for model in (BilledFact, StatementLine, BillingStatement, ContractVersion, Contract):
            session.execute(delete(model))


def _restore(route: Route, cast: Cast) -> None:
    """Put A's objects back as they were, so the next allowed caller can act on them too."""
    for part in PARTS:
        part.restore(_in_tenant(route), cast.a.id, cast.placeholders)
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


def _tenant_state(tenant: Tenant) -> TenantState:
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


def _platform_state(cast: Cast) -> tuple[object, ...]:
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
    return (*state, _tenant_state(cast.a), _tenant_state(cast.b))


def _in_tenant(route: Route) -> str:
    """A route's path after ``/tenants/{tenant}``, as the parts name their routes."""
    return route[1].removeprefix(f"{API}/tenants/{{tenant}}")


def _check_refusal(answer: httpx.Response, status: int) -> str | None:
    """The problem type that goes with a refusal, and the Bearer challenge with a 401."""
    kinds = {401: "unauthorized", 403: "forbidden", 404: "not-found"}
    if status in kinds and problem_kind(answer) != kinds[status]:
        return f"problem type {problem_kind(answer)!r}, expected {kinds[status]!r}"
    if status == 401 and answer.headers.get("www-authenticate") != "Bearer":
        return "401 without 'WWW-Authenticate: Bearer'"
    return None


# --------------------------------------------------------------------------------------------
# SECURITY.md 12: routes on tenant A
# --------------------------------------------------------------------------------------------


def _tenant_request(route: Route, cast: Cast, caller: Caller) -> dict[str, Any]:
    """A valid body for every write on a tenant (so only authorization can refuse it)."""
    if route == ("PATCH", f"{API}/tenants/{{tenant}}"):
        return {"json": {"display_name": f"Renamed by {caller.name}"[:200]}}
    if route == ("POST", f"{API}/tenants/{{tenant}}/members"):
        return {"json": {"user_id": str(cast.candidate.id), "role": R.cs_agent.value}}
    if route == ("POST", f"{API}/tenants/{{tenant}}/shops"):
        body = {
            "channel": "shopify",
            "name": "Matrix shop",
            "external_id": f"matrix-{uuid.uuid4().hex[:8]}",
            "credentials": factories.CREDENTIALS["shopify"],
        }
        return {"json": body}
    if route == ("PATCH", f"{API}/tenants/{{tenant}}/shops/{{shop_id}}"):
        return {"json": {"name": f"Renamed by {caller.name}"[:200]}}
    if route[1].endswith("/cancel"):
        return {"json": {"reason": f"cancelled by {caller.name}"}}
    if route[1].endswith(("/release", "/sync")):
        return {"json": {}}
    n = next(cast.writes)
    if route == CREATE_CONTRACT:
        terms = {"currency": "CNY", "base_fee_minor": 1000}
        return {"json": {"name": "New", "effective_from": "2026-01-01", "terms": terms}}
    if route[1].endswith("/versions"):
        start = (date(2027, 1, 1) + timedelta(days=n)).isoformat()
        return {"json": {"effective_from": start, "terms": {"currency": "CNY"}}}
    if route[1].endswith("/service-facts") and route[0] == "POST":
        fact = {
            "kind": "one_off",
            "occurred_on": "2026-02-03",
            "amount_minor": 100,
            "currency": "CNY",
        }
        return {"json": fact, "headers": {"Idempotency-Key": f"matrix-{n}"}}
    if route[1].endswith("/statements") and route[0] == "POST":
        return {"params": {"period": "2026-02"}}
    if route[1].endswith("/statements/preview"):
        return {"params": {"period": "2026-02"}}
    if route[1].endswith("/void"):
        return {"json": {"reason": f"voided by {caller.name}"}}
    if route == ("PUT", f"{API}/tenants/{{tenant}}/review-policy"):
        return {"json": {"blocked_buyers": [f"blocked by {caller.name}"]}}
    for part in PARTS:
        body = part.request(_in_tenant(route), route[0], cast.placeholders, n)
        if body is not None:
            return body
    return {}


def _expected_on_a(rule: TenantRule, caller: Caller, success: int) -> int:
    if caller.user is None:
        return 401
    if caller.role_in_a is None:
        return 404
    if caller.role_in_a not in rule.allowed():
        return 403
    return success


def _check_allowed_read(route: Route, cast: Cast, answer: httpx.Response) -> str | None:
    """An allowed read on A answers with A's data only (other routes: nothing to check)."""
    if route == ("GET", f"{API}/tenants/{{tenant}}") and answer.json()["slug"] != cast.a.slug:
        return f"answered tenant {answer.json()['slug']!r}"
    if route == ("GET", f"{API}/tenants/{{tenant}}/members"):
        members = {user_id for user_id, _ in _tenant_state(cast.a).members}
        listed = {m["user_id"] for m in answer.json()["items"]}
        if not listed or not listed <= members:
            return f"listed users that are not A's members: {sorted(listed - members)}"
    return None


def _send(
    client: TestClient, method: str, path: str, headers: dict[str, str], extra: dict[str, Any]
) -> httpx.Response:
    extra = dict(extra)
    merged = {**headers, **extra.pop("headers", {})}
    return client.request(method, path, headers=merged, **extra)


def test_tenant_route_matrix(world: World, app: FastAPI, tmp_path: Path) -> None:
    """SECURITY.md 12: every route on A's objects x every actor; denied writes change nothing."""
    broker = celery_broker(tmp_path)  # a real broker takes the syncs and replays queued
    broker.__enter__()
    try:
        _tenant_matrix(world, app)
    finally:
        broker.__exit__(None, None, None)


def _tenant_matrix(world: World, app: FastAPI) -> None:
    cast = _cast(world)
    client = world.client
    admin = cast.caller("agency admin")
    operations = _operations(app)
    # Disconnecting the shop and offboarding the tenant come last: other routes need them.
    routes = sorted(
        (r for r in operations if "{tenant}" in r[1]),
        key=lambda r: (r == OFFBOARD, r == DISCONNECT, r == CREATE_CONTRACT, r),
    )
    mismatches: list[str] = []
    for route in routes:
        method, template = route
        rule = TENANT_TABLE.get(route)
        if rule is None:
            mismatches.append(f"{method} {template}: no entry in TENANT_TABLE")
            continue
        try:
            path = template.format_map(cast.placeholders)
            ghost = template.format_map({**cast.placeholders, "tenant": "no-such-tenant"})
        except KeyError as exc:
            mismatches.append(f"{method} {template}: no object of A to put in {exc}")
            continue
        # What a tenant that does not exist looks like: members of other tenants must get this.
        unknown = _send(client, method, ghost, admin.headers, _tenant_request(route, cast, admin))
        assert unknown.status_code == 404, f"{method} {ghost}: {unknown.status_code}"
        for caller in cast.callers:
            where = f"{caller.name}: {method} {template}"
            expected = _expected_on_a(rule, caller, operations[route])
            _prepare(route, cast)
            before = _tenant_state(cast.a) if method in WRITES else None
            answer = _send(
                client, method, path, caller.headers, _tenant_request(route, cast, caller)
            )
            ok = answer.status_code == expected
            if not ok:
                mismatches.append(
                    f"{where} -> {answer.status_code}, expected {expected}: {answer.text[:200]}"
                )
            if ok and (problem := _check_refusal(answer, expected)):
                mismatches.append(f"{where}: {problem}")
            if ok and expected == 404 and without_instance(answer) != without_instance(unknown):
                mismatches.append(f"{where}: 404 differs from an unknown tenant's: {answer.text}")
            wrong_data = ok and expected < 300 and _check_allowed_read(route, cast, answer)
            if wrong_data:
                mismatches.append(f"{where}: {wrong_data}")
            if before is not None:
                after = _tenant_state(cast.a)
                if expected >= 400 and after != before:
                    mismatches.append(f"{where}: refused with {expected} but A changed")
                if ok and expected < 300 and route in COMPUTES and after != before:
                    mismatches.append(f"{where}: only computes, yet A changed")
                elif ok and expected < 300 and route not in COMPUTES and after == before:
                    mismatches.append(f"{where}: answered {expected} but A did not change")
            victim = (str(cast.victim.id), R.recruiter.value)
            if (
                route[1].endswith("/members/{user_id}")
                and victim not in _tenant_state(cast.a).members
            ):
                world.assign(cast.victim, cast.a, R.recruiter)  # restore for the next caller
            _restore(route, cast)
    assert not mismatches, "\n".join(mismatches)


# --------------------------------------------------------------------------------------------
# SECURITY.md 12: every other route
# --------------------------------------------------------------------------------------------


def _expected_elsewhere(access: str, caller: Caller, success: int) -> int:
    if access == PUBLIC:
        return success
    if access == SIGNATURE:
        return 401
    if caller.user is None:
        return 401
    if access == SIGNED_IN:
        return success
    if isinstance(access, Permission):
        return success if allows(caller.user.role, access) else 403
    if caller.role_in_a == R.agency_admin:
        return success
    if access == RATE_KEEPERS:
        return success if caller.user.role == R.finance else 403
    if access == INVITE_VIEWER:
        # The body invites a viewer of A: its owner may; outside A the tenant is "unknown".
        if caller.role_in_a is None:
            return 422
        return success if caller.role_in_a == R.merchant_owner else 403
    return 403


def test_other_route_matrix(world: World, app: FastAPI, monkeypatch: pytest.MonkeyPatch) -> None:
    """SECURITY.md 12: routes outside a tenant x every actor; denied writes change nothing."""
    monkeypatch.setattr(get_settings(), "stripe_webhook_secret", "whsec_matrix")
    monkeypatch.setattr("daiyun.app._check_broker", lambda: None)  # no broker in tests
    cast = _cast(world)
    client = world.client
    operations = _operations(app)
    keys: dict[str, uuid.UUID] = {}
    for caller in cast.callers:
        if caller.user is not None:
            with db.unit_of_work() as session:
                keys[caller.name] = auth_service.create_api_key(session, caller.user.id, "m")[0].id
    keys["anonymous"] = keys["agency admin"]

    def request_for(route: Route, caller: Caller) -> dict[str, Any]:
        login = caller.user or cast.victim
        if route == ("POST", f"{API}/auth/token"):
            return {"data": {"username": login.email, "password": PASSWORD}}
        if route == ("POST", f"{API}/me/api-keys"):
            return {"json": {"name": "matrix"}}
        if route == ("PATCH", f"{API}/me"):
            return {"json": {"time_zone": "Asia/Tokyo"}}
        if route == ("POST", f"{API}/users"):
            email = f"invited-{uuid.uuid4().hex[:8]}@example.com"
            return {
                "json": {
                    "email": email,
                    "name": "Invited",
                    "password": PASSWORD,
                    "role": R.merchant_viewer.value,
                    "tenant": cast.a.slug,
                }
            }
        if route == ("PUT", f"{API}/exchange-rates"):
            # Each caller records a rate of its own day, so an allowed write is seen as new.
            day = date(2030, 1, 1) + timedelta(days=cast.callers.index(caller))
            return {
                "json": {"rates": [{"day": str(day), "base": "USD", "quote": "CNY", "rate": "7.1"}]}
            }
        for part in PARTS:
            body = part.other_request(
                route[1].removeprefix(API), route[0], cast.callers.index(caller)
            )
            if body is not None:
                return body
        if route == ("POST", f"{API}/tenants"):
            slug = f"n-{uuid.uuid4().hex[:10]}"
            return {"json": {"slug": slug, "display_name": "New", "legal_name": "New Ltd"}}
        return {}

    mismatches: list[str] = []
    for route in sorted(operations):
        method, template = route
        if "{tenant}" in template:
            continue
        access = OTHER_TABLE.get(route)
        if access is None:
            mismatches.append(f"{method} {template}: no entry in OTHER_TABLE")
            continue
        for caller in cast.callers:
            where = f"{caller.name}: {method} {template}"
            expected = _expected_elsewhere(access, caller, operations[route])
            try:
                path = template.format_map(
                    {
                        **cast.placeholders,
                        "key_id": str(keys[caller.name]),
                        "channel": cast.shop.channel,
                        "shop_key": cast.shop.webhook_key,
                    }
                )
            except KeyError as exc:
                mismatches.append(f"{method} {template}: no object to put in {exc}")
                break
            headers = caller.headers
            if route == ("POST", f"{API}/auth/logout") and caller.user is not None:
                headers = world.sign_in(caller.user)  # keep the caller's own session usable
            before = _platform_state(cast) if method in WRITES else None
            answer = client.request(method, path, headers=headers, **request_for(route, caller))
            if answer.status_code != expected:
                mismatches.append(
                    f"{where} -> {answer.status_code}, expected {expected}: {answer.text[:200]}"
                )
                continue
            problem = (
                _check_refusal(answer, expected)
                if access != SIGNATURE
                else None
                if problem_kind(answer) == "invalid-signature"
                else f"problem type {problem_kind(answer)!r}, expected 'invalid-signature'"
            )
            if problem:
                mismatches.append(f"{where}: {problem}")
            if expected == 422 and problem_kind(answer) != "unknown-tenant":
                mismatches.append(f"{where}: expected an unknown-tenant problem: {answer.text}")
            if before is not None and expected >= 400 and _platform_state(cast) != before:
                mismatches.append(f"{where}: refused with {expected} but something changed")
            logged_out = expected < 300 and route == ("POST", f"{API}/auth/logout")
            if logged_out and client.get(f"{API}/me", headers=headers).status_code != 401:
                mismatches.append(f"{where}: the session still works after logout")
            if expected < 300 and route == ("GET", f"{API}/tenants"):
                slugs = {t["slug"] for t in answer.json()["items"]}
                if caller.role_in_a == R.agency_admin:
                    visible_ok = {cast.a.slug, cast.b.slug} <= slugs
                else:
                    visible_ok = slugs == {cast.a.slug if caller.role_in_a else cast.b.slug}
                if not visible_ok:
                    mismatches.append(f"{where}: lists {sorted(slugs)}")
    assert not mismatches, "\n".join(mismatches)


def test_user_creation_is_limited_to_viewers_of_the_own_tenant(world: World) -> None:
    """SECURITY.md 12: POST /users beyond the matrix row; a foreign tenant looks unknown."""
    cast = _cast(world)
    owner = cast.caller("merchant A owner")

    def invite(caller: Caller, role: Role, tenant: str | None) -> tuple[httpx.Response, str]:
        email = f"invited-{uuid.uuid4().hex[:8]}@example.com"
        body = {"email": email, "name": "Invited", "password": PASSWORD, "role": role.value}
        if tenant is not None:
            body["tenant"] = tenant
        return world.client.post(f"{API}/users", json=body, headers=caller.headers), email

    def exists(email: str) -> bool:
        with db.unit_of_work() as session:
            return session.scalar(select(User.id).where(User.email == email)) is not None

    to_b, email_b = invite(owner, R.merchant_viewer, cast.b.slug)
    to_ghost, email_ghost = invite(owner, R.merchant_viewer, "no-such-tenant")
    assert (to_b.status_code, problem_kind(to_b)) == (422, "unknown-tenant"), to_b.text
    assert to_b.json() == to_ghost.json()  # B's existence is not revealed
    refused = [
        invite(owner, R.merchant_owner, cast.a.slug),
        invite(owner, R.account_manager, None),
        invite(cast.caller("merchant A viewer"), R.merchant_viewer, cast.a.slug),
        invite(cast.caller("staff A account_manager"), R.merchant_viewer, cast.a.slug),
        invite(cast.caller("staff A account_manager"), R.cs_agent, None),
    ]
    for answer, _ in refused:
        assert (answer.status_code, problem_kind(answer)) == (403, "forbidden"), answer.text
    for email in [email_b, email_ghost, *(email for _, email in refused)]:
        assert not exists(email), email

    created, email = invite(owner, R.merchant_viewer, cast.a.slug)
    assert created.status_code == 201, created.text
    new_id = created.json()["id"]
    assert (new_id, R.merchant_viewer.value) in _tenant_state(cast.a).members
    assert all(user_id != new_id for user_id, _ in _tenant_state(cast.b).members)


def test_api_keys_of_another_user_are_not_found(world: World) -> None:
    """SECURITY.md 12: DELETE /me/api-keys/{key_id} on someone else's key is 404 and changes
    nothing."""
    a = world.tenant()
    owner, admin = world.actor(R.merchant_owner, a), world.actor(R.agency_admin)
    with db.unit_of_work() as session:
        key_id = auth_service.create_api_key(session, admin.user.id, "admin's")[0].id
    answer = world.client.delete(f"{API}/me/api-keys/{key_id}", headers=owner.headers)
    assert (answer.status_code, problem_kind(answer)) == (404, "not-found"), answer.text
    with db.unit_of_work() as session:
        key = session.get(ApiKey, key_id)
        assert key is not None and key.revoked_at is None
