"""A tenant's status gates access (issue 13): suspended is read-only for all but the agency
admin, offboarded is gone for its members (data kept), on the API and in the portal."""

from __future__ import annotations

import uuid

import httpx
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from daiyun.core import db
from daiyun.core.audit.models import AuditEntry
from daiyun.platform.orders.normalized import OrderStatus
from daiyun.tenants.auth.models import User
from daiyun.tenants.auth.permissions import Role
from daiyun.tenants.models import Tenant, TenantStatus
from tests import factories
from tests.conftest import World
from tests.portal.conftest import csrf_of, sign_in_portal
from tests.portal.test_console_pages import held_order, status_of

API = "/api/v1/tenants"


def set_status(tenant: Tenant, status: TenantStatus) -> None:
    with db.unit_of_work() as session:
        stored = session.get(Tenant, tenant.id)
        assert stored is not None
        stored.status = status


def display_name(tenant: Tenant) -> str:
    with db.unit_of_work() as session:
        stored = session.get(Tenant, tenant.id)
        assert stored is not None
        return stored.display_name


def assert_suspended(answer: httpx.Response) -> None:
    assert answer.status_code == 409, answer.text
    assert answer.headers["content-type"] == "application/problem+json"
    assert answer.json()["type"].endswith("/tenant-suspended")
    assert "suspended" in answer.json()["detail"]


def test_a_suspended_tenant_is_read_only_for_its_members(world: World, client: TestClient) -> None:
    tenant = world.tenant()
    manager = world.actor(Role.account_manager, tenant)
    reviewer = world.actor(Role.cs_agent, tenant)
    order_id = held_order(tenant, factories.shop(tenant.id).id, "S-1")
    set_status(tenant, TenantStatus.suspended)
    base = f"{API}/{tenant.slug}"

    # Reads still work.
    assert client.get(base, headers=manager.headers).json()["status"] == "suspended"
    assert client.get(f"{base}/members", headers=manager.headers).status_code == 200
    assert client.get(f"{base}/orders/{order_id}", headers=reviewer.headers).status_code == 200
    # Writes, here and in other departments, are refused and change nothing.
    renamed = client.patch(base, json={"display_name": "Renamed"}, headers=manager.headers)
    assert_suspended(renamed)
    assert display_name(tenant) == tenant.display_name
    released = client.post(f"{base}/orders/{order_id}/release", json={}, headers=reviewer.headers)
    assert_suspended(released)
    assert status_of(tenant, order_id) == OrderStatus.on_hold


def test_a_merchant_owner_invites_no_one_into_a_suspended_tenant(
    world: World, client: TestClient
) -> None:
    tenant = world.tenant()
    owner = world.actor(Role.merchant_owner, tenant)
    set_status(tenant, TenantStatus.suspended)
    email = f"viewer-{uuid.uuid4().hex[:8]}@example.com"
    body = {
        "email": email,
        "name": "Viewer",
        "password": "a long enough password",
        "role": "merchant_viewer",
        "tenant": tenant.slug,
    }
    assert_suspended(client.post("/api/v1/users", json=body, headers=owner.headers))
    with db.unit_of_work() as session:
        assert session.scalar(select(func.count()).where(User.email == email)) == 0


def test_only_the_agency_admin_changes_the_status(world: World, client: TestClient) -> None:
    tenant = world.tenant()
    manager = world.actor(Role.account_manager, tenant)
    admin = world.actor(Role.agency_admin)
    base = f"{API}/{tenant.slug}"
    refused = client.patch(base, json={"status": "suspended"}, headers=manager.headers)
    assert refused.status_code == 403
    assert refused.headers["content-type"] == "application/problem+json"
    assert client.get(base, headers=admin.headers).json()["status"] == "onboarding"

    set_status(tenant, TenantStatus.suspended)
    # The agency admin still works on it, and reactivates it.
    renamed = client.patch(base, json={"display_name": "Admin's"}, headers=admin.headers)
    assert renamed.status_code == 200, renamed.text
    reactivated = client.patch(base, json={"status": "active"}, headers=admin.headers)
    assert reactivated.status_code == 200
    assert reactivated.json()["status"] == "active"
    again = client.patch(base, json={"display_name": "Open again"}, headers=manager.headers)
    assert again.status_code == 200, again.text


def test_an_offboarded_tenant_is_gone_for_its_members_but_kept(
    world: World, client: TestClient
) -> None:
    tenant, other = world.tenant(), world.tenant()
    manager = world.actor(Role.account_manager, tenant)
    world.assign(manager.user, other, Role.account_manager)
    owner = world.actor(Role.merchant_owner, tenant)
    admin = world.actor(Role.agency_admin)
    assert client.delete(f"{API}/{tenant.slug}", headers=admin.headers).status_code == 204

    for actor in (manager, owner):
        for path in ("", "/members", "/orders"):
            answer = client.get(f"{API}/{tenant.slug}{path}", headers=actor.headers)
            assert answer.status_code == 404, (path, answer.text)
            assert answer.json()["type"].endswith("/not-found")
        listed = client.get(API, headers=actor.headers).json()["items"]
        assert tenant.slug not in {t["slug"] for t in listed}
        me = client.get("/api/v1/me", headers=actor.headers).json()
        assert tenant.slug not in {t["tenant"] for t in me["tenants"]}
    # The manager keeps its other tenant.
    assert client.get(f"{API}/{other.slug}", headers=manager.headers).status_code == 200
    # The agency admin still sees it all: the tenant and its members.
    kept = client.get(f"{API}/{tenant.slug}", headers=admin.headers)
    assert kept.json()["status"] == "offboarded"
    members = client.get(f"{API}/{tenant.slug}/members", headers=admin.headers).json()["items"]
    assert {m["user_id"] for m in members} == {str(manager.user.id), str(owner.user.id)}
    # The attempts are in the tenant's audit log.
    with db.unit_of_work(tenant.id) as session:
        denied = session.scalar(
            select(func.count()).where(
                AuditEntry.tenant_id == tenant.id,
                AuditEntry.action == "tenant.access_denied",
                AuditEntry.actor_id == manager.user.id,
            )
        )
    assert denied == 3


def test_the_portal_follows_the_status(world: World, client: TestClient) -> None:
    tenant = world.tenant()
    reviewer = world.user(Role.cs_agent, tenant)
    order_id = held_order(tenant, factories.shop(tenant.id).id, "P-1")
    set_status(tenant, TenantStatus.suspended)
    sign_in_portal(client, reviewer)
    token = csrf_of(client.get("/portal/console/review").text)
    orders = f"/portal/t/{tenant.slug}/orders"
    page = client.get(f"{orders}/{order_id}")
    assert page.status_code == 200, page.text
    released = client.post(
        f"{orders}/{order_id}/release", data={"csrf_token": token}, follow_redirects=False
    )
    assert released.status_code == 409
    assert status_of(tenant, order_id) == OrderStatus.on_hold

    set_status(tenant, TenantStatus.offboarded)
    assert client.get(f"{orders}/{order_id}").status_code == 404
    assert tenant.slug not in client.get("/portal/tenants").text


def test_a_change_may_leave_a_field_out_but_not_null_it(world: World, client: TestClient) -> None:
    tenant = world.tenant()
    admin = world.actor(Role.agency_admin)
    base = f"{API}/{tenant.slug}"
    before = client.get(base, headers=admin.headers).json()
    for field in ("display_name", "legal_name", "status", "time_zone", "default_currency"):
        refused = client.patch(base, json={field: None}, headers=admin.headers)
        assert refused.status_code == 422, (field, refused.text)
        assert refused.headers["content-type"] == "application/problem+json"
        assert field in refused.text
    after = client.get(base, headers=admin.headers).json()
    assert after == before
