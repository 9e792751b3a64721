"""The catalog's API shapes. Costs are integer minor units next to their ISO 4217 currency."""

from __future__ import annotations

import uuid
from datetime import datetime
from decimal import Decimal
from enum import StrEnum
from typing import Annotated, Any, ClassVar

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, field_validator
from pydantic.json_schema import SkipJsonSchema, WithJsonSchema

from daiyun.platform.storefront.rules import (
    MAX_AMOUNT_MINOR,
    MAX_MARGIN,
    MAX_PART_QUANTITY,
    MAX_PARTS,
    MIN_MARGIN,
    FloorMode,
)


class CatalogStatus(StrEnum):
    """Where a product or SKU stands: being prepared, on sale, or retired (kept for history)."""

    draft = "draft"
    active = "active"
    archived = "archived"


# Text the catalog keeps: no control characters (PostgreSQL cannot store NUL, and nobody means
# a tab in a name), something visible, no space at either end.
_LABEL = r"^[^\s\x00-\x1F\x7F](?:[^\x00-\x1F\x7F]*[^\s\x00-\x1F\x7F])?$"
Name = Annotated[str, StringConstraints(min_length=1, max_length=300, pattern=_LABEL)]
ShortName = Annotated[str, StringConstraints(min_length=1, max_length=100, pattern=_LABEL)]
Description = Annotated[str, StringConstraints(max_length=20_000, pattern=r"^[^\x00]*$")]
Code = Annotated[
    str,
    StringConstraints(min_length=1, max_length=100, pattern=_LABEL),
    Field(description="The merchant's own SKU code, unique in the tenant"),
]
Barcode = Annotated[
    str, StringConstraints(min_length=1, max_length=64, pattern=r"^[0-9A-Za-z._-]+$")
]
AttributeName = Annotated[str, StringConstraints(min_length=1, max_length=50, pattern=_LABEL)]
AttributeValue = Annotated[str, StringConstraints(min_length=1, max_length=200, pattern=_LABEL)]
Attributes = Annotated[
    dict[AttributeName, AttributeValue],
    Field(max_length=20, description="Up to 20 named values, such as colour and size"),
    # Said outright: pydantic would document the names' pattern as patternProperties, which
    # lets any other name through in the document.
    WithJsonSchema(
        {
            "type": "object",
            "maxProperties": 20,
            "propertyNames": {"minLength": 1, "maxLength": 50, "pattern": _LABEL},
            "additionalProperties": {
                "type": "string",
                "minLength": 1,
                "maxLength": 200,
                "pattern": _LABEL,
            },
            "description": "Up to 20 named values, such as colour and size",
        }
    ),
]
Currency = Annotated[
    str, Field(pattern=r"^[A-Z]{3}$", description="ISO 4217 code", examples=["CNY"])
]
# Strict: JSON true is not an amount (pydantic would take it as 1), and the bounds stay in the
# document (a before-validator, as core.money.MinorUnits has, hides them from it).
Cost = Annotated[
    int, Field(strict=True, ge=0, le=MAX_AMOUNT_MINOR, description="Minor units, 0 to 10^12")
]
Grams = Annotated[int, Field(strict=True, ge=0, le=1_000_000, description="Grams, up to 1 t")]
Millimetres = Annotated[int, Field(strict=True, ge=0, le=100_000, description="mm, up to 100 m")]
Quantity = Annotated[int, Field(strict=True, ge=1, le=MAX_PART_QUANTITY)]
Margin = Annotated[
    Decimal,
    Field(
        ge=MIN_MARGIN,
        le=MAX_MARGIN,
        decimal_places=4,
        description="Markup on cost, 0 to 10 (0.15: a price at least cost × 1.15)",
        examples=["0.15"],
    ),
]


class _Input(BaseModel):
    model_config = ConfigDict(extra="forbid")


class _Patch(_Input):
    """A partial change: a field left out stays as it is. ``None`` is the "left out" default
    (hidden from the schema) of fields that always have a value, so an explicit null is refused
    there; fields that may be empty take null to clear them."""

    _required: ClassVar[frozenset[str]] = frozenset()

    @field_validator("*", mode="before")
    @classmethod
    def _not_null(cls, value: Any, info: Any) -> Any:
        if value is None and info.field_name in cls._required:
            raise ValueError("may be left out but not null")
        return value


# --------------------------------------------------------------------------------------------
# SKUs and bundles
# --------------------------------------------------------------------------------------------


class _SkuFields(_Input):
    barcode: Barcode | None = None
    attributes: Attributes = Field(default_factory=dict)
    weight_grams: Grams | None = None
    length_mm: Millimetres | None = None
    width_mm: Millimetres | None = None
    height_mm: Millimetres | None = None
    status: CatalogStatus = CatalogStatus.active


class SkuCreate(_SkuFields):
    """A variant of a product, with its cost."""

    code: Code
    cost_minor: Cost
    currency: Currency


class PartIn(_Input):
    sku_id: uuid.UUID
    quantity: Quantity = 1


Parts = Annotated[list[PartIn], Field(min_length=1, max_length=MAX_PARTS)]


class BundleCreate(_SkuFields):
    """A bundle (组合商品): a SKU made of other SKUs. Its cost is derived from its parts, which
    must all cost in the bundle's currency. Without ``product_id`` a product is made for it."""

    code: Code
    currency: Currency
    parts: Parts
    product_id: uuid.UUID | None = None
    name: Name | None = Field(default=None, description="The new product's name")
    category_id: uuid.UUID | None = None
    brand: ShortName | None = None
    description: Description | None = None


class SkuUpdate(_Patch):
    """A change to a SKU. ``cost_minor`` is a plain SKU's; ``parts`` (replacing them all) a
    bundle's."""

    _required: ClassVar[frozenset[str]] = frozenset(
        {"code", "cost_minor", "currency", "attributes", "status", "parts"}
    )

    code: Code | SkipJsonSchema[None] = None
    barcode: Barcode | None = None
    attributes: Attributes | SkipJsonSchema[None] = None
    weight_grams: Grams | None = None
    length_mm: Millimetres | None = None
    width_mm: Millimetres | None = None
    height_mm: Millimetres | None = None
    cost_minor: Cost | SkipJsonSchema[None] = None
    currency: Currency | SkipJsonSchema[None] = None
    status: CatalogStatus | SkipJsonSchema[None] = None
    parts: Parts | SkipJsonSchema[None] = None


class PartRead(BaseModel):
    sku_id: uuid.UUID
    code: str
    quantity: int
    unit_cost_minor: int


class SkuRead(BaseModel):
    """A SKU; a bundle's cost is derived from its parts as of this answer."""

    id: uuid.UUID
    product_id: uuid.UUID
    code: str
    barcode: str | None
    attributes: dict[str, str]
    weight_grams: int | None
    length_mm: int | None
    width_mm: int | None
    height_mm: int | None
    is_bundle: bool
    cost_minor: int
    currency: str
    status: CatalogStatus
    parts: list[PartRead]
    created_at: datetime
    updated_at: datetime


# --------------------------------------------------------------------------------------------
# Products
# --------------------------------------------------------------------------------------------


class ProductCreate(_Input):
    name: Name
    description: Description | None = None
    category_id: uuid.UUID | None = None
    brand: ShortName | None = None
    status: CatalogStatus = CatalogStatus.draft
    variants: list[SkuCreate] = Field(default_factory=list, max_length=100)


class ProductUpdate(_Patch):
    _required: ClassVar[frozenset[str]] = frozenset({"name", "status"})

    name: Name | SkipJsonSchema[None] = None
    description: Description | None = None
    category_id: uuid.UUID | None = None
    brand: ShortName | None = None
    status: CatalogStatus | SkipJsonSchema[None] = None


class ProductRead(BaseModel):
    id: uuid.UUID
    name: str
    description: str | None
    category_id: uuid.UUID | None
    brand: str | None
    status: CatalogStatus
    variants: list[SkuRead]
    created_at: datetime
    updated_at: datetime


# --------------------------------------------------------------------------------------------
# Categories
# --------------------------------------------------------------------------------------------


class CategoryCreate(_Input):
    name: ShortName
    parent_id: uuid.UUID | None = None


class CategoryUpdate(_Patch):
    """Rename (``name``) or move (``parent_id``; null makes it a root) a category."""

    _required: ClassVar[frozenset[str]] = frozenset({"name"})

    name: ShortName | SkipJsonSchema[None] = None
    parent_id: uuid.UUID | None = None


class CategoryRead(BaseModel):
    id: uuid.UUID
    parent_id: uuid.UUID | None
    name: str
    path: list[str] = Field(description="Names from the root down to this category")
    depth: int


class CategoryTree(BaseModel):
    """Every category of the tenant, each after its parent, siblings by name."""

    items: list[CategoryRead]


# --------------------------------------------------------------------------------------------
# Margin floors
# --------------------------------------------------------------------------------------------


class FloorIn(_Input):
    mode: FloorMode
    minimum_margin: Margin = Decimal("0")


class CategoryFloorIn(FloorIn):
    category_id: uuid.UUID


class SkuFloorIn(FloorIn):
    sku_id: uuid.UUID


class MarginFloorsIn(_Input):
    """The tenant's whole set of floors: the default and every override (replacing them)."""

    tenant: FloorIn
    categories: list[CategoryFloorIn] = Field(default_factory=list, max_length=1000)
    skus: list[SkuFloorIn] = Field(default_factory=list, max_length=1000)


class FloorRead(BaseModel):
    mode: FloorMode
    minimum_margin: Decimal


class CategoryFloorRead(FloorRead):
    category_id: uuid.UUID


class SkuFloorRead(FloorRead):
    sku_id: uuid.UUID


class MarginFloorsRead(BaseModel):
    tenant: FloorRead
    tenant_is_default: bool = Field(description="True while the tenant has set no floor")
    categories: list[CategoryFloorRead]
    skus: list[SkuFloorRead]


class PriceCheck(BaseModel):
    """The margin floor's verdict on a price for a SKU (for the departments that set prices)."""

    sku_id: uuid.UUID
    code: str
    currency: str
    price_minor: int
    cost_minor: int
    floor_minor: int
    mode: FloorMode
    minimum_margin: Decimal
    source: str = Field(description="sku, category:<id>, tenant or default: where the floor is set")
    allowed: bool
    flagged: bool


# --------------------------------------------------------------------------------------------
# Bulk work (imports, exports, bulk edits) and order-line matching
# --------------------------------------------------------------------------------------------


class JobKind(StrEnum):
    """What a catalog job does."""

    import_ = "import"
    export = "export"
    bulk_edit = "bulk_edit"


class JobState(StrEnum):
    """Where a catalog job stands. ``rejected``: the file had problems and nothing was written;
    ``failed``: the job could not finish (its ``error`` says why; a retry resumes it)."""

    queued = "queued"
    validating = "validating"
    writing = "writing"
    succeeded = "succeeded"
    rejected = "rejected"
    failed = "failed"


FINISHED = frozenset({JobState.succeeded, JobState.rejected, JobState.failed})


class JobProblemRead(BaseModel):
    row: int = Field(description="The file's row (1: the first after the header; 0: the header)")
    column: str
    problem: str


class JobRead(BaseModel):
    """A catalog job and its progress: rows checked, rows written, what was created, updated
    and skipped, and the first problems (the whole report at ``/report``)."""

    id: uuid.UUID
    kind: JobKind
    state: JobState
    filename: str | None
    valid_rows_only: bool
    total_rows: int = Field(description="Rows in the file or the selection, once known")
    checked_rows: int
    written_rows: int
    created_count: int
    updated_count: int
    skipped_count: int
    problem_count: int
    problems: list[JobProblemRead] = Field(description="The first 100 problems, by row")
    error: str | None
    created_at: datetime
    updated_at: datetime
    finished_at: datetime | None


class CatalogFilter(_Input):
    """Which products a job takes: all, or those matching every filter given."""

    status: CatalogStatus | None = None
    category_id: uuid.UUID | None = Field(
        default=None, description="This category and every category under it"
    )
    q: Annotated[str, StringConstraints(min_length=1, max_length=200)] | None = Field(
        default=None, description="Text in the name or brand"
    )


class ExportCreate(_Input):
    """Export the products the filter selects as CSV, one row per SKU (bundles left out: they
    are made in the API), in the columns an import reads."""

    filter: CatalogFilter = Field(default_factory=CatalogFilter)
    shop_id: uuid.UUID | None = Field(
        default=None, description="Fill in the prices of the SKUs' listings on this shop"
    )


PriceChange = Annotated[
    Decimal,
    Field(
        ge=Decimal("-90"),
        le=Decimal("1000"),
        decimal_places=2,
        description="Percent added to each listing's list price (-10: 10 % off), rounded to "
        "the minor unit; every new price goes through the margin floor",
    ),
]


class BulkEditCreate(_Input):
    """Change the products the filter selects: their status, their category (null: none), or
    their listings' list price by a percentage (on one shop, or on all). A price under a
    blocking margin floor is left as it was and reported; the rest are applied."""

    filter: CatalogFilter = Field(default_factory=CatalogFilter)
    status: CatalogStatus | SkipJsonSchema[None] = None
    category_id: uuid.UUID | None = None
    price_change_percent: PriceChange | SkipJsonSchema[None] = None
    shop_id: uuid.UUID | None = Field(default=None, description="Price changes on this shop only")


MarketplaceSku = Annotated[
    str,
    StringConstraints(min_length=1, max_length=100, pattern=r"^[^\x00]*$"),
    Field(description="The SKU string the marketplace puts on its order lines"),
]


class UnmatchedLine(BaseModel):
    """Order lines of one shop under one marketplace SKU string that match no catalog SKU."""

    shop_id: uuid.UUID
    marketplace_sku: str
    lines: int
    orders: int
    example_title: str
    last_ordered_at: datetime


class MappingCreate(_Input):
    shop_id: uuid.UUID
    marketplace_sku: MarketplaceSku
    sku_id: uuid.UUID


class MappingRead(BaseModel):
    """A mapping and how many order lines it now matches (those there already)."""

    id: uuid.UUID
    shop_id: uuid.UUID
    marketplace_sku: str
    sku_id: uuid.UUID
    sku_code: str
    lines: int
    created_at: datetime
    updated_at: datetime
