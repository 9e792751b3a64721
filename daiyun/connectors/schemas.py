"""API shapes for shops, sync runs and webhook deliveries. Credentials go in, never out."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, HttpUrl, JsonValue

from daiyun.connectors.channels import CONNECTORS
from daiyun.connectors.models import DeliveryStatus, ShopStatus
from daiyun.core.ids import DateTime

Credentials = dict[str, str | list[str]]


class ShopCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    # The schema lists the channels (so clients see them); an unknown one is still refused by the
    # service with a problem naming the known ones.
    channel: str = Field(
        max_length=20,
        examples=["shopify"],
        json_schema_extra={"enum": list[JsonValue](sorted(CONNECTORS))},
    )
    name: str = Field(min_length=1, max_length=200)
    external_id: str = Field(
        min_length=1, max_length=200, description="The channel's shop identifier"
    )
    credentials: Credentials = Field(description="Channel credentials; stored encrypted")
    api_base_url: HttpUrl | None = Field(
        default=None, description="Overrides every host the connector calls (regions, sandbox)"
    )


class ShopUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str | None = Field(default=None, min_length=1, max_length=200)
    status: Literal["active", "paused"] | None = None
    credentials: Credentials | None = None
    api_base_url: HttpUrl | None = None


class ShopRead(BaseModel):
    id: uuid.UUID
    channel: str
    name: str
    external_id: str
    status: ShopStatus
    api_base_url: str | None
    webhook_url: str | None
    sync_cursor: datetime | None
    lag_seconds: int | None = Field(description="How far the order book trails the channel")
    last_sync_at: datetime | None
    last_success_at: datetime | None
    last_error: str | None
    last_error_at: datetime | None
    consecutive_failures: int
    created_at: datetime


class SyncRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    since: DateTime | None = Field(default=None, description="Backfill from here (ISO 8601)")
    until: DateTime | None = None


class SyncRunRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    shop_id: uuid.UUID
    trigger: str
    status: str
    window_start: datetime
    window_end: datetime
    resume_from: datetime
    pages: int
    requests: int
    orders_created: int
    orders_updated: int
    orders_unchanged: int
    error: str | None
    started_at: datetime
    finished_at: datetime | None


class DeliveryRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    shop_id: uuid.UUID
    source: str
    external_id: str
    topic: str
    status: DeliveryStatus
    received_at: datetime
    processed_at: datetime | None
    attempts: int
    order_id: uuid.UUID | None
    error: str | None


class Acknowledgement(BaseModel):
    status: Literal["accepted", "duplicate", "ping"]
    delivery_id: uuid.UUID | None = None
    detail: dict[str, Any] = Field(default_factory=dict)
