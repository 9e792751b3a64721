"""Helpers the order book's tests share: ingest through the service, read what was stored."""

from __future__ import annotations

import uuid

from sqlalchemy import select

from daiyun.core.db import unit_of_work
from daiyun.core.events.models import OutboxEvent
from daiyun.platform.orders import service
from daiyun.platform.orders.models import Order
from daiyun.platform.orders.service import Outcome


def ingest(tenant_id: uuid.UUID, shop_id: uuid.UUID, *orders: object) -> list[Outcome]:
    with unit_of_work(tenant_id) as session:
        return [o for o, _ in service.ingest(session, shop_id, "shopify", list(orders))]  # type: ignore[arg-type]


def topics(tenant_id: uuid.UUID) -> list[str]:
    with unit_of_work(tenant_id) as session:
        return list(session.scalars(select(OutboxEvent.topic).order_by(OutboxEvent.id)))


def stored(tenant_id: uuid.UUID, external_id: str = "1001") -> Order:
    with unit_of_work(tenant_id) as session:
        order = session.scalar(select(Order).where(Order.external_id == external_id))
        assert order is not None
        _ = order.lines, order.refunds
        return order
