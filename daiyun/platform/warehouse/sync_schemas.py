"""The stock sync API's shapes (库存同步): share rules per shop and SKU, and each listing's sync."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, model_validator

from daiyun.platform.warehouse.models import ShareKind, StockSyncStatus
from daiyun.platform.warehouse.rules import MAX_QUANTITY

Percent = Annotated[int, Field(ge=1, le=100, description="Percent of the sellable stock")]
Units = Annotated[int, Field(ge=0, le=MAX_QUANTITY)]


class _Share(BaseModel):
    model_config = ConfigDict(extra="forbid")

    kind: ShareKind
    ratio_percent: Percent | None = None
    fixed_quantity: Units | None = None
    safety_floor: Units = Field(
        0, description="At or below this many sellable units the shop shows none"
    )
    warehouse_ids: list[uuid.UUID] = Field(
        default_factory=list,
        max_length=50,
        description="The warehouses serving the shop (none: every active one)",
    )

    @model_validator(mode="after")
    def _one_share(self) -> _Share:
        if self.kind is ShareKind.ratio and (
            self.ratio_percent is None or self.fixed_quantity is not None
        ):
            raise ValueError("a ratio rule has ratio_percent and no fixed_quantity")
        if self.kind is ShareKind.fixed and (
            self.fixed_quantity is None or self.ratio_percent is not None
        ):
            raise ValueError("a fixed rule has fixed_quantity and no ratio_percent")
        if len(set(self.warehouse_ids)) != len(self.warehouse_ids):
            raise ValueError("a warehouse appears twice")
        return self


class SyncRuleCreate(_Share):
    shop_id: uuid.UUID
    sku_id: uuid.UUID | None = Field(None, description="None: the shop's rule for every SKU")


class SyncRuleUpdate(_Share):
    pass


class SyncRuleRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    shop_id: uuid.UUID
    sku_id: uuid.UUID | None
    sku: str | None
    kind: ShareKind
    ratio_percent: int | None
    fixed_quantity: int | None
    safety_floor: int
    warehouse_ids: list[uuid.UUID]
    created_at: datetime
    updated_at: datetime


class SyncListingRead(BaseModel):
    """One listing's stock sync: what it should show, what was last pushed and when."""

    listing_id: uuid.UUID
    shop_id: uuid.UUID
    sku_id: uuid.UUID
    sku: str
    status: StockSyncStatus
    desired: int | None
    pushed_quantity: int | None
    pushed_at: datetime | None
    error: str | None
    attempts: int
    next_attempt_at: datetime | None


class ResyncIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    shop_id: uuid.UUID


class ResyncRead(BaseModel):
    shop_id: uuid.UUID
    listings: int = Field(description="Listings marked to be sent again")
