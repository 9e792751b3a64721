"""Request dependencies: the unit of work, the caller, and access to the tenant in the path."""

from __future__ import annotations

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
from daiyun.tenants.auth import service as auth_service
from daiyun.tenants.auth.models import User
from daiyun.tenants.auth.permissions import Permission, Role, allows
from daiyun.tenants.models import Membership, Tenant

oauth2 = OAuth2PasswordBearer(tokenUrl="/api/v1/auth/token", auto_error=False)


def get_session() -> Iterator[Session]:
    """The request's unit of work: commits when the endpoint succeeds, else rolls back."""
    session = new_session()
    try:
        yield session
        session.commit()
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()


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
    """The user's role in a tenant: agency admins everywhere, others by membership only."""
    if user.role == Role.agency_admin:
        return Role.agency_admin
    for member in memberships_of(session, user.id):
        if member.tenant_id == tenant_id:
            return member.role
    return None


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

    Outside the caller's tenants the answer is 404 (the tenant's existence is not revealed)
    and the attempt is audited; inside, a missing permission is 403.
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
            audit.record_denial(
                user.id,
                "tenant.access_denied",
                f"tenant:{tenant[:100]}",
                tenant_id=found.id if found is not None else None,
            )
            raise Problem(404, "not-found", "No such tenant")
        bind_tenant(session, found.id)
        structlog.contextvars.bind_contextvars(tenant_id=str(found.id))
        if not allows(role, permission):
            raise Problem(403, "forbidden", f"Your role may not {permission.value}")
        return TenantAccess(tenant=found, user=user, role=role)

    return dependency
