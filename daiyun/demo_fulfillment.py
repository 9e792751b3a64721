"""The demo's fulfilment (发货), seeded by :func:`daiyun.demo.seed` after the stock: a few paid
orders of each demo merchant's best sellers from its first shop, turned into parcels in the
Hangzhou warehouse; then one wave over every merchant picked, one parcel packed at the pack
station, and one parcel stopped by an address the carrier cannot serve, so the console's
fulfilment page, a wave's pick list and the merchants' parcel lists have something to show.
The sandbox shops' own orders keep arriving and become parcels as they are reserved.

Idempotent as the rest of the demo: a merchant that already has parcels is left alone, and the
wave is planned only while no demo wave exists.
"""

from __future__ import annotations

import uuid
from datetime import timedelta

from daiyun.connectors import service as shop_service
from daiyun.core.db import unit_of_work
from daiyun.core.errors import Problem
from daiyun.core.ids import utcnow
from daiyun.platform.fulfillment import pack, service, waves
from daiyun.platform.fulfillment.schemas import ExceptionKind, FoState, WaveRuleIn
from daiyun.platform.orders import service as order_service
from daiyun.platform.orders.normalized import Address, NormalizedLine, NormalizedOrder, OrderStatus
from daiyun.platform.warehouse import reservations
from daiyun.sandboxes.marketplaces.catalogs import CATALOGS, sold_items
from daiyun.tenants.models import Tenant

ORDERS = 4
BUYERS = ("陈静", "刘洋", "赵敏", "孙伟")


def _order(n: int, code: str, title: str, cents: int) -> NormalizedOrder:
    now = utcnow()
    buyer = BUYERS[n % len(BUYERS)]
    return NormalizedOrder(
        external_id=f"DEMO-F-{n + 1:03d}",
        status=OrderStatus.paid,
        channel_status="paid",
        currency="USD",
        total_minor=cents,
        subtotal_minor=cents,
        placed_at=now - timedelta(hours=5 + n),
        paid_at=now - timedelta(hours=5 + n),
        source_updated_at=now - timedelta(hours=4 + n),
        buyer_name=buyer,
        buyer_phone=f"+86138{n:08d}",
        shipping_address=Address(
            name=buyer,
            phone=f"+86138{n:08d}",
            country="CN",
            province="浙江省",
            city="杭州市",
            district="西湖区",
            address1=f"文三路 {100 + n} 号",
            postal_code="310012",
        ),
        lines=[NormalizedLine(f"DEMO-F-{n + 1:03d}-1", code, title, 1, cents)],
        raw={"id": f"DEMO-F-{n + 1:03d}"},
    )


def ensure_parcels(tenant: Tenant) -> list[str]:
    """A few paid orders of the merchant, each a ready parcel (its stock reserved)."""
    catalog = CATALOGS.get(tenant.slug)
    if catalog is None:
        return []
    items = sorted(sold_items(catalog)[:-1], key=lambda item: -item[4])[:ORDERS]
    with unit_of_work(tenant.id) as session:
        if service.find(
            session,
            state=None,
            warehouse_id=None,
            wave_id=None,
            order_id=None,
            cursor=None,
            limit=1,
        )[0]:
            return []
        shops = shop_service.shops(session)
        if not shops:
            return []
        incoming = [
            _order(n, code, title, cents) for n, (code, title, _, cents, _) in enumerate(items)
        ]
        ingested = order_service.ingest(session, shops[0].id, shops[0].channel, incoming)
        for _, order in ingested:
            reservations.sync_order(session, order.id)
            service.sync_order(session, order.id)
    return [f"{len(incoming)} paid orders with parcels -> {tenant.slug}"]


def ensure_wave(tenants: list[Tenant], warehouse_id: uuid.UUID) -> list[str]:
    """One wave over every merchant's ready parcels, picked; a parcel packed and one stopped by
    an address the carrier cannot serve."""
    merchants = [waves.Merchant(t.id, t.display_name) for t in tenants]
    with unit_of_work() as session:
        if waves.find(session, merchants, warehouse_id, None, 1, own=False)[0]:
            return []
        try:
            wave = waves.create(session, warehouse_id, WaveRuleIn(max_orders=50), merchants, "demo")
        except Problem:  # nothing ready in the warehouse: the demo goes on without a wave
            return []
        waves.confirm_pick(session, wave.id, merchants, agency=True)
    first = tenants[0]
    with unit_of_work(first.id) as session:
        picked, _ = service.find(
            session,
            state=FoState.picked,
            warehouse_id=None,
            wave_id=None,
            order_id=None,
            cursor=None,
            limit=10,
        )
        if len(picked) >= 2:
            parcel = picked[0]
            for line in parcel.lines:
                for _ in range(line.quantity):
                    pack.scan(session, parcel.id, line.sku)
            pack.finish(session, parcel.id, 480)
            service.raise_exception(
                session,
                first.id,
                picked[1].id,
                ExceptionKind.address_unserviceable,
                "the carrier does not serve this address",
            )
    return [f"wave {wave.number} over {len(merchants)} merchants, picked"]
