"""Builders of canonical orders and shops for tests, through the real services."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from daiyun.connectors import service as shop_service
from daiyun.connectors.models import Shop
from daiyun.connectors.schemas import ShopCreate
from daiyun.core.db import unit_of_work
from daiyun.platform.orders.normalized import (
    Address,
    NormalizedLine,
    NormalizedOrder,
    NormalizedRefund,
    OrderStatus,
)

T0 = datetime(2026, 10, 15, 8, 0, tzinfo=UTC)

CREDENTIALS: dict[str, dict[str, Any]] = {
    "shopify": {
        "shop_domain": "lotus.myshopify.com",
        "access_token": "shpat_test",
        "api_secret": "shopify-secret",
    },
    "woocommerce": {
        "store_url": "https://shop.example.com",
        "consumer_key": "ck_test",
        "consumer_secret": "cs_test",
        "webhook_secret": "woo-secret",
    },
    "amazon": {
        "seller_id": "A1SELLER",
        "marketplace_ids": ["ATVPDKIKX0DER"],
        "lwa_client_id": "amzn1.application-oa2-client.test",
        "lwa_client_secret": "lwa-secret",
        "refresh_token": "Atzr|test",
    },
}


class Clock:
    """A monotonic clock the test moves by hand."""

    def __init__(self) -> None:
        self.now = 1_000.0

    def __call__(self) -> float:
        return self.now


def shop(
    tenant_id: uuid.UUID,
    channel: str = "shopify",
    external_id: str | None = None,
    api_base_url: str | None = None,
    credentials: dict[str, Any] | None = None,
) -> Shop:
    """A connected shop, committed in the tenant (or joined to the test's transaction)."""
    body = ShopCreate(
        channel=channel,
        name=f"{channel} shop",
        external_id=external_id or f"{channel}-{uuid.uuid4().hex[:8]}",
        credentials=credentials or CREDENTIALS[channel],
        api_base_url=api_base_url,  # type: ignore[arg-type]
    )
    with unit_of_work(tenant_id) as session:
        return shop_service.connect(session, body)


def order(
    external_id: str = "1001",
    *,
    updated: datetime = T0,
    status: OrderStatus = OrderStatus.paid,
    total_minor: int = 5998,
    quantity: int = 2,
    sku: str = "TEA-001",
    buyer: str = "王小明",
    email: str | None = "xiaoming@example.com",
    phone: str = "+8613812345678",
    country: str = "CN",
    refunds: list[NormalizedRefund] | None = None,
    placed: datetime | None = None,
) -> NormalizedOrder:
    """A plausible paid order to a Hangzhou address, changed at ``updated``."""
    return NormalizedOrder(
        external_id=external_id,
        status=status,
        channel_status=status.value,
        currency="CNY",
        total_minor=total_minor,
        subtotal_minor=total_minor,
        placed_at=placed or T0 - timedelta(hours=1),
        paid_at=T0 - timedelta(minutes=50),
        source_updated_at=updated,
        source_offset_minutes=480,
        buyer_name=buyer,
        buyer_email=email,
        buyer_phone=phone,
        shipping_address=Address(
            name=buyer,
            phone=phone,
            country=country,
            province="浙江省",
            city="杭州市",
            district="西湖区",
            address1="文三路 100 号 5 幢 302 室",
            postal_code="310012",
        ),
        lines=[
            NormalizedLine(
                external_id=f"{external_id}-1",
                sku=sku,
                title="西湖龙井 250g",
                quantity=quantity,
                unit_price_minor=total_minor // quantity,
            )
        ],
        refunds=refunds or [],
        raw={"id": external_id, "updated": updated.isoformat(), "status": status.value},
    )
