"""API shapes for tenants and memberships."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any
from zoneinfo import available_timezones

from pydantic import BaseModel, ConfigDict, Field, field_validator
from pydantic.json_schema import SkipJsonSchema

from daiyun.tenants.auth.permissions import Role
from daiyun.tenants.models import TenantStatus

_ZONES = available_timezones()


def _zone(value: str) -> str:
    if value not in _ZONES:
        raise ValueError(f"unknown time zone {value!r}")
    return value


class TenantCreate(BaseModel):
    slug: str = Field(pattern=r"^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$")
    display_name: str = Field(min_length=1, max_length=200)
    legal_name: str = Field(min_length=1, max_length=300)
    status: TenantStatus = TenantStatus.onboarding
    time_zone: str = "Asia/Shanghai"
    default_currency: str = Field(default="CNY", pattern=r"^[A-Z]{3}$")

    _check_zone = field_validator("time_zone")(_zone)


class TenantUpdate(BaseModel):
    """A partial change: a field left out stays as it is. None is only the "left out" default
    (hidden from the schema): every field of a tenant has a value, so an explicit null is refused.
    """

    display_name: str | SkipJsonSchema[None] = Field(default=None, min_length=1, max_length=200)
    legal_name: str | SkipJsonSchema[None] = Field(default=None, min_length=1, max_length=300)
    status: TenantStatus | SkipJsonSchema[None] = None
    time_zone: str | SkipJsonSchema[None] = None
    default_currency: str | SkipJsonSchema[None] = Field(default=None, pattern=r"^[A-Z]{3}$")

    @field_validator("*", mode="before")
    @classmethod
    def _not_null(cls, value: Any) -> Any:
        # Runs only on fields the body names, never on the defaults.
        if value is None:
            raise ValueError("may be left out but not null")
        return value

    @field_validator("time_zone")
    @classmethod
    def _check_zone(cls, value: str | None) -> str | None:
        return None if value is None else _zone(value)


class TenantRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    slug: str
    display_name: str
    legal_name: str
    status: TenantStatus
    time_zone: str
    default_currency: str
    created_at: datetime
    updated_at: datetime


class MemberCreate(BaseModel):
    user_id: uuid.UUID
    role: Role


class MemberRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    user_id: uuid.UUID
    role: Role
    created_at: datetime
