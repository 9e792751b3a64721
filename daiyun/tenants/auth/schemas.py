"""API shapes for sign-in, users and API keys."""

from __future__ import annotations

import uuid
from datetime import datetime

from pydantic import BaseModel, ConfigDict, EmailStr, Field

from daiyun.tenants.auth.permissions import Role


class TokenRead(BaseModel):
    access_token: str
    token_type: str = "bearer"
    expires_in: int


class UserCreate(BaseModel):
    email: EmailStr
    name: str = Field(min_length=1, max_length=200)
    password: str = Field(min_length=10, max_length=512)
    role: Role
    tenant: str | None = Field(default=None, description="Slug of the tenant; merchant roles only")
    locale: str = Field(default="en", pattern=r"^(en|zh-CN)$")


class UserRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    email: str
    name: str
    role: Role
    locale: str
    is_active: bool
    created_at: datetime


class MembershipView(BaseModel):
    tenant: str
    tenant_name: str
    role: Role


class MeRead(UserRead):
    tenants: list[MembershipView]


class ApiKeyCreate(BaseModel):
    name: str = Field(min_length=1, max_length=100)


class ApiKeyRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    name: str
    prefix: str
    created_at: datetime
    last_used_at: datetime | None
    revoked_at: datetime | None


class ApiKeyCreated(ApiKeyRead):
    key: str = Field(description="Shown once; store it now")
