"""Every query of the catalog."""

from __future__ import annotations

import uuid
from collections.abc import Collection
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Select, delete, func, or_, select
from sqlalchemy.orm import Session

from daiyun.platform.storefront.models import BundlePart, Category, MarginFloor, Product, Sku
from daiyun.platform.storefront.schemas import CatalogStatus


def get_product(session: Session, product_id: uuid.UUID, *, lock: bool = False) -> Product | None:
    stmt = select(Product).where(Product.id == product_id)
    if lock:
        stmt = stmt.with_for_update()
    return session.scalar(stmt)


@dataclass(frozen=True)
class ProductFilter:
    status: CatalogStatus | None = None
    category_path: str | None = None  # this category and its subtree
    text: str | None = None


def products(f: ProductFilter) -> Select[Any]:
    """Products matching a filter; text matches the name or the brand, case-insensitively."""
    stmt = select(Product)
    if f.status is not None:
        stmt = stmt.where(Product.status == f.status)
    if f.category_path is not None:
        subtree = select(Category.id).where(
            or_(
                Category.path == f.category_path,
                Category.path.startswith(f.category_path + "/", autoescape=True),
            )
        )
        stmt = stmt.where(Product.category_id.in_(subtree))
    if f.text:
        needle = f.text.strip().lower()
        stmt = stmt.where(
            or_(
                func.lower(Product.name).contains(needle, autoescape=True),
                func.lower(Product.brand).contains(needle, autoescape=True),
            )
        )
    return stmt


def get_sku(session: Session, sku_id: uuid.UUID, *, lock: bool = False) -> Sku | None:
    stmt = select(Sku).where(Sku.id == sku_id)
    if lock:
        stmt = stmt.with_for_update()
    return session.scalar(stmt)


def skus_by_id(session: Session, ids: Collection[uuid.UUID]) -> dict[uuid.UUID, Sku]:
    if not ids:
        return {}
    return {s.id: s for s in session.scalars(select(Sku).where(Sku.id.in_(list(ids))))}


def sku_with_code(session: Session, code: str) -> Sku | None:
    return session.scalar(select(Sku).where(Sku.code == code))


def skus(
    product_id: uuid.UUID | None = None,
    code: str | None = None,
    barcode: str | None = None,
    text: str | None = None,
) -> Select[Any]:
    """SKUs of a product, or with a code or barcode (exact), or whose code contains ``text``."""
    stmt = select(Sku)
    if product_id is not None:
        stmt = stmt.where(Sku.product_id == product_id)
    if code is not None:
        stmt = stmt.where(Sku.code == code)
    if barcode is not None:
        stmt = stmt.where(Sku.barcode == barcode)
    if text:
        needle = text.strip().lower()
        stmt = stmt.where(func.lower(Sku.code).contains(needle, autoescape=True))
    return stmt


def count_skus(session: Session, product_id: uuid.UUID) -> int:
    stmt = select(func.count()).select_from(Sku).where(Sku.product_id == product_id)
    return int(session.scalar(stmt) or 0)


# --------------------------------------------------------------------------------------------
# Bundles
# --------------------------------------------------------------------------------------------


def parts_of(
    session: Session, bundle_ids: Collection[uuid.UUID]
) -> dict[uuid.UUID, list[tuple[uuid.UUID, int]]]:
    """Each bundle's (part id, quantity), by part id."""
    found: dict[uuid.UUID, list[tuple[uuid.UUID, int]]] = {b: [] for b in bundle_ids}
    if not bundle_ids:
        return found
    stmt = (
        select(BundlePart.bundle_id, BundlePart.part_id, BundlePart.quantity)
        .where(BundlePart.bundle_id.in_(list(bundle_ids)))
        .order_by(BundlePart.bundle_id, BundlePart.part_id)
    )
    for bundle_id, part_id, quantity in session.execute(stmt):
        found[bundle_id].append((part_id, quantity))
    return found


def bundles_containing(session: Session, part_ids: Collection[uuid.UUID]) -> set[uuid.UUID]:
    """The bundles that hold any of ``part_ids`` directly."""
    if not part_ids:
        return set()
    stmt = select(BundlePart.bundle_id).where(BundlePart.part_id.in_(list(part_ids)))
    return set(session.scalars(stmt))


def replace_parts(
    session: Session, bundle_id: uuid.UUID, parts: list[tuple[uuid.UUID, int]]
) -> None:
    session.execute(delete(BundlePart).where(BundlePart.bundle_id == bundle_id))
    session.add_all(BundlePart(bundle_id=bundle_id, part_id=p, quantity=q) for p, q in parts)


# --------------------------------------------------------------------------------------------
# Categories
# --------------------------------------------------------------------------------------------


def categories(session: Session) -> list[Category]:
    """The bound tenant's whole tree (bounded by ``rules.MAX_CATEGORIES``)."""
    return list(session.scalars(select(Category).order_by(Category.path)))


def count_categories(session: Session) -> int:
    return int(session.scalar(select(func.count()).select_from(Category)) or 0)


def get_category(
    session: Session, category_id: uuid.UUID, *, lock: bool = False
) -> Category | None:
    stmt = select(Category).where(Category.id == category_id)
    if lock:
        stmt = stmt.with_for_update()
    return session.scalar(stmt)


def sibling_named(
    session: Session, parent_id: uuid.UUID | None, name: str, *, besides: uuid.UUID | None = None
) -> Category | None:
    """A category under ``parent_id`` (None: a root) with this name, whatever its case."""
    parent = Category.parent_id.is_(None) if parent_id is None else Category.parent_id == parent_id
    stmt = select(Category).where(parent, func.lower(Category.name) == name.lower())
    if besides is not None:
        stmt = stmt.where(Category.id != besides)
    return session.scalar(stmt.limit(1))


def subtree(session: Session, path: str, *, lock: bool = False) -> list[Category]:
    """The categories under ``path`` (the node itself excluded), shallowest first."""
    stmt = (
        select(Category)
        .where(Category.path.startswith(path + "/", autoescape=True))
        .order_by(Category.path)
    )
    if lock:
        stmt = stmt.with_for_update()
    return list(session.scalars(stmt))


# --------------------------------------------------------------------------------------------
# Margin floors
# --------------------------------------------------------------------------------------------


def floors(session: Session) -> list[MarginFloor]:
    return list(session.scalars(select(MarginFloor).order_by(MarginFloor.target)))


def floors_for(session: Session, targets: Collection[str]) -> dict[str, MarginFloor]:
    stmt = select(MarginFloor).where(MarginFloor.target.in_(list(targets)))
    return {f.target: f for f in session.scalars(stmt)}


def delete_floors(session: Session) -> None:
    session.execute(delete(MarginFloor))


def existing_ids(
    session: Session, model: type[Category] | type[Sku], ids: Collection[uuid.UUID]
) -> set[uuid.UUID]:
    """Which of ``ids`` name rows of ``model`` in the bound tenant."""
    if not ids:
        return set()
    return set(session.scalars(select(model.id).where(model.id.in_(list(ids)))))
