"""Daily sales rollups (日报汇总): one row per tenant, shop, channel, currency and local day.

The rollups are a projection of the order book, never a source of truth: every row is recomputed
from the current orders of its (shop, day) bucket, so it can be dropped and rebuilt at any time.
Days are calendar days in the tenant's time zone (``Tenant.time_zone``), and an order belongs to
the day it was placed on; its payment, refunds and cancellation all count on that day.
"""

from __future__ import annotations

import uuid
from datetime import date, datetime

from sqlalchemy import BigInteger, ForeignKeyConstraint, Index, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from daiyun.core.db import Base
from daiyun.core.ids import utcnow
from daiyun.core.tenancy import TenantScoped


class DailySales(TenantScoped, Base):
    """One shop's sales on one local day in one currency (GMV, paid orders, items, refunds).

    ``orders`` counts every order placed that day whatever its status; every other figure counts
    paid orders only (see :data:`daiyun.platform.reports.service.PAID_STATUSES`).
    """

    __tablename__ = "daily_sales"
    __table_args__ = (
        UniqueConstraint(
            "tenant_id", "shop_id", "channel", "currency", "day", name="uq_daily_sales_bucket"
        ),
        ForeignKeyConstraint(["tenant_id", "shop_id"], ["shops.tenant_id", "shops.id"]),
        Index("ix_daily_sales_tenant_day", "tenant_id", "day"),
    )

    shop_id: Mapped[uuid.UUID]
    channel: Mapped[str] = mapped_column(String(20))
    currency: Mapped[str] = mapped_column(String(3))
    day: Mapped[date]
    orders: Mapped[int] = mapped_column(default=0)
    paid_orders: Mapped[int] = mapped_column(default=0)
    gmv_minor: Mapped[int] = mapped_column(BigInteger, default=0)
    items_sold: Mapped[int] = mapped_column(BigInteger, default=0)
    refunded_minor: Mapped[int] = mapped_column(BigInteger, default=0)
    refunded_orders: Mapped[int] = mapped_column(default=0)
    computed_at: Mapped[datetime] = mapped_column(default=utcnow)


class DailyProductSales(TenantScoped, Base):
    """One SKU's sales in one shop on one local day, for the top products (热销商品).

    ``revenue_minor`` is the sum of the SKU's line totals (after line discounts) on paid orders;
    ``title`` is the SKU's title on the last such line read.
    """

    __tablename__ = "daily_product_sales"
    __table_args__ = (
        UniqueConstraint(
            "tenant_id",
            "shop_id",
            "channel",
            "currency",
            "day",
            "sku",
            # The generated name would pass PostgreSQL's 63-character limit.
            name="uq_daily_product_sales_bucket_sku",
        ),
        ForeignKeyConstraint(["tenant_id", "shop_id"], ["shops.tenant_id", "shops.id"]),
        Index("ix_daily_product_sales_tenant_day", "tenant_id", "day"),
    )

    shop_id: Mapped[uuid.UUID]
    channel: Mapped[str] = mapped_column(String(20))
    currency: Mapped[str] = mapped_column(String(3))
    day: Mapped[date]
    sku: Mapped[str] = mapped_column(String(100))
    title: Mapped[str] = mapped_column(String(500))
    quantity: Mapped[int] = mapped_column(BigInteger, default=0)
    revenue_minor: Mapped[int] = mapped_column(BigInteger, default=0)
    orders: Mapped[int] = mapped_column(default=0)
    # Units of those orders refunded, from the refunds' lines (a refund without lines names no
    # SKU and counts none): a SKU's returns, against the day its orders were placed.
    returned_units: Mapped[int] = mapped_column(BigInteger, default=0, server_default="0")
    computed_at: Mapped[datetime] = mapped_column(default=utcnow)
