"""A warehouse floor to test fulfilment on: the warehouse tests' stockroom (two warehouses with
bins, TEA, CUP and the SET bundle, a shop), with orders that flow into parcels as the order
events would carry them."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta

import pytest

from daiyun.core import db
from daiyun.platform.fulfillment import service
from daiyun.platform.fulfillment.schemas import FulfillmentOrderRead, SettingsIn
from daiyun.platform.orders import service as order_service
from daiyun.platform.orders.normalized import NormalizedLine, OrderStatus
from daiyun.platform.warehouse import reservations
from tests import factories
from tests.conftest import World
from tests.platform.warehouse.conftest import Stockroom, make_site, room, seed_catalog

__all__ = ["Floor", "floor", "make_site", "room", "seed_catalog"]


@dataclass
class Floor:
    room: Stockroom

    @property
    def tenant_id(self) -> uuid.UUID:
        return self.room.tenant.id

    def order(
        self,
        external_id: str,
        lines: list[tuple[str, int]],
        *,
        buyer: str = "王小明",
        street: str = "文三路 100 号 5 幢 302 室",
        status: OrderStatus = OrderStatus.paid,
        updated_minutes: int = 0,
    ) -> uuid.UUID:
        """Ingest (or update) an order with these (SKU, quantity) lines, then follow it as its
        event would: reservation, then parcels."""
        incoming = factories.order(
            external_id,
            sku=lines[0][0],
            quantity=lines[0][1],
            buyer=buyer,
            status=status,
            updated=factories.T0 + timedelta(minutes=updated_minutes),
        )
        assert incoming.shipping_address is not None
        incoming.shipping_address.address1 = street
        for n, (sku, quantity) in enumerate(lines[1:], start=2):
            incoming.lines.append(
                NormalizedLine(
                    external_id=f"{external_id}-{n}",
                    sku=sku,
                    title="杯子",
                    quantity=quantity,
                    unit_price_minor=100,
                )
            )
        with db.unit_of_work(self.tenant_id) as session:
            [(_, order)] = order_service.ingest(session, self.room.shop_id, "shopify", [incoming])
            order_id = order.id
        self.follow(order_id)
        return order_id

    def follow(self, order_id: uuid.UUID) -> None:
        with db.unit_of_work(self.tenant_id) as session:
            reservations.sync_order(session, order_id)
            service.sync_order(session, order_id)

    def parcels(self, order_id: uuid.UUID | None = None) -> list[FulfillmentOrderRead]:
        with db.unit_of_work(self.tenant_id) as session:
            items, _ = service.find(
                session,
                state=None,
                warehouse_id=None,
                wave_id=None,
                order_id=order_id,
                cursor=None,
                limit=200,
            )
            return items

    def settings(self, **values: object) -> None:
        with db.unit_of_work(self.tenant_id) as session:
            service.set_settings(session, SettingsIn.model_validate(values))


@pytest.fixture
def floor(room: Stockroom, world: World) -> Iterator[Floor]:
    yield Floor(room)
