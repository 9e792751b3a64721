"""Recording and reading the audit log."""

from __future__ import annotations

import uuid
from typing import Any

import structlog
from sqlalchemy import select
from sqlalchemy.orm import Session

from daiyun.core.audit.models import AuditEntry
from daiyun.core.db import unit_of_work
from daiyun.core.pagination import paginate
from daiyun.core.tenancy import current_tenant


def record(
    session: Session,
    action: str,
    target: str = "",
    changes: dict[str, Any] | None = None,
    *,
    tenant_id: uuid.UUID | None = None,
) -> None:
    """Add an audit entry to the session's transaction (it lands with the change or not at all)."""
    request_id = structlog.contextvars.get_contextvars().get("request_id")
    session.add(
        AuditEntry(
            tenant_id=tenant_id or current_tenant(session),
            actor_id=session.info.get("user_id"),
            action=action,
            target=target,
            changes=changes or {},
            request_id=request_id,
        )
    )


def record_denial(
    actor_id: uuid.UUID | None, action: str, target: str, tenant_id: uuid.UUID | None = None
) -> None:
    """Record a refused attempt in its own transaction, since the request itself rolls back.

    An attempt on an existing tenant lands in that tenant's log; one on an unknown tenant is a
    platform entry.
    """
    with unit_of_work(tenant_id) as session:
        session.info["user_id"] = actor_id
        record(session, action, target)


def list_platform(
    session: Session, cursor: str | None, limit: int
) -> tuple[list[AuditEntry], str | None]:
    """Entries about no tenant (users created, access refused to unknown tenants)."""
    stmt = select(AuditEntry).where(AuditEntry.tenant_id.is_(None))
    return paginate(session, stmt, AuditEntry.id, cursor, limit)


def list_for_tenant(
    session: Session, tenant_id: uuid.UUID, cursor: str | None, limit: int
) -> tuple[list[AuditEntry], str | None]:
    stmt = select(AuditEntry).where(AuditEntry.tenant_id == tenant_id)
    return paginate(session, stmt, AuditEntry.id, cursor, limit)
