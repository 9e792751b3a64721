"""Authorization: the route matrix (SECURITY.md 12). Revoked assignments and tampered tenants
(13-14) are in tests/tenants/test_revocation_and_tampering.py; the tables are tests/authz_tables.py.

The matrix is generated from the app's OpenAPI paths. Every route needs an entry in one of two
explicit tables (routes on a tenant, other routes); the expected answer of each actor is derived
from the entry: anonymous 401, outside tenant A 404, without the permission 403, else 2xx.
"""

from __future__ import annotations

import uuid
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from tests import factories
from tests.authz import (
    API,
    R,
    Route,
    TenantRule,
    without_instance,
)
from tests.authz_cast import (
    COMPUTES,
    WRITES,
    Caller,
    Cast,
    check_refusal,
    in_tenant,
    make_cast,
    operations_of,
    prepare_route,
    restore_route,
    tenant_state,
)
from tests.authz_tables import (
    CREATE_CONTRACT,
    DISCONNECT,
    OFFBOARD,
    OTHER_TABLE,
    TENANT_TABLE,
)
from tests.conftest import World
from tests.core.tasks_fixtures import celery_broker
from tests.isolation_parts import PARTS


def test_every_route_has_a_matrix_entry(app: FastAPI) -> None:
    """SECURITY.md 12: a route without a matrix entry fails; tenant routes are exactly the table."""
    routes = set(operations_of(app))
    assert not set(TENANT_TABLE) & set(OTHER_TABLE)
    tenant_routes = {r for r in routes if "{tenant}" in r[1]}
    assert tenant_routes == set(TENANT_TABLE), (
        f"missing from TENANT_TABLE: {sorted(tenant_routes - set(TENANT_TABLE))}; "
        f"no longer in the app: {sorted(set(TENANT_TABLE) - tenant_routes)}"
    )
    assert all(path.startswith(f"{API}/tenants/{{tenant}}") for _, path in tenant_routes)
    other = routes - tenant_routes
    assert other == set(OTHER_TABLE), (
        f"missing from OTHER_TABLE: {sorted(other - set(OTHER_TABLE))}; "
        f"no longer in the app: {sorted(set(OTHER_TABLE) - other)}"
    )


@pytest.mark.parametrize("route", sorted(TENANT_TABLE), ids=lambda r: f"{r[0]} {r[1]}")
def test_tenant_table_pins_the_roles_let_in(route: Route) -> None:
    """SECURITY.md 12: a change to the role table that widens a route shows up as a failure."""
    rule = TENANT_TABLE[route]
    assert rule.allowed() == rule.pinned, (
        f"{route}: roles with {rule.permission.value} are now {sorted(rule.allowed())}"
    )


# --------------------------------------------------------------------------------------------
# SECURITY.md 12: routes on tenant A
# --------------------------------------------------------------------------------------------


def _tenant_request(route: Route, cast: Cast, caller: Caller) -> dict[str, Any]:
    """A valid body for every write on a tenant (so only authorization can refuse it)."""
    if route == ("PATCH", f"{API}/tenants/{{tenant}}"):
        return {"json": {"display_name": f"Renamed by {caller.name}"[:200]}}
    if route == ("POST", f"{API}/tenants/{{tenant}}/members"):
        return {"json": {"user_id": str(cast.candidate.id), "role": R.cs_agent.value}}
    if route == ("POST", f"{API}/tenants/{{tenant}}/shops"):
        body = {
            "channel": "shopify",
            "name": "Matrix shop",
            "external_id": f"matrix-{uuid.uuid4().hex[:8]}",
            "credentials": factories.CREDENTIALS["shopify"],
        }
        return {"json": body}
    if route == ("PATCH", f"{API}/tenants/{{tenant}}/shops/{{shop_id}}"):
        return {"json": {"name": f"Renamed by {caller.name}"[:200]}}
    if route[1].endswith("/cancel"):
        return {"json": {"reason": f"cancelled by {caller.name}"}}
    if route[1].endswith(("/release", "/sync")):
        return {"json": {}}
    n = next(cast.writes)
    if route == CREATE_CONTRACT:
        terms = {"currency": "CNY", "base_fee_minor": 1000}
        return {"json": {"name": "New", "effective_from": "2026-01-01", "terms": terms}}
    if route[1].endswith("/versions"):
        start = (date(2027, 1, 1) + timedelta(days=n)).isoformat()
        return {"json": {"effective_from": start, "terms": {"currency": "CNY"}}}
    if route[1].endswith("/service-facts") and route[0] == "POST":
        fact = {
            "kind": "one_off",
            "occurred_on": "2026-02-03",
            "amount_minor": 100,
            "currency": "CNY",
        }
        return {"json": fact, "headers": {"Idempotency-Key": f"matrix-{n}"}}
    if route[1].endswith("/statements") and route[0] == "POST":
        return {"params": {"period": "2026-02"}}
    if route[1].endswith("/statements/preview"):
        return {"params": {"period": "2026-02"}}
    if route[1].endswith("/void"):
        return {"json": {"reason": f"voided by {caller.name}"}}
    if route == ("PUT", f"{API}/tenants/{{tenant}}/review-policy"):
        return {"json": {"blocked_buyers": [f"blocked by {caller.name}"]}}
    for part in PARTS:
        body = part.request(in_tenant(route), route[0], cast.placeholders, n)
        if body is not None:
            return body
    return {}


def _expected_on_a(rule: TenantRule, caller: Caller, success: int) -> int:
    if caller.user is None:
        return 401
    if caller.role_in_a is None:
        return 404
    if caller.role_in_a not in rule.allowed():
        return 403
    return success


def _check_allowed_read(route: Route, cast: Cast, answer: httpx.Response) -> str | None:
    """An allowed read on A answers with A's data only (other routes: nothing to check)."""
    if route == ("GET", f"{API}/tenants/{{tenant}}") and answer.json()["slug"] != cast.a.slug:
        return f"answered tenant {answer.json()['slug']!r}"
    if route == ("GET", f"{API}/tenants/{{tenant}}/members"):
        members = {user_id for user_id, _ in tenant_state(cast.a).members}
        listed = {m["user_id"] for m in answer.json()["items"]}
        if not listed or not listed <= members:
            return f"listed users that are not A's members: {sorted(listed - members)}"
    return None


def _send(
    client: TestClient, method: str, path: str, headers: dict[str, str], extra: dict[str, Any]
) -> httpx.Response:
    extra = dict(extra)
    merged = {**headers, **extra.pop("headers", {})}
    return client.request(method, path, headers=merged, **extra)


@pytest.mark.long
def test_tenant_route_matrix(world: World, app: FastAPI, tmp_path: Path) -> None:
    """SECURITY.md 12: every route on A's objects x every actor; denied writes change nothing."""
    broker = celery_broker(tmp_path)  # a real broker takes the syncs and replays queued
    broker.__enter__()
    try:
        _tenant_matrix(world, app)
    finally:
        broker.__exit__(None, None, None)


def _tenant_matrix(world: World, app: FastAPI) -> None:
    cast = make_cast(world)
    client = world.client
    admin = cast.caller("agency admin")
    operations = operations_of(app)
    # Disconnecting the shop and offboarding the tenant come last: other routes need them.
    routes = sorted(
        (r for r in operations if "{tenant}" in r[1]),
        key=lambda r: (r == OFFBOARD, r == DISCONNECT, r == CREATE_CONTRACT, r),
    )
    mismatches: list[str] = []
    for route in routes:
        method, template = route
        rule = TENANT_TABLE.get(route)
        if rule is None:
            mismatches.append(f"{method} {template}: no entry in TENANT_TABLE")
            continue
        try:
            path = template.format_map(cast.placeholders)
            ghost = template.format_map({**cast.placeholders, "tenant": "no-such-tenant"})
        except KeyError as exc:
            mismatches.append(f"{method} {template}: no object of A to put in {exc}")
            continue
        # What a tenant that does not exist looks like: members of other tenants must get this.
        unknown = _send(client, method, ghost, admin.headers, _tenant_request(route, cast, admin))
        assert unknown.status_code == 404, f"{method} {ghost}: {unknown.status_code}"
        for caller in cast.callers:
            where = f"{caller.name}: {method} {template}"
            expected = _expected_on_a(rule, caller, operations[route])
            prepare_route(route, cast)
            before = tenant_state(cast.a) if method in WRITES else None
            answer = _send(
                client, method, path, caller.headers, _tenant_request(route, cast, caller)
            )
            ok = answer.status_code == expected
            if not ok:
                mismatches.append(
                    f"{where} -> {answer.status_code}, expected {expected}: {answer.text[:200]}"
                )
            if ok and (problem := check_refusal(answer, expected)):
                mismatches.append(f"{where}: {problem}")
            if ok and expected == 404 and without_instance(answer) != without_instance(unknown):
                mismatches.append(f"{where}: 404 differs from an unknown tenant's: {answer.text}")
            wrong_data = ok and expected < 300 and _check_allowed_read(route, cast, answer)
            if wrong_data:
                mismatches.append(f"{where}: {wrong_data}")
            if before is not None:
                after = tenant_state(cast.a)
                if expected >= 400 and after != before:
                    mismatches.append(f"{where}: refused with {expected} but A changed")
                if ok and expected < 300 and route in COMPUTES and after != before:
                    mismatches.append(f"{where}: only computes, yet A changed")
                elif ok and expected < 300 and route not in COMPUTES and after == before:
                    mismatches.append(f"{where}: answered {expected} but A did not change")
            victim = (str(cast.victim.id), R.recruiter.value)
            if (
                route[1].endswith("/members/{user_id}")
                and victim not in tenant_state(cast.a).members
            ):
                world.assign(cast.victim, cast.a, R.recruiter)  # restore for the next caller
            restore_route(route, cast)
    assert not mismatches, "\n".join(mismatches)
