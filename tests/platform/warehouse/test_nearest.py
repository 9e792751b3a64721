"""Allocation sends an order to the warehouse nearest its buyer (after the merchant's default):
the same city, then province, then region of China, then country, whatever the spelling of
the addresses; the warehouses' priority breaks ties and decides for orders without an address."""

from __future__ import annotations

import uuid
from dataclasses import replace

import pytest

from daiyun.core import db
from daiyun.platform.orders import service as order_service
from daiyun.platform.warehouse import nearest, service
from daiyun.platform.warehouse.schemas import StockSettingsIn, WarehouseUpdate
from tests import factories
from tests.platform.warehouse.conftest import Stockroom

HANGZHOU = {"country": "CN", "province": "浙江省", "city": "杭州市"}
SHENZHEN = {"country": "CN", "province": "广东省", "city": "深圳市"}


@pytest.mark.parametrize(
    ("destination", "tier"),
    [
        ({"country": "CN", "province": "浙江", "city": "杭州"}, nearest.SAME_CITY),
        (
            {"country": "CN", "province": "Zhejiang Province", "city": "宁波市"},
            nearest.SAME_PROVINCE,
        ),
        ({"country": "CN", "province": "上海市"}, nearest.SAME_REGION),
        ({"country": "cn", "province": "Jiangsu"}, nearest.SAME_REGION),
        ({"country": "CN", "province": "广西壮族自治区"}, nearest.SAME_COUNTRY),
        ({"country": "CN"}, nearest.SAME_COUNTRY),
        ({"country": "HK", "province": "香港特别行政区"}, nearest.ELSEWHERE),
    ],
)
def test_distance_reads_the_address_however_it_is_spelt(
    destination: dict[str, str], tier: int
) -> None:
    assert nearest.distance(destination, HANGZHOU) == tier


def test_rank_puts_the_nearest_first_and_keeps_priority_for_ties() -> None:
    hz, sz, bare = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    sites = [(bare, {}), (hz, HANGZHOU), (sz, SHENZHEN)]  # in priority order
    assert nearest.rank(sites, {"country": "CN", "province": "广东", "city": "广州"}) == [
        sz,
        bare,
        hz,
    ]
    assert nearest.rank(sites, {"country": "CN", "province": "安徽省"}) == [hz, bare, sz]
    assert nearest.rank(sites, {"country": "CN", "province": "四川省"}) == [bare, hz, sz]
    assert nearest.rank(sites, None) == [bare, hz, sz]


def _order_to(
    room: Stockroom, external_id: str, province: str, city: str, quantity: int = 2
) -> uuid.UUID:
    incoming = factories.order(external_id, sku="TEA", quantity=quantity)
    assert incoming.shipping_address is not None
    incoming.shipping_address = replace(incoming.shipping_address, province=province, city=city)
    with db.unit_of_work(room.tenant.id) as session:
        [(_, order)] = order_service.ingest(session, room.shop_id, "shopify", [incoming])
        return order.id


def test_orders_are_reserved_in_the_warehouse_nearest_the_buyer(room: Stockroom) -> None:
    with db.unit_of_work() as session:
        service.update_warehouse(session, room.hz.id, WarehouseUpdate(address=HANGZHOU))
        # Shenzhen is tried first by priority; nearness decides before priority.
        service.update_warehouse(session, room.sz.id, WarehouseUpdate(address=SHENZHEN, priority=1))
    room.receive("TEA", 10, room.hz)
    room.receive("TEA", 10, room.sz)

    room.sync(_order_to(room, "n1", "江苏省", "南京市"))  # 华东: Hangzhou's region
    assert (room.stock("TEA", room.hz)[1], room.stock("TEA", room.sz)[1]) == (2, 0)
    room.sync(_order_to(room, "n2", "广东省", "广州市"))
    assert (room.stock("TEA", room.hz)[1], room.stock("TEA", room.sz)[1]) == (2, 2)
    room.sync(_order_to(room, "n3", "四川省", "成都市"))  # near neither: priority decides
    assert (room.stock("TEA", room.hz)[1], room.stock("TEA", room.sz)[1]) == (2, 4)

    # The merchant's default warehouse still comes first, however far.
    with db.unit_of_work(room.tenant.id) as session:
        service.set_stock_settings(session, StockSettingsIn(default_warehouse_id=room.hz.id))
    room.sync(_order_to(room, "n4", "广东省", "深圳市"))
    assert (room.stock("TEA", room.hz)[1], room.stock("TEA", room.sz)[1]) == (4, 4)

    # The nearest without enough stock gives way to the next one that has it all.
    with db.unit_of_work(room.tenant.id) as session:
        service.set_stock_settings(session, StockSettingsIn(default_warehouse_id=None))
    room.sync(_order_to(room, "n5", "广东省", "深圳市", quantity=6))  # Shenzhen's last 6
    room.sync(_order_to(room, "n6", "广东省", "深圳市"))
    assert (room.stock("TEA", room.hz)[1], room.stock("TEA", room.sz)[1]) == (6, 10)
