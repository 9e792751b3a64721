"""API shapes for sign-in, users and API keys."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any, Literal, get_args

from pydantic import BaseModel, ConfigDict, EmailStr, Field, field_validator
from pydantic.json_schema import SkipJsonSchema

from daiyun.tenants.auth.permissions import Role

# The zones a user may read times in, as the preferences page offers them and the API's schema
# lists them (a tenant's own zone, any IANA name, stays the default for a user who chose none).
# A short list a person can pick from, not the six hundred names of the IANA database.
ReadingZone = Literal[
    "Asia/Shanghai",
    "Asia/Hong_Kong",
    "Asia/Taipei",
    "Asia/Singapore",
    "Asia/Tokyo",
    "Europe/London",
    "Europe/Berlin",
    "America/New_York",
    "America/Los_Angeles",
    "UTC",
]
READING_ZONES: tuple[str, ...] = get_args(ReadingZone)


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
    time_zone: str | None = Field(
        description="The zone the user reads times in; null: each tenant's own zone"
    )
    is_active: bool
    created_at: datetime


class MembershipView(BaseModel):
    tenant: str
    tenant_name: str
    role: Role


class MeRead(UserRead):
    tenants: list[MembershipView]


class MeUpdate(BaseModel):
    """A change to the caller's own settings: a field left out stays as it is."""

    # None is only the "left out" default (hidden from the schema): a user always has a language.
    # A literal, not a pattern: pydantic drops a string's pattern from the schema of this union.
    locale: Literal["en", "zh-CN"] | SkipJsonSchema[None] = None
    time_zone: ReadingZone | None = Field(
        default=None, description="One of the zones listed; null: each tenant's own zone again"
    )

    @field_validator("locale", mode="before")
    @classmethod
    def _locale_not_null(cls, value: Any) -> Any:
        # Runs only when the body names the field, never on the default.
        if value is None:
            raise ValueError("may be left out but not null")
        return value


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
