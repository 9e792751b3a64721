"""Creating users: staff by agency admins, merchant users for one tenant."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from daiyun.core.audit import service as audit
from daiyun.core.errors import Problem
from daiyun.tenants import service as tenant_service
from daiyun.tenants.auth.models import User
from daiyun.tenants.auth.passwords import hash_password
from daiyun.tenants.auth.permissions import MERCHANT_ROLES, Role
from daiyun.tenants.auth.schemas import UserCreate
from daiyun.tenants.auth.service import normalize_email
from daiyun.tenants.models import Tenant

# One answer for every refusal to create an account, so e-mail addresses cannot be probed.
USER_NOT_CREATED = Problem(409, "user-not-created", "This user could not be created")


def create_user(session: Session, data: UserCreate, tenant: Tenant | None = None) -> User:
    """Create a user. Merchant roles need their tenant; staff roles must not name one."""
    if (data.role in MERCHANT_ROLES) != (tenant is not None):
        raise Problem(
            422,
            "tenant-required" if data.role in MERCHANT_ROLES else "tenant-not-allowed",
            "Merchant users belong to exactly one tenant; staff are assigned through members",
        )
    email = normalize_email(data.email)
    if session.scalar(select(User.id).where(User.email == email)) is not None:
        raise USER_NOT_CREATED
    user = User(
        email=email,
        name=data.name,
        password_hash=hash_password(data.password),
        role=data.role,
        locale=data.locale,
        merchant_tenant_id=tenant.id if tenant else None,
    )
    session.add(user)
    try:
        session.flush()
    except IntegrityError as exc:  # raced with another request for the same address
        raise USER_NOT_CREATED from exc
    if tenant is not None:
        tenant_service.add_merchant_user(session, tenant, user)
    audit.record(session, "user.created", f"user:{user.id}", {"role": data.role.value})
    return user


def may_create(actor: User, role: Role, actor_tenant_role: Role | None) -> bool:
    """Agency admins create anyone; merchant owners invite viewers of their own tenant."""
    if actor.role == Role.agency_admin:
        return True
    return actor_tenant_role == Role.merchant_owner and role == Role.merchant_viewer
