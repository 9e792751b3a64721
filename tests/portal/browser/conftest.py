"""Headless Chromium against the real app, served by uvicorn from a database that commits.

Chromium is the distribution's package (``apt-get install chromium``), driven by Playwright
without its downloaded browsers. Where Chromium is missing these tests are skipped with that
reason, except under CI (``CI`` set), where they fail: CI must run them.
"""

from __future__ import annotations

import os
import shutil
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

import httpx
import pytest

from daiyun.billing import service as billing
from daiyun.billing.facts import Period
from daiyun.billing.models import Statement
from daiyun.billing.schemas import ContractCreate
from daiyun.billing.terms import ContractTerms
from daiyun.core import db
from daiyun.platform.orders import service as order_service
from daiyun.platform.orders.normalized import NormalizedRefund, OrderStatus
from daiyun.platform.orders.rules import ReviewSettings
from daiyun.platform.reports import service as reports_service
from daiyun.tenants import service as tenant_service
from daiyun.tenants.auth.models import User
from daiyun.tenants.auth.permissions import MERCHANT_ROLES, Role
from daiyun.tenants.auth.schemas import UserCreate
from daiyun.tenants.auth.users import create_user
from daiyun.tenants.models import Membership, Tenant
from daiyun.tenants.schemas import TenantCreate
from tests import factories
from tests.conftest import PASSWORD, TestDatabase
from tests.portal.browser.live import (
    CommittedDatabase,
    LiveServer,
    app_database,
    committed_database,
    live_server,
)

if TYPE_CHECKING:
    from playwright.sync_api import Browser, BrowserContext, Page, Playwright

CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
SHANGHAI = ZoneInfo("Asia/Shanghai")
MONTH = Period(2026, 10)


def _unavailable(reason: str) -> None:
    if os.environ.get("CI"):
        pytest.fail(f"{reason} (CI runs the browser tests)", pytrace=False)
    pytest.skip(reason)


def chromium_path() -> str:
    """The Chromium to drive: ``DAIYUN_CHROMIUM``, else ``chromium`` on PATH."""
    path = os.environ.get("DAIYUN_CHROMIUM") or shutil.which("chromium")
    if not path or not Path(path).exists():
        _unavailable("Chromium not found: apt-get install chromium")
    assert path is not None
    return path


@pytest.fixture(scope="session")
def playwright_driver() -> Iterator[Playwright]:
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        _unavailable("Playwright not installed: pip install -e '.[dev]'")
    with sync_playwright() as driver:
        yield driver


@pytest.fixture(scope="session")
def browser(playwright_driver: Playwright) -> Iterator[Browser]:
    executable = chromium_path()
    launched = playwright_driver.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS)
    yield launched
    launched.close()


@pytest.fixture(scope="session")
def browser_database(
    test_database: TestDatabase, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[CommittedDatabase]:
    with committed_database(
        test_database, "browser", tmp_path_factory.mktemp("browser-db")
    ) as database:
        yield database


@pytest.fixture(scope="session")
def live(
    browser_database: CommittedDatabase, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[LiveServer]:
    chromium_path()  # no server to start when there is no browser to drive it
    with live_server(browser_database, tmp_path_factory.mktemp("browser-app")) as server:
        yield server


@pytest.fixture
def context(browser: Browser, live: LiveServer) -> Iterator[BrowserContext]:
    made = browser.new_context(base_url=live.url, accept_downloads=True, locale="en-US")
    made.set_default_timeout(15_000)
    yield made
    made.close()


@pytest.fixture
def page(context: BrowserContext) -> Page:
    return context.new_page()


# --------------------------------------------------------------------------------------------
# Seeding through the real services, committed for the server to see
# --------------------------------------------------------------------------------------------


def local(day: date, hour: int, minute: int = 0) -> datetime:
    return datetime.combine(day, time(hour, minute), tzinfo=SHANGHAI).astimezone(UTC)


def normalized(
    external_id: str,
    placed: datetime,
    total: int,
    *,
    status: OrderStatus = OrderStatus.paid,
    quantity: int = 1,
    refund: int = 0,
    phone: str = "+8613812345678",
) -> Any:
    order = factories.order(
        external_id,
        placed=placed,
        updated=placed + timedelta(minutes=10),
        status=status,
        total_minor=total,
        quantity=quantity,
        sku=f"SKU-{external_id}",
        buyer=f"王{external_id}",
        email=f"{external_id.lower()}@example.com",
        phone=phone,
    )
    order.paid_at = placed + timedelta(minutes=5)
    if refund:
        order.refunds = [NormalizedRefund(f"{external_id}-r", refund, placed + timedelta(hours=2))]
    return order


@dataclass
class Merchant:
    """One seeded tenant: its users, orders and October statement."""

    tenant: Tenant
    owner: User
    reviewer: User  # a cs_agent assigned to it
    statement_id: uuid.UUID | None = None
    held: list[str] = field(default_factory=list)  # external ids of orders held for review


@dataclass
class Seeder:
    """Builds tenants, users and orders in the browser tests' database (each step commits)."""

    server: LiveServer

    def tenant(self, label: str = "t") -> Tenant:
        slug = f"{label}-{uuid.uuid4().hex[:8]}"
        with db.unit_of_work() as session:
            return tenant_service.create_tenant(
                session,
                TenantCreate(
                    slug=slug,
                    display_name=f"{label.title()} {slug[-4:]}",
                    legal_name=f"{slug} Ltd",
                    time_zone="Asia/Shanghai",
                ),
            )

    def user(self, role: Role, tenant: Tenant | None = None) -> User:
        email = f"{role.value}-{uuid.uuid4().hex[:8]}@example.com"
        home = tenant if role in MERCHANT_ROLES else None
        with db.unit_of_work() as session:
            user = create_user(
                session,
                UserCreate(email=email, name=f"{role.value} 测试", password=PASSWORD, role=role),
                home,
            )
        if tenant is not None and role not in MERCHANT_ROLES and role != Role.agency_admin:
            with db.unit_of_work(tenant.id) as session:
                session.add(Membership(user_id=user.id, role=role))
        return user

    def merchant(self, *, with_orders: bool = True, held: int = 0) -> Merchant:
        tenant = self.tenant("lotus")
        merchant = Merchant(
            tenant, self.user(Role.merchant_owner, tenant), self.user(Role.cs_agent, tenant)
        )
        with db.unit_of_work(tenant.id) as session:
            order_service.update_review_settings(session, ReviewSettings(check_duplicates=False))
        shopify = factories.shop(tenant.id, "shopify", external_id=f"shop-{tenant.slug}")
        woo = factories.shop(tenant.id, "woocommerce", external_id=f"woo-{tenant.slug}")
        oct_ = [date(2026, 10, d) for d in (3, 9, 14, 20, 27)]
        if with_orders:
            self.ingest(
                tenant,
                shopify.id,
                "shopify",
                normalized("S-1001", local(oct_[0], 10), 5998, quantity=2),
                normalized("S-1002", local(oct_[1], 11), 12800, status=OrderStatus.shipped),
                normalized("S-1003", local(oct_[2], 12), 3000, status=OrderStatus.cancelled),
                normalized("S-1004", local(oct_[3], 9), 25800, quantity=3),
                normalized("S-0901", local(date(2026, 9, 18), 15), 9900),
            )
            self.ingest(
                tenant,
                woo.id,
                "woocommerce",
                normalized(
                    "W-2001", local(oct_[4], 15), 45000, status=OrderStatus.delivered, refund=5000
                ),
            )
        for n in range(held):
            external = f"H-{n + 1:03d}"
            self.ingest(
                tenant,
                shopify.id,
                "shopify",
                normalized(external, local(oct_[4], 8 + n), 1999 + n, phone="not a phone"),
            )
            merchant.held.append(external)
        with db.unit_of_work(tenant.id) as session:
            reports_service.rebuild(session, tenant)
        with db.unit_of_work(tenant.id) as session:
            terms = ContractTerms.model_validate(
                {
                    "currency": "CNY",
                    "base_fee_minor": 500_000,
                    "commission": {"mode": "flat", "rate": "0.05"},
                }
            )
            billing.create_contract(
                session,
                ContractCreate(name="代运营服务合同", effective_from=date(2026, 1, 1), terms=terms),
                merchant.reviewer.id,
            )
            statement: Statement = billing.generate(session, MONTH)
            merchant.statement_id = statement.id
        return merchant

    def ingest(self, tenant: Tenant, shop_id: uuid.UUID, channel: str, *orders: Any) -> None:
        with db.unit_of_work(tenant.id) as session:
            order_service.ingest(session, shop_id, channel, list(orders))

    def api_token(self, user: User) -> dict[str, str]:
        answer = httpx.post(
            f"{self.server.url}/api/v1/auth/token",
            data={"username": user.email, "password": PASSWORD},
        )
        assert answer.status_code == 200, answer.text
        return {"Authorization": f"Bearer {answer.json()['access_token']}"}

    def api(self, user: User, path: str, **params: Any) -> Any:
        answer = httpx.get(
            f"{self.server.url}/api/v1{path}", params=params, headers=self.api_token(user)
        )
        assert answer.status_code == 200, answer.text
        return answer.json()


@pytest.fixture
def seed(browser_database: CommittedDatabase, live: LiveServer) -> Iterator[Seeder]:
    """Seeding for one test, pointed at the browser database only while the test runs."""
    with app_database(browser_database.app_url):
        yield Seeder(live)


def sign_in(page: Page, user: User, password: str = PASSWORD) -> None:
    """Sign in through the form, as a person would."""
    page.goto("/portal/login")
    page.fill("#email", user.email)
    page.fill("#password", password)
    with page.expect_navigation():
        page.click("form[action='/portal/login'] button[type=submit]")
