"""Which tenants a staff member may see, with what role, and the unit of work each is read in.

Every tenant is worked on in its own unit of work bound to that tenant (and the acting user, so
audit entries name them): the ORM guard never sees two tenants in one session. Only the tenants
the user may open are covered, and each figure or action is checked against the user's role in
that tenant. A tenant whose domain refuses a read (no contract yet, say) shows no figure rather
than failing the page.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TypeVar

from sqlalchemy.orm import Session

from daiyun.core.db import unit_of_work
from daiyun.core.errors import Problem
from daiyun.core.tenancy import bind_user
from daiyun.portal.identity import TenantView, Viewer
from daiyun.tenants import service as tenant_service
from daiyun.tenants.auth.deps import memberships_of
from daiyun.tenants.auth.permissions import Permission, Role, allows
from daiyun.tenants.models import TenantStatus

T = TypeVar("T")


@dataclass(frozen=True)
class Access:
    """A tenant the user may open, and their role there."""

    tenant: TenantView
    role: Role

    def can(self, permission: Permission) -> bool:
        return allows(self.role, permission)


def accessible(db: Session, user: Viewer) -> list[Access]:
    """The user's tenants with their role in each: all of them for an agency admin."""
    if user.merchant_tenant_id is not None:
        return []
    tenants = tenant_service.tenants_open_to(db, user.id)
    if user.role == Role.agency_admin:
        return [Access(t, Role.agency_admin) for t in tenants]
    roles = {m.tenant_id: m.role for m in memberships_of(db, user.id)}
    return [Access(t, roles[t.id]) for t in tenants if t.id in roles]


def writable(access: Access) -> bool:
    """Whether the user may change anything at this tenant now: a suspended tenant is read-only
    for everyone but the agency admin (the API's and the tenant pages' rule, ``check_status``)."""
    return access.tenant.status != TenantStatus.suspended or access.role == Role.agency_admin


def with_permission(accesses: list[Access], permission: Permission) -> list[Access]:
    """The accesses whose role there grants ``permission``."""
    return [a for a in accesses if a.can(permission)]


@contextmanager
def tenant_unit(tenant_id: uuid.UUID, user_id: uuid.UUID) -> Iterator[Session]:
    """A unit of work bound to one tenant and the acting user; commits when the block ends."""
    with unit_of_work(tenant_id) as session:
        bind_user(session, user_id)
        yield session


def quietly(read: Callable[[], T]) -> T | None:
    """A figure, or None when the domain refuses it for this tenant (a 4xx Problem)."""
    try:
        return read()
    except Problem as refused:
        if refused.status >= 500:
            raise
        return None
