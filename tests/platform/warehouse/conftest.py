"""A stockroom to test in: two of the agency's warehouses with bins, a merchant with SKUs and a
bundle, and a shop its orders come from. After every test the ledger invariant is checked: each
stock row's quantities are the sums of its ledger rows."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date

import pytest

from daiyun.core import db
from daiyun.platform.orders import service as order_service
from daiyun.platform.orders.normalized import NormalizedRefund, OrderStatus
from daiyun.platform.orders.rules import ReviewSettings
from daiyun.platform.storefront import service as catalog
from daiyun.platform.storefront.schemas import BundleCreate, PartIn, ProductCreate, SkuCreate
from daiyun.platform.warehouse import reservations, service
from daiyun.platform.warehouse.schemas import (
    LocationCreate,
    ReceiptCreate,
    ReceivedLine,
    WarehouseCreate,
)
from daiyun.tenants.models import Tenant
from tests import factories
from tests.conftest import World


@dataclass
class Site:
    id: uuid.UUID
    code: str
    shelf: uuid.UUID  # a pickable bin
    cage: uuid.UUID  # a bin allocation never picks from (quarantine)


def make_site(code: str, priority: int) -> Site:
    with db.unit_of_work() as session:
        body = WarehouseCreate(code=code, name=f"{code} warehouse", priority=priority)
        warehouse = service.create_warehouse(session, body)
        shelf = service.create_location(
            session, warehouse.id, LocationCreate(zone="A", aisle="01", shelf="01", bin="01")
        )
        cage = service.create_location(
            session,
            warehouse.id,
            LocationCreate(zone="Q", aisle="01", shelf="01", bin="01", pickable=False),
        )
        return Site(warehouse.id, code, shelf.id, cage.id)


@dataclass
class Stockroom:
    tenant: Tenant
    shop_id: uuid.UUID
    hz: Site
    sz: Site
    skus: dict[str, uuid.UUID] = field(default_factory=dict)

    def receive(
        self,
        code: str,
        quantity: int,
        site: Site | None = None,
        lot: str | None = None,
        expires: date | None = None,
        *,
        bin: uuid.UUID | None = None,
    ) -> None:
        site = site or self.hz
        line = ReceivedLine(
            sku_id=self.skus[code],
            quantity=quantity,
            location_id=bin or site.shelf,
            lot=lot,
            expires_on=expires,
        )
        with db.unit_of_work(self.tenant.id) as session:
            service.create_receipt(session, ReceiptCreate(warehouse_id=site.id, received=[line]))

    def order(
        self,
        external_id: str,
        sku: str = "TEA",
        quantity: int = 1,
        status: OrderStatus = OrderStatus.paid,
        updated_minutes: int = 0,
        refunds: list[NormalizedRefund] | None = None,
    ) -> uuid.UUID:
        """Ingest (or update) an order as the channel describes it; returns its id."""
        from datetime import timedelta

        incoming = factories.order(
            external_id,
            sku=sku,
            quantity=quantity,
            status=status,
            updated=factories.T0 + timedelta(minutes=updated_minutes),
            refunds=refunds,
        )
        with db.unit_of_work(self.tenant.id) as session:
            [(_, order)] = order_service.ingest(session, self.shop_id, "shopify", [incoming])
            return order.id

    def sync(self, order_id: uuid.UUID) -> str | None:
        with db.unit_of_work(self.tenant.id) as session:
            status = reservations.sync_order(session, order_id)
            return status.value if status else None

    def stock(self, code: str, site: Site | None = None) -> tuple[int, int, int]:
        """(on hand, reserved, sellable) of a SKU in a warehouse."""
        site = site or self.hz
        with db.unit_of_work(self.tenant.id) as session:
            items, _ = service.find_stock(
                session, sku_id=self.skus[code], warehouse_id=site.id, cursor=None, limit=50
            )
        for item in items:
            return item.on_hand, item.reserved, item.sellable
        return 0, 0, 0


def seed_catalog(tenant: Tenant) -> dict[str, uuid.UUID]:
    """TEA and CUP, and the bundle SET = 2 TEA + 1 CUP."""
    with db.unit_of_work(tenant.id) as session:
        order_service.update_review_settings(session, ReviewSettings(check_duplicates=False))
        product = catalog.create_product(
            session,
            ProductCreate(
                name="Longjing",
                variants=[
                    SkuCreate(code="TEA", cost_minor=1000, currency="CNY"),
                    SkuCreate(code="CUP", cost_minor=500, currency="CNY"),
                ],
            ),
        )
        tea, cup = (v.id for v in product.variants)
        bundle = catalog.create_bundle(
            session,
            BundleCreate(
                code="SET",
                name="Tea set",
                currency="CNY",
                parts=[PartIn(sku_id=tea, quantity=2), PartIn(sku_id=cup, quantity=1)],
            ),
        )
        return {"TEA": tea, "CUP": cup, "SET": bundle.id}


def assert_ledger_balanced(tenant: Tenant) -> None:
    with db.unit_of_work(tenant.id) as session:
        assert service.ledger_mismatches(session) == []


@pytest.fixture
def room(world: World) -> Iterator[Stockroom]:
    tenant = world.tenant()
    tag = uuid.uuid4().hex[:6].upper()
    room = Stockroom(
        tenant=tenant,
        shop_id=factories.shop(tenant.id).id,
        hz=make_site(f"HZ{tag}", 10),
        sz=make_site(f"SZ{tag}", 20),
        skus=seed_catalog(tenant),
    )
    yield room
    assert_ledger_balanced(tenant)
