"""The transactional outbox: domain events written with the change that caused them."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import ForeignKeyConstraint, Index, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from daiyun.core.db import Base
from daiyun.core.ids import utcnow
from daiyun.core.tenancy import TenantScoped


class OutboxEvent(TenantScoped, Base):
    """A domain event (``order.created``...) waiting to be, or already, published to Celery."""

    __tablename__ = "outbox_events"
    __table_args__ = (Index("ix_outbox_events_pending", "tenant_id", "delivered_at"),)

    topic: Mapped[str] = mapped_column(String(80))
    payload: Mapped[dict[str, Any]] = mapped_column(default=dict)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    published_at: Mapped[datetime | None] = mapped_column(default=None)
    # Set by ``deliver`` with its handlers' work; until then the relay may publish it again.
    delivered_at: Mapped[datetime | None] = mapped_column(default=None)


class HandledEvent(TenantScoped, Base):
    """Marks that one handler has processed one event, so a redelivery is a no-op."""

    __tablename__ = "handled_events"
    __table_args__ = (
        UniqueConstraint("tenant_id", "event_id", "handler"),
        ForeignKeyConstraint(
            ["tenant_id", "event_id"], ["outbox_events.tenant_id", "outbox_events.id"]
        ),
    )

    event_id: Mapped[uuid.UUID]
    handler: Mapped[str] = mapped_column(String(200))
    handled_at: Mapped[datetime] = mapped_column(default=utcnow)
