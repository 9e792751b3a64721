"""Margin floors (价格底线): the tenant's default and its overrides per category and per SKU,
and the check other departments (prices, marketing) call before a price takes effect."""

from __future__ import annotations

import uuid
from decimal import Decimal
from typing import Any

from sqlalchemy.orm import Session

from daiyun.core.audit import service as audit
from daiyun.core.errors import Problem
from daiyun.platform.storefront import costs, repository, rules
from daiyun.platform.storefront.models import Category, MarginFloor, Sku
from daiyun.platform.storefront.schemas import (
    CategoryFloorRead,
    FloorIn,
    FloorRead,
    MarginFloorsIn,
    MarginFloorsRead,
    PriceCheck,
    SkuFloorRead,
)

TENANT = "tenant"


def _category_target(category_id: uuid.UUID) -> str:
    return f"category:{category_id.hex}"


def _sku_target(sku_id: uuid.UUID) -> str:
    return f"sku:{sku_id.hex}"


def _floor(row: MarginFloor) -> rules.Floor:
    return rules.Floor(row.mode, Decimal(row.minimum_margin))


def margin_floors(session: Session) -> MarginFloorsRead:
    """The tenant's default floor (the built-in one while it set none) and its overrides."""
    rows = repository.floors(session)
    tenant = next((r for r in rows if r.target == TENANT), None)
    default = _floor(tenant) if tenant else rules.DEFAULT_FLOOR
    return MarginFloorsRead(
        tenant=FloorRead(mode=default.mode, minimum_margin=default.minimum_margin),
        tenant_is_default=tenant is None,
        categories=[
            CategoryFloorRead(
                category_id=r.category_id, mode=r.mode, minimum_margin=Decimal(r.minimum_margin)
            )
            for r in rows
            if r.category_id is not None
        ],
        skus=[
            SkuFloorRead(sku_id=r.sku_id, mode=r.mode, minimum_margin=Decimal(r.minimum_margin))
            for r in rows
            if r.sku_id is not None
        ],
    )


def _row(target: str, given: FloorIn, **ids: uuid.UUID) -> MarginFloor:
    return MarginFloor(
        target=target,
        mode=given.mode,
        minimum_margin=str(rules.margin(given.minimum_margin)),
        **ids,
    )


def set_margin_floors(session: Session, body: MarginFloorsIn) -> MarginFloorsRead:
    """Replace the tenant's floors: its default and every override, as given. Overrides must
    name the tenant's categories and SKUs, each once (422 otherwise)."""
    category_ids = [f.category_id for f in body.categories]
    sku_ids = [f.sku_id for f in body.skus]
    for what, ids in (("category", category_ids), ("SKU", sku_ids)):
        if len(set(ids)) != len(ids):
            raise Problem(422, "duplicate-override", f"A {what} has two overrides")
    unknown = [
        *(
            str(i)
            for i in set(category_ids) - repository.existing_ids(session, Category, category_ids)
        ),
        *(str(i) for i in set(sku_ids) - repository.existing_ids(session, Sku, sku_ids)),
    ]
    if unknown:
        raise Problem(
            422, "unknown-target", f"No such categories or SKUs: {', '.join(sorted(unknown))}"
        )
    before = margin_floors(session)
    repository.delete_floors(session)
    session.flush()
    session.add(_row(TENANT, body.tenant))
    session.add_all(
        _row(_category_target(f.category_id), f, category_id=f.category_id) for f in body.categories
    )
    session.add_all(_row(_sku_target(f.sku_id), f, sku_id=f.sku_id) for f in body.skus)
    session.flush()
    after = margin_floors(session)
    if after != before:
        audit.record(
            session,
            "catalog.margin_floors.updated",
            "margin_floors",
            {"before": _summary(before), "after": _summary(after)},
        )
    return after


def _summary(floors: MarginFloorsRead) -> dict[str, Any]:
    # Overrides may number a thousand: the audit keeps the default and how many of each.
    return {
        "tenant": floors.tenant.model_dump(mode="json"),
        "categories": len(floors.categories),
        "skus": len(floors.skus),
    }


def floor_for(session: Session, sku_id: uuid.UUID) -> tuple[str, rules.Floor]:
    """The floor a SKU's prices meet and where it is set: the SKU's own override, else its
    product's category's or the nearest ancestor's, else the tenant's, else the default
    (404 without such a SKU)."""
    sku = repository.get_sku(session, sku_id)
    if sku is None:
        raise Problem(404, "not-found", "No such SKU")
    return _floor_for(session, sku)


def _floor_for(session: Session, sku: Sku) -> tuple[str, rules.Floor]:
    product = repository.get_product(session, sku.product_id)
    chain: list[uuid.UUID] = []
    if product is not None and product.category_id is not None:
        category = repository.get_category(session, product.category_id)
        chain = rules.ancestors(category.path) if category else []
    targets = [_sku_target(sku.id), *(_category_target(c) for c in chain), TENANT]
    found = repository.floors_for(session, targets)
    return rules.resolve_floor(
        (target, _floor(found[target]) if target in found else None) for target in targets
    )


def check_price(session: Session, sku_id: uuid.UUID, price_minor: int, currency: str) -> PriceCheck:
    """The margin floor's verdict on selling SKU ``sku_id`` at ``price_minor`` (in the SKU's
    cost currency; a bundle's cost derived from its parts). 404 without such a SKU; 422 for a
    price in another currency or out of range."""
    sku = repository.get_sku(session, sku_id)
    if sku is None:
        raise Problem(404, "not-found", "No such SKU")
    if currency != sku.currency:
        raise Problem(
            422,
            "currency-mismatch",
            f"SKU {sku.code} costs in {sku.currency}; a price in {currency} cannot be checked",
        )
    if not 0 <= price_minor <= rules.MAX_AMOUNT_MINOR:
        raise Problem(
            422, "amount-out-of-range", f"A price lies between 0 and {rules.MAX_AMOUNT_MINOR:,}"
        )
    cost = costs.load(session, {sku.id}).cost(sku.id)
    source, floor = _floor_for(session, sku)
    verdict = rules.check_price(price_minor, cost, floor)
    return PriceCheck(
        sku_id=sku.id,
        code=sku.code,
        currency=sku.currency,
        price_minor=price_minor,
        cost_minor=cost,
        floor_minor=verdict.floor_minor,
        mode=floor.mode,
        minimum_margin=floor.minimum_margin,
        source=source,
        allowed=verdict.allowed,
        flagged=verdict.flagged,
    )


def enforce_price(
    session: Session, sku_id: uuid.UUID, price_minor: int, currency: str
) -> PriceCheck:
    """As :func:`check_price`, but a blocked price is refused: 422 ``below-margin-floor``
    naming the SKU, the floor and the price. A flagged (warn) price is returned for the caller
    to record the flag."""
    check = check_price(session, sku_id, price_minor, currency)
    if not check.allowed:
        raise Problem(
            422,
            "below-margin-floor",
            f"SKU {check.code}: a price of {price_minor:,} {currency} minor units is under its "
            f"floor of {check.floor_minor:,} (cost {check.cost_minor:,} × (1 + "
            f"{check.minimum_margin}), set by {check.source})",
            sku=check.code,
            floor_minor=check.floor_minor,
            price_minor=price_minor,
        )
    return check
