"""Request dependencies: the unit of work, the caller, and access to the tenant in the path."""

from __future__ import annotations

import functools
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Annotated

import structlog
from fastapi import Depends, Path, Request
from fastapi.security import OAuth2PasswordBearer
from sqlalchemy import select
from sqlalchemy.orm import Session

from daiyun.core.audit import service as audit
from daiyun.core.db import new_session
from daiyun.core.errors import Problem
from daiyun.core.tenancy import ALL_TENANTS, bind_tenant, bind_user
from daiyun.tenants.auth import deferred
from daiyun.tenants.auth import service as auth_service
from daiyun.tenants.auth.models import User
from daiyun.tenants.auth.permissions import Permission, Role, allows
from daiyun.tenants.models import Membership, Tenant, TenantStatus

oauth2 = OAuth2PasswordBearer(tokenUrl="/api/v1/auth/token", auto_error=False)


def get_session() -> Iterator[Session]:
    """The request's unit of work: commits when the endpoint succeeds, else rolls back.

    Writes deferred with :func:`deferred.defer` (refusals audited, failed sign-ins) run after
    the session is closed, so they reuse its connection instead of holding a second one.
    """
    session = new_session()
    deferred.track(session)
    try:
        yield session
        session.commit()
    except BaseException:
        session.rollback()
        raise
    finally:
        writes = deferred.take(session)
        session.close()
        deferred.run(writes)


SessionDep = Annotated[Session, Depends(get_session, scope="function")]


def bearer_token(token: Annotated[str | None, Depends(oauth2)]) -> str:
    if not token:
        raise Problem(401, "unauthorized", "Sign in first", headers={"WWW-Authenticate": "Bearer"})
    return token


def current_user(session: SessionDep, token: Annotated[str, Depends(bearer_token)]) -> User:
    """The signed-in user (bearer token or API key); 401 otherwise."""
    user = auth_service.resolve_bearer(session, token)
    if user is None:
        raise Problem(
            401,
            "unauthorized",
            "The token is invalid, expired or revoked",
            headers={"WWW-Authenticate": "Bearer"},
        )
    bind_user(session, user.id)
    structlog.contextvars.bind_contextvars(user_id=str(user.id))
    return user


CurrentUser = Annotated[User, Depends(current_user)]


def signed_in_user(user: CurrentUser, token: Annotated[str, Depends(bearer_token)]) -> User:
    """The caller, if signed in with a password (an access token): an API key may not manage
    credentials, so a leaked key cannot mint itself successors."""
    if auth_service.is_api_key(token):
        raise Problem(
            403,
            "api-key-not-allowed",
            "API keys cannot do this; sign in with your password (POST /api/v1/auth/token)",
        )
    return user


SignedInUser = Annotated[User, Depends(signed_in_user)]


def memberships_of(session: Session, user_id: uuid.UUID) -> list[Membership]:
    """A user's own memberships in every tenant (the one read that spans tenants)."""
    stmt = (
        select(Membership)
        .where(Membership.user_id == user_id)
        .execution_options(**{ALL_TENANTS: True})
    )
    members = list(session.scalars(stmt))
    # Do not keep other tenants' rows in the identity map of a session about to be scoped.
    for member in members:
        session.expunge(member)
    return members


def role_in(session: Session, user: User, tenant_id: uuid.UUID) -> Role | None:
    """The user's role in a tenant: agency admins everywhere, others by membership only, and
    not in an offboarded tenant (its data is kept, its members see it no more)."""
    if user.role == Role.agency_admin:
        return Role.agency_admin
    for member in memberships_of(session, user.id):
        if member.tenant_id == tenant_id:
            tenant = session.get(Tenant, tenant_id)
            if tenant is None or tenant.status == TenantStatus.offboarded:
                return None
            return member.role
    return None


SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


def refuse_tenant(session: Session, user_id: uuid.UUID, slug: str, tenant: Tenant | None) -> None:
    """Audit a refused access to the tenant named ``slug``; the audit entry is written after
    the request (its own transaction rolls back) on the request's connection."""
    deferred.defer(
        session,
        functools.partial(
            audit.record_denial,
            user_id,
            "tenant.access_denied",
            f"tenant:{slug[:100]}",
            tenant_id=tenant.id if tenant is not None else None,
        ),
    )


def check_status(tenant: Tenant, role: Role, method: str) -> None:
    """A suspended tenant is read-only for everyone but the agency admin, who may reactivate
    it (PATCH its status) or work on it; 409 otherwise."""
    if (
        tenant.status == TenantStatus.suspended
        and role != Role.agency_admin
        and method.upper() not in SAFE_METHODS
    ):
        raise Problem(
            409,
            "tenant-suspended",
            f"Tenant {tenant.slug} is suspended: it is read-only until the agency reactivates it",
        )


@dataclass(frozen=True)
class TenantAccess:
    """The tenant named in the path, the caller, and the caller's role there."""

    tenant: Tenant
    user: User
    role: Role

    def can(self, permission: Permission) -> bool:
        return allows(self.role, permission)


def tenant_access(permission: Permission) -> Callable[..., TenantAccess]:
    """Dependency: the path's tenant if the caller is a member with ``permission``.

    Outside the caller's tenants (an offboarded one included) the answer is 404 (the tenant's
    existence is not revealed) and the attempt is audited; inside, a missing permission is 403,
    and a write to a suspended tenant 409 (:func:`check_status`).
    """

    def dependency(
        request: Request,
        session: SessionDep,
        user: CurrentUser,
        tenant: Annotated[str, Path(description="The tenant's slug")],
    ) -> TenantAccess:
        found = session.scalar(select(Tenant).where(Tenant.slug == tenant))
        role = role_in(session, user, found.id) if found is not None else None
        if found is None or role is None:
            refuse_tenant(session, user.id, tenant, found)
            raise Problem(404, "not-found", "No such tenant")
        bind_tenant(session, found.id)
        structlog.contextvars.bind_contextvars(tenant_id=str(found.id))
        if not allows(role, permission):
            raise Problem(403, "forbidden", f"Your role may not {permission.value}")
        check_status(found, role, request.method)
        return TenantAccess(tenant=found, user=user, role=role)

    return dependency
