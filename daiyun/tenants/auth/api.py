"""Sign-in, the caller's profile and API keys, and user creation."""

from __future__ import annotations

import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request, Response
from fastapi.security import OAuth2PasswordRequestForm
from sqlalchemy import select
from sqlalchemy.orm import Session

from daiyun.core.errors import PROBLEM_JSON, Problem
from daiyun.core.idempotency import IdempotencyKey, idempotent
from daiyun.core.pagination import Cursor, Limit, Page, paginate
from daiyun.tenants.auth import preferences
from daiyun.tenants.auth import service as auth_service
from daiyun.tenants.auth import users as user_service
from daiyun.tenants.auth.addresses import client_address
from daiyun.tenants.auth.deps import (
    CurrentUser,
    SessionDep,
    SignedInUser,
    bearer_token,
    check_status,
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
    MeUpdate,
    TokenRead,
    UserCreate,
    UserRead,
)
from daiyun.tenants.models import Tenant, TenantStatus

router = APIRouter(tags=["auth"])


def _problem(description: str, **headers: str) -> dict[str, Any]:
    answer: dict[str, Any] = {"description": description, "content": {PROBLEM_JSON: {}}}
    if headers:
        answer["headers"] = {
            name: {"description": text, "schema": {"type": "string"}}
            for name, text in headers.items()
        }
    return answer


# A token must not linger in a browser's or a proxy's cache (RFC 6749 section 5.1).
NO_STORE = {"Cache-Control": "no-store", "Pragma": "no-cache"}


@router.post(
    "/auth/token",
    response_model=TokenRead,
    responses={
        401: _problem("The e-mail address or password is not correct"),
        429: _problem(
            "Too many failed sign-ins from this address (at this account, or at any)",
            **{"Retry-After": "Seconds to wait before trying again"},
        ),
    },
)
def issue_token(
    request: Request,
    response: Response,
    session: SessionDep,
    form: Annotated[OAuth2PasswordRequestForm, Depends()],
) -> TokenRead:
    """Sign in with e-mail and password (OAuth2 password form); returns an opaque bearer token.

    Failures are counted per (account, client address) and per client address, and too many
    answer 429 with `Retry-After`; failures at an account from elsewhere only tighten the limit
    for addresses that already failed there, so nobody can lock a user out. The client address
    is the peer's, or from `X-Forwarded-For` when the peer is in `DAIYUN_TRUSTED_PROXIES`. The
    answer never says whether the account exists, and is not to be cached.
    """
    issued = auth_service.login(session, form.username, form.password, client_address(request))
    response.headers.update(NO_STORE)
    return TokenRead(access_token=issued.token, expires_in=issued.expires_in)


@router.post(
    "/auth/logout",
    status_code=204,
    responses={400: _problem("The request used an API key: revoke it by its id instead")},
)
def logout(
    session: SessionDep, user: CurrentUser, token: Annotated[str, Depends(bearer_token)]
) -> Response:
    """Revoke the access token of this request.

    An API key is not signed out: the answer is 400 with the key's id (`api_key_id`), which
    `DELETE /me/api-keys/{key_id}` revokes.
    """
    auth_service.logout(session, token)
    return Response(status_code=204)


def _me_read(session: Session, user: User) -> MeRead:
    """The caller as `/me` shows it, with the tenants it may act in."""
    if user.role == Role.agency_admin:
        tenants = [
            (t, Role.agency_admin) for t in session.scalars(select(Tenant).order_by(Tenant.slug))
        ]
    else:
        roles = {m.tenant_id: m.role for m in memberships_of(session, user.id)}
        found = session.scalars(
            select(Tenant)
            .where(Tenant.id.in_(roles), Tenant.status != TenantStatus.offboarded)
            .order_by(Tenant.slug)
        )
        tenants = [(t, roles[t.id]) for t in found]
    views = [MembershipView(tenant=t.slug, tenant_name=t.display_name, role=r) for t, r in tenants]
    return MeRead(**UserRead.model_validate(user).model_dump(), tenants=views)


@router.get("/me", response_model=MeRead)
def me(session: SessionDep, user: CurrentUser) -> MeRead:
    """The caller, its role, its own settings and the tenants it may act in."""
    return _me_read(session, user)


@router.patch("/me", response_model=MeRead)
def update_me(session: SessionDep, user: CurrentUser, body: MeUpdate) -> MeRead:
    """Change the caller's own settings; a field left out stays as it is.

    `time_zone` is the zone the caller reads times in, in the portal as here: one of the zones
    the schema lists, or null for each tenant's own zone (an unknown zone: 422, nothing saved).
    `locale` is the language (`en` or `zh-CN`). Only the caller's own account is changed.
    """
    preferences.update_own(session, user, body)
    return _me_read(session, user)


@router.get("/me/api-keys", response_model=list[ApiKeyRead])
def list_api_keys(session: SessionDep, user: CurrentUser) -> list[ApiKeyRead]:
    """The caller's API keys (never their secrets)."""
    return [ApiKeyRead.model_validate(k) for k in auth_service.list_api_keys(session, user.id)]


@router.post(
    "/me/api-keys",
    status_code=201,
    response_model=ApiKeyCreated,
    responses={403: _problem("Called with an API key: only a password sign-in creates keys")},
)
def create_api_key(
    session: SessionDep,
    user: SignedInUser,
    body: ApiKeyCreate,
    idempotency_key: IdempotencyKey = None,
) -> Response:
    """Create an API key for an integration; the key is shown in this answer only.

    Only a password sign-in (an access token) may create keys: called with an API key, 403.
    """

    def create() -> ApiKeyCreated:
        key, secret = auth_service.create_api_key(session, user.id, body.name)
        return ApiKeyCreated(**ApiKeyRead.model_validate(key).model_dump(), key=secret)

    return idempotent(session, user.id, idempotency_key, body, create)


@router.delete("/me/api-keys/{key_id}", status_code=204)
def revoke_api_key(session: SessionDep, user: CurrentUser, key_id: uuid.UUID) -> Response:
    """Revoke one of the caller's API keys."""
    auth_service.revoke_api_key(session, user.id, key_id)
    return Response(status_code=204)


@router.post(
    "/users",
    status_code=201,
    response_model=UserRead,
    responses={409: _problem("The tenant named is suspended (read-only)")},
)
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
    if tenant is not None and actor_role is not None:
        check_status(tenant, actor_role, "POST")  # no new users in a suspended tenant

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
