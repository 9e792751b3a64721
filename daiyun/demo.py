"""The demo agency (演示代运营公司): three merchants, every role, one published password.

:func:`seed` is idempotent: it creates what is missing through the services and leaves whatever
already exists alone, so running it twice changes nothing and lists the same logins.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

from sqlalchemy import select

from daiyun.billing import repository as billing_repository
from daiyun.billing import service as billing_service
from daiyun.billing.schemas import ContractCreate
from daiyun.billing.terms import ContractTerms
from daiyun.connectors import service as shop_service
from daiyun.connectors.models import Shop
from daiyun.connectors.schemas import ShopCreate
from daiyun.core.config import get_settings
from daiyun.core.db import unit_of_work
from daiyun.demo_aftersales import ensure_aftersales, ensure_csat
from daiyun.demo_catalog import ensure_catalog, ensure_listings
from daiyun.demo_followups import ensure_followups
from daiyun.demo_fulfillment import ensure_parcels, ensure_wave
from daiyun.demo_marketing import ensure_marketing
from daiyun.demo_recruiting import (
    ensure_interviews,
    ensure_placements,
    ensure_recruiting,
    ensure_team,
)
from daiyun.demo_service import ensure_service, ensure_widgets
from daiyun.demo_warehouse import ensure_planning, ensure_stock, ensure_warehouses
from daiyun.platform.customer_service import repository as cs_repository
from daiyun.platform.customer_service import widget as cs_widget
from daiyun.platform.rates import service as rates_service
from daiyun.platform.rates.rules import Quote
from daiyun.tenants import service as tenant_service
from daiyun.tenants.auth.models import User
from daiyun.tenants.auth.permissions import MERCHANT_ROLES, Role
from daiyun.tenants.auth.schemas import UserCreate
from daiyun.tenants.auth.service import normalize_email
from daiyun.tenants.auth.users import create_user
from daiyun.tenants.models import Membership, Tenant, TenantStatus
from daiyun.tenants.schemas import MemberCreate, TenantCreate

DEMO_PASSWORD = "demo-password-2026"
DEMO_DOMAIN = "demo.daiyun.dev"
SANDBOX_PORT = 8100
# The sandbox's storefront pages (the merchants' own sites), which the demo's chat widgets answer.
SANDBOX_ORIGINS = [f"http://127.0.0.1:{SANDBOX_PORT}", f"http://localhost:{SANDBOX_PORT}"]


@dataclass(frozen=True)
class DemoTenant:
    slug: str
    display_name: str
    legal_name: str
    currency: str = "CNY"  # its own: what its dashboards open in


@dataclass(frozen=True)
class DemoUser:
    email: str
    name: str
    role: Role
    # Merchant users: their one tenant. Staff: the merchants they are assigned to.
    tenants: tuple[str, ...] = ()


TENANTS = (
    DemoTenant(
        "lotus-tea", "莲心茶舍 Lotus Tea", "杭州莲心茶业有限公司 Hangzhou Lotus Tea Co., Ltd."
    ),
    DemoTenant(
        "north-peak",
        "北峰户外 North Peak Outdoor",
        "北京北峰户外用品有限公司 Beijing North Peak Outdoor Co., Ltd.",
        "USD",  # sells on Amazon US only
    ),
    DemoTenant(
        "maple-home", "枫居家居 Maple Home", "上海枫居家居有限公司 Shanghai Maple Home Co., Ltd."
    ),
)
_ALL = tuple(t.slug for t in TENANTS)

STAFF = (
    DemoUser(f"admin@{DEMO_DOMAIN}", "陈静 Chen Jing", Role.agency_admin),
    DemoUser(
        f"account-manager@{DEMO_DOMAIN}",
        "王芳 Wang Fang",
        Role.account_manager,
        ("lotus-tea", "north-peak"),
    ),
    DemoUser(f"cs-agent@{DEMO_DOMAIN}", "李娜 Li Na", Role.cs_agent, _ALL),
    DemoUser(
        f"warehouse@{DEMO_DOMAIN}",
        "张伟 Zhang Wei",
        Role.warehouse_operator,
        ("north-peak", "maple-home"),
    ),
    DemoUser(f"recruiter@{DEMO_DOMAIN}", "刘洋 Liu Yang", Role.recruiter, ("lotus-tea",)),
    DemoUser(
        f"marketer@{DEMO_DOMAIN}", "赵敏 Zhao Min", Role.marketer, ("lotus-tea", "maple-home")
    ),
    DemoUser(f"finance@{DEMO_DOMAIN}", "孙丽 Sun Li", Role.finance, _ALL),
)

MERCHANT_USERS = tuple(
    user
    for tenant in TENANTS
    for user in (
        DemoUser(
            f"owner.{tenant.slug}@{DEMO_DOMAIN}",
            f"{tenant.display_name} owner",
            Role.merchant_owner,
            (tenant.slug,),
        ),
        DemoUser(
            f"viewer.{tenant.slug}@{DEMO_DOMAIN}",
            f"{tenant.display_name} viewer",
            Role.merchant_viewer,
            (tenant.slug,),
        ),
    )
)

USERS = STAFF + MERCHANT_USERS


@dataclass(frozen=True)
class DemoShop:
    """A merchant's store on the sandbox marketplaces (``daiyun sandbox``)."""

    tenant: str
    channel: str
    name: str
    external_id: str
    credentials: dict[str, Any]
    currency: str
    utc_offset_minutes: int


SHOPS = (
    DemoShop(
        "lotus-tea",
        "shopify",
        "Lotus Tea Global (Shopify)",
        "lotus-tea.myshopify.com",
        {
            "shop_domain": "lotus-tea.myshopify.com",
            "access_token": "shpat_demo_lotus",
            "api_secret": "demo-shopify-secret-lotus",
        },
        "USD",
        480,
    ),
    DemoShop(
        "lotus-tea",
        "woocommerce",
        "莲心茶舍官网 (WooCommerce)",
        "lotus-tea-store",
        {
            "store_url": "https://tea.lotus.example",
            "consumer_key": "ck_demo_lotus",
            "consumer_secret": "cs_demo_lotus",
            "webhook_secret": "demo-woo-secret-lotus",
        },
        "CNY",
        480,
    ),
    DemoShop(
        "lotus-tea",
        "taobao",
        "莲心茶舍天猫旗舰店 (Tmall)",
        "lotus-tea-tmall",
        {
            "app_key": "23456789",
            "app_secret": "demo-top-secret",
            "session": "demo-top-session",
            "refresh_token": "demo-top-refresh",
        },
        "CNY",
        480,
    ),
    DemoShop(
        "north-peak",
        "amazon",
        "North Peak US (Amazon)",
        "A2NORTHPEAK",
        {
            "seller_id": "A2NORTHPEAK",
            "marketplace_ids": ["ATVPDKIKX0DER"],
            "lwa_client_id": "amzn1.application-oa2-client.demo",
            "lwa_client_secret": "demo-lwa-secret",
            "refresh_token": "Atzr|demo-north-peak",
        },
        "USD",
        0,
    ),
    DemoShop(
        "maple-home",
        "douyin",
        "枫居家居抖音小店 (Douyin)",
        "4463798",
        {
            "app_key": "7012345678901234567",
            "app_secret": "demo-douyin-secret",
            "access_token": "demo-douyin-access",
            "refresh_token": "demo-douyin-refresh",
            "shop_id": "4463798",
        },
        "CNY",
        480,
    ),
    DemoShop(
        "maple-home",
        "shopify",
        "Maple Home (Shopify)",
        "maple-home.myshopify.com",
        {
            "shop_domain": "maple-home.myshopify.com",
            "access_token": "shpat_demo_maple",
            "api_secret": "demo-shopify-secret-maple",
        },
        "CNY",
        480,
    ),
)


@dataclass
class SeedResult:
    logins: list[DemoUser]
    password: str
    created: list[str] = field(default_factory=list)

    @property
    def changed(self) -> bool:
        return bool(self.created)


def _existing_tenants() -> dict[str, Tenant]:
    with unit_of_work() as session:
        found = session.scalars(select(Tenant).where(Tenant.slug.in_(_ALL)))
        return {t.slug: t for t in found}


def _ensure_tenants(result: SeedResult) -> dict[str, Tenant]:
    tenants = _existing_tenants()
    for spec in TENANTS:
        if spec.slug in tenants:
            continue
        # create_tenant binds the session to the new tenant: one unit of work per tenant.
        with unit_of_work() as session:
            tenants[spec.slug] = tenant_service.create_tenant(
                session,
                TenantCreate(
                    slug=spec.slug,
                    display_name=spec.display_name,
                    legal_name=spec.legal_name,
                    status=TenantStatus.active,
                    time_zone="Asia/Shanghai",
                    default_currency=spec.currency,
                ),
            )
        result.created.append(f"tenant {spec.slug}")
    return tenants


def _ensure_user(spec: DemoUser, tenants: dict[str, Tenant], result: SeedResult) -> User:
    with unit_of_work() as session:
        existing = session.scalar(select(User).where(User.email == normalize_email(spec.email)))
        if existing is not None:
            return existing
        home = tenants[spec.tenants[0]] if spec.role in MERCHANT_ROLES else None
        user = create_user(
            session,
            UserCreate(email=spec.email, name=spec.name, password=result.password, role=spec.role),
            home,
        )
    result.created.append(f"user {spec.email}")
    return user


def _ensure_assignment(user: User, tenant: Tenant, role: Role, result: SeedResult) -> None:
    with unit_of_work(tenant.id) as session:
        member = session.scalar(select(Membership).where(Membership.user_id == user.id))
        if member is not None and member.role == role:
            return
        tenant_service.add_member(session, tenant, MemberCreate(user_id=user.id, role=role))
    result.created.append(f"assignment {user.email} -> {tenant.slug}")


def seed(password: str = DEMO_PASSWORD) -> SeedResult:
    """Create the demo agency where it is missing, and return its logins.

    Each step runs in its own unit of work through the services (tenants, users, assignments),
    so a run interrupted halfway is completed by the next one.
    """
    result = SeedResult(logins=list(USERS), password=password)
    allow_sandbox_hosts()
    tenants = _ensure_tenants(result)
    for shop in SHOPS:
        _ensure_shop(shop, tenants[shop.tenant], result)
    admin = _ensure_user(STAFF[0], tenants, result)
    for slug, terms in CONTRACTS.items():
        _ensure_contract(tenants[slug], terms, admin, result)
    _ensure_rates(result)
    warehouses, created = ensure_warehouses()
    result.created.extend(created)
    for merchant in TENANTS:
        result.created.extend(ensure_catalog(tenants[merchant.slug]))
        result.created.extend(ensure_listings(tenants[merchant.slug]))
        result.created.extend(ensure_stock(tenants[merchant.slug], warehouses))
        result.created.extend(ensure_planning(tenants[merchant.slug], warehouses))
        result.created.extend(ensure_parcels(tenants[merchant.slug]))
        result.created.extend(ensure_marketing(tenants[merchant.slug]))
    result.created.extend(ensure_wave([tenants[m.slug] for m in TENANTS], warehouses[0]))
    for spec in USERS:
        user = _ensure_user(spec, tenants, result)
        if spec.role in MERCHANT_ROLES or spec.role == Role.agency_admin:
            continue  # merchant users got their membership with the account
        for slug in spec.tenants:
            _ensure_assignment(user, tenants[slug], spec.role, result)
    agent = _ensure_user(next(u for u in STAFF if u.role == Role.cs_agent), tenants, result)
    for merchant in TENANTS:
        result.created.extend(ensure_service(tenants[merchant.slug], agent.id))
        result.created.extend(ensure_widgets(tenants[merchant.slug], SANDBOX_ORIGINS))
        result.created.extend(ensure_aftersales(tenants[merchant.slug], agent.id, warehouses[0]))
        result.created.extend(ensure_followups(tenants[merchant.slug]))
        result.created.extend(ensure_csat(tenants[merchant.slug], agent.id, admin.id))
    for index, merchant in enumerate(TENANTS):
        owner = next(
            u
            for u in MERCHANT_USERS
            if u.role == Role.merchant_owner and merchant.slug in u.tenants
        )
        manager = _ensure_user(owner, tenants, result)
        result.created.extend(ensure_recruiting(tenants[merchant.slug], manager.id))
        # The owner and the agency's admin on the panel (both review every merchant's people);
        # the admin sits on every merchant's panel, so each merchant has its own hour.
        panel = [admin.id, manager.id]
        result.created.extend(ensure_interviews(tenants[merchant.slug], panel, 10 + index))
        result.created.extend(ensure_placements(tenants[merchant.slug]))
        result.created.extend(ensure_team(tenants[merchant.slug]))
    return result


# Three ways agencies charge: flat commission, marginal tiers with a minimum, whole-volume tiers
# with a cap and warehousing.
CONTRACTS: dict[str, dict[str, Any]] = {
    "lotus-tea": {
        "currency": "USD",
        # Sells in CNY on Tmall and its own site too: those sales convert at each day's rate.
        "foreign_sales": "daily",
        "base_fee_minor": 150_000,
        "commission": {"mode": "flat", "rate": "0.06"},
        "placement": {"salary_rate": "0.15", "guarantee_days": 90},
        "vat_rate": "0.06",
    },
    "north-peak": {
        "currency": "USD",
        "base_fee_minor": 200_000,
        "commission": {
            "mode": "marginal",
            "tiers": [
                {"up_to_minor": 5_000_000, "rate": "0.08"},
                {"up_to_minor": None, "rate": "0.05"},
            ],
        },
        "minimum_minor": 100_000,
        "placement": {
            "fixed_minor": 50_000,
            "guarantee_days": 60,
            "guarantee_remedy": "replacement",
        },
    },
    "maple-home": {
        "currency": "CNY",
        "base_fee_minor": 800_000,
        "commission": {
            "mode": "whole_volume",
            "tiers": [
                {"up_to_minor": 10_000_000, "rate": "0.04"},
                {"up_to_minor": None, "rate": "0.03"},
            ],
        },
        "cap_minor": 5_000_000,
        "warehousing": {"per_order_shipped_minor": 300, "per_pick_minor": 50},
        "placement": {"fixed_minor": 200_000, "salary_rate": "0.1", "guarantee_days": 90},
        "vat_rate": "0.06",
    },
}


def _ensure_contract(
    tenant: Tenant, terms: dict[str, Any], admin: User, result: SeedResult
) -> None:
    with unit_of_work(tenant.id) as session:
        if billing_repository.contract(session) is not None:
            return
        body = ContractCreate(
            name=f"{tenant.display_name} 代运营服务合同",
            effective_from=date(2026, 1, 1),
            terms=ContractTerms.model_validate(terms),
        )
        billing_service.create_contract(session, body, admin.id)
    result.created.append(f"contract -> {tenant.slug}")


# The sandbox marketplaces hold 90 days of orders and keep adding new ones.
RATE_DAYS_BACK, RATE_DAYS_AHEAD = 120, 60
RATE_SOURCE = "demo rates (illustrative)"


def demo_rate(day: date) -> Decimal:
    """An illustrative USD/CNY rate for ``day``: 7.08 to 7.12, moving from day to day."""
    return Decimal("7.10") + Decimal("0.002") * (day.toordinal() % 21 - 10)


def _ensure_rates(result: SeedResult) -> None:
    """USD/CNY for every day the demo's orders fall on, so conversions have their rates."""
    today = date.today()
    days = [today + timedelta(days=n) for n in range(-RATE_DAYS_BACK, RATE_DAYS_AHEAD + 1)]
    quotes = [Quote("USD", "CNY", day, demo_rate(day), RATE_SOURCE) for day in days]
    with unit_of_work() as session:
        recorded = rates_service.record(session, quotes, "demo")
    if recorded.created:
        result.created.append(f"{recorded.created} USD/CNY exchange rates")


def allow_sandbox_hosts(port: int = SANDBOX_PORT) -> None:
    """Add the sandbox marketplaces to DAIYUN_MARKETPLACE_HOSTS, for this process and those it
    starts: the demo shops call them, and a shop may call no host outside the allowlist
    besides its marketplace's own (SECURITY.md 27)."""
    host = f"127.0.0.1:{port}"
    current = os.environ.get("DAIYUN_MARKETPLACE_HOSTS", "")
    if host not in [h.strip() for h in current.split(",")]:
        os.environ["DAIYUN_MARKETPLACE_HOSTS"] = ",".join(h for h in (current, host) if h)
    # Settings are read once per process; this one may have read them already.
    get_settings().marketplace_hosts = os.environ["DAIYUN_MARKETPLACE_HOSTS"]


def sandbox_url(spec: DemoShop, port: int = SANDBOX_PORT) -> str:
    base = f"http://127.0.0.1:{port}"
    return (
        f"{base}/amazon"
        if spec.channel == "amazon"
        else f"{base}/{spec.channel}/{spec.external_id}"
    )


def _ensure_shop(spec: DemoShop, tenant: Tenant, result: SeedResult) -> None:
    with unit_of_work(tenant.id) as session:
        exists = session.scalar(
            select(Shop.id).where(
                Shop.channel == spec.channel, Shop.external_id == spec.external_id
            )
        )
        if exists is not None:
            return
        body = ShopCreate(
            channel=spec.channel,
            name=spec.name,
            external_id=spec.external_id,
            credentials=spec.credentials,
            api_base_url=sandbox_url(spec),
        )
        shop_service.connect(session, body)
    result.created.append(f"shop {spec.external_id} ({spec.channel}) -> {tenant.slug}")


def write_sandbox_shops(path: Path) -> int:
    """Tell the sandbox marketplaces about the demo shops: their credentials and where to send
    webhooks (the file ``daiyun sandbox --shops`` reads)."""
    shops: list[dict[str, Any]] = []
    for spec in SHOPS:
        with unit_of_work() as session:
            tenant_id = session.scalar(select(Tenant.id).where(Tenant.slug == spec.tenant))
        with unit_of_work(tenant_id) as session:
            shop = session.scalar(
                select(Shop).where(
                    Shop.channel == spec.channel, Shop.external_id == spec.external_id
                )
            )
            if shop is None:
                continue
            shops.append(
                {
                    "channel": spec.channel,
                    "shop": spec.external_id,
                    "credentials": spec.credentials,
                    "webhook_url": shop_service.webhook_url(shop),
                    "currency": spec.currency,
                    "utc_offset_minutes": spec.utc_offset_minutes,
                    "widget_script": widget_script(session, shop.id),
                }
            )
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(shops, ensure_ascii=False, indent=2))
    return len(shops)


def widget_script(session: Any, shop_id: Any) -> str | None:
    chat = cs_repository.widget_of_shop(session, shop_id)
    return cs_widget.script_url(chat) if chat is not None else None


def storefronts(port: int = SANDBOX_PORT) -> list[str]:
    """The sandbox storefront pages of the demo's own shops, each with its chat widget."""
    return [
        f"http://127.0.0.1:{port}/_sites/{s.channel}/{s.external_id}"
        for s in SHOPS
        if s.channel in ("shopify", "woocommerce")
    ]


def login_table(logins: list[DemoUser]) -> list[str]:
    """The logins as aligned text rows: e-mail, role, tenants."""
    rows = [("EMAIL", "ROLE", "TENANTS")]
    for user in logins:
        where = "(all tenants)" if user.role == Role.agency_admin else ", ".join(user.tenants)
        rows.append((user.email, user.role.value, where))
    widths = [max(len(row[i]) for row in rows) for i in range(2)]
    return [f"{e:<{widths[0]}}  {r:<{widths[1]}}  {t}".rstrip() for e, r, t in rows]
