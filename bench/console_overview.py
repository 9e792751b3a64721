"""The agency console's overview page with 1 merchant against 50, in one run (called by
``bench/dashboard.py``, on the database it built).

Fifty merchants (Asia/Shanghai, CNY), each with one Shopify shop, ``--overview-orders`` orders
(default 2,000) placed over the current month so far, its daily rollups rebuilt, a contract
(base fee and 5 % commission) and the current month's draft statement stored, as the billing
page leaves it. Two account managers sign in to the portal: one assigned to a single merchant,
one to all fifty. Then, each the best of ``--repeat`` runs after one warm-up:

* **overview page, 1 merchant** and **overview page, 50 merchants**: ``GET /portal/console``
  through the whole application (session, memberships, one unit of work per merchant, the
  template), in process through Starlette's test client; each answer is checked to list
  exactly the merchants of its user, each with its commission;
* **billing preview computed live, 50 merchants**: ``billing.service.compute`` of the month for
  every merchant, what each load of the page ran before it read the stored drafts (for scale).
"""

from __future__ import annotations

import re
import time
import uuid
from datetime import timedelta
from typing import Any

import common

MERCHANTS = 50
PASSWORD = "bench-overview-password"
CONTRACT: dict[str, Any] = {
    "name": "Bench contract",
    "effective_from": "2025-01-01",
    "terms": {
        "currency": "CNY",
        "time_zone": "Asia/Shanghai",
        "base_fee_minor": 300_000,
        "commission": {"mode": "flat", "rate": "0.05"},
    },
}


def _seed_month(tenant_id: uuid.UUID, shop_id: uuid.UUID, total: int) -> None:
    """``total`` paid orders of one line over the current month so far (Core inserts)."""
    from daiyun.core.db import unit_of_work
    from daiyun.core.ids import new_id, utcnow
    from daiyun.platform.orders.models import Order, OrderLine

    now = utcnow()
    # The first of the month in Shanghai, as UTC; orders spread from then to a minute ago.
    local = now + timedelta(hours=8)
    start = now - timedelta(
        days=local.day - 1, hours=local.hour, minutes=local.minute, seconds=local.second
    )
    span = max(60, int((now - start).total_seconds()) - 60)
    orders, lines = [], []
    for n in range(total):
        order_id = new_id()
        placed = start + timedelta(seconds=span * n // max(1, total))
        price = 990 + 37 * (n % 120)
        orders.append(
            {
                "tenant_id": tenant_id,
                "id": order_id,
                "created_at": now,
                "updated_at": now,
                "shop_id": shop_id,
                "channel": "shopify",
                "external_id": str(8_000_000_000 + n),
                "status": "paid",
                "source_status": "paid",
                "channel_status": "paid",
                "review_state": "passed",
                "hold_reasons": [],
                "currency": "CNY",
                "subtotal_minor": price,
                "discount_minor": 0,
                "shipping_minor": 0,
                "tax_minor": 0,
                "total_minor": price,
                "refunded_minor": 0,
                "item_count": 1,
                "placed_at": placed,
                "paid_at": placed + timedelta(minutes=1),
                "source_offset_minutes": 480,
                "source_updated_at": placed + timedelta(minutes=5),
                "raw": {},
            }
        )
        lines.append(
            {
                "tenant_id": tenant_id,
                "id": new_id(),
                "order_id": order_id,
                "position": 0,
                "external_id": f"{n}-0",
                "sku": f"SKU-{n % 120:03d}",
                "title": f"Bench product {n % 120:03d}",
                "quantity": 1,
                "unit_price_minor": price,
                "discount_minor": 0,
                "tax_minor": 0,
                "total_minor": price,
            }
        )
    with unit_of_work(tenant_id) as session:
        connection = session.connection()
        connection.execute(Order.__table__.insert(), orders)
        connection.execute(OrderLine.__table__.insert(), lines)


def _merchant(n: int, orders: int, manager_ids: list[uuid.UUID]) -> uuid.UUID:
    """One merchant with its month of orders, rollups, contract and stored draft."""
    from daiyun.billing import service as billing_service
    from daiyun.billing.facts import Period
    from daiyun.billing.schemas import ContractCreate
    from daiyun.core.db import unit_of_work
    from daiyun.core.ids import utcnow
    from daiyun.platform.reports import repository, service
    from daiyun.tenants.models import Membership

    tenant_id = common.new_tenant(f"overview-{n:02d}")  # Asia/Shanghai, CNY by default
    shop_id, _ = common.new_shop(tenant_id, f"overview-shop-{n}")
    _seed_month(tenant_id, shop_id, orders)
    with unit_of_work(tenant_id) as session:
        found = repository.tenant(session, tenant_id)
        assert found is not None
        service.rebuild(session, found)
        for user_id in manager_ids:
            session.add(Membership(user_id=user_id, role="account_manager"))
    with unit_of_work(tenant_id) as session:
        billing_service.create_contract(
            session, ContractCreate.model_validate(CONTRACT), manager_ids[-1]
        )
    with unit_of_work(tenant_id) as session:
        billing_service.generate(session, Period.containing(utcnow(), "Asia/Shanghai"))
    return tenant_id


def _manager(label: str) -> tuple[uuid.UUID, str]:
    from daiyun.core.db import unit_of_work
    from daiyun.tenants.auth.permissions import Role
    from daiyun.tenants.auth.schemas import UserCreate
    from daiyun.tenants.auth.users import create_user

    email = f"{label}-{uuid.uuid4().hex[:6]}@agency.example.com"
    with unit_of_work() as session:
        user = create_user(
            session,
            UserCreate(email=email, name=label, password=PASSWORD, role=Role.account_manager),
        )
        return user.id, email


def _browser(email: str) -> Any:
    from fastapi.testclient import TestClient

    from daiyun.app import create_app

    browser = TestClient(create_app(), base_url="http://localhost")
    token = re.search(r'name="csrf_token" value="([^"]+)"', browser.get("/portal/login").text)
    assert token is not None
    answer = browser.post(
        "/portal/login",
        data={"csrf_token": token.group(1), "email": email, "password": PASSWORD, "next": ""},
        follow_redirects=False,
    )
    assert answer.status_code == 303, answer.text[:500]
    return browser


def _page(browser: Any, merchants: int) -> None:
    answer = browser.get("/portal/console")
    assert answer.status_code == 200, answer.text[:500]
    rows = answer.text.count('<th scope="row"')
    assert rows == merchants, f"{rows} rows for {merchants} merchants"
    # Every merchant shows its commission from the stored draft (no dash in that column).
    assert answer.text.count('small">as of ') == merchants, "a merchant without its commission"


def _live_previews(tenant_ids: list[uuid.UUID]) -> None:
    from daiyun.billing import service as billing_service
    from daiyun.billing.facts import Period
    from daiyun.core.db import unit_of_work
    from daiyun.core.ids import utcnow

    period = Period.containing(utcnow(), "Asia/Shanghai")
    for tenant_id in tenant_ids:
        with unit_of_work(tenant_id) as session:
            billing_service.compute(session, period)
            session.rollback()


def measure(backend: str, orders: int, repeat: int, best_of: Any) -> None:
    """Seed the fifty merchants, time the page for 1 and for 50, print the table."""
    one_id, one_email = _manager("manager-of-one")
    all_id, all_email = _manager("manager-of-fifty")
    started = time.perf_counter()
    tenant_ids = [
        _merchant(n, orders, [all_id, one_id] if n == 0 else [all_id]) for n in range(MERCHANTS)
    ]
    print(
        f"[{backend}] overview: {MERCHANTS} merchants with {orders:,} orders each this month,"
        f" rollups and drafts, in {time.perf_counter() - started:.1f} s",
        flush=True,
    )
    one, fifty = _browser(one_email), _browser(all_email)
    timings = [
        ("overview page, 1 merchant", best_of(repeat, lambda: _page(one, 1))[0]),
        ("overview page, 50 merchants", best_of(repeat, lambda: _page(fifty, MERCHANTS))[0]),
        (
            "billing preview computed live, 50 merchants",
            best_of(repeat, lambda: _live_previews(tenant_ids))[0],
        ),
    ]
    single = timings[0][1]
    common.print_table(
        f"[{backend}] console overview, {MERCHANTS} merchants x {orders:,} orders this month,"
        f" best of {repeat} ({common.machine()})",
        ["measure", "ms", "vs 1 merchant", "per merchant ms"],
        [
            [
                name,
                f"{seconds * 1000:,.1f}",
                f"{seconds / single:,.1f}x",
                f"{seconds * 1000 / (1 if '1 merchant' in name else MERCHANTS):,.1f}",
            ]
            for name, seconds in timings
        ],
    )
