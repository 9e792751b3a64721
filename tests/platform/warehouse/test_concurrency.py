"""Concurrent orders never oversell: 50 paid orders for one unit each race for 10 units, each
order reserved by its own thread over its own connection, committed for real (no shared test
transaction). Exactly 10 are reserved and 40 become out-of-stock exceptions, on SQLite (the
write lock) and PostgreSQL (row locks)."""

from __future__ import annotations

import threading
import uuid

from sqlalchemy.engine import Engine

from daiyun.core import db
from daiyun.platform.orders import service as order_service
from daiyun.platform.warehouse import reservations, service
from daiyun.platform.warehouse.schemas import WarehouseUpdate
from daiyun.tenants import service as tenant_service
from daiyun.tenants.schemas import TenantCreate
from tests import factories
from tests.platform.warehouse.conftest import (
    Stockroom,
    assert_ledger_balanced,
    make_site,
    seed_catalog,
)

ORDERS = 50
UNITS = 10


def test_fifty_orders_for_ten_units_reserve_exactly_ten(real_connections: Engine) -> None:
    slug = f"race-{uuid.uuid4().hex[:8]}"
    with db.unit_of_work() as session:
        tenant = tenant_service.create_tenant(
            session, TenantCreate(slug=slug, display_name="Race", legal_name="Race Ltd")
        )
    tag = uuid.uuid4().hex[:6].upper()
    room = Stockroom(
        tenant=tenant,
        shop_id=factories.shop(tenant.id).id,
        hz=make_site(f"RA{tag}", 9000),
        sz=make_site(f"RB{tag}", 9001),
        skus=seed_catalog(tenant),
    )
    room.receive("TEA", UNITS)
    with db.unit_of_work(tenant.id) as session:
        ingested = order_service.ingest(
            session,
            room.shop_id,
            "shopify",
            [factories.order(f"race-{n}", sku="TEA", quantity=1) for n in range(ORDERS)],
        )
        order_ids = [order.id for _, order in ingested]
    start = threading.Barrier(ORDERS)
    outcomes: list[str] = []
    errors: list[BaseException] = []
    lock = threading.Lock()

    def reserve(order_id: uuid.UUID) -> None:
        try:
            start.wait()
            with db.unit_of_work(tenant.id) as session:
                status = reservations.sync_order(session, order_id)
            with lock:
                outcomes.append(status.value if status else "none")
        except BaseException as exc:
            with lock:
                errors.append(exc)

    threads = [threading.Thread(target=reserve, args=(o,)) for o in order_ids]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    try:
        assert errors == []
        assert sorted(outcomes).count("reserved") == UNITS
        assert sorted(outcomes).count("short") == ORDERS - UNITS
        assert room.stock("TEA") == (UNITS, UNITS, 0)
        with db.unit_of_work(tenant.id) as session:
            exceptions, _ = reservations.find_exceptions(session, True, None, 100)
        assert len(exceptions) == ORDERS - UNITS
        assert all([m.sku for m in e.missing] == ["TEA"] for e in exceptions)
        assert_ledger_balanced(tenant)
    finally:
        with db.unit_of_work() as session:  # out of the way of other tests' allocation
            for site in (room.hz, room.sz):
                service.update_warehouse(session, site.id, WarehouseUpdate(active=False))
