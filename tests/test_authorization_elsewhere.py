"""Authorization beyond tenants (SECURITY.md 12): every route outside a tenant x every actor,
and the user and API-key rules the matrix row alone does not show. The cast is tests/authz_cast.py.
"""

from __future__ import annotations

import uuid
from datetime import date, timedelta
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import select

from daiyun.core import db
from daiyun.core.config import get_settings
from daiyun.tenants.auth import service as auth_service
from daiyun.tenants.auth.models import ApiKey, User
from daiyun.tenants.auth.permissions import Permission, Role, allows
from tests.authz import (
    API,
    R,
    Route,
    problem_kind,
)
from tests.authz_cast import (
    WRITES,
    Caller,
    check_refusal,
    make_cast,
    operations_of,
    platform_state,
    tenant_state,
)
from tests.authz_tables import (
    INVITE_VIEWER,
    OTHER_TABLE,
    PUBLIC,
    RATE_KEEPERS,
    SIGNATURE,
    SIGNED_IN,
    VISITOR,
)
from tests.conftest import PASSWORD, World
from tests.isolation_parts import PARTS

# --------------------------------------------------------------------------------------------
# SECURITY.md 12: every other route
# --------------------------------------------------------------------------------------------


def _expected_elsewhere(access: str, caller: Caller, success: int) -> int:
    if access == PUBLIC:
        return success
    if access == SIGNATURE:
        return 401
    if access == VISITOR:
        return 403  # no page origin: the widget answers no one, signed in or not
    if caller.user is None:
        return 401
    if access == SIGNED_IN:
        return success
    if isinstance(access, Permission):
        return success if allows(caller.user.role, access) else 403
    if caller.role_in_a == R.agency_admin:
        return success
    if access == RATE_KEEPERS:
        return success if caller.user.role == R.finance else 403
    if access == INVITE_VIEWER:
        # The body invites a viewer of A: its owner may; outside A the tenant is "unknown".
        if caller.role_in_a is None:
            return 422
        return success if caller.role_in_a == R.merchant_owner else 403
    return 403


@pytest.mark.long
def test_other_route_matrix(world: World, app: FastAPI, monkeypatch: pytest.MonkeyPatch) -> None:
    """SECURITY.md 12: routes outside a tenant x every actor; denied writes change nothing."""
    monkeypatch.setattr(get_settings(), "stripe_webhook_secret", "whsec_matrix")
    monkeypatch.setattr("daiyun.app._check_broker", lambda: None)  # no broker in tests
    cast = make_cast(world)
    client = world.client
    operations = operations_of(app)
    keys: dict[str, uuid.UUID] = {}
    for caller in cast.callers:
        if caller.user is not None:
            with db.unit_of_work() as session:
                keys[caller.name] = auth_service.create_api_key(session, caller.user.id, "m")[0].id
    keys["anonymous"] = keys["agency admin"]

    def request_for(route: Route, caller: Caller) -> dict[str, Any]:
        login = caller.user or cast.victim
        if route == ("POST", f"{API}/auth/token"):
            return {"data": {"username": login.email, "password": PASSWORD}}
        if route == ("POST", f"{API}/me/api-keys"):
            return {"json": {"name": "matrix"}}
        if route == ("PATCH", f"{API}/me"):
            return {"json": {"time_zone": "Asia/Tokyo"}}
        if route == ("POST", f"{API}/users"):
            email = f"invited-{uuid.uuid4().hex[:8]}@example.com"
            return {
                "json": {
                    "email": email,
                    "name": "Invited",
                    "password": PASSWORD,
                    "role": R.merchant_viewer.value,
                    "tenant": cast.a.slug,
                }
            }
        if route == ("PUT", f"{API}/exchange-rates"):
            # Each caller records a rate of its own day, so an allowed write is seen as new.
            day = date(2030, 1, 1) + timedelta(days=cast.callers.index(caller))
            return {
                "json": {"rates": [{"day": str(day), "base": "USD", "quote": "CNY", "rate": "7.1"}]}
            }
        for part in PARTS:
            body = part.other_request(
                route[1].removeprefix(API), route[0], cast.callers.index(caller)
            )
            if body is not None:
                return body
        if route == ("POST", f"{API}/tenants"):
            slug = f"n-{uuid.uuid4().hex[:10]}"
            return {"json": {"slug": slug, "display_name": "New", "legal_name": "New Ltd"}}
        return {}

    mismatches: list[str] = []
    for route in sorted(operations):
        method, template = route
        if "{tenant}" in template:
            continue
        access = OTHER_TABLE.get(route)
        if access is None:
            mismatches.append(f"{method} {template}: no entry in OTHER_TABLE")
            continue
        for caller in cast.callers:
            where = f"{caller.name}: {method} {template}"
            expected = _expected_elsewhere(access, caller, operations[route])
            try:
                path = template.format_map(
                    {
                        **cast.placeholders,
                        "key_id": str(keys[caller.name]),
                        "channel": cast.shop.channel,
                        "shop_key": cast.shop.webhook_key,
                    }
                )
            except KeyError as exc:
                mismatches.append(f"{method} {template}: no object to put in {exc}")
                break
            headers = caller.headers
            if route == ("POST", f"{API}/auth/logout") and caller.user is not None:
                headers = world.sign_in(caller.user)  # keep the caller's own session usable
            before = platform_state(cast) if method in WRITES else None
            answer = client.request(method, path, headers=headers, **request_for(route, caller))
            if answer.status_code != expected:
                mismatches.append(
                    f"{where} -> {answer.status_code}, expected {expected}: {answer.text[:200]}"
                )
                continue
            # A signature's or a page origin's refusal names its own problem.
            own = {SIGNATURE: "invalid-signature", VISITOR: "origin-not-allowed"}.get(access)
            problem = (
                check_refusal(answer, expected)
                if own is None
                else None
                if problem_kind(answer) == own
                else f"problem type {problem_kind(answer)!r}, expected {own!r}"
            )
            if problem:
                mismatches.append(f"{where}: {problem}")
            if expected == 422 and problem_kind(answer) != "unknown-tenant":
                mismatches.append(f"{where}: expected an unknown-tenant problem: {answer.text}")
            if before is not None and expected >= 400 and platform_state(cast) != before:
                mismatches.append(f"{where}: refused with {expected} but something changed")
            logged_out = expected < 300 and route == ("POST", f"{API}/auth/logout")
            if logged_out and client.get(f"{API}/me", headers=headers).status_code != 401:
                mismatches.append(f"{where}: the session still works after logout")
            if expected < 300 and route == ("GET", f"{API}/tenants"):
                slugs = {t["slug"] for t in answer.json()["items"]}
                if caller.role_in_a == R.agency_admin:
                    visible_ok = {cast.a.slug, cast.b.slug} <= slugs
                else:
                    visible_ok = slugs == {cast.a.slug if caller.role_in_a else cast.b.slug}
                if not visible_ok:
                    mismatches.append(f"{where}: lists {sorted(slugs)}")
    assert not mismatches, "\n".join(mismatches)


def test_user_creation_is_limited_to_viewers_of_the_own_tenant(world: World) -> None:
    """SECURITY.md 12: POST /users beyond the matrix row; a foreign tenant looks unknown."""
    cast = make_cast(world)
    owner = cast.caller("merchant A owner")

    def invite(caller: Caller, role: Role, tenant: str | None) -> tuple[httpx.Response, str]:
        email = f"invited-{uuid.uuid4().hex[:8]}@example.com"
        body = {"email": email, "name": "Invited", "password": PASSWORD, "role": role.value}
        if tenant is not None:
            body["tenant"] = tenant
        return world.client.post(f"{API}/users", json=body, headers=caller.headers), email

    def exists(email: str) -> bool:
        with db.unit_of_work() as session:
            return session.scalar(select(User.id).where(User.email == email)) is not None

    to_b, email_b = invite(owner, R.merchant_viewer, cast.b.slug)
    to_ghost, email_ghost = invite(owner, R.merchant_viewer, "no-such-tenant")
    assert (to_b.status_code, problem_kind(to_b)) == (422, "unknown-tenant"), to_b.text
    assert to_b.json() == to_ghost.json()  # B's existence is not revealed
    refused = [
        invite(owner, R.merchant_owner, cast.a.slug),
        invite(owner, R.account_manager, None),
        invite(cast.caller("merchant A viewer"), R.merchant_viewer, cast.a.slug),
        invite(cast.caller("staff A account_manager"), R.merchant_viewer, cast.a.slug),
        invite(cast.caller("staff A account_manager"), R.cs_agent, None),
    ]
    for answer, _ in refused:
        assert (answer.status_code, problem_kind(answer)) == (403, "forbidden"), answer.text
    for email in [email_b, email_ghost, *(email for _, email in refused)]:
        assert not exists(email), email

    created, email = invite(owner, R.merchant_viewer, cast.a.slug)
    assert created.status_code == 201, created.text
    new_id = created.json()["id"]
    assert (new_id, R.merchant_viewer.value) in tenant_state(cast.a).members
    assert all(user_id != new_id for user_id, _ in tenant_state(cast.b).members)


def test_api_keys_of_another_user_are_not_found(world: World) -> None:
    """SECURITY.md 12: DELETE /me/api-keys/{key_id} on someone else's key is 404 and changes
    nothing."""
    a = world.tenant()
    owner, admin = world.actor(R.merchant_owner, a), world.actor(R.agency_admin)
    with db.unit_of_work() as session:
        key_id = auth_service.create_api_key(session, admin.user.id, "admin's")[0].id
    answer = world.client.delete(f"{API}/me/api-keys/{key_id}", headers=owner.headers)
    assert (answer.status_code, problem_kind(answer)) == (404, "not-found"), answer.text
    with db.unit_of_work() as session:
        key = session.get(ApiKey, key_id)
        assert key is not None and key.revoked_at is None
