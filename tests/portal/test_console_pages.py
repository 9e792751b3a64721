"""The agency console over HTTP: only assigned tenants, one-click and bulk review decisions that
audit, delivery replay, statement review and finalize, CSRF, and figures equal to the API's."""

from __future__ import annotations

import html
import re
import uuid
from datetime import timedelta

from fastapi.testclient import TestClient
from sqlalchemy import select

from daiyun.billing.models import Statement, StatementStatus
from daiyun.connectors.models import DeliveryStatus, WebhookDelivery
from daiyun.core.audit.models import AuditEntry
from daiyun.core.db import unit_of_work
from daiyun.core.ids import utcnow
from daiyun.platform.orders import service as order_service
from daiyun.platform.orders.models import Order
from daiyun.platform.orders.normalized import OrderStatus
from daiyun.portal.console.billing import compare_lines
from daiyun.portal.console.overview import current_period
from daiyun.tenants.auth.models import User
from daiyun.tenants.auth.permissions import Role
from daiyun.tenants.models import Tenant, TenantStatus
from tests import factories
from tests.conftest import World
from tests.portal.conftest import csrf_of as page_csrf
from tests.portal.conftest import sign_in_portal

API = "/api/v1/tenants"
CONTRACT = {
    "name": "代运营服务合同",
    "effective_from": "2026-01-01",
    "terms": {
        "currency": "CNY",
        "time_zone": "Asia/Shanghai",
        "base_fee_minor": 300_000,
        "commission": {"mode": "flat", "rate": "0.05"},
    },
}


# --- helpers --------------------------------------------------------------------------------


def sign_in(client: TestClient, user: User) -> None:
    """Sign in through the login form, as a browser does (cookie + form token)."""
    client.cookies.clear()
    sign_in_portal(client, user)


def csrf_of(client: TestClient, path: str = "/portal/console") -> str:
    page = client.get(path)
    assert page.status_code == 200, page.text
    return page_csrf(page.text)


def held_order(tenant: Tenant, shop_id: uuid.UUID, external_id: str) -> uuid.UUID:
    """An order held by review (its phone number is malformed)."""
    order = factories.order(external_id, phone="+86 12", sku=external_id, buyer=external_id)
    with unit_of_work(tenant.id) as session:
        [(_, stored)] = order_service.ingest(session, shop_id, "shopify", [order])
        assert stored.status == OrderStatus.on_hold
        return stored.id


def status_of(tenant: Tenant, order_id: uuid.UUID) -> OrderStatus:
    with unit_of_work(tenant.id) as session:
        order = session.get(Order, (tenant.id, order_id))
        assert order is not None
        return order.status


def actions_of(tenant: Tenant, actor: User) -> list[str]:
    with unit_of_work(tenant.id) as session:
        stmt = select(AuditEntry.action).where(
            AuditEntry.tenant_id == tenant.id, AuditEntry.actor_id == actor.id
        )
        return list(session.scalars(stmt))


def cell(page: str, slug: str, label: str) -> str:
    """The text of one overview cell: the row of ``slug``, the column labelled ``label``."""
    row = next(r for r in page.split("<tr>") if f'<span class="muted">{slug}</span>' in r)
    found = re.search(rf'data-label="{re.escape(label)}">(.*?)</td>', row, re.S)
    assert found is not None, row
    return html.unescape(re.sub(r"<[^>]+>", "", found.group(1))).strip()


# --- access ---------------------------------------------------------------------------------


def test_staff_see_only_their_tenants(world: World, client: TestClient) -> None:
    mine, also_mine, theirs = world.tenant(), world.tenant(), world.tenant()
    staff = world.user(Role.cs_agent, mine)
    world.assign(staff, also_mine, Role.account_manager)
    shops = {t.slug: factories.shop(t.id).id for t in (mine, also_mine, theirs)}
    mine_order = held_order(mine, shops[mine.slug], "A-1")
    theirs_order = held_order(theirs, shops[theirs.slug], "C-1")

    sign_in(client, staff)
    overview = client.get("/portal/console").text
    assert mine.slug in overview and also_mine.slug in overview
    assert theirs.slug not in overview
    queue = client.get("/portal/console/review").text
    assert str(mine_order) in queue
    assert str(theirs_order) not in queue and theirs.slug not in queue
    # Filtering by a tenant outside theirs shows nothing of it either.
    filtered = client.get("/portal/console/review", params={"tenant": theirs.slug}).text
    assert str(theirs_order) not in filtered
    for path in ("/portal/console/sync", "/portal/console/billing"):
        answer = client.get(path)
        assert answer.status_code == 200
        assert theirs.slug not in answer.text


def test_merchant_users_find_no_console(world: World, client: TestClient) -> None:
    tenant = world.tenant()
    owner = world.user(Role.merchant_owner, tenant)
    sign_in(client, owner)
    for path in (
        "/portal/console",
        "/portal/console/review",
        "/portal/console/sync",
        "/portal/console/billing",
    ):
        assert client.get(path).status_code == 404, path


def test_signed_out_visitors_are_sent_to_sign_in(client: TestClient) -> None:
    answer = client.get("/portal/console/review", follow_redirects=False)
    assert answer.status_code == 303
    assert answer.headers["location"].startswith("/portal/login?next=")


def test_columns_follow_the_role_in_each_tenant(world: World, client: TestClient) -> None:
    tenant = world.tenant()
    agent = world.user(Role.cs_agent, tenant)  # orders and shops, no billing
    sign_in(client, agent)
    page = client.get("/portal/console").text
    # A figure the role may not see says so; it is not the dash of a figure there is none of.
    assert cell(page, tenant.slug, "Commission accrued") == "not for your role"
    assert cell(page, tenant.slug, "Unpaid statements") == "not for your role"
    assert cell(page, tenant.slug, "Held orders") == "0"


# --- order review ---------------------------------------------------------------------------


def test_release_and_cancel_in_one_click(world: World, client: TestClient) -> None:
    tenant = world.tenant()
    shop = factories.shop(tenant.id)
    first, second = held_order(tenant, shop.id, "R-1"), held_order(tenant, shop.id, "R-2")
    staff = world.user(Role.cs_agent, tenant)
    sign_in(client, staff)
    token = csrf_of(client, "/portal/console/review")

    base = f"/portal/t/{tenant.slug}/orders"
    released = client.post(
        f"{base}/{first}/release",
        data={"csrf_token": token, "next": "/portal/console/review"},
        follow_redirects=False,
    )
    assert released.status_code == 303, released.text
    assert released.headers["location"] == "/portal/console/review?notice=released"
    cancelled = client.post(
        f"{base}/{second}/cancel", data={"csrf_token": token}, follow_redirects=False
    )
    assert cancelled.status_code == 303
    assert status_of(tenant, first) == OrderStatus.paid
    assert status_of(tenant, second) == OrderStatus.cancelled
    assert {"order.released", "order.cancelled"} <= set(actions_of(tenant, staff))
    # Deciding it again changes nothing and says so.
    again = client.post(f"{base}/{first}/cancel", data={"csrf_token": token})
    assert again.status_code == 200
    assert "no longer on hold" in again.text
    assert status_of(tenant, first) == OrderStatus.paid


def test_bulk_decides_only_where_the_user_reviews(world: World, client: TestClient) -> None:
    mine, viewer_only, theirs = world.tenant(), world.tenant(), world.tenant()
    staff = world.user(Role.cs_agent, mine)
    world.assign(staff, viewer_only, Role.recruiter)  # a member there, but no orders:review
    orders = {}
    for tenant in (mine, viewer_only, theirs):
        shop = factories.shop(tenant.id)
        orders[tenant.slug] = (
            held_order(tenant, shop.id, "B-1"),
            held_order(tenant, shop.id, "B-2"),
        )
    sign_in(client, staff)
    token = csrf_of(client, "/portal/console/review")

    checked = [f"{slug}:{oid}" for slug, pair in orders.items() for oid in pair]
    answer = client.post(
        "/portal/console/review/bulk",
        data={"csrf_token": token, "action": "cancel", "reason": "fraud", "order": checked},
        follow_redirects=False,
    )
    assert answer.status_code == 303
    assert "done=2" in answer.headers["location"]
    assert "skipped=4" in answer.headers["location"]
    for oid in orders[mine.slug]:
        assert status_of(mine, oid) == OrderStatus.cancelled
    for tenant in (viewer_only, theirs):
        for oid in orders[tenant.slug]:
            assert status_of(tenant, oid) == OrderStatus.on_hold
    assert actions_of(mine, staff).count("order.cancelled") == 2
    assert actions_of(theirs, staff) == []
    # The attempt on a tenant outside the user's is recorded as a denial.
    with unit_of_work() as session:
        denials = session.scalars(
            select(AuditEntry.target).where(
                AuditEntry.actor_id == staff.id, AuditEntry.action == "tenant.access_denied"
            )
        )
        assert f"tenant:{theirs.slug}" in list(denials)


def test_bulk_leaves_a_suspended_merchant_alone(world: World, client: TestClient) -> None:
    """A suspended merchant is read-only but for the agency admin, in the bulk form too."""
    open_one, suspended = world.tenant(), world.tenant()
    staff = world.user(Role.account_manager, open_one)
    world.assign(staff, suspended, Role.account_manager)
    orders = {t.slug: held_order(t, factories.shop(t.id).id, "S-1") for t in (open_one, suspended)}
    with unit_of_work() as session:
        stored = session.get(Tenant, suspended.id)
        assert stored is not None
        stored.status = TenantStatus.suspended
    sign_in(client, staff)
    token = csrf_of(client, "/portal/console/review")
    answer = client.post(
        "/portal/console/review/bulk",
        data={
            "csrf_token": token,
            "action": "release",
            "order": [f"{slug}:{oid}" for slug, oid in orders.items()],
        },
        follow_redirects=False,
    )
    assert answer.status_code == 303
    assert "done=1" in answer.headers["location"]
    assert "skipped=1" in answer.headers["location"]
    assert status_of(open_one, orders[open_one.slug]) != OrderStatus.on_hold
    assert status_of(suspended, orders[suspended.slug]) == OrderStatus.on_hold
    assert actions_of(suspended, staff) == []


def test_posts_without_the_csrf_token_are_refused(world: World, client: TestClient) -> None:
    tenant = world.tenant()
    shop = factories.shop(tenant.id)
    order_id = held_order(tenant, shop.id, "X-1")
    staff = world.user(Role.cs_agent, tenant)
    sign_in(client, staff)
    csrf_of(client)

    single = client.post(f"/portal/t/{tenant.slug}/orders/{order_id}/release", data={})
    assert single.status_code == 403
    bulk = client.post(
        "/portal/console/review/bulk",
        data={"action": "release", "order": [f"{tenant.slug}:{order_id}"], "csrf_token": "x"},
    )
    assert bulk.status_code == 403
    foreign = client.post(
        f"/portal/t/{tenant.slug}/orders/{order_id}/release",
        data={"csrf_token": csrf_of(client)},
        headers={"Origin": "https://evil.example"},
    )
    assert foreign.status_code == 403
    assert status_of(tenant, order_id) == OrderStatus.on_hold
    assert "order.released" not in actions_of(tenant, staff)


def test_a_tenant_outside_the_users_is_not_found(world: World, client: TestClient) -> None:
    mine, theirs = world.tenant(), world.tenant()
    order_id = held_order(theirs, factories.shop(theirs.id).id, "N-1")
    staff = world.user(Role.cs_agent, mine)
    sign_in(client, staff)
    token = csrf_of(client)
    answer = client.post(
        f"/portal/t/{theirs.slug}/orders/{order_id}/release", data={"csrf_token": token}
    )
    assert answer.status_code == 404
    assert status_of(theirs, order_id) == OrderStatus.on_hold


def test_overview_figures_equal_the_api(world: World, client: TestClient) -> None:
    tenant = world.tenant()
    shop = factories.shop(tenant.id)
    for n in range(3):
        held_order(tenant, shop.id, f"F-{n}")
    manager = world.actor(Role.account_manager, tenant)
    api = client.get(
        f"{API}/{tenant.slug}/orders",
        params={"status": "on_hold", "limit": 100},
        headers=manager.headers,
    )
    assert api.status_code == 200
    held = len(api.json()["items"])
    assert held == 3
    shops = client.get(f"{API}/{tenant.slug}/shops", headers=manager.headers).json()["items"]
    failing = sum(1 for s in shops if s["last_error"] and s["consecutive_failures"])
    sign_in(client, manager.user)
    page = client.get("/portal/console", params={"sort": "held"}).text
    assert cell(page, tenant.slug, "Held orders") == str(held)
    assert cell(page, tenant.slug, "Shops with sync errors") == str(failing)


def test_overview_sorts_by_a_column(world: World, client: TestClient) -> None:
    few, many = world.tenant(), world.tenant()
    staff = world.user(Role.cs_agent, few)
    world.assign(staff, many, Role.cs_agent)
    held_order(few, factories.shop(few.id).id, "S-1")
    shop = factories.shop(many.id).id
    for n in range(3):
        held_order(many, shop, f"S-{n}")
    sign_in(client, staff)
    down = client.get("/portal/console", params={"sort": "held", "dir": "desc"}).text
    assert down.index(many.slug) < down.index(few.slug)
    up = client.get("/portal/console", params={"sort": "held", "dir": "asc"}).text
    assert up.index(few.slug) < up.index(many.slug)
    assert 'aria-sort="ascending"' in up


# --- sync health ----------------------------------------------------------------------------


def test_failing_shops_show_and_a_delivery_is_replayed(world: World, client: TestClient) -> None:
    tenant = world.tenant()
    shop = factories.shop(tenant.id)
    with unit_of_work(tenant.id) as session:
        stored = session.get(type(shop), (tenant.id, shop.id))
        assert stored is not None
        stored.last_error = "401 from the marketplace"
        stored.last_error_at = utcnow()
        stored.consecutive_failures = 3
        stored.sync_cursor = utcnow() - timedelta(hours=5)
        delivery = WebhookDelivery(
            shop_id=shop.id,
            source=f"shopify:{shop.id}",
            external_id="evt-1",
            topic="orders/create",
            body="{}",
            status=DeliveryStatus.failed,
            error="malformed",
            attempts=1,
        )
        session.add(delivery)
        session.flush()
        delivery_id = delivery.id
    manager = world.user(Role.account_manager, tenant)
    sign_in(client, manager)
    page = client.get("/portal/console/sync").text
    assert "401 from the marketplace" in page
    assert "orders/create" in page
    assert f"/deliveries/{delivery_id}/replay" in page
    overview = client.get("/portal/console").text
    assert cell(overview, tenant.slug, "Shops with sync errors") == "1"

    token = csrf_of(client, "/portal/console/sync")
    answer = client.post(
        f"/portal/t/{tenant.slug}/deliveries/{delivery_id}/replay",
        data={"csrf_token": token},
        follow_redirects=False,
    )
    assert answer.status_code == 303
    with unit_of_work(tenant.id) as session:
        replayed = session.get(WebhookDelivery, (tenant.id, delivery_id))
        assert replayed is not None
        assert (replayed.status, replayed.error) == (DeliveryStatus.received, None)
    assert "webhook.replayed" in actions_of(tenant, manager)


def test_replay_needs_shops_manage(world: World, client: TestClient) -> None:
    tenant = world.tenant()
    shop = factories.shop(tenant.id)
    with unit_of_work(tenant.id) as session:
        delivery = WebhookDelivery(
            shop_id=shop.id,
            source=f"shopify:{shop.id}",
            external_id="evt-2",
            topic="orders/updated",
            body="{}",
            status=DeliveryStatus.processed,
        )
        session.add(delivery)
        session.flush()
        delivery_id = delivery.id
    agent = world.user(Role.cs_agent, tenant)
    sign_in(client, agent)
    assert f"/deliveries/{delivery_id}/replay" not in client.get("/portal/console/sync").text
    answer = client.post(
        f"/portal/t/{tenant.slug}/deliveries/{delivery_id}/replay",
        data={"csrf_token": csrf_of(client)},
    )
    assert answer.status_code == 403
    with unit_of_work(tenant.id) as session:
        kept = session.get(WebhookDelivery, (tenant.id, delivery_id))
        assert kept is not None and kept.status == DeliveryStatus.processed


# --- billing --------------------------------------------------------------------------------


def _paid_order(tenant: Tenant, shop_id: uuid.UUID, external_id: str, total: int) -> None:
    paid = utcnow() - timedelta(minutes=5)
    order = factories.order(
        external_id, updated=paid, total_minor=total, placed=paid, sku=external_id
    )
    order.paid_at = paid
    with unit_of_work(tenant.id) as session:
        order_service.ingest(session, shop_id, "shopify", [order])


def test_review_a_draft_and_finalize_it_from_the_console(world: World, client: TestClient) -> None:
    tenant = world.tenant()
    shop = factories.shop(tenant.id)
    finance = world.actor(Role.finance, tenant)
    created = client.post(f"{API}/{tenant.slug}/contracts", json=CONTRACT, headers=finance.headers)
    assert created.status_code == 201, created.text
    _paid_order(tenant, shop.id, "P-1", 100_000)
    period = str(current_period(tenant))
    draft = client.post(
        f"{API}/{tenant.slug}/statements", params={"period": period}, headers=finance.headers
    )
    assert draft.status_code == 201, draft.text
    statement_id = draft.json()["id"]
    # A later order: regenerating would change the commission line.
    _paid_order(tenant, shop.id, "P-2", 60_000)

    sign_in(client, finance.user)
    listing = client.get("/portal/console/billing").text
    review_url = f"/portal/t/{tenant.slug}/statements/{statement_id}/review"
    assert review_url in listing
    overview = client.get("/portal/console").text
    # The overview reads the stored draft (50.00 on P-1), not a recomputation (80.00 with P-2).
    commission = cell(overview, tenant.slug, "Commission accrued")
    assert commission.startswith("CN¥50.00") and "as of" in commission
    review = client.get(review_url)
    assert review.status_code == 200
    assert "The facts changed since this draft was generated" in review.text
    assert "CN¥50.00" in review.text and "+CN¥30.00" in review.text
    assert "change-changed" in review.text and "change-removed" not in review.text

    token = csrf_of(client, review_url)
    finalized = client.post(
        f"/portal/t/{tenant.slug}/statements/{statement_id}/finalize",
        data={"csrf_token": token, "next": "/portal/console/billing"},
        follow_redirects=False,
    )
    assert finalized.status_code == 303
    assert finalized.headers["location"] == "/portal/console/billing?notice=finalized"
    with unit_of_work(tenant.id) as session:
        stored = session.get(Statement, (tenant.id, uuid.UUID(statement_id)))
        assert stored is not None
        assert stored.status == StatementStatus.finalized
    assert review_url not in client.get("/portal/console/billing").text
    api = client.get(f"{API}/{tenant.slug}/statements/{statement_id}", headers=finance.headers)
    assert api.json()["status"] == "finalized"


def test_finalize_needs_billing_manage(world: World, client: TestClient) -> None:
    tenant = world.tenant()
    factories.shop(tenant.id)
    finance = world.actor(Role.finance, tenant)
    client.post(f"{API}/{tenant.slug}/contracts", json=CONTRACT, headers=finance.headers)
    draft = client.post(
        f"{API}/{tenant.slug}/statements", params={"period": "2026-10"}, headers=finance.headers
    )
    statement_id = draft.json()["id"]
    manager = world.user(Role.account_manager, tenant)  # billing:read only
    sign_in(client, manager)
    review_url = f"/portal/t/{tenant.slug}/statements/{statement_id}/review"
    page = client.get(review_url)
    assert page.status_code == 200
    assert "/finalize" not in page.text
    answer = client.post(
        f"/portal/t/{tenant.slug}/statements/{statement_id}/finalize",
        data={"csrf_token": csrf_of(client, review_url)},
    )
    assert answer.status_code == 403
    with unit_of_work(tenant.id) as session:
        stored = session.get(Statement, (tenant.id, uuid.UUID(statement_id)))
        assert stored is not None and stored.status == StatementStatus.draft


def test_line_comparison() -> None:
    class L:
        def __init__(self, kind: str, amount: int, description: str = "") -> None:
            self.kind, self.description, self.amount_minor = kind, description or kind, amount
            self.basis_minor, self.quantity, self.rate, self.adjusts_period = 0, "1", None, None

    stored = [L("base_fee", 100), L("commission", 50), L("one_off", 10)]
    preview = [L("base_fee", 100), L("commission", 80), L("vat", 7)]
    changes = [(c.change, c.delta_minor) for c in compare_lines(stored, preview)]
    assert changes == [("same", 0), ("changed", 30), ("added", 7), ("removed", -10)]


def test_regenerate_takes_in_the_new_facts(world: World, client: TestClient) -> None:
    tenant = world.tenant()
    shop = factories.shop(tenant.id)
    finance = world.actor(Role.finance, tenant)
    client.post(f"{API}/{tenant.slug}/contracts", json=CONTRACT, headers=finance.headers)
    draft = client.post(
        f"{API}/{tenant.slug}/statements",
        params={"period": str(current_period(tenant))},
        headers=finance.headers,
    )
    statement_id = draft.json()["id"]
    _paid_order(tenant, shop.id, "G-1", 20_000)
    sign_in(client, finance.user)
    review_url = f"/portal/t/{tenant.slug}/statements/{statement_id}/review"
    assert "change-added" in client.get(review_url).text
    answer = client.post(
        f"/portal/t/{tenant.slug}/statements/{statement_id}/regenerate",
        data={"csrf_token": csrf_of(client, review_url)},
        follow_redirects=False,
    )
    assert answer.status_code == 303
    assert answer.headers["location"] == f"{review_url}?notice=regenerated"
    page = client.get(answer.headers["location"]).text
    assert "Nothing changed since this draft was generated" in page
    stored = client.get(f"{API}/{tenant.slug}/statements/{statement_id}", headers=finance.headers)
    assert stored.json()["total_minor"] == 300_000 + 1_000


def test_pages_render_in_chinese(world: World, client: TestClient) -> None:
    tenant = world.tenant()
    held_order(tenant, factories.shop(tenant.id).id, "Z-1")
    admin = world.user(Role.agency_admin)
    sign_in(client, admin)
    chosen = client.post(
        "/portal/locale",
        data={"csrf_token": csrf_of(client), "locale": "zh_CN", "next": "/portal/console"},
        follow_redirects=False,
    )
    assert chosen.status_code == 303
    for path in (
        "/portal/console",
        "/portal/console/review",
        "/portal/console/sync",
        "/portal/console/billing",
    ):
        answer = client.get(path)
        assert answer.status_code == 200, path
        assert '<html lang="zh-CN">' in answer.text
