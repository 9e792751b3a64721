"""Exchange rates (汇率): market data the agency records, shared by every tenant.

A rate says how many units of ``quote`` one unit of ``base`` bought on ``day``, from a named
source (a bank's published rate, the agency's own CSV). Rates are not tenant data: one table for
the platform, written by agency admins and finance, read by billing and the dashboards.
"""

from __future__ import annotations

import uuid
from datetime import date, datetime

from sqlalchemy import Index, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from daiyun.core.db import Base
from daiyun.core.ids import new_id, utcnow


class ExchangeRate(Base):
    """One currency pair on one day: one unit of ``base`` is ``rate`` units of ``quote``."""

    __tablename__ = "exchange_rates"
    __table_args__ = (
        UniqueConstraint("base", "quote", "day", name="uq_exchange_rates_pair_day"),
        Index("ix_exchange_rates_day", "day"),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    base: Mapped[str] = mapped_column(String(3))
    quote: Mapped[str] = mapped_column(String(3))
    day: Mapped[date]
    # Decimal as text, canonical (no exponent, no trailing zeros): SQLite would keep a float.
    rate: Mapped[str] = mapped_column(String(40))
    source: Mapped[str] = mapped_column(String(100))
    recorded_at: Mapped[datetime] = mapped_column(default=utcnow)
