"""Onboarding merchants and assigning people to them."""

from __future__ import annotations

import uuid

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from daiyun.core.audit import service as audit
from daiyun.core.errors import Problem
from daiyun.core.pagination import paginate
from daiyun.core.tenancy import bind_tenant, current_tenant
from daiyun.tenants.auth.deps import memberships_of, role_in
from daiyun.tenants.auth.models import User
from daiyun.tenants.auth.permissions import MERCHANT_ROLES, Role
from daiyun.tenants.models import Membership, Tenant, TenantStatus
from daiyun.tenants.schemas import MemberCreate, TenantCreate, TenantUpdate


def create_tenant(session: Session, data: TenantCreate) -> Tenant:
    """Onboard a merchant. The slug is unique across the deployment."""
    if session.scalar(select(Tenant.id).where(Tenant.slug == data.slug)) is not None:
        raise Problem(409, "slug-taken", f"A tenant with slug {data.slug!r} already exists")
    tenant = Tenant(**data.model_dump())
    session.add(tenant)
    session.flush()
    bind_tenant(session, tenant.id)
    audit.record(session, "tenant.created", f"tenant:{tenant.slug}", data.model_dump(mode="json"))
    return tenant


def list_tenants(
    session: Session, user: User, tenant_ids: set[uuid.UUID] | None, cursor: str | None, limit: int
) -> tuple[list[Tenant], str | None]:
    """Tenants the user may see: all for agency admins, else those in ``tenant_ids`` that are
    not offboarded."""
    stmt = select(Tenant)
    if user.role != Role.agency_admin:
        stmt = stmt.where(
            Tenant.id.in_(tenant_ids or set()), Tenant.status != TenantStatus.offboarded
        )
    return paginate(session, stmt, Tenant.id, cursor, limit)


def update_tenant(session: Session, tenant: Tenant, data: TenantUpdate) -> Tenant:
    changes = data.model_dump(exclude_unset=True, mode="json")
    for field, value in data.model_dump(exclude_unset=True).items():
        setattr(tenant, field, value)
    session.flush()
    audit.record(session, "tenant.updated", f"tenant:{tenant.slug}", changes)
    return tenant


def offboard_tenant(session: Session, tenant: Tenant) -> None:
    """Offboard a merchant; its records stay for billing and audit."""
    tenant.status = TenantStatus.offboarded
    session.flush()
    audit.record(session, "tenant.offboarded", f"tenant:{tenant.slug}")


def list_members(
    session: Session, cursor: str | None, limit: int
) -> tuple[list[Membership], str | None]:
    return paginate(session, select(Membership), Membership.id, cursor, limit)


def add_member(session: Session, tenant: Tenant, data: MemberCreate) -> Membership:
    """Assign a staff member to the tenant, or add a merchant user to its own tenant."""
    user = session.get(User, data.user_id)
    if user is None:
        raise Problem(422, "unknown-user", "No such user")
    if user.role == Role.agency_admin:
        raise Problem(422, "agency-admin", "Agency admins already see every tenant")
    if (user.role in MERCHANT_ROLES) != (data.role in MERCHANT_ROLES):
        raise Problem(
            422, "role-mismatch", "Merchant users take merchant roles, staff take staff roles"
        )
    if data.role == Role.agency_admin:
        raise Problem(422, "role-mismatch", "agency_admin is not a per-tenant role")
    if user.role in MERCHANT_ROLES and user.merchant_tenant_id != tenant.id:
        raise Problem(409, "conflict", "This user cannot be added to this tenant")
    existing = session.scalar(select(Membership).where(Membership.user_id == user.id))
    if existing is not None:
        existing.role = data.role
        session.flush()
        audit.record(session, "member.updated", f"user:{user.id}", {"role": data.role.value})
        return existing
    member = Membership(user_id=user.id, role=data.role)
    session.add(member)
    try:
        session.flush()
    except IntegrityError as exc:  # a concurrent request added the same user first
        raise Problem(409, "conflict", "This user is already a member") from exc
    audit.record(session, "member.added", f"user:{user.id}", {"role": data.role.value})
    return member


def remove_member(session: Session, user_id: uuid.UUID) -> None:
    member = session.scalar(select(Membership).where(Membership.user_id == user_id))
    if member is None:
        raise Problem(404, "not-found", "No such member")
    session.delete(member)
    session.flush()
    audit.record(session, "member.removed", f"user:{user_id}")


def add_merchant_user(session: Session, tenant: Tenant, user: User) -> Membership:
    """Attach a just-created merchant user to its only tenant."""
    bind_tenant(session, tenant.id)
    member = Membership(user_id=user.id, role=user.role)
    session.add(member)
    session.flush()
    return member


# --- what the portal reads: tenants and users by slug or id, so pages never name the tables ---


def find_tenant(session: Session, slug: str) -> Tenant | None:
    """The tenant with this slug, or None. Whether the caller may open it is checked apart."""
    return session.scalar(select(Tenant).where(Tenant.slug == slug))


def get_tenant(session: Session, tenant_id: uuid.UUID) -> Tenant | None:
    """The tenant with this id, or None."""
    return session.get(Tenant, tenant_id)


def time_zone(session: Session) -> str:
    """The time zone of the merchant the session is bound to (its days: reports, deadlines,
    what "today" is), UTC when bound to none."""
    tenant_id = current_tenant(session)
    tenant = session.get(Tenant, tenant_id) if tenant_id else None
    return tenant.time_zone if tenant is not None else "UTC"


def tenants_open_to(session: Session, user_id: uuid.UUID) -> list[Tenant]:
    """The tenants a user may open, by display name: every tenant for an agency admin, else
    those of the user's memberships that are not offboarded (none for an unknown user)."""
    user = session.get(User, user_id)
    if user is None:
        return []
    query = select(Tenant).order_by(Tenant.display_name)
    if user.role != Role.agency_admin:
        ids = [m.tenant_id for m in memberships_of(session, user.id)]
        query = query.where(Tenant.id.in_(ids), Tenant.status != TenantStatus.offboarded)
    return list(session.scalars(query))


def role_of(session: Session, user_id: uuid.UUID, tenant_id: uuid.UUID) -> Role | None:
    """The user's role in a tenant (agency admins everywhere, others by membership), or None."""
    user = session.get(User, user_id)
    return role_in(session, user, tenant_id) if user is not None else None


def active_user(session: Session, user_id: uuid.UUID) -> User | None:
    """The user with this id while their account is active, else None."""
    user = session.get(User, user_id)
    return user if user is not None and user.is_active else None


def set_locale(session: Session, user_id: uuid.UUID, locale: str) -> None:
    """Keep the language a user chose (a preference of theirs: not audited)."""
    user = session.get(User, user_id)
    if user is not None:
        user.locale = locale
        session.flush()
