"""Push consumers: long-lived connections over which marketplaces announce changes (Taobao's TMC,
Pinduoduo's message service), run for every active shop of those channels.

A message is only a hint: the consumer hands the named orders to a ``webhooks``-queue task that
reads them again from the marketplace, and acknowledges the message once the task is queued. Pull
reconciliation stays the source of truth.
"""

from __future__ import annotations

import threading
import uuid

import structlog
from sqlalchemy import select

from daiyun.connectors import repository
from daiyun.connectors import service as shop_service
from daiyun.connectors.channels.base import ConsumerFactory, ShopAccess
from daiyun.connectors.models import ShopStatus
from daiyun.core.db import unit_of_work
from daiyun.tenants.models import Tenant

log = structlog.get_logger()


def _active_push_shops(
    channels: dict[str, ConsumerFactory],
) -> dict[uuid.UUID, tuple[uuid.UUID, str, ShopAccess]]:
    """shop id -> (tenant id, channel, access) of every active shop on a pushing channel."""
    found: dict[uuid.UUID, tuple[uuid.UUID, str, ShopAccess]] = {}
    with unit_of_work() as session:
        tenants = list(session.scalars(select(Tenant.id)))
    for tenant_id in tenants:
        with unit_of_work(tenant_id) as session:
            if shop_service.dormant_tenant(session, tenant_id) is not None:
                continue  # a suspended tenant's shops hold no connection open
            for shop in repository.all_shops(session):
                if shop.channel in channels and shop.status == ShopStatus.active:
                    found[shop.id] = (tenant_id, shop.channel, shop_service.access(shop))
    return found


def run_consumers(
    channels: dict[str, ConsumerFactory], stop: threading.Event, rescan_seconds: float = 60.0
) -> None:
    """Keep one consumer thread per active pushing shop until ``stop`` is set; shops connected,
    paused or disconnected are picked up at the next rescan."""
    from daiyun.connectors.tasks import refetch_orders

    running: dict[uuid.UUID, tuple[threading.Thread, threading.Event]] = {}
    while not stop.is_set():
        wanted = _active_push_shops(channels)
        for shop_id, (thread, shop_stop) in list(running.items()):
            if shop_id not in wanted or not thread.is_alive():
                shop_stop.set()
                del running[shop_id]
        for shop_id, (tenant_id, channel, access) in wanted.items():
            if shop_id in running:
                continue

            def hints(
                ids: list[str], tenant: uuid.UUID = tenant_id, shop: uuid.UUID = shop_id
            ) -> None:
                refetch_orders.delay(str(tenant), str(shop), ids)

            shop_stop = threading.Event()
            consumer = channels[channel](access)
            thread = threading.Thread(
                target=consumer.run, args=(hints, shop_stop), name=f"push-{shop_id}", daemon=True
            )
            thread.start()
            running[shop_id] = (thread, shop_stop)
            log.info("push consumer started", shop_id=str(shop_id), channel=channel)
        stop.wait(rescan_seconds)
    for thread, shop_stop in running.values():
        shop_stop.set()
        thread.join(5)
