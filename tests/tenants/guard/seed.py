"""The rows the ORM guard tests work on: every tenant-owned model seeded for two tenants.

The core, order book, billing, reports and catalog rows are seeded here; each department with an
isolation part (tests/isolation_parts.py) seeds its own. Tenant-owned models are discovered from
the mapper registry, so a new one fails the coverage test until it is seeded.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any

import pytest
from sqlalchemy import select

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
from daiyun.core.events.models import HandledEvent, OutboxEvent
from daiyun.core.events.service import emit
from daiyun.core.tenancy import (
    TenantScoped,
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
from daiyun.tenants.models import Membership, Tenant
from tests import factories
from tests.conftest import World
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


def seed_tenant(world: World, tenant: Tenant, staff: User) -> Seeded:
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
    # The parts' work emits events of its own (a parcel shipped, say): they are A's too.
    with db.unit_of_work(tenant.id) as session:
        seeded.rows[OutboxEvent] = set(
            session.scalars(select(OutboxEvent.id).where(OutboxEvent.tenant_id == tenant.id))
        )
    return seeded


def key_of(model: type[Any], tenant: Tenant, row_id: uuid.UUID) -> Any:
    """The identity of a row for get(): ``(tenant_id, id)``, or the tenant alone for a model
    keyed by its tenant (one row per tenant, such as the catalog settings)."""
    if [c.key for c in model.__mapper__.primary_key] == ["tenant_id"]:
        return tenant.id
    return (tenant.id, row_id)


def ids_as(tenant: Tenant, model: type[Any]) -> set[uuid.UUID]:
    with db.unit_of_work(tenant.id) as session:
        return set(session.scalars(select(model.id)))


def snapshot(tenant: Tenant) -> dict[type[Any], dict[uuid.UUID, tuple[Any, ...]]]:
    """Every row of every tenant-owned model, read as ``tenant``."""
    result: dict[type[Any], dict[uuid.UUID, tuple[Any, ...]]] = {}
    with db.unit_of_work(tenant.id) as session:
        for model in TENANT_MODELS:
            columns = [getattr(model, c.key) for c in model.__mapper__.column_attrs]
            result[model] = {row.id: tuple(row) for row in session.execute(select(*columns))}
    return result
