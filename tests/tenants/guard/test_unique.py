"""SECURITY.md item 11: per-tenant versus global uniqueness."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from httpx import Response
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from daiyun.core import db
from daiyun.core.errors import Problem
from daiyun.tenants.auth.models import User
from daiyun.tenants.auth.permissions import Role
from daiyun.tenants.auth.schemas import UserCreate
from daiyun.tenants.auth.users import create_user
from daiyun.tenants.models import Membership, Tenant
from tests.conftest import PASSWORD, World
from tests.tenants.guard.seed import (
    Pair,
)

# --- item 11: per-tenant versus global uniqueness ---------------------------------------------


def test_same_user_in_two_tenants_is_fine_but_not_twice_in_one(pair: Pair) -> None:
    """Item 11: (tenant_id, user_id) is unique per tenant: one staff user in A and in B is fine."""
    for seeded in (pair.a, pair.b):
        with db.unit_of_work(seeded.tenant.id) as session:
            roles = session.scalars(
                select(Membership.role).where(Membership.user_id == pair.staff.id)
            ).all()
        assert roles == [Role.account_manager]
    with pytest.raises(IntegrityError), db.unit_of_work(pair.a.tenant.id) as session:
        session.add(Membership(user_id=pair.staff.id, role=Role.cs_agent))
        session.flush()


def _create(
    world: World, headers: dict[str, str], email: str, role: Role, tenant: str | None
) -> Response:
    body: dict[str, Any] = {"email": email, "name": "Someone", "password": PASSWORD, "role": role}
    if tenant is not None:
        body["tenant"] = tenant
    return world.client.post("/api/v1/users", json=body, headers=headers)


def _assert_generic_conflict(answer: Response, email: str) -> dict[str, Any]:
    assert answer.status_code == 409, answer.text
    problem: dict[str, Any] = answer.json()
    assert problem["type"].endswith("/user-not-created")
    text = answer.text.lower()
    assert email.lower() not in text
    assert email.split("@")[0].lower() not in text
    assert "exist" not in text
    assert "already" not in problem["detail"].lower()
    return problem


def _users_with(email: str) -> int:
    with db.unit_of_work() as session:
        return len(session.scalars(select(User.id).where(User.email == email.lower())).all())


def test_duplicate_email_gets_a_generic_conflict(world: World) -> None:
    """Item 11: an agency admin creating a user with a taken e-mail gets a 409 revealing nothing."""
    admin = world.actor(Role.agency_admin)
    email = f"taken-{uuid.uuid4().hex[:8]}@example.com"
    first = _create(world, admin.headers, email, Role.cs_agent, None)
    assert first.status_code == 201, first.text
    for variant in (email, email.upper()):
        _assert_generic_conflict(_create(world, admin.headers, variant, Role.marketer, None), email)
    assert _users_with(email) == 1


def test_email_of_another_tenants_user_gets_the_same_generic_conflict(
    world: World, pair: Pair
) -> None:
    """Item 11: inviting a viewer to A with the e-mail of B's user answers the same generic 409."""
    b_user = world.user(Role.merchant_viewer, pair.b.tenant)
    admin = world.actor(Role.agency_admin)
    owner = world.actor(Role.merchant_owner, pair.a.tenant)
    staff_email = pair.staff.email

    plain = _assert_generic_conflict(
        _create(world, admin.headers, staff_email, Role.finance, None), staff_email
    )
    for headers in (owner.headers, admin.headers):
        answer = _create(world, headers, b_user.email, Role.merchant_viewer, pair.a.tenant.slug)
        problem = _assert_generic_conflict(answer, b_user.email)
        assert {k: problem[k] for k in ("status", "type", "title", "detail")} == {
            k: plain[k] for k in ("status", "type", "title", "detail")
        }
    assert _users_with(b_user.email) == 1
    with db.unit_of_work(pair.a.tenant.id) as session:
        members = set(session.scalars(select(Membership.user_id)))
    assert b_user.id not in members


def test_email_conflict_in_a_tenant_bound_session_is_generic(pair: Pair, world: World) -> None:
    """Item 11: the service, in a session bound to A, refuses B's user's e-mail generically."""
    b_user = world.user(Role.merchant_viewer, pair.b.tenant)
    with pytest.raises(Problem) as refused, db.unit_of_work(pair.a.tenant.id) as session:
        create_user(
            session,
            UserCreate(
                email=b_user.email, name="Viewer", password=PASSWORD, role=Role.merchant_viewer
            ),
            session.get(Tenant, pair.a.tenant.id),
        )
    assert refused.value.status == 409
    assert refused.value.kind == "user-not-created"
    assert b_user.email not in refused.value.detail
    assert "exist" not in refused.value.detail.lower()
    assert _users_with(b_user.email) == 1
