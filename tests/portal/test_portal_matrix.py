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
from daiyun.platform.storefront.models import Sku
from daiyun.platform.storefront.schemas import ProductCreate, SkuCreate
from daiyun.platform.warehouse import counts as stock_counts
from daiyun.platform.warehouse import service as stock_service
from daiyun.platform.warehouse.models import (
    CountKind,
    CountStatus,
    Receipt,
    StockCount,
    StockCountLine,
)
from daiyun.platform.warehouse.schemas import (
    CountCreate,
    CountedLine,
    CountEntry,
    ReceiptCreate,
    ReceivedLine,
)
from daiyun.portal.models import PortalSession
from daiyun.tenants.auth.models import User
from daiyun.tenants.auth.permissions import MERCHANT_ROLES, STAFF_ROLES, Permission, Role, allows
from daiyun.tenants.models import Tenant
from tests import factories
from tests.conftest import PASSWORD, World
from tests.platform.warehouse.conftest import make_site
from tests.portal import (
    aftersales_matrix,
    fulfillment_matrix,
    marketing_matrix,
    recruiting_matrix,
    service_library_matrix,
)
from tests.portal.conftest import csrf_of, portal_sign_in

P = Permission
R = Role
PORTAL = "/portal"
T = f"{PORTAL}/t/{{tenant}}"
Route = tuple[str, str]
DENIED = "tenant.access_denied"

# --------------------------------------------------------------------------------------------
# The expectation table
# --------------------------------------------------------------------------------------------

PUBLIC = "public"  # anyone, signed in or not
HOME = "home"  # everyone is redirected: to sign in, or to their start page
SIGNED_IN = "signed-in"  # any signed-in user; visitors are sent to sign in
STAFF = "staff"  # agency employees; a merchant's user finds no such page (404)
MEMBER_OF_A = "member-of-a"  # a form naming tenant A in its body (switching to it)
TENANT = "tenant"  # a page on tenant A, checked by tenant_page / tenant_form


@dataclass(frozen=True)
class Rule:
    """What a portal route requires.

    ``permission`` is checked in the tenant of the path; ``staff_only`` routes answer 404 to a
    merchant's user who has the permission. ``pinned`` lists the roles in A that get through
    (so a widened role table shows up here). ``changes`` lists the roles whose allowed POST
    changes A's data; for everyone else A must stay as it was.
    """

    access: str
    permission: Permission | None = None
    staff_only: bool = False
    pinned: frozenset[Role] | None = None
    changes: frozenset[Role] = frozenset()

    def allowed(self) -> frozenset[Role]:
        """The roles in A that this rule lets through."""
        if self.access in (PUBLIC, HOME, SIGNED_IN, MEMBER_OF_A):
            return frozenset(Role)
        if self.access == STAFF:
            return frozenset(Role) - MERCHANT_ROLES
        assert self.permission is not None
        return frozenset(
            r
            for r in Role
            if allows(r, self.permission) and not (self.staff_only and r in MERCHANT_ROLES)
        )


ORDER_READERS = frozenset(
    {
        R.agency_admin,
        R.account_manager,
        R.cs_agent,
        R.warehouse_operator,
        R.marketer,
        R.finance,
        R.merchant_owner,
        R.merchant_viewer,
    }
)
REVIEWERS = frozenset({R.agency_admin, R.account_manager, R.cs_agent})
BILL_READERS = frozenset(
    {R.agency_admin, R.account_manager, R.finance, R.merchant_owner, R.merchant_viewer}
)
STAFF_BILL_READERS = frozenset({R.agency_admin, R.account_manager, R.finance})
BILLERS = frozenset({R.agency_admin, R.finance})
SHOP_READERS = frozenset(
    {R.agency_admin, R.account_manager, R.cs_agent, R.marketer, R.merchant_owner, R.merchant_viewer}
)
SHOP_MANAGERS = frozenset({R.agency_admin, R.account_manager})
STOCK_KEEPERS = frozenset({R.agency_admin, R.warehouse_operator})
STAFF_STOCK_READERS = ORDER_READERS - MERCHANT_ROLES
ADMINS = frozenset({R.agency_admin})
# Merchants and the staff who read promotions (not the warehouse or recruiting).
MARKETING_READERS = ORDER_READERS - {R.warehouse_operator}
CS_REPLIERS = frozenset({R.agency_admin, R.cs_agent})
CS_REPORT_READERS = frozenset(
    {R.agency_admin, R.account_manager, R.cs_agent, R.merchant_owner, R.merchant_viewer}
)


def orders_page() -> Rule:
    return Rule(TENANT, P.orders_read, pinned=ORDER_READERS)


def billing_page() -> Rule:
    return Rule(TENANT, P.billing_read, pinned=BILL_READERS)


PORTAL_TABLE: dict[Route, Rule] = {
    # Account (views/account.py)
    ("GET", PORTAL): Rule(HOME),
    ("GET", f"{PORTAL}/"): Rule(HOME),
    ("GET", f"{PORTAL}/login"): Rule(PUBLIC),
    ("POST", f"{PORTAL}/login"): Rule(PUBLIC),
    ("POST", f"{PORTAL}/locale"): Rule(PUBLIC),
    ("POST", f"{PORTAL}/logout"): Rule(SIGNED_IN),
    ("POST", f"{PORTAL}/switch"): Rule(MEMBER_OF_A),
    ("GET", f"{PORTAL}/tenants"): Rule(SIGNED_IN),
    ("GET", f"{PORTAL}/preferences"): Rule(SIGNED_IN),
    ("POST", f"{PORTAL}/preferences"): Rule(SIGNED_IN),
    # Merchant pages (views/merchant.py)
    ("GET", f"{T}/dashboard"): orders_page(),
    ("GET", f"{T}/orders"): orders_page(),
    ("GET", f"{T}/orders.csv"): orders_page(),
    ("GET", f"{T}/orders/{{order_id}}"): orders_page(),
    ("GET", f"{T}/statements"): billing_page(),
    ("GET", f"{T}/statements/{{statement_id}}"): billing_page(),
    ("GET", f"{T}/statements/{{statement_id}}.csv"): billing_page(),
    ("GET", f"{T}/statements/{{statement_id}}.pdf"): billing_page(),
    ("GET", f"{T}/statements/{{statement_id}}/lines/{{position}}"): billing_page(),
    ("GET", f"{T}/shops"): Rule(TENANT, P.shops_read, pinned=SHOP_READERS),
    # The catalog (views/catalog*.py): read as orders are; thresholds set by catalog managers
    ("GET", f"{T}/products"): Rule(TENANT, P.catalog_read, pinned=ORDER_READERS),
    ("GET", f"{T}/products/{{product_id}}"): Rule(TENANT, P.catalog_read, pinned=ORDER_READERS),
    ("GET", f"{T}/listings"): Rule(TENANT, P.catalog_read, pinned=ORDER_READERS),
    ("GET", f"{T}/portfolio"): Rule(TENANT, P.catalog_read, pinned=ORDER_READERS),
    ("POST", f"{T}/portfolio/settings"): Rule(
        TENANT, P.catalog_manage, pinned=SHOP_MANAGERS, changes=SHOP_MANAGERS
    ),
    ("GET", f"{PORTAL}/console/catalog"): Rule(STAFF),
    ("GET", f"{PORTAL}/console/warehouse"): Rule(STAFF),
    ("GET", f"{T}/stock"): Rule(TENANT, P.warehouse_read, pinned=ORDER_READERS),
    ("GET", f"{T}/stock/ledger"): Rule(TENANT, P.warehouse_read, pinned=ORDER_READERS),
    ("GET", f"{T}/stock/exceptions"): Rule(TENANT, P.warehouse_read, pinned=ORDER_READERS),
    ("GET", f"{T}/stock/alerts"): Rule(TENANT, P.warehouse_read, pinned=ORDER_READERS),
    ("GET", f"{T}/stock/replenishment"): Rule(TENANT, P.warehouse_read, pinned=ORDER_READERS),
    # Shop stock sync (views/stock_sync.py): read by stock readers, sent again by keepers (staff).
    ("GET", f"{T}/stock/sync"): Rule(TENANT, P.warehouse_read, pinned=ORDER_READERS),
    ("POST", f"{T}/stock/sync/resync"): Rule(
        TENANT, P.warehouse_manage, staff_only=True, pinned=STOCK_KEEPERS, changes=STOCK_KEEPERS
    ),
    # Marketing (views/marketing.py, views/marketing_roas.py)
    **marketing_matrix.rules(Rule, TENANT, STAFF, PORTAL, MARKETING_READERS),
    # Stocktakes and replenishment (views/stocktake_console.py)
    ("GET", f"{PORTAL}/console/stocktakes"): Rule(STAFF),
    ("GET", f"{PORTAL}/console/replenishment"): Rule(STAFF),
    ("GET", f"{T}/stocktakes/{{count_id}}"): Rule(
        TENANT, P.warehouse_read, staff_only=True, pinned=STAFF_STOCK_READERS
    ),
    **{
        ("POST", f"{T}/stocktakes{action}"): Rule(
            TENANT, P.warehouse_manage, staff_only=True, pinned=STOCK_KEEPERS, changes=STOCK_KEEPERS
        )
        for action in ("", "/{count_id}/lines", "/{count_id}/submit", "/{count_id}/cancel")
    },
    ("POST", f"{T}/replenishment/expect"): Rule(
        TENANT, P.warehouse_manage, staff_only=True, pinned=STOCK_KEEPERS, changes=STOCK_KEEPERS
    ),
    ("POST", f"{T}/stocktakes/{{count_id}}/approve"): Rule(
        TENANT, P.warehouse_approve, staff_only=True, pinned=ADMINS, changes=ADMINS
    ),
    # Fulfilment (views/fulfillment*.py): parcels for merchants, the pack station and waves
    # for warehouse operators
    ("GET", f"{T}/fulfillment"): Rule(TENANT, P.warehouse_read, pinned=ORDER_READERS),
    ("GET", f"{T}/pack"): Rule(
        TENANT, P.warehouse_read, staff_only=True, pinned=STAFF_STOCK_READERS
    ),
    **{
        ("POST", f"{T}{action}"): Rule(
            TENANT, P.warehouse_manage, staff_only=True, pinned=STOCK_KEEPERS, changes=STOCK_KEEPERS
        )
        for action in (
            "/pack/{fo_id}/scan",
            "/pack/{fo_id}/finish",
            "/fulfillment/exceptions/{exception_id}/resolve",
        )
    },
    # The ship step (views/shipping*.py): shipments for merchants too; the label, shipping,
    # pushing again and the carrier rules for the warehouse's staff
    ("GET", f"{T}/shipments"): Rule(TENANT, P.warehouse_read, pinned=ORDER_READERS),
    ("GET", f"{T}/shipments/{{shipment_id}}/label.pdf"): Rule(
        TENANT, P.warehouse_read, staff_only=True, pinned=STAFF_STOCK_READERS
    ),
    **{
        ("POST", f"{T}{action}"): Rule(
            TENANT, P.warehouse_manage, staff_only=True, pinned=STOCK_KEEPERS, changes=STOCK_KEEPERS
        )
        for action in (
            "/parcels/{parcel_id}/ship",
            "/shipments/{shipment_id}/push",
            "/carriers",
            "/carriers/{priority}/remove",
        )
    },
    ("GET", f"{PORTAL}/console/shipments"): Rule(STAFF),
    ("GET", f"{PORTAL}/console/carriers"): Rule(STAFF),
    ("GET", f"{PORTAL}/console/fulfillment"): Rule(STAFF),
    ("GET", f"{PORTAL}/console/waves/{{wave_id}}"): Rule(STAFF),
    ("GET", f"{PORTAL}/console/waves/{{wave_id}}/pick-list.pdf"): Rule(STAFF),
    # A wave takes the parcels of the merchants where the user manages stock: for everyone
    # else A stays as it was.
    ("POST", f"{PORTAL}/console/waves"): Rule(STAFF, changes=STOCK_KEEPERS),
    ("POST", f"{PORTAL}/console/waves/{{wave_id}}/pick"): Rule(STAFF, changes=STOCK_KEEPERS),
    # Customer service (views/inbox_console.py): the inbox and the desk are staff pages; the
    # reply box acts where the role answers buyers; the service report is read by merchants too.
    ("GET", f"{PORTAL}/console/inbox"): Rule(STAFF),
    ("GET", f"{PORTAL}/console/inbox/events"): Rule(STAFF),
    ("POST", f"{PORTAL}/console/inbox/status"): Rule(STAFF),
    ("GET", f"{PORTAL}/console/service"): Rule(STAFF),
    ("POST", f"{T}/conversations/{{conversation_id}}"): Rule(
        TENANT, P.conversations_reply, staff_only=True, pinned=CS_REPLIERS, changes=CS_REPLIERS
    ),
    ("GET", f"{T}/service"): Rule(TENANT, P.cs_reports, pinned=CS_REPORT_READERS),
    # After-sales (views/aftersales.py): cases, their moves, the follow-up queue.
    **aftersales_matrix.rules(Rule, TENANT, STAFF, PORTAL),
    # Agency console (views/console.py)
    ("GET", f"{PORTAL}/console"): Rule(STAFF),
    ("GET", f"{PORTAL}/console/review"): Rule(STAFF),
    ("GET", f"{PORTAL}/console/sync"): Rule(STAFF),
    ("GET", f"{PORTAL}/console/billing"): Rule(STAFF),
    # Bulk decisions are open to staff, but only orders of tenants where the user reviews are
    # decided: everyone else's post leaves A as it was.
    ("POST", f"{PORTAL}/console/review/bulk"): Rule(STAFF, changes=REVIEWERS),
    ("POST", f"{T}/orders/{{order_id}}/release"): Rule(
        TENANT, P.orders_review, staff_only=True, pinned=REVIEWERS, changes=REVIEWERS
    ),
    ("POST", f"{T}/orders/{{order_id}}/cancel"): Rule(
        TENANT, P.orders_review, staff_only=True, pinned=REVIEWERS, changes=REVIEWERS
    ),
    ("POST", f"{T}/deliveries/{{delivery_id}}/replay"): Rule(
        TENANT, P.shops_manage, staff_only=True, pinned=SHOP_MANAGERS, changes=SHOP_MANAGERS
    ),
    ("GET", f"{T}/statements/{{statement_id}}/review"): Rule(
        TENANT, P.billing_read, staff_only=True, pinned=STAFF_BILL_READERS
    ),
    ("POST", f"{T}/statements/{{statement_id}}/finalize"): Rule(
        TENANT, P.billing_manage, staff_only=True, pinned=BILLERS, changes=BILLERS
    ),
    ("POST", f"{T}/statements/{{statement_id}}/regenerate"): Rule(
        TENANT, P.billing_manage, staff_only=True, pinned=BILLERS, changes=BILLERS
    ),
    # Recruiting (views/recruiting.py): the console's requisitions; a merchant's openings, the
    # pipeline board and candidates for reviewers; moving a card for recruiters (staff).
    **recruiting_matrix.rules(Rule, TENANT, STAFF, PORTAL),
    **service_library_matrix.rules(Rule, TENANT, STAFF, PORTAL),
}


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
    count_id = _stocktake(a)
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
        "count_id": str(count_id),
        "shop_id": str(shop.id),
        **fulfillment_matrix.seed(a.id, shop.id),
        "conversation_id": str(conversation.id),
        **aftersales_matrix.seed(a.id, order.id),
        **recruiting_matrix.seed(a.id),
        **service_library_matrix.seed(a.id),
    }
    return cast


def _stocktake(a: Tenant) -> uuid.UUID:
    """A's stock of MATRIX-CUP in a warehouse's bin A-01-01-01, and a count of that bin."""
    site = make_site(f"PM{uuid.uuid4().hex[:6].upper()}", 10)
    with db.unit_of_work(a.id) as session:
        sku = SkuCreate(code="MATRIX-CUP", cost_minor=100, currency="CNY")
        cup = catalog_service.create_product(session, ProductCreate(name="Cup", variants=[sku]))
        line = ReceivedLine(sku_id=cup.variants[0].id, quantity=5, location_id=site.shelf)
        stock_service.create_receipt(session, ReceiptCreate(warehouse_id=site.id, received=[line]))
        body = CountCreate(warehouse_id=site.id, kind=CountKind.cycle, location_ids=[site.shelf])
        count = stock_counts.start(session, body)
        found = CountedLine(sku_id=cup.variants[0].id, location_id=site.shelf, quantity=6)
        stock_counts.record(session, count.id, CountEntry(lines=[found]))
        return count.id


# What each count action needs the seeded count to be (the start needs its bin free).
COUNT_NEEDS = {
    "/stocktakes": CountStatus.cancelled,
    "/approve": CountStatus.submitted,
    "/submit": CountStatus.counting,
    "/cancel": CountStatus.counting,
    "/lines": CountStatus.counting,
}


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
        counted = sorted(
            (str(line.id), line.counted) for line in session.scalars(select(StockCountLine))
        )
        receipts = sorted(str(r.id) for r in session.scalars(select(Receipt)))
    return (
        orders,
        statements,
        deliveries,
        audit,
        counted,
        receipts,
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
    """Put A's objects back, so that the next allowed caller can act on them too (the seeded
    count in the state the route acts on; other counts cancelled)."""
    fulfillment_matrix.restore(route[1], cast.a.id, cast.placeholders)
    recruiting_matrix.restore(route[1], cast.a.id, cast.placeholders)
    aftersales_matrix.restore(route[1], cast.a.id, cast.placeholders)
    with db.unit_of_work(cast.a.id) as session:
        if "/stocktakes" in route[1]:
            seeded = uuid.UUID(cast.placeholders["count_id"])
            needs = next(v for k, v in COUNT_NEEDS.items() if route[1].endswith(k))
            for count in session.scalars(select(StockCount)):
                count.status = needs if count.id == seeded else CountStatus.cancelled
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
    elif path.endswith("/{tenant}/stocktakes"):
        with db.unit_of_work(cast.a.id) as session:
            count = stock_counts.get(session, uuid.UUID(cast.placeholders["count_id"]))
        fields |= {"warehouse_id": str(count.warehouse_id), "kind": "full"}
    elif path.endswith("/replenishment/expect"):
        with db.unit_of_work(cast.a.id) as session:
            count = stock_counts.get(session, uuid.UUID(cast.placeholders["count_id"]))
            cup = session.scalar(select(Sku.id).where(Sku.code == "MATRIX-CUP"))
        fields |= {
            "warehouse_id": str(count.warehouse_id),
            "key": caller.name,
            "sku_id": str(cup),
            "quantity": "4",
        }
    elif path == f"{PORTAL}/console/inbox/status":
        fields |= {"status": "away"}
    elif more := aftersales_matrix.form(path, cast.placeholders, caller.name):
        fields |= more
    elif path.endswith("/conversations/{conversation_id}"):
        fields |= {"action": "note", "body": f"note by {caller.name}"}
    elif path.endswith("/stocktakes/{count_id}/lines"):
        fields |= {"sku": "MATRIX-CUP", "bin": "A-01-01-01", "quantity": ""}
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
