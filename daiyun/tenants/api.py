"""Tenants (merchants), their members, and their audit log."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Depends, Response

from daiyun.core.audit import service as audit
from daiyun.core.audit.schemas import AuditEntryRead
from daiyun.core.errors import PROBLEM_JSON, Problem
from daiyun.core.idempotency import IdempotencyKey, idempotent
from daiyun.core.pagination import Cursor, Limit, Page
from daiyun.tenants import service
from daiyun.tenants.auth.deps import (
    CurrentUser,
    SessionDep,
    TenantAccess,
    memberships_of,
    tenant_access,
)
from daiyun.tenants.auth.permissions import Permission, Role
from daiyun.tenants.schemas import MemberCreate, MemberRead, TenantCreate, TenantRead, TenantUpdate

router = APIRouter(tags=["tenants"])
P = Permission


@router.get("/tenants", response_model=Page[TenantRead])
def list_tenants(
    session: SessionDep, user: CurrentUser, cursor: Cursor = None, limit: Limit = 50
) -> Page[TenantRead]:
    """The tenants the caller may see: every tenant for agency admins, else its own."""
    ids = (
        None
        if user.role == Role.agency_admin
        else {m.tenant_id for m in memberships_of(session, user.id)}
    )
    rows, next_cursor = service.list_tenants(session, user, ids, cursor, limit)
    return Page(items=[TenantRead.model_validate(t) for t in rows], next_cursor=next_cursor)


@router.post("/tenants", status_code=201, response_model=TenantRead)
def create_tenant(
    session: SessionDep,
    user: CurrentUser,
    body: TenantCreate,
    idempotency_key: IdempotencyKey = None,
) -> Response:
    """Onboard a merchant (agency admins only)."""
    if user.role != Role.agency_admin:
        raise Problem(403, "forbidden", "Only agency admins create tenants")
    return idempotent(
        session,
        user.id,
        idempotency_key,
        body,
        lambda: TenantRead.model_validate(service.create_tenant(session, body)),
    )


@router.get("/tenants/{tenant}", response_model=TenantRead)
def get_tenant(
    access: Annotated[TenantAccess, Depends(tenant_access(P.tenant_read))],
) -> TenantRead:
    """One tenant's profile."""
    return TenantRead.model_validate(access.tenant)


@router.patch(
    "/tenants/{tenant}",
    response_model=TenantRead,
    responses={
        403: {
            "description": "Only agency admins change a tenant's status",
            "content": {PROBLEM_JSON: {}},
        },
        409: {
            "description": "The tenant is suspended: read-only but for agency admins",
            "content": {PROBLEM_JSON: {}},
        },
    },
)
def update_tenant(
    session: SessionDep,
    body: TenantUpdate,
    access: Annotated[TenantAccess, Depends(tenant_access(P.tenant_update))],
) -> TenantRead:
    """Change a tenant's names, status, time zone or currency.

    The status gates access (suspended: read-only for everyone but agency admins; offboarded:
    gone for its members, data kept), so only an agency admin changes it.
    """
    if (
        body.status is not None
        and body.status != access.tenant.status
        and access.role != Role.agency_admin
    ):
        raise Problem(403, "forbidden", "Only agency admins change a tenant's status")
    return TenantRead.model_validate(service.update_tenant(session, access.tenant, body))


@router.delete("/tenants/{tenant}", status_code=204)
def offboard_tenant(
    session: SessionDep, access: Annotated[TenantAccess, Depends(tenant_access(P.members_manage))]
) -> Response:
    """Offboard a merchant (agency admins). Its data is kept for billing and audit."""
    if access.role != Role.agency_admin:
        raise Problem(403, "forbidden", "Only agency admins offboard tenants")
    service.offboard_tenant(session, access.tenant)
    return Response(status_code=204)


@router.get("/tenants/{tenant}/members", response_model=Page[MemberRead])
def list_members(
    session: SessionDep,
    access: Annotated[TenantAccess, Depends(tenant_access(P.members_read))],
    cursor: Cursor = None,
    limit: Limit = 50,
) -> Page[MemberRead]:
    """Who may act in this tenant, with their roles."""
    rows, next_cursor = service.list_members(session, cursor, limit)
    return Page(items=[MemberRead.model_validate(m) for m in rows], next_cursor=next_cursor)


@router.post("/tenants/{tenant}/members", status_code=201, response_model=MemberRead)
def add_member(
    session: SessionDep,
    body: MemberCreate,
    access: Annotated[TenantAccess, Depends(tenant_access(P.members_manage))],
    idempotency_key: IdempotencyKey = None,
) -> Response:
    """Assign a staff member to this tenant with a role (or change the role of one)."""
    return idempotent(
        session,
        access.user.id,
        idempotency_key,
        {"tenant": access.tenant.slug, **body.model_dump(mode="json")},
        lambda: MemberRead.model_validate(service.add_member(session, access.tenant, body)),
    )


@router.delete("/tenants/{tenant}/members/{user_id}", status_code=204)
def remove_member(
    session: SessionDep,
    user_id: uuid.UUID,
    access: Annotated[TenantAccess, Depends(tenant_access(P.members_manage))],
) -> Response:
    """Remove a user from this tenant; it loses access on its very next request."""
    service.remove_member(session, user_id)
    return Response(status_code=204)


@router.get("/tenants/{tenant}/audit", response_model=Page[AuditEntryRead])
def list_audit(
    session: SessionDep,
    access: Annotated[TenantAccess, Depends(tenant_access(P.audit_read))],
    cursor: Cursor = None,
    limit: Limit = 50,
) -> Page[AuditEntryRead]:
    """The tenant's audit log, oldest first (agency admins)."""
    rows, next_cursor = audit.list_for_tenant(session, access.tenant.id, cursor, limit)
    return Page(items=[AuditEntryRead.model_validate(e) for e in rows], next_cursor=next_cursor)


@router.get("/audit", response_model=Page[AuditEntryRead])
def list_platform_audit(
    session: SessionDep, user: CurrentUser, cursor: Cursor = None, limit: Limit = 50
) -> Page[AuditEntryRead]:
    """Platform audit entries, about no tenant (agency admins): users created, access refused
    to unknown tenants."""
    if user.role != Role.agency_admin:
        raise Problem(403, "forbidden", "Only agency admins read the platform audit log")
    rows, next_cursor = audit.list_platform(session, cursor, limit)
    return Page(items=[AuditEntryRead.model_validate(e) for e in rows], next_cursor=next_cursor)
