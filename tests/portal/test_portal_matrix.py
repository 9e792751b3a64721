"""The portal's authorization matrix: every portal route x every kind of actor (SECURITY.md 12).

Portal routes are left out of the OpenAPI schema, so the API's matrix does not see them. This one
enumerates the app's routes under ``/portal`` (static files aside); each needs an entry in
:data:`PORTAL_TABLE`, from which every actor's answer on tenant A's objects is derived: anonymous
visitors are sent to sign in, members of other tenants get the same 404 as a tenant that does
not exist, members of A without the permission get 403. A refused form POST changes nothing, and
an allowed one changes A only for the roles that may act.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import date
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import delete, select

from daiyun.billing import service as billing
from daiyun.billing.facts import Period
from daiyun.billing.models import BilledFact, StatementLine, StatementStatus
from daiyun.billing.models import Statement as BillingStatement
from daiyun.billing.schemas import ContractCreate
from daiyun.billing.terms import ContractTerms
from daiyun.connectors.models import WebhookDelivery
from daiyun.core import db
from daiyun.core.audit.models import AuditEntry
from daiyun.platform.customer_service import service as cs_service
from daiyun.platform.customer_service.schemas import Channel, ContactCreate
from daiyun.platform.orders import service as order_service
from daiyun.platform.orders.models import Order, ReviewState
from daiyun.platform.orders.normalized import OrderStatus
from daiyun.platform.storefront import service as catalog_service
from daiyun.platform.storefront.schemas import ProductCreate
from daiyun.portal.models import PortalSession
from daiyun.tenants.auth.models import User
from daiyun.tenants.auth.permissions import MERCHANT_ROLES, STAFF_ROLES, Role, allows
from daiyun.tenants.models import Tenant
from tests import factories
from tests.conftest import PASSWORD, World
from tests.portal import (
    aftersales_matrix,
    fulfillment_matrix,
    recruiting_matrix,
    service_library_matrix,
    stocktake_matrix,
)
from tests.portal.conftest import csrf_of, portal_sign_in
from tests.portal.portal_table import (
    HOME,
    MEMBER_OF_A,
    PORTAL,
    PORTAL_TABLE,
    PUBLIC,
    SIGNED_IN,
    STAFF,
    Route,
    Rule,
)

R = Role
DENIED = "tenant.access_denied"


def portal_routes(app: FastAPI) -> set[Route]:
    """Every (METHOD, path) the app serves under /portal, static files aside."""
    try:
        from fastapi.routing import iter_route_contexts
    except ImportError:  # FastAPI before included routers were kept as such
        routes: Iterable[Any] = app.routes
    else:
        routes = iter_route_contexts(app.routes)
    found: set[Route] = set()
    for route in routes:
        path = getattr(route, "path", None) or ""
        if not (path == PORTAL or path.startswith(f"{PORTAL}/")):
            continue
        if path == f"{PORTAL}/static" or path.startswith(f"{PORTAL}/static/"):
            continue
        methods = getattr(route, "methods", None) or set()
        assert methods, f"{path}: a portal route that is not a page ({type(route).__name__})"
        found |= {(m, path) for m in methods if m != "HEAD"}
    return found


def test_every_portal_route_has_a_table_entry(app: FastAPI) -> None:
    routes = portal_routes(app)
    assert ("GET", f"{PORTAL}/login") in routes  # the enumeration sees the portal at all
    assert routes == set(PORTAL_TABLE), (
        f"missing from PORTAL_TABLE: {sorted(routes - set(PORTAL_TABLE))}; "
        f"no longer in the app: {sorted(set(PORTAL_TABLE) - routes)}"
    )


@pytest.mark.parametrize(
    "route",
    sorted(r for r, rule in PORTAL_TABLE.items() if rule.pinned is not None),
    ids=lambda r: f"{r[0]} {r[1]}",
)
def test_table_pins_the_roles_let_in(route: Route) -> None:
    """A change to the role table that widens a page shows up as a failure."""
    rule = PORTAL_TABLE[route]
    assert rule.allowed() == rule.pinned, sorted(rule.allowed())


# --------------------------------------------------------------------------------------------
# The cast
# --------------------------------------------------------------------------------------------


@dataclass
class Caller:
    name: str
    user: User | None
    role_in_a: Role | None
    client: TestClient

    @property
    def is_staff(self) -> bool:
        return self.user is not None and self.user.role not in MERCHANT_ROLES


@dataclass
class Cast:
    a: Tenant
    b: Tenant
    callers: list[Caller]
    order_id: uuid.UUID
    statement_id: uuid.UUID
    placeholders: dict[str, str] = field(default_factory=dict)


def _browser(app: FastAPI) -> TestClient:
    return TestClient(app, raise_server_exceptions=False)


def _sign_in(app: FastAPI, user: User) -> TestClient:
    client = _browser(app)
    answer = portal_sign_in(client, user.email)
    assert answer.status_code == 303, answer.text
    return client


def _cast(world: World, app: FastAPI) -> Cast:
    a, b = world.tenant(), world.tenant()

    def signed_in(name: str, role: Role, tenant: Tenant | None, in_a: Role | None) -> Caller:
        user = world.user(role, tenant)
        return Caller(name, user, in_a, _sign_in(app, user))

    callers = [
        Caller("anonymous", None, None, _browser(app)),
        signed_in("merchant A owner", R.merchant_owner, a, R.merchant_owner),
        signed_in("merchant A viewer", R.merchant_viewer, a, R.merchant_viewer),
        signed_in("merchant B owner", R.merchant_owner, b, None),
        *(
            signed_in(f"staff A {role.value}", role, a, role)
            for role in sorted(STAFF_ROLES, key=str)
        ),
        signed_in("staff not assigned to A (account_manager of B)", R.account_manager, b, None),
        signed_in("agency admin", R.agency_admin, None, R.agency_admin),
    ]
    admin = callers[-1].user
    assert admin is not None
    shop = factories.shop(a.id)
    with db.unit_of_work(a.id) as session:
        [(_, order)] = order_service.ingest(
            session, shop.id, shop.channel, [factories.order(phone="not a phone")]
        )
        assert order.review_state == ReviewState.held
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
        billing.create_contract(
            session,
            ContractCreate(name="A", effective_from=date(2026, 1, 1), terms=terms),
            admin.id,
        )
        statement = billing.generate(session, Period(2026, 1))
        position = session.scalar(
            select(StatementLine.position)
            .where(StatementLine.statement_id == statement.id)
            .order_by(StatementLine.position)
        )
        assert position is not None
    with db.unit_of_work(a.id) as session:
        product = catalog_service.create_product(session, ProductCreate(name="Matrix tea"))
    with db.unit_of_work(a.id) as session:
        buyer = cs_service.create_contact(session, ContactCreate(name="Matrix buyer"))
        conversation = cs_service.open_conversation(session, buyer, Channel.phone)
        cs_service.add_inbound(session, conversation, "Where is my tea?", external_id=None)
    cast = Cast(a, b, callers, order.id, statement.id)
    cast.placeholders = {
        "tenant": a.slug,
        "order_id": str(order.id),
        "statement_id": str(statement.id),
        "position": str(position),
        "delivery_id": str(delivery.id),
        "product_id": str(product.id),
        **stocktake_matrix.seed(a.id),
        "shop_id": str(shop.id),
        **fulfillment_matrix.seed(a.id, shop.id),
        "conversation_id": str(conversation.id),
        **aftersales_matrix.seed(a.id, order.id),
        **recruiting_matrix.seed(a.id),
        **service_library_matrix.seed(a.id),
    }
    return cast


# --------------------------------------------------------------------------------------------
# State: what a refused POST must leave as it was
# --------------------------------------------------------------------------------------------


def _a_state(cast: Cast) -> tuple[object, ...]:
    """A's orders, statements, deliveries and audit log (refused attempts aside)."""
    with db.unit_of_work(cast.a.id) as session:
        orders = sorted(
            (str(o.id), str(o.status), str(o.review_state)) for o in session.scalars(select(Order))
        )
        statements = sorted(
            (str(s.id), str(s.status), s.total_minor, str(s.generated_at))
            for s in session.scalars(select(BillingStatement))
        )
        deliveries = sorted(
            (str(d.id), str(d.status), d.attempts, d.error)
            for d in session.scalars(select(WebhookDelivery))
        )
        audit = sorted(
            (e.action, e.target, str(e.actor_id))
            for e in session.scalars(select(AuditEntry).where(AuditEntry.action != DENIED))
        )
    return (
        orders,
        statements,
        deliveries,
        audit,
        stocktake_matrix.state(cast.a.id),
        aftersales_matrix.state(cast.a.id),
        fulfillment_matrix.state(cast.a.id),
        recruiting_matrix.state(cast.a.id),
        service_library_matrix.state(cast.a.id),
    )


def _sessions_state() -> tuple[object, ...]:
    with db.unit_of_work() as session:
        rows = sorted(
            (s.id_hash, str(s.switched_tenant_id), s.revoked_at is None)
            for s in session.scalars(select(PortalSession))
        )
        locales = sorted((str(u.id), u.locale) for u in session.scalars(select(User)))
    return (rows, locales)


def _restore(route: Route, cast: Cast) -> None:
    """Put A's objects back, so that the next allowed caller can act on them too."""
    stocktake_matrix.restore(route[1], cast.a.id, cast.placeholders)
    fulfillment_matrix.restore(route[1], cast.a.id, cast.placeholders)
    recruiting_matrix.restore(route[1], cast.a.id, cast.placeholders)
    aftersales_matrix.restore(route[1], cast.a.id, cast.placeholders)
    with db.unit_of_work(cast.a.id) as session:
        order = session.scalar(select(Order).where(Order.id == cast.order_id))
        assert order is not None
        order.review_state, order.status = ReviewState.held, OrderStatus.on_hold
        if route[1].endswith("/finalize"):
            statement = session.scalar(
                select(BillingStatement).where(BillingStatement.id == cast.statement_id)
            )
            assert statement is not None
            session.execute(delete(BilledFact))
            statement.status = StatementStatus.draft


# --------------------------------------------------------------------------------------------
# Requests and expectations
# --------------------------------------------------------------------------------------------


def _token(caller: Caller) -> str:
    """The token a form of the caller's current page carries (the sign-in page's when
    signed out)."""
    path = f"{PORTAL}/login" if caller.user is None else f"{PORTAL}/tenants"
    page = caller.client.get(path)
    assert page.status_code == 200, (caller.name, page.status_code)
    return csrf_of(page.text)


def _no_token(page: str) -> str:
    return re.sub(r'name="csrf_token" value="[^"]*"', 'name="csrf_token"', page)


def _form(route: Route, cast: Cast, caller: Caller) -> dict[str, Any]:
    """A valid form for every POST (so that only authorization can refuse it)."""
    method, path = route
    if method != "POST":
        return {}
    fields: dict[str, Any] = {"csrf_token": _token(caller)}
    if path == f"{PORTAL}/login":
        # Before sign-in, forms carry the sign-in page's token (matched with its cookie).
        page = caller.client.get(f"{PORTAL}/login")
        fields["csrf_token"] = csrf_of(page.text)
        email = caller.user.email if caller.user else cast.callers[1].user.email  # type: ignore[union-attr]
        fields |= {"email": email, "password": PASSWORD}
    elif path == f"{PORTAL}/locale":
        fields |= {"locale": "en", "next": f"{PORTAL}/tenants"}
    elif path == f"{PORTAL}/preferences":
        fields |= {"locale": "en", "time_zone": ""}
    elif path == f"{PORTAL}/switch":
        fields |= {"tenant": cast.a.slug}
    elif path.endswith("/review/bulk"):
        fields |= {"action": "release", "order": f"{cast.a.slug}:{cast.order_id}"}
    elif counted := stocktake_matrix.form(path, cast.a.id, cast.placeholders, caller.name):
        fields |= counted
    elif path == f"{PORTAL}/console/inbox/status":
        fields |= {"status": "away"}
    elif more := aftersales_matrix.form(path, cast.placeholders, caller.name):
        fields |= more
    elif path.endswith("/conversations/{conversation_id}"):
        fields |= {"action": "note", "body": f"note by {caller.name}"}
    elif path.endswith("/cancel"):
        fields |= {"reason": f"cancelled by {caller.name}"}
    elif path.endswith("/stock/sync/resync"):
        fields |= {"shop_id": cast.placeholders["shop_id"]}
    elif path.endswith("/portfolio/settings"):
        fields |= {"share": "12.5", "growth": "-5"}
    elif library := service_library_matrix.form(path, caller.name):
        fields |= library
    else:
        more = fulfillment_matrix.form(path, cast.placeholders)
        fields |= more or recruiting_matrix.form(path, cast.placeholders) or {}
    return {"data": fields}


@dataclass(frozen=True)
class Expected:
    status: int
    to_sign_in: bool = False  # a 303 to the sign-in page


def expected(route: Route, rule: Rule, caller: Caller) -> Expected:
    method, _path = route
    success = Expected(303 if method == "POST" else 200)
    if rule.access == HOME:
        return Expected(303)
    if rule.access == PUBLIC:
        return success
    if caller.user is None:
        return Expected(303, to_sign_in=True)
    if rule.access == SIGNED_IN:
        return success
    if rule.access == STAFF:
        return success if caller.is_staff else Expected(404)
    if caller.role_in_a is None:
        return Expected(404)
    if rule.access == MEMBER_OF_A:
        return success
    assert rule.permission is not None
    if not allows(caller.role_in_a, rule.permission):
        return Expected(403)
    if rule.staff_only and not caller.is_staff:
        return Expected(404)
    return success


def _check(answer: httpx.Response, want: Expected, route: Route) -> str | None:
    if answer.status_code != want.status:
        return f"{answer.status_code}, expected {want.status}: {answer.text[:160]!r}"
    location = answer.headers.get("location", "")
    if want.status == 303:
        if not location.startswith(f"{PORTAL}/"):
            return f"redirected off the portal: {location!r}"
        if want.to_sign_in != location.startswith(f"{PORTAL}/login?next="):
            return f"redirected to {location!r}"
    if want.status in (403, 404) and "text/html" not in answer.headers.get("content-type", ""):
        return f"a refusal that is not a page: {answer.headers.get('content-type')}"
    csv_type = answer.headers.get("content-type", "")
    if want.status == 200 and route[1].endswith(".csv") and not csv_type.startswith("text/csv"):
        return f"CSV served as {answer.headers.get('content-type')}"
    if want.status == 200 and route[1].endswith(".pdf") and not answer.content.startswith(b"%PDF"):
        return "not a PDF"
    return None


def _ordered(routes: Iterable[Route]) -> list[Route]:
    # Signing out and switching tenant change the caller's session: they come last.
    last = {("POST", f"{PORTAL}/logout"): 2, ("POST", f"{PORTAL}/switch"): 1}
    return sorted(routes, key=lambda r: (last.get(r, 0), r))


@pytest.fixture
def cast(world: World, app: FastAPI) -> Iterator[Cast]:
    yield _cast(world, app)


@pytest.mark.long
def test_portal_route_matrix(cast: Cast, app: FastAPI) -> None:
    """Every portal route on A's objects x every actor; refused POSTs change nothing."""
    admin = cast.callers[-1]
    mismatches: list[str] = []
    for route in _ordered(portal_routes(app)):
        method, template = route
        rule = PORTAL_TABLE.get(route)
        if rule is None:
            mismatches.append(f"{method} {template}: no entry in PORTAL_TABLE")
            continue
        try:
            path = template.format_map(cast.placeholders)
        except KeyError as exc:
            mismatches.append(f"{method} {template}: no object of A to put in {exc}")
            continue
        unknown: httpx.Response | None = None
        if "{tenant}" in template:
            ghost = template.format_map({**cast.placeholders, "tenant": "no-such-tenant"})
            unknown = admin.client.request(
                method, ghost, follow_redirects=False, **_form(route, cast, admin)
            )
            assert unknown.status_code == 404, f"{method} {ghost}: {unknown.status_code}"
        for caller in cast.callers:
            where = f"{caller.name}: {method} {template}"
            want = expected(route, rule, caller)
            request = _form(route, cast, caller)
            before = (_a_state(cast), _sessions_state()) if method == "POST" else None
            answer = caller.client.request(method, path, follow_redirects=False, **request)
            problem = _check(answer, want, route)
            if problem:
                mismatches.append(f"{where} -> {problem}")
            elif want.status == 404 and unknown is not None and caller.role_in_a is None:
                # (A member of A finding a staff-only page knows A: their menu shows it.)
                # The page carries the caller's own header (their menu, name and sign-out) and
                # CSRF token (its language switch must work): compared with the same caller's
                # page for a tenant that does not exist, A's existence must not show.
                assert "{tenant}" in template
                ghost = template.format_map({**cast.placeholders, "tenant": "no-such-tenant"})
                theirs = caller.client.request(
                    method, ghost, follow_redirects=False, **_form(route, cast, caller)
                )
                same = _no_token(answer.text.replace(cast.a.slug, "?")) == _no_token(
                    theirs.text.replace("no-such-tenant", "?")
                )
                if not same:
                    mismatches.append(f"{where}: 404 differs from an unknown tenant's")
            if before is not None:
                after = (_a_state(cast), _sessions_state())
                refused = want.status != 303 or want.to_sign_in
                if refused and after != before:
                    mismatches.append(f"{where}: refused, yet something changed")
                elif not refused:
                    acts = caller.role_in_a in rule.changes
                    if acts and after[0] == before[0]:
                        mismatches.append(f"{where}: allowed, yet A did not change")
                    if not acts and after[0] != before[0]:
                        mismatches.append(f"{where}: A changed for a role that may not act")
                _restore(route, cast)
            if route == ("POST", f"{PORTAL}/logout") and caller.user is not None:
                caller.client = _sign_in(app, caller.user)  # signed out: sign in again
            if route == ("POST", f"{PORTAL}/login") and caller.user is None:
                caller.client = _browser(app)  # the visitor signed in: back to a bare browser
    assert not mismatches, "\n".join(mismatches)


def test_a_refused_page_leaves_no_figure_of_a(cast: Cast) -> None:
    """Refusals never carry A's data: no order id, no statement id, no tenant name."""
    secrets_of_a = (str(cast.order_id), str(cast.statement_id), cast.a.display_name)
    for caller in cast.callers:
        if caller.role_in_a is not None:
            continue
        for template in PORTAL_TABLE:
            if template[0] != "GET" or "{tenant}" not in template[1]:
                continue
            answer = caller.client.get(
                template[1].format_map(cast.placeholders), follow_redirects=False
            )
            assert answer.status_code in (303, 404), (caller.name, template)
            path = answer.request.url.path
            leaked = [s for s in secrets_of_a if s in answer.text and s not in path]
            assert not leaked, (caller.name, template, leaked)
