"""SECURITY.md items 8-11: the ORM tenant guard, composite keys and unique values.

Every test runs on SQLite (where the ORM guard is the only guard) and on PostgreSQL. Tenant-owned
models are discovered from the mapper registry, so a new one is covered (or fails the coverage
test until it is seeded here).
"""

from __future__ import annotations

import contextlib
import re
import uuid
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any

import pytest
from httpx import Response
from sqlalchemy import delete, event, select, true, union, union_all, update
from sqlalchemy.engine import Connection
from sqlalchemy.exc import DBAPIError, IntegrityError
from sqlalchemy.orm import aliased

from daiyun import departments
from daiyun.billing import service as billing
from daiyun.billing.facts import Period, ServiceKind
from daiyun.billing.models import (
    BilledFact,
    BillingAccount,
    Contract,
    ContractVersion,
    LateOrder,
    ServiceFactRecord,
    StatementLine,
)
from daiyun.billing.models import Statement as BillingStatement
from daiyun.billing.schemas import ContractCreate, ServiceFactCreate
from daiyun.billing.terms import ContractTerms
from daiyun.connectors.models import Shop, SyncRun, WebhookDelivery
from daiyun.core import db
from daiyun.core.errors import Problem
from daiyun.core.events.models import HandledEvent, OutboxEvent
from daiyun.core.events.service import emit
from daiyun.core.tenancy import (
    CrossTenantWrite,
    TenantContextMissing,
    TenantScoped,
    TenantSwitchRefused,
    bind_tenant,
    current_tenant,
)
from daiyun.platform.orders import service as order_service
from daiyun.platform.orders.models import Order, OrderEvent, OrderLine, OrderRefund, ReviewPolicy
from daiyun.platform.orders.normalized import NormalizedRefund
from daiyun.platform.orders.rules import ReviewSettings
from daiyun.platform.reports import service as report_service
from daiyun.platform.reports.models import DailyProductSales, DailySales
from daiyun.platform.storefront import service as catalog_service
from daiyun.platform.storefront.listing_rules import ListingState
from daiyun.platform.storefront.models import (
    BundlePart,
    CatalogJob,
    CatalogJobChunk,
    CatalogJobProblem,
    CatalogSettings,
    Category,
    Listing,
    MarginFloor,
    PriceList,
    PriceListItem,
    Product,
    Sku,
    SkuMapping,
)
from daiyun.platform.storefront.rules import FloorMode
from daiyun.platform.storefront.schemas import (
    BundleCreate,
    CategoryCreate,
    CategoryFloorIn,
    FloorIn,
    JobKind,
    JobState,
    MarginFloorsIn,
    PartIn,
    ProductCreate,
    SkuCreate,
    SkuFloorIn,
)
from daiyun.tenants.auth.models import User
from daiyun.tenants.auth.permissions import Role
from daiyun.tenants.auth.schemas import UserCreate
from daiyun.tenants.auth.users import create_user
from daiyun.tenants.models import Membership, Tenant
from tests import factories
from tests.conftest import PASSWORD, World
from tests.isolation_parts import PARTS

TENANT_MODELS: list[type[Any]] = sorted(
    (
        m.class_
        for m in db.Base.registry.mappers
        if isinstance(m.class_, type) and issubclass(m.class_, TenantScoped)
    ),
    key=lambda cls: cls.__tablename__,
)
by_model = pytest.mark.parametrize("model", TENANT_MODELS, ids=lambda m: m.__name__)

# A column each bulk UPDATE sets, and the value it sets (visible afterwards, so B can be checked).
BULK_UPDATES: dict[type[Any], tuple[str, Any]] = {
    HandledEvent: ("handler", "tests.bulk-updated"),
    Membership: ("role", Role.finance),
    OutboxEvent: ("topic", "tests.bulk-updated"),
    Shop: ("name", "tests.bulk-updated"),
    Order: ("channel_status", "tests.bulk-updated"),
    OrderLine: ("title", "tests.bulk-updated"),
    OrderRefund: ("reason", "tests.bulk-updated"),
    OrderEvent: ("kind", "tests.bulk"),
    ReviewPolicy: ("updated_at", datetime(2026, 1, 1, tzinfo=UTC)),
    WebhookDelivery: ("topic", "tests.bulk-updated"),
    SyncRun: ("trigger", "tests.bulk"),
    Contract: ("name", "tests.bulk-updated"),
    ContractVersion: ("ends_on", date(2030, 1, 1)),
    ServiceFactRecord: ("description", "tests.bulk-updated"),
    BillingStatement: ("void_reason", "tests.bulk-updated"),
    StatementLine: ("description", "tests.bulk-updated"),
    BilledFact: ("period", "1999-01"),
    LateOrder: ("at", datetime(2026, 1, 1, tzinfo=UTC)),
    BillingAccount: ("email", "bulk@example.com"),
    DailySales: ("channel", "tests.bulk"),
    DailyProductSales: ("title", "tests.bulk-updated"),
    Category: ("name", "tests.bulk-updated"),
    Product: ("brand", "tests.bulk-updated"),
    Sku: ("barcode", "tests-bulk"),
    BundlePart: ("quantity", 7),
    MarginFloor: ("minimum_margin", "0.5"),
    Listing: ("title", "tests.bulk-updated"),
    PriceList: ("name", "tests.bulk-updated"),
    PriceListItem: ("override_reason", "tests.bulk-updated"),
    CatalogSettings: ("portfolio_share_threshold_bp", 4321),
    CatalogJob: ("filename", "tests.bulk-updated"),
    CatalogJobProblem: ("problem", "tests.bulk-updated"),
    CatalogJobChunk: ("part", "result"),
    SkuMapping: ("marketplace_sku", "tests.bulk-updated"),
    **{model: update for part in PARTS for model, update in part.BULK_UPDATES.items()},
}
# Tables no role may rewrite (a trigger refuses UPDATE and DELETE on both databases).
APPEND_ONLY: frozenset[type[Any]] = frozenset().union(*(part.APPEND_ONLY for part in PARTS))

# `<qualifier>.tenant_id = <bound parameter>` on SQLite (qmark) and psycopg (pyformat).
PREDICATE = re.compile(r"\b(\w+)\.tenant_id = (?:\?|%\(\w+\)s)")

departments.load_models()  # the registry must hold every model


# --- data ------------------------------------------------------------------------------------


@dataclass
class Seeded:
    """One tenant and the ids of the rows it owns, per tenant-owned model."""

    tenant: Tenant
    rows: dict[type[Any], set[uuid.UUID]] = field(default_factory=dict)


@dataclass
class Pair:
    a: Seeded
    b: Seeded
    staff: User


def _seed(world: World, tenant: Tenant, staff: User) -> Seeded:
    world.user(Role.merchant_owner, tenant)  # a merchant membership
    world.assign(staff, tenant, Role.account_manager)  # a staff membership (same user in A and B)
    seeded = Seeded(tenant)
    with db.unit_of_work(tenant.id) as session:
        events = [emit(session, "order.created", {"n": n}) for n in range(2)]
        session.flush()  # the handled marks reference the events
        handled = [HandledEvent(event_id=e.id, handler="tests.handler") for e in events]
        session.add_all(handled)
        session.flush()
        seeded.rows[OutboxEvent] = {e.id for e in events}
        seeded.rows[HandledEvent] = {h.id for h in handled}
        # Filtered explicitly, so the seed does not depend on the guard under test.
        seeded.rows[Membership] = set(
            session.scalars(select(Membership.id).where(Membership.tenant_id == tenant.id))
        )
    shop = factories.shop(tenant.id)
    refund = NormalizedRefund("r1", 100, factories.T0, "seed")
    with db.unit_of_work(tenant.id) as session:
        order_service.update_review_settings(session, ReviewSettings(check_duplicates=False))
        ingested = order_service.ingest(
            session,
            shop.id,
            shop.channel,
            [factories.order("1"), factories.order("2", refunds=[refund], sku="X")],
        )
        delivery = WebhookDelivery(
            shop_id=shop.id, source=f"shopify:{shop.id}", external_id="e1", topic="t", body="{}"
        )
        run = SyncRun(
            shop_id=shop.id,
            trigger="manual",
            window_start=factories.T0,
            window_end=factories.T0,
            resume_from=factories.T0,
        )
        session.add_all([delivery, run])
        session.flush()
        for model in (Shop, Order, OrderLine, OrderRefund, OrderEvent, ReviewPolicy, OutboxEvent):
            seeded.rows[model] = set(
                session.scalars(select(model.id).where(model.tenant_id == tenant.id))
            )
        seeded.rows[WebhookDelivery] = {delivery.id}
        seeded.rows[SyncRun] = {run.id}
        assert len(ingested) == 2
        report_service.refresh(session, order_ids=[order.id for _, order in ingested])
        for model in (DailySales, DailyProductSales):
            seeded.rows[model] = set(
                session.scalars(select(model.id).where(model.tenant_id == tenant.id))
            )
    with db.unit_of_work(tenant.id) as session:
        billing.create_contract(
            session,
            ContractCreate(
                name="Seed",
                effective_from=date(2026, 1, 1),
                terms=ContractTerms(currency="CNY", base_fee_minor=100_00),
            ),
            staff.id,
        )
        fact = ServiceFactCreate(
            kind=ServiceKind.one_off,
            occurred_on=date(2026, 1, 5),
            amount_minor=50_00,
            currency="CNY",
        )
        billing.record_fact(session, "seed-1", fact)
        statement = billing.generate(session, Period(2026, 1))
        billing.finalize(session, statement.id)
        session.add(BillingAccount(email="seed@example.com"))
        session.add(LateOrder(order_id=ingested[0][1].id, at=factories.T0))
        session.flush()
        for model in (
            Contract,
            ContractVersion,
            ServiceFactRecord,
            BillingStatement,
            StatementLine,
            BilledFact,
            LateOrder,
            BillingAccount,
            OutboxEvent,
        ):
            seeded.rows[model] = set(
                session.scalars(select(model.id).where(model.tenant_id == tenant.id))
            )
    with db.unit_of_work(tenant.id) as session:
        tea = catalog_service.create_category(session, CategoryCreate(name="Tea"))
        green = catalog_service.create_category(
            session, CategoryCreate(name="Green", parent_id=tea.id)
        )
        product = catalog_service.create_product(
            session,
            ProductCreate(
                name="Seed tea",
                category_id=green.id,
                variants=[SkuCreate(code="SEED", cost_minor=100, currency="CNY")],
            ),
        )
        part = product.variants[0].id
        catalog_service.create_bundle(
            session,
            BundleCreate(
                code="SEED-SET", name="Seed set", currency="CNY", parts=[PartIn(sku_id=part)]
            ),
        )
        catalog_service.set_margin_floors(
            session,
            MarginFloorsIn(
                tenant=FloorIn(mode=FloorMode.warn),
                categories=[CategoryFloorIn(category_id=tea.id, mode=FloorMode.block)],
                skus=[SkuFloorIn(sku_id=part, mode=FloorMode.off)],
            ),
        )
        listing = Listing(
            sku_id=part,
            shop_id=shop.id,
            title="Seed tea",
            state=ListingState.draft,
            currency="CNY",
            list_price_minor=200,
        )
        price_list = PriceList(
            name="Seed sale", starts_at=factories.T0, ends_at=datetime(2030, 1, 1, tzinfo=UTC)
        )
        session.add_all([listing, price_list, CatalogSettings()])
        session.flush()
        session.add(
            PriceListItem(price_list_id=price_list.id, listing_id=listing.id, list_price_minor=150)
        )
        job = CatalogJob(kind=JobKind.import_, state=JobState.queued, options={})
        session.add_all([job, SkuMapping(shop_id=shop.id, marketplace_sku="SEED-1", sku_id=part)])
        session.flush()
        session.add_all(
            [
                CatalogJobProblem(job_id=job.id, row=1, column="code", problem="seeded"),
                CatalogJobChunk(job_id=job.id, part="upload", seq=0, data=b"product,code"),
            ]
        )
        session.flush()
        for model in (
            Category,
            Product,
            Sku,
            BundlePart,
            MarginFloor,
            Listing,
            PriceList,
            PriceListItem,
            CatalogSettings,
            CatalogJob,
            CatalogJobProblem,
            CatalogJobChunk,
            SkuMapping,
            OutboxEvent,
        ):
            seeded.rows[model] = set(
                session.scalars(select(model.id).where(model.tenant_id == tenant.id))
            )
    for each in PARTS:
        seeded.rows.update(each.guard_seed(tenant.id, part, [order.id for _, order in ingested]))
    return seeded


@pytest.fixture
def pair(world: World) -> Pair:
    staff = world.user(Role.account_manager)
    a = _seed(world, world.tenant(), staff)
    b = _seed(world, world.tenant(), staff)
    return Pair(a, b, staff)


def _key(model: type[Any], tenant: Tenant, row_id: uuid.UUID) -> Any:
    """The identity of a row for get(): ``(tenant_id, id)``, or the tenant alone for a model
    keyed by its tenant (one row per tenant, such as the catalog settings)."""
    if [c.key for c in model.__mapper__.primary_key] == ["tenant_id"]:
        return tenant.id
    return (tenant.id, row_id)


def _ids_as(tenant: Tenant, model: type[Any]) -> set[uuid.UUID]:
    with db.unit_of_work(tenant.id) as session:
        return set(session.scalars(select(model.id)))


def _snapshot(tenant: Tenant) -> dict[type[Any], dict[uuid.UUID, tuple[Any, ...]]]:
    """Every row of every tenant-owned model, read as ``tenant``."""
    result: dict[type[Any], dict[uuid.UUID, tuple[Any, ...]]] = {}
    with db.unit_of_work(tenant.id) as session:
        for model in TENANT_MODELS:
            columns = [getattr(model, c.key) for c in model.__mapper__.column_attrs]
            result[model] = {row.id: tuple(row) for row in session.execute(select(*columns))}
    return result


# --- captured SQL ----------------------------------------------------------------------------


@dataclass
class Statement:
    sql: str
    parameters: Any

    def predicates(self) -> Counter[str]:
        return Counter(PREDICATE.findall(self.sql))

    def bound_uuids(self) -> set[uuid.UUID]:
        values: list[Any] = []
        stack = [self.parameters]
        while stack:
            item = stack.pop()
            if isinstance(item, dict):
                stack.extend(item.values())
            elif isinstance(item, list | tuple):
                stack.extend(item)
            else:
                values.append(item)
        found = set()
        for value in values:
            if isinstance(value, uuid.UUID):
                found.add(value)
            elif isinstance(value, str):
                with contextlib.suppress(ValueError):
                    found.add(uuid.UUID(value))
        return found


class Capture:
    def __init__(self) -> None:
        self.seen: list[Statement] = []

    def clear(self) -> None:
        self.seen.clear()

    def on(self, table: str) -> list[Statement]:
        """The data statements (not savepoints or settings) that touch ``table``."""
        verbs = ("SELECT", "UPDATE", "DELETE", "INSERT")
        return [
            s
            for s in self.seen
            if s.sql.lstrip().upper().startswith(verbs) and re.search(rf"\b{table}\b", s.sql)
        ]

    def one(self, table: str) -> Statement:
        found = self.on(table)
        assert len(found) == 1, [s.sql for s in self.seen]
        return found[0]


@pytest.fixture
def sql(connection: Connection) -> Iterator[Capture]:
    capture = Capture()

    def listener(
        _conn: Any, _cursor: Any, statement: str, parameters: Any, _ctx: Any, _many: bool
    ) -> None:
        capture.seen.append(Statement(statement, parameters))

    event.listen(connection, "before_cursor_execute", listener)
    yield capture
    event.remove(connection, "before_cursor_execute", listener)


def assert_scoped(
    statement: Statement, qualifiers: dict[str, int], tenant: Tenant, other: Tenant | None
) -> None:
    """Each qualifier is compared with a bound parameter, ``tenant`` is bound, ``other`` is not."""
    found = statement.predicates()
    for qualifier, times in qualifiers.items():
        assert found[qualifier] >= times, (qualifier, statement.sql)
    bound = statement.bound_uuids()
    assert tenant.id in bound, statement
    if other is not None:
        assert other.id not in bound, statement


# --- item 8: every statement carries the tenant predicate -------------------------------------


def test_tenant_models_are_discovered_and_seeded(pair: Pair) -> None:
    """Item 8: the registry yields the tenant-owned models, and this file seeds each of them."""
    assert {OutboxEvent, HandledEvent, Membership} <= set(TENANT_MODELS)
    assert set(pair.a.rows) == set(TENANT_MODELS) == set(BULK_UPDATES)
    for model in TENANT_MODELS:
        assert pair.a.rows[model], model
        assert pair.b.rows[model], model
        assert not pair.a.rows[model] & pair.b.rows[model]


@by_model
def test_select_returns_only_the_bound_tenants_rows(
    model: type[Any], pair: Pair, sql: Capture
) -> None:
    """Item 8: a plain select is filtered on tenant_id and returns A's rows only."""
    table = model.__tablename__
    with db.unit_of_work(pair.a.tenant.id) as session:
        sql.clear()
        rows = session.scalars(select(model)).all()
        assert_scoped(sql.one(table), {table: 1}, pair.a.tenant, pair.b.tenant)
        # Even a filter that names B's tenant explicitly finds nothing.
        explicit = session.scalars(select(model).where(model.tenant_id == pair.b.tenant.id))
        assert explicit.all() == []
    assert {r.id for r in rows} == pair.a.rows[model]
    assert {r.tenant_id for r in rows} == {pair.a.tenant.id}


@by_model
def test_join_to_a_platform_table_is_scoped(model: type[Any], pair: Pair, sql: Capture) -> None:
    """Item 8: a tenant model joined to the tenants table yields A's rows only."""
    table = model.__tablename__
    with db.unit_of_work(pair.a.tenant.id) as session:
        sql.clear()
        rows = session.execute(
            select(model.id, Tenant.slug).join(Tenant, Tenant.id == model.tenant_id)
        ).all()
        assert_scoped(sql.one(table), {table: 1}, pair.a.tenant, pair.b.tenant)
    assert {r.id for r in rows} == pair.a.rows[model]
    assert {r.slug for r in rows} == {pair.a.tenant.slug}


def test_join_between_tenant_models_is_scoped_on_both_sides(pair: Pair, sql: Capture) -> None:
    """Item 8: HandledEvent joined to OutboxEvent (on id only, or a cross join) stays inside A."""
    with db.unit_of_work(pair.a.tenant.id) as session:
        sql.clear()
        linked = session.execute(
            select(HandledEvent.id, OutboxEvent.id).join(
                OutboxEvent, OutboxEvent.id == HandledEvent.event_id
            )
        ).all()
        both = {"handled_events": 1, "outbox_events": 1}
        assert_scoped(sql.one("handled_events"), both, pair.a.tenant, pair.b.tenant)
        crossed = session.execute(
            select(HandledEvent.id, OutboxEvent.id).join(OutboxEvent, true())
        ).all()
    assert {h for h, _ in linked} == pair.a.rows[HandledEvent]
    assert {e for _, e in linked} <= pair.a.rows[OutboxEvent]
    # A cartesian product over both tenants would have 4 x 4 rows; A alone has 2 x 2.
    assert len(crossed) == len(pair.a.rows[HandledEvent]) * len(pair.a.rows[OutboxEvent])
    assert {e for _, e in crossed} == pair.a.rows[OutboxEvent]


@by_model
def test_aliased_entities_are_scoped(model: type[Any], pair: Pair, sql: Capture) -> None:
    """Item 8: an aliased entity, alone and self-joined, carries the predicate under its alias."""
    table = model.__tablename__
    other = aliased(model, name="other_rows")
    with db.unit_of_work(pair.a.tenant.id) as session:
        sql.clear()
        alone = session.scalars(select(other)).all()
        assert_scoped(sql.one(table), {"other_rows": 1}, pair.a.tenant, pair.b.tenant)
        sql.clear()
        pairs = session.execute(select(model.id, other.id).join(other, true())).all()
        statement = sql.one(table)
        assert_scoped(statement, {table: 1, "other_rows": 1}, pair.a.tenant, pair.b.tenant)
    assert {r.id for r in alone} == pair.a.rows[model]
    assert {x for x, _ in pairs} | {y for _, y in pairs} == pair.a.rows[model]
    assert len(pairs) == len(pair.a.rows[model]) ** 2


@by_model
def test_union_is_scoped_in_every_branch(model: type[Any], pair: Pair, sql: Capture) -> None:
    """Item 8: both selects of a union are filtered; a branch asking for B's rows adds nothing."""
    table = model.__tablename__
    everyone = pair.a.rows[model] | pair.b.rows[model]
    stmt = union(
        select(model.id).where(model.id.in_(everyone)),
        select(model.id).where(model.tenant_id == pair.b.tenant.id),
    )
    with db.unit_of_work(pair.a.tenant.id) as session:
        sql.clear()
        ids = set(session.scalars(stmt))
        # B's id is bound too (the second branch names it), next to A's predicate in each branch.
        assert_scoped(sql.one(table), {table: 3}, pair.a.tenant, None)
        sql.clear()
        # UNION ALL: PostgreSQL cannot compare the json payload column for UNION's DISTINCT.
        entity = aliased(model, union_all(select(model), select(model)).subquery())
        rows = session.scalars(select(entity)).all()
        assert sql.one(table).predicates()[table] >= 2
    assert ids == pair.a.rows[model]
    assert sorted(r.id for r in rows) == sorted([*pair.a.rows[model]] * 2)


@by_model
def test_refresh_and_reloads_of_expired_objects_are_scoped(
    model: type[Any], pair: Pair, sql: Capture
) -> None:
    """Item 8: refresh, get() of an expired object and a lazy attribute reload carry the predicate.

    The models define no relationships, so refresh and expired-attribute loads are the lazy loads
    the ORM can emit. SQLAlchemy skips ``with_loader_criteria`` on these identity reloads; the
    predicate they carry is the composite key's own ``tenant_id``, which is why objects of another
    tenant may not enter the session at all (see ``test_other_tenants_objects_cannot_be_attached``).
    """
    table = model.__tablename__
    a_id = min(pair.a.rows[model])
    with db.unit_of_work(pair.a.tenant.id) as session:
        obj: Any = session.get(model, _key(model, pair.a.tenant, a_id))
        assert obj is not None
        sql.clear()
        session.refresh(obj)
        assert_scoped(sql.one(table), {table: 1}, pair.a.tenant, pair.b.tenant)

        session.expire(obj)
        sql.clear()
        again: Any = session.get(model, _key(model, pair.a.tenant, a_id))
        assert again is obj
        assert_scoped(sql.one(table), {table: 1}, pair.a.tenant, pair.b.tenant)

        session.expire(obj)
        sql.clear()
        assert obj.tenant_id == pair.a.tenant.id
        assert_scoped(sql.one(table), {table: 1}, pair.a.tenant, pair.b.tenant)


@by_model
def test_bulk_update_changes_only_the_bound_tenants_rows(
    model: type[Any], pair: Pair, sql: Capture
) -> None:
    """Item 8: update(Model).values(...) under A is filtered and leaves B's rows untouched."""
    table = model.__tablename__
    column, value = BULK_UPDATES[model]
    before_a, before_b = _snapshot(pair.a.tenant), _snapshot(pair.b.tenant)
    if model in APPEND_ONLY:
        with pytest.raises(DBAPIError), db.unit_of_work(pair.a.tenant.id) as session:
            sql.clear()
            session.execute(update(model).values({column: value}))
        assert_scoped(sql.one(table), {table: 1}, pair.a.tenant, pair.b.tenant)
        assert (_snapshot(pair.a.tenant), _snapshot(pair.b.tenant)) == (before_a, before_b)
        return
    with db.unit_of_work(pair.a.tenant.id) as session:
        sql.clear()
        session.execute(update(model).values({column: value}))
        assert_scoped(
            next(s for s in sql.on(table) if s.sql.lstrip().upper().startswith("UPDATE")),
            {table: 1},
            pair.a.tenant,
            pair.b.tenant,
        )
    with db.unit_of_work(pair.a.tenant.id) as session:
        assert set(session.scalars(select(getattr(model, column)))) == {value}
    after_b = _snapshot(pair.b.tenant)
    assert after_b == before_b
    with db.unit_of_work(pair.b.tenant.id) as session:
        assert value not in set(session.scalars(select(getattr(model, column))))


def _dependents(model: type[Any]) -> list[type[Any]]:
    """Tenant models whose rows reference ``model`` (directly or not), children first."""
    tables = {model.__table__}
    found: list[type[Any]] = []
    for table in db.Base.metadata.sorted_tables:
        if any(fk.column.table in tables for fk in table.foreign_keys) and table not in tables:
            tables.add(table)
            found.extend(m for m in TENANT_MODELS if m.__table__ is table)
    return list(reversed(found))


@by_model
def test_bulk_delete_removes_only_the_bound_tenants_rows(
    model: type[Any], pair: Pair, sql: Capture
) -> None:
    """Item 8: delete(Model) under A is filtered; B's rows of every model are all still there."""
    table = model.__tablename__
    before_b = _snapshot(pair.b.tenant)
    if APPEND_ONLY & {model, *_dependents(model)}:
        # Rows the ledger refers to stay as long as it does: the delete is refused (by the
        # trigger, or by the ledger's foreign key), and it was scoped all the same.
        before_a = _snapshot(pair.a.tenant)
        with pytest.raises(DBAPIError), db.unit_of_work(pair.a.tenant.id) as session:
            sql.clear()
            session.execute(delete(model))
        assert_scoped(sql.one(table), {table: 1}, pair.a.tenant, pair.b.tenant)
        assert (_snapshot(pair.a.tenant), _snapshot(pair.b.tenant)) == (before_a, before_b)
        return
    with db.unit_of_work(pair.a.tenant.id) as session:
        for child in _dependents(model):
            session.execute(delete(child))
        sql.clear()
        session.execute(delete(model))
        assert_scoped(sql.one(table), {table: 1}, pair.a.tenant, pair.b.tenant)
        assert sql.one(table).sql.lstrip().upper().startswith("DELETE")
    assert _ids_as(pair.a.tenant, model) == set()
    assert _snapshot(pair.b.tenant) == before_b
    assert _ids_as(pair.b.tenant, model) == pair.b.rows[model]


@by_model
def test_without_a_tenant_queries_and_inserts_fail_closed(
    model: type[Any], pair: Pair, sql: Capture
) -> None:
    """Item 8: with no tenant bound, select/update/delete raise and a flush inserting one raises."""
    statements = (
        select(model),
        select(model.id),
        select(aliased(model)),
        select(model.id, Tenant.slug).join(Tenant, Tenant.id == model.tenant_id),
        update(model).values(tenant_id=pair.b.tenant.id),
        delete(model),
    )
    for stmt in statements:
        with pytest.raises(TenantContextMissing), db.unit_of_work() as session:
            assert current_tenant(session) is None
            session.execute(stmt)
    # Reached only indirectly (joined from a platform table, or in a union), it yields no rows.
    with db.unit_of_work() as session:
        joined = session.scalars(
            select(Tenant.slug).join(model, model.tenant_id == Tenant.id)
        ).all()
        unioned = session.scalars(union(select(model.id), select(model.id))).all()
        assert session.scalars(select(Tenant.slug)).all()  # the platform table itself is readable
    assert joined == []
    assert unioned == []
    sql.clear()
    with pytest.raises(TenantContextMissing), db.unit_of_work() as session:
        session.add(model(tenant_id=pair.a.tenant.id))
        session.flush()
    assert sql.on(model.__tablename__) == []
    assert _ids_as(pair.a.tenant, model) == pair.a.rows[model]
    assert _ids_as(pair.b.tenant, model) == pair.b.rows[model]


# --- item 9: no switching, no cached objects across tenants, no cross-tenant writes ------------


@by_model
def test_switching_tenant_with_loaded_objects_is_refused(model: type[Any], pair: Pair) -> None:
    """Item 9: a session holding A's object may not be rebound to B; get() keeps answering for A."""
    a_key = _key(model, pair.a.tenant, min(pair.a.rows[model]))
    with db.unit_of_work(pair.a.tenant.id) as session:
        obj = session.get(model, a_key)
        assert obj is not None
        with pytest.raises(TenantSwitchRefused):
            bind_tenant(session, pair.b.tenant.id)
        assert current_tenant(session) == pair.a.tenant.id
        assert session.get(model, a_key) is obj
        # Once it holds nothing, it may be rebound, and A's key then finds nothing.
        session.expunge_all()
        bind_tenant(session, pair.b.tenant.id)
        assert session.get(model, a_key) is None


def test_switching_tenant_with_pending_objects_is_refused(pair: Pair) -> None:
    """Item 9: an unflushed object added under A cannot be rebound and flushed into B."""
    with pytest.raises(TenantSwitchRefused), db.unit_of_work(pair.a.tenant.id) as session:
        session.add(OutboxEvent(topic="tests.pending", payload={}))
        bind_tenant(session, pair.b.tenant.id)
    for seeded in (pair.a, pair.b):
        with db.unit_of_work(seeded.tenant.id) as session:
            topics = set(session.scalars(select(OutboxEvent.topic)))
        assert "tests.pending" not in topics


@by_model
def test_get_under_b_never_returns_a_row_of_a(model: type[Any], pair: Pair, sql: Capture) -> None:
    """Item 9: in a fresh session bound to B, get() with A's full primary key returns None."""
    a_key = _key(model, pair.a.tenant, min(pair.a.rows[model]))
    b_key = _key(model, pair.b.tenant, min(pair.b.rows[model]))
    with db.unit_of_work(pair.b.tenant.id) as session:
        sql.clear()
        assert session.get(model, a_key) is None
        # B's predicate is added next to the key's own tenant_id = A, so nothing can match.
        statement = sql.one(model.__tablename__)
        assert statement.predicates()[model.__tablename__] >= 2, statement.sql
        assert {pair.a.tenant.id, pair.b.tenant.id} <= statement.bound_uuids()
        assert session.get(model, b_key) is not None  # the same call does find B's own row
    with db.unit_of_work(pair.a.tenant.id) as session:
        assert session.get(model, a_key) is not None


@by_model
def test_other_tenants_objects_cannot_be_attached(model: type[Any], pair: Pair) -> None:
    """Item 9: A's detached (say, cached) object cannot be added, merged or deleted under B.

    Otherwise get() would answer from the identity map without SQL, and a refresh by the
    object's own key would read A's row under B.
    """
    a_key = _key(model, pair.a.tenant, min(pair.a.rows[model]))
    with db.unit_of_work(pair.a.tenant.id) as session:
        cached = session.get(model, a_key)
        assert cached is not None
    for attach in (
        lambda s: s.add(cached),
        lambda s: s.merge(cached, load=False),
        lambda s: s.delete(cached),
    ):
        with pytest.raises(CrossTenantWrite), db.unit_of_work(pair.b.tenant.id) as session:
            attach(session)
        with db.unit_of_work(pair.b.tenant.id) as session:
            assert session.get(model, a_key) is None
    # merge() with loading finds nothing under B and would insert a copy: the flush refuses it.
    with pytest.raises(CrossTenantWrite), db.unit_of_work(pair.b.tenant.id) as session:
        session.merge(cached)
        session.flush()
    # Under A itself the same object is welcome back.
    with db.unit_of_work(pair.a.tenant.id) as session:
        session.add(cached)
        assert session.get(model, a_key) is cached
        session.refresh(cached)
    assert _ids_as(pair.a.tenant, model) == pair.a.rows[model]
    assert _ids_as(pair.b.tenant, model) == pair.b.rows[model]


@by_model
def test_changing_an_objects_tenant_is_refused(model: type[Any], pair: Pair) -> None:
    """Item 9: setting tenant_id to B on A's loaded object raises CrossTenantWrite on flush."""
    a_id = min(pair.a.rows[model])
    before_b = _snapshot(pair.b.tenant)
    with pytest.raises(CrossTenantWrite), db.unit_of_work(pair.a.tenant.id) as session:
        obj = session.get(model, _key(model, pair.a.tenant, a_id))
        assert obj is not None
        obj.tenant_id = pair.b.tenant.id
        session.flush()
    assert a_id in _ids_as(pair.a.tenant, model)
    assert _snapshot(pair.b.tenant) == before_b


@by_model
def test_adding_an_object_of_another_tenant_is_refused(model: type[Any], pair: Pair) -> None:
    """Item 9: adding an object with B's tenant_id under A raises CrossTenantWrite."""
    before_b = _snapshot(pair.b.tenant)
    with pytest.raises(CrossTenantWrite), db.unit_of_work(pair.a.tenant.id) as session:
        session.add(model(tenant_id=pair.b.tenant.id))
        session.flush()
    assert _snapshot(pair.b.tenant) == before_b


# --- item 10: composite foreign keys ----------------------------------------------------------


def test_child_in_a_cannot_point_at_bs_parent(pair: Pair) -> None:
    """Item 10: HandledEvent(tenant A, event of B) fails the (tenant_id, id) foreign key."""
    b_event = min(pair.b.rows[OutboxEvent])
    a_event = min(pair.a.rows[OutboxEvent])
    with pytest.raises(IntegrityError), db.unit_of_work(pair.a.tenant.id) as session:
        session.add(
            HandledEvent(tenant_id=pair.a.tenant.id, event_id=b_event, handler="tests.cross")
        )
        session.flush()
    # The same child pointing at A's own parent is fine (the failure above was the tenant).
    with db.unit_of_work(pair.a.tenant.id) as session:
        child = HandledEvent(tenant_id=pair.a.tenant.id, event_id=a_event, handler="tests.cross")
        session.add(child)
        session.flush()
        child_id = child.id
    assert child_id in _ids_as(pair.a.tenant, HandledEvent)
    with db.unit_of_work(pair.a.tenant.id) as session:
        handlers = set(session.scalars(select(HandledEvent.event_id)))
    assert b_event not in handlers


def test_every_link_between_tenant_tables_is_composite() -> None:
    """Item 10: each foreign key from a tenant table to another includes tenant_id -> tenant_id."""
    tenant_tables = {m.__table__ for m in TENANT_MODELS}
    links = 0
    for table in tenant_tables:
        for fk in table.foreign_key_constraints:
            if fk.referred_table not in tenant_tables:
                continue
            links += 1
            pairs = {(e.parent.name, e.column.name) for e in fk.elements}
            assert ("tenant_id", "tenant_id") in pairs, (table.name, fk.name)
    assert links >= 1  # handled_events -> outbox_events


# --- item 11: per-tenant versus global uniqueness ---------------------------------------------


def test_same_user_in_two_tenants_is_fine_but_not_twice_in_one(pair: Pair) -> None:
    """Item 11: (tenant_id, user_id) is unique per tenant: one staff user in A and in B is fine."""
    for seeded in (pair.a, pair.b):
        with db.unit_of_work(seeded.tenant.id) as session:
            roles = session.scalars(
                select(Membership.role).where(Membership.user_id == pair.staff.id)
            ).all()
        assert roles == [Role.account_manager]
    with pytest.raises(IntegrityError), db.unit_of_work(pair.a.tenant.id) as session:
        session.add(Membership(user_id=pair.staff.id, role=Role.cs_agent))
        session.flush()


def _create(
    world: World, headers: dict[str, str], email: str, role: Role, tenant: str | None
) -> Response:
    body: dict[str, Any] = {"email": email, "name": "Someone", "password": PASSWORD, "role": role}
    if tenant is not None:
        body["tenant"] = tenant
    return world.client.post("/api/v1/users", json=body, headers=headers)


def _assert_generic_conflict(answer: Response, email: str) -> dict[str, Any]:
    assert answer.status_code == 409, answer.text
    problem: dict[str, Any] = answer.json()
    assert problem["type"].endswith("/user-not-created")
    text = answer.text.lower()
    assert email.lower() not in text
    assert email.split("@")[0].lower() not in text
    assert "exist" not in text
    assert "already" not in problem["detail"].lower()
    return problem


def _users_with(email: str) -> int:
    with db.unit_of_work() as session:
        return len(session.scalars(select(User.id).where(User.email == email.lower())).all())


def test_duplicate_email_gets_a_generic_conflict(world: World) -> None:
    """Item 11: an agency admin creating a user with a taken e-mail gets a 409 revealing nothing."""
    admin = world.actor(Role.agency_admin)
    email = f"taken-{uuid.uuid4().hex[:8]}@example.com"
    first = _create(world, admin.headers, email, Role.cs_agent, None)
    assert first.status_code == 201, first.text
    for variant in (email, email.upper()):
        _assert_generic_conflict(_create(world, admin.headers, variant, Role.marketer, None), email)
    assert _users_with(email) == 1


def test_email_of_another_tenants_user_gets_the_same_generic_conflict(
    world: World, pair: Pair
) -> None:
    """Item 11: inviting a viewer to A with the e-mail of B's user answers the same generic 409."""
    b_user = world.user(Role.merchant_viewer, pair.b.tenant)
    admin = world.actor(Role.agency_admin)
    owner = world.actor(Role.merchant_owner, pair.a.tenant)
    staff_email = pair.staff.email

    plain = _assert_generic_conflict(
        _create(world, admin.headers, staff_email, Role.finance, None), staff_email
    )
    for headers in (owner.headers, admin.headers):
        answer = _create(world, headers, b_user.email, Role.merchant_viewer, pair.a.tenant.slug)
        problem = _assert_generic_conflict(answer, b_user.email)
        assert {k: problem[k] for k in ("status", "type", "title", "detail")} == {
            k: plain[k] for k in ("status", "type", "title", "detail")
        }
    assert _users_with(b_user.email) == 1
    with db.unit_of_work(pair.a.tenant.id) as session:
        members = set(session.scalars(select(Membership.user_id)))
    assert b_user.id not in members


def test_email_conflict_in_a_tenant_bound_session_is_generic(pair: Pair, world: World) -> None:
    """Item 11: the service, in a session bound to A, refuses B's user's e-mail generically."""
    b_user = world.user(Role.merchant_viewer, pair.b.tenant)
    with pytest.raises(Problem) as refused, db.unit_of_work(pair.a.tenant.id) as session:
        create_user(
            session,
            UserCreate(
                email=b_user.email, name="Viewer", password=PASSWORD, role=Role.merchant_viewer
            ),
            session.get(Tenant, pair.a.tenant.id),
        )
    assert refused.value.status == 409
    assert refused.value.kind == "user-not-created"
    assert b_user.email not in refused.value.detail
    assert "exist" not in refused.value.detail.lower()
    assert _users_with(b_user.email) == 1
