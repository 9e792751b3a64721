"""The demo agency (演示代运营公司): three merchants, every role, one published password.

:func:`seed` is idempotent: it creates what is missing through the services and leaves whatever
already exists alone, so running it twice changes nothing and lists the same logins.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy import select

from daiyun.platform.auth.models import User
from daiyun.platform.auth.permissions import MERCHANT_ROLES, Role
from daiyun.platform.auth.schemas import UserCreate
from daiyun.platform.auth.service import normalize_email
from daiyun.platform.auth.users import create_user
from daiyun.platform.db import unit_of_work
from daiyun.tenants import service as tenant_service
from daiyun.tenants.models import Membership, Tenant, TenantStatus
from daiyun.tenants.schemas import MemberCreate, TenantCreate

DEMO_PASSWORD = "demo-password-2026"
DEMO_DOMAIN = "demo.daiyun.dev"


@dataclass(frozen=True)
class DemoTenant:
    slug: str
    display_name: str
    legal_name: str


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
                    default_currency="CNY",
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
    tenants = _ensure_tenants(result)
    for spec in USERS:
        user = _ensure_user(spec, tenants, result)
        if spec.role in MERCHANT_ROLES or spec.role == Role.agency_admin:
            continue  # merchant users got their membership with the account
        for slug in spec.tenants:
            _ensure_assignment(user, tenants[slug], spec.role, result)
    return result


def login_table(logins: list[DemoUser]) -> list[str]:
    """The logins as aligned text rows: e-mail, role, tenants."""
    rows = [("EMAIL", "ROLE", "TENANTS")]
    for user in logins:
        where = "(all tenants)" if user.role == Role.agency_admin else ", ".join(user.tenants)
        rows.append((user.email, user.role.value, where))
    widths = [max(len(row[i]) for row in rows) for i in range(2)]
    return [f"{e:<{widths[0]}}  {r:<{widths[1]}}  {t}".rstrip() for e, r, t in rows]
