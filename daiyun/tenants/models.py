"""Merchants (tenants) and who may act for them."""

from __future__ import annotations

import uuid
from enum import StrEnum

from sqlalchemy import Enum, ForeignKey, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from daiyun.core.db import Base, Timestamped
from daiyun.core.ids import new_id
from daiyun.core.tenancy import TenantScoped
from daiyun.tenants.auth.permissions import Role


class TenantStatus(StrEnum):
    onboarding = "onboarding"
    active = "active"
    suspended = "suspended"
    offboarded = "offboarded"


class Tenant(Timestamped, Base):
    """A brand merchant whose shops the agency runs; the unit of isolation."""

    __tablename__ = "tenants"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    slug: Mapped[str] = mapped_column(String(63), unique=True)
    display_name: Mapped[str] = mapped_column(String(200))
    legal_name: Mapped[str] = mapped_column(String(300))
    status: Mapped[TenantStatus] = mapped_column(
        Enum(TenantStatus, native_enum=False, length=20), default=TenantStatus.onboarding
    )
    time_zone: Mapped[str] = mapped_column(String(64), default="Asia/Shanghai")
    default_currency: Mapped[str] = mapped_column(String(3), default="CNY")


class Membership(TenantScoped, Timestamped, Base):
    """A user's role in one tenant: a staff assignment, or a merchant user's home."""

    __tablename__ = "memberships"
    __table_args__ = (UniqueConstraint("tenant_id", "user_id"),)

    user_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), index=True
    )
    role: Mapped[Role] = mapped_column(Enum(Role, native_enum=False, length=32))
