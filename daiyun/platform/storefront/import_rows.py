"""Import rows (商品导入): each CSV row read and checked as the catalog takes it.

A row is checked alone (the API's bounds), against the rows of the file before it (a SKU code
once), and against the tenant's catalog, a batch at a time (one query for the batch's existing
codes): a code that names a bundle or a SKU of another product, a category or shop that is not
the tenant's, a price under a blocking margin floor (the SKU's own floor, its category's or an
ancestor's, the tenant's: as ``floors`` resolves it, from tables read once per pass).
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass, field
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError
from sqlalchemy import select
from sqlalchemy.orm import Session

from daiyun.connectors import service as shop_service
from daiyun.core.csv_export import restore
from daiyun.platform.storefront import listing_rules, repository, rules
from daiyun.platform.storefront.models import Product, Sku
from daiyun.platform.storefront.schemas import (
    Attributes,
    Barcode,
    CatalogStatus,
    Code,
    Currency,
    Description,
    Name,
    ShortName,
)

IN_CHUNK = 500
# A product's rows (its SKUs) at most, as a product made in the API.
MAX_PRODUCT_ROWS = 500

COLUMNS = (
    "product",
    "brand",
    "description",
    "category_id",
    "product_status",
    "code",
    "barcode",
    "attributes",
    "weight_grams",
    "length_mm",
    "width_mm",
    "height_mm",
    "cost_minor",
    "currency",
    "status",
    "shop_id",
    "list_price_minor",
    "sale_price_minor",
)
REQUIRED = ("product", "code", "cost_minor", "currency")
PRODUCT_FIELDS = ("brand", "description", "category_id", "product_status")
SKU_FIELDS = ("barcode", "attributes", "weight_grams", "length_mm", "width_mm", "height_mm")

Raw = tuple[int, dict[str, str]]

Grams = Annotated[int, Field(ge=0, le=1_000_000)]
Millimetres = Annotated[int, Field(ge=0, le=100_000)]
Amount = Annotated[int, Field(ge=0, le=rules.MAX_AMOUNT_MINOR)]
Price = Annotated[int, Field(ge=listing_rules.MIN_PRICE_MINOR, le=listing_rules.MAX_PRICE_MINOR)]


class ImportRow(BaseModel):
    """One row as the catalog takes it (the API's bounds; numbers read from their text)."""

    model_config = ConfigDict(extra="forbid")

    product: Name
    brand: ShortName | None = None
    description: Description | None = None
    category_id: uuid.UUID | None = None
    product_status: CatalogStatus | None = None
    code: Code
    barcode: Barcode | None = None
    attributes: Attributes = Field(default_factory=dict)
    weight_grams: Grams | None = None
    length_mm: Millimetres | None = None
    width_mm: Millimetres | None = None
    height_mm: Millimetres | None = None
    cost_minor: Amount
    currency: Currency
    status: CatalogStatus | None = None
    shop_id: uuid.UUID | None = None
    list_price_minor: Price | None = None
    sale_price_minor: Price | None = None


@dataclass
class Checked:
    """A valid row, parsed, with what its write needs."""

    number: int
    row: ImportRow
    given: frozenset[str]
    sku_id: uuid.UUID | None  # the existing SKU it updates
    product_id: uuid.UUID | None  # the existing product its group belongs to
    floor_flag: str | None = None


@dataclass
class Context:
    """What every batch's checks read, loaded once per pass (all bounded by the catalog's
    limits: categories, floors, shops), and the codes the file has named so far."""

    categories: dict[uuid.UUID, str]
    floors: dict[str, rules.Floor]
    shops: set[uuid.UUID]
    seen_codes: dict[str, int] = field(default_factory=dict)

    @classmethod
    def load(cls, session: Session) -> Context:
        return cls(
            categories={c.id: c.path for c in repository.categories(session)},
            floors={
                f.target: rules.Floor(f.mode, rules.margin(f.minimum_margin))
                for f in repository.floors(session)
            },
            shops={s.id for s in shop_service.shops(session)},
        )

    def floor(
        self, sku_id: uuid.UUID | None, category_id: uuid.UUID | None
    ) -> tuple[str, rules.Floor]:
        chain = rules.ancestors(self.categories[category_id]) if category_id else []
        targets = [
            *([f"sku:{sku_id.hex}"] if sku_id else []),
            *(f"category:{c.hex}" for c in chain),
            "tenant",
        ]
        return rules.resolve_floor((t, self.floors.get(t)) for t in targets)


@dataclass(frozen=True)
class Existing:
    sku_id: uuid.UUID
    product_id: uuid.UUID
    is_bundle: bool
    currency: str
    category_id: uuid.UUID | None


def _existing(session: Session, codes: list[str]) -> dict[str, Existing]:
    found: dict[str, Existing] = {}
    for start_at in range(0, len(codes), IN_CHUNK):
        stmt = (
            select(
                Sku.code, Sku.id, Sku.product_id, Sku.is_bundle, Sku.currency, Product.category_id
            )
            .join(Product, Product.id == Sku.product_id)
            .where(Sku.code.in_(codes[start_at : start_at + IN_CHUNK]))
        )
        for code, sku_id, product_id, is_bundle, currency, category_id in session.execute(stmt):
            found[code] = Existing(sku_id, product_id, is_bundle, currency, category_id)
    return found


def _parse(number: int, raw: dict[str, str]) -> tuple[ImportRow | None, list[tuple[int, str, str]]]:
    if "" in raw:
        return None, [(number, "", "more cells than the header has columns")]
    values: dict[str, Any] = {}
    problems: list[tuple[int, str, str]] = []
    for column, cell in raw.items():
        text = restore(cell.strip())
        if text == "":
            continue
        if column == "attributes":
            try:
                values[column] = json.loads(text)
            except ValueError:
                problems.append((number, column, 'not a JSON object such as {"size": "M"}'))
            continue
        values[column] = text
    if problems:
        return None, problems
    try:
        return ImportRow.model_validate(values), []
    except ValidationError as exc:
        for error in exc.errors():
            column = str(error["loc"][0]) if error["loc"] else ""
            problems.append((number, column, error["msg"]))
        return None, problems


def check_batch(
    session: Session, ctx: Context, batch: list[list[Raw]]
) -> tuple[list[list[Checked]], list[tuple[int, str, str]]]:
    """Check a batch of product groups: each row alone, then against the file so far and the
    tenant's catalog (one query for the batch's existing codes). Returns the valid rows, still
    grouped by product, and every problem found."""
    problems: list[tuple[int, str, str]] = []
    parsed: list[list[tuple[int, ImportRow, frozenset[str]]]] = []
    for raw_group in batch:
        rows: list[tuple[int, ImportRow, frozenset[str]]] = []
        for number, raw in raw_group:
            parsed_row, found = _parse(number, raw)
            problems.extend(found)
            if parsed_row is not None:
                rows.append((number, parsed_row, frozenset(raw)))
        if len(raw_group) > MAX_PRODUCT_ROWS:
            problems.append(
                (raw_group[0][0], "product", f"a product has at most {MAX_PRODUCT_ROWS} SKUs")
            )
            rows = []
        parsed.append(rows)
    existing = _existing(session, sorted({r.code for g in parsed for _, r, _ in g}))
    valid: list[list[Checked]] = []
    for group in parsed:
        checked: list[Checked] = []
        owners = {existing[r.code].product_id for _, r, _ in group if r.code in existing}
        product_id = next(iter(owners)) if len(owners) == 1 else None
        for number, row, given in group:
            verdict = _check_row(ctx, number, row, given, existing.get(row.code), len(owners) > 1)
            if isinstance(verdict, list):
                problems.extend(verdict)
            else:
                verdict.product_id = product_id
                checked.append(verdict)
        valid.append(checked)
    return valid, problems


def _check_row(
    ctx: Context,
    number: int,
    row: ImportRow,
    given: frozenset[str],
    existing: Existing | None,
    split: bool,
) -> Checked | list[tuple[int, str, str]]:
    problems: list[tuple[int, str, str]] = []

    def problem(column: str, text: str) -> None:
        problems.append((number, column, text))

    if row.code in ctx.seen_codes:
        problem("code", f"SKU code {row.code} is already on row {ctx.seen_codes[row.code]}")
    else:
        ctx.seen_codes[row.code] = number
    if row.category_id is not None and row.category_id not in ctx.categories:
        problem("category_id", f"there is no category {row.category_id}")
    if existing is not None:
        if existing.is_bundle:
            problem("code", f"{row.code} is a bundle: bundles are changed in the API")
        if existing.currency != row.currency:
            problem("currency", f"{row.code} costs in {existing.currency}; change it in the API")
        if split:
            problem("code", f"{row.code} belongs to another product than this product's rows")
    priced = row.list_price_minor is not None or row.sale_price_minor is not None
    if row.shop_id is not None and row.shop_id not in ctx.shops:
        problem("shop_id", f"there is no shop {row.shop_id}")
    if priced and row.shop_id is None:
        problem("shop_id", "a price needs the shop it is for")
    if row.shop_id is not None and row.list_price_minor is None:
        problem("list_price_minor", "a listing on a shop needs its list price")
    flag = None
    if not problems and priced and row.list_price_minor is not None:
        category = row.category_id if "category_id" in given else None
        if "category_id" not in given and existing is not None:
            category = existing.category_id
        source, floor = ctx.floor(existing.sku_id if existing else None, category)
        price = listing_rules.effective_price(row.list_price_minor, row.sale_price_minor)
        verdict = rules.check_price(price, row.cost_minor, floor)
        column = "sale_price_minor" if row.sale_price_minor is not None else "list_price_minor"
        text = (
            f"a price of {price:,} is under the margin floor of {verdict.floor_minor:,} "
            f"(cost {row.cost_minor:,} × (1 + {floor.minimum_margin}), set by {source})"
        )
        if not verdict.allowed:
            problem(column, text)
        elif verdict.flagged:
            flag = text
    if problems:
        return problems
    return Checked(number, row, given, existing.sku_id if existing else None, None, flag)
