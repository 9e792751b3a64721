"""The audit log: who did what, for which tenant, when. Append-only."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from daiyun.core.db import Base
from daiyun.core.ids import new_id, utcnow


class AuditEntry(Base):
    """One recorded action. ``tenant_id`` is empty for platform actions (users, tenants, denials).

    Not :class:`~daiyun.core.tenancy.TenantScoped` because platform entries have no tenant;
    its repository filters explicitly, and on PostgreSQL row security limits reads to the bound
    tenant and triggers forbid UPDATE and DELETE for every role.
    """

    __tablename__ = "audit_log"
    __table_args__ = (Index("ix_audit_log_tenant_id_id", "tenant_id", "id"),)

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    tenant_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("tenants.id"), default=None)
    actor_id: Mapped[uuid.UUID | None] = mapped_column(default=None)
    action: Mapped[str] = mapped_column(String(80))
    target: Mapped[str] = mapped_column(String(200), default="")
    changes: Mapped[dict[str, Any]] = mapped_column(default=dict)
    request_id: Mapped[str | None] = mapped_column(String(64), default=None)
    at: Mapped[datetime] = mapped_column(default=utcnow)
