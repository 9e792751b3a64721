"""Sign-in, the caller's profile and API keys, and user creation."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Depends, Header, Request, Response
from fastapi.security import OAuth2PasswordRequestForm
from sqlalchemy import select

from daiyun.core.errors import Problem
from daiyun.core.idempotency import idempotent
from daiyun.core.pagination import Cursor, Limit, Page, paginate
from daiyun.tenants.auth import service as auth_service
from daiyun.tenants.auth import users as user_service
from daiyun.tenants.auth.deps import (
    CurrentUser,
    SessionDep,
    bearer_token,
    memberships_of,
    role_in,
)
from daiyun.tenants.auth.models import User
from daiyun.tenants.auth.permissions import Role
from daiyun.tenants.auth.schemas import (
    ApiKeyCreate,
    ApiKeyCreated,
    ApiKeyRead,
    MembershipView,
    MeRead,
    TokenRead,
    UserCreate,
    UserRead,
)
from daiyun.tenants.models import Tenant

router = APIRouter(tags=["auth"])
IdempotencyKey = Annotated[str | None, Header(alias="Idempotency-Key")]


@router.post("/auth/token", response_model=TokenRead)
def issue_token(
    request: Request, session: SessionDep, form: Annotated[OAuth2PasswordRequestForm, Depends()]
) -> TokenRead:
    """Sign in with e-mail and password (OAuth2 password form); returns an opaque bearer token.

    Repeated failures per account and per client address answer 429; the answer never says
    whether the account exists.
    """
    address = request.client.host if request.client else "unknown"
    issued = auth_service.login(session, form.username, form.password, address)
    return TokenRead(access_token=issued.token, expires_in=issued.expires_in)


@router.post("/auth/logout", status_code=204)
def logout(
    session: SessionDep, user: CurrentUser, token: Annotated[str, Depends(bearer_token)]
) -> Response:
    """Revoke the bearer token of this request."""
    auth_service.logout(session, token)
    return Response(status_code=204)


@router.get("/me", response_model=MeRead)
def me(session: SessionDep, user: CurrentUser) -> MeRead:
    """The caller, its role and the tenants it may act in."""
    if user.role == Role.agency_admin:
        tenants = [
            (t, Role.agency_admin) for t in session.scalars(select(Tenant).order_by(Tenant.slug))
        ]
    else:
        roles = {m.tenant_id: m.role for m in memberships_of(session, user.id)}
        found = session.scalars(select(Tenant).where(Tenant.id.in_(roles)).order_by(Tenant.slug))
        tenants = [(t, roles[t.id]) for t in found]
    views = [MembershipView(tenant=t.slug, tenant_name=t.display_name, role=r) for t, r in tenants]
    return MeRead(**UserRead.model_validate(user).model_dump(), tenants=views)


@router.get("/me/api-keys", response_model=list[ApiKeyRead])
def list_api_keys(session: SessionDep, user: CurrentUser) -> list[ApiKeyRead]:
    """The caller's API keys (never their secrets)."""
    return [ApiKeyRead.model_validate(k) for k in auth_service.list_api_keys(session, user.id)]


@router.post("/me/api-keys", status_code=201, response_model=ApiKeyCreated)
def create_api_key(
    session: SessionDep,
    user: CurrentUser,
    body: ApiKeyCreate,
    idempotency_key: IdempotencyKey = None,
) -> Response:
    """Create an API key for an integration; the key is shown in this answer only."""

    def create() -> ApiKeyCreated:
        key, secret = auth_service.create_api_key(session, user.id, body.name)
        return ApiKeyCreated(**ApiKeyRead.model_validate(key).model_dump(), key=secret)

    return idempotent(session, user.id, idempotency_key, body, create)


@router.delete("/me/api-keys/{key_id}", status_code=204)
def revoke_api_key(session: SessionDep, user: CurrentUser, key_id: uuid.UUID) -> Response:
    """Revoke one of the caller's API keys."""
    auth_service.revoke_api_key(session, user.id, key_id)
    return Response(status_code=204)


@router.post("/users", status_code=201, response_model=UserRead)
def create_user(
    session: SessionDep, user: CurrentUser, body: UserCreate, idempotency_key: IdempotencyKey = None
) -> Response:
    """Create a user. Agency admins create anyone; a merchant owner invites viewers of its tenant.

    Merchant roles name their tenant (`tenant`, a slug); staff are then assigned to tenants
    through `POST /tenants/{tenant}/members`.
    """
    tenant = None
    if body.tenant is not None:
        tenant = session.scalar(select(Tenant).where(Tenant.slug == body.tenant))
        if tenant is None or role_in(session, user, tenant.id) is None:
            raise Problem(422, "unknown-tenant", "No such tenant")
    actor_role = role_in(session, user, tenant.id) if tenant else None
    if not user_service.may_create(user, body.role, actor_role):
        raise Problem(403, "forbidden", "You may not create users with this role")

    def create() -> UserRead:
        return UserRead.model_validate(user_service.create_user(session, body, tenant))

    return idempotent(
        session, user.id, idempotency_key, body.model_dump(exclude={"password"}), create
    )


@router.get("/users", response_model=Page[UserRead])
def list_users(
    session: SessionDep, user: CurrentUser, cursor: Cursor = None, limit: Limit = 50
) -> Page[UserRead]:
    """Every user of the deployment (agency admins only)."""
    if user.role != Role.agency_admin:
        raise Problem(403, "forbidden", "Only agency admins list users")
    rows, next_cursor = paginate(session, select(User), User.id, cursor, limit)
    return Page(items=[UserRead.model_validate(u) for u in rows], next_cursor=next_cursor)
