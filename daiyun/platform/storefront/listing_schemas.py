"""The API shapes of listings, their prices and scheduled price lists. Prices are integer minor
units in the listing's currency (the SKU's cost currency, which the margin floor compares with)."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, model_validator

from daiyun.core.ids import DateTime
from daiyun.platform.storefront.listing_rules import (
    MAX_PRICE_MINOR,
    MIN_PRICE_MINOR,
    ListingState,
    PriceListStatus,
    SyncStatus,
)
from daiyun.platform.storefront.schemas import Name, ShortName

# Strict, as the catalog's costs: JSON true is not a price.
Price = Annotated[
    int,
    Field(
        strict=True,
        ge=MIN_PRICE_MINOR,
        le=MAX_PRICE_MINOR,
        description="Minor units of the listing's currency, 1 to 10^12",
    ),
]
Reason = Annotated[
    str,
    StringConstraints(
        min_length=3, max_length=300, pattern=r"^[^\x00-\x1F\x7F]*\S[^\x00-\x1F\x7F]*$"
    ),
    Field(description="Why a price under the margin floor is used (needs prices:override)"),
]
# A price list holds at most this many listings; a bulk change of more is a catalog job.
MAX_PRICE_LIST_ITEMS = 1_000


class _Input(BaseModel):
    model_config = ConfigDict(extra="forbid")


class _Prices(_Input):
    list_price_minor: Price
    sale_price_minor: Price | None = Field(
        default=None, description="A lower price in effect now; null: not on sale"
    )
    override_reason: Reason | None = None

    @model_validator(mode="after")
    def _sale_below_list(self) -> Any:
        if self.sale_price_minor is not None and self.sale_price_minor >= self.list_price_minor:
            raise ValueError("a sale price is below the list price")
        return self


class ListingCreate(_Prices):
    sku_id: uuid.UUID
    shop_id: uuid.UUID
    title: Name | None = Field(default=None, description="Defaults to the product's name")
    available_from: DateTime | None = None


class PriceSet(_Prices):
    """A listing's new prices; the price before becomes its prior ("was") price."""


class PriceListItemIn(_Prices):
    listing_id: uuid.UUID


class PriceListCreate(_Input):
    name: ShortName
    starts_at: DateTime
    ends_at: DateTime
    items: list[PriceListItemIn] = Field(min_length=1, max_length=MAX_PRICE_LIST_ITEMS)


class ListingRead(BaseModel):
    """A listing, its prices and where its sync stands.

    ``sync_status`` is null for a draft (nothing to send yet); ``sync_error`` is the
    marketplace's error of the last failed push, shortened and with secrets masked;
    ``pushed`` the values the marketplace last accepted.
    """

    id: uuid.UUID
    sku_id: uuid.UUID
    shop_id: uuid.UUID
    title: str
    state: ListingState
    currency: str
    list_price_minor: int
    sale_price_minor: int | None
    prior_price_minor: int | None
    floor_flag: str | None
    price_overridden: bool
    external_product_id: str | None
    external_sku_id: str | None
    external_inventory_item_id: str | None
    published_at: datetime | None
    available_from: datetime | None
    sync_status: SyncStatus | None
    sync_error: str | None
    sync_attempts: int
    next_attempt_at: datetime | None
    synced_at: datetime | None
    pushed: dict[str, Any]
    created_at: datetime
    updated_at: datetime

    model_config = ConfigDict(from_attributes=True)


class PriceListItemRead(BaseModel):
    listing_id: uuid.UUID
    list_price_minor: int
    sale_price_minor: int | None
    override_reason: str | None
    previous_list_price_minor: int | None
    previous_sale_price_minor: int | None

    model_config = ConfigDict(from_attributes=True)


class PriceListRead(BaseModel):
    id: uuid.UUID
    name: str
    starts_at: datetime
    ends_at: datetime
    status: PriceListStatus
    applied_at: datetime | None
    ended_at: datetime | None
    items: list[PriceListItemRead]
    created_at: datetime
