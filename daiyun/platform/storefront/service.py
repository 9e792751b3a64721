"""The catalog's service: categories, products and their SKUs, bundles; margin floors are in
``floors`` (and re-exported here), bundle costs in ``costs``.

Every function takes a session bound to a tenant, flushes, audits and emits; none commits.
"""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from daiyun.core.audit import service as audit
from daiyun.core.errors import Problem
from daiyun.core.events.service import emit
from daiyun.core.ids import new_id
from daiyun.core.pagination import paginate
from daiyun.platform.storefront import costs, repository, rules
from daiyun.platform.storefront.floors import (
    check_price,
    enforce_price,
    floor_for,
    margin_floors,
    set_margin_floors,
)
from daiyun.platform.storefront.models import Category, Product, Sku
from daiyun.platform.storefront.schemas import (
    BundleCreate,
    CatalogStatus,
    CategoryCreate,
    CategoryRead,
    CategoryTree,
    CategoryUpdate,
    ProductCreate,
    ProductRead,
    ProductUpdate,
    SkuCreate,
    SkuRead,
    SkuUpdate,
)

__all__ = [
    "check_price",
    "enforce_price",
    "floor_for",
    "margin_floors",
    "set_margin_floors",
]

# Variants one product may carry: a product with more is a catalog, not a product.
MAX_VARIANTS = 500


def _not_found(what: str) -> Problem:
    return Problem(404, "not-found", f"No such {what}")


# --------------------------------------------------------------------------------------------
# Categories
# --------------------------------------------------------------------------------------------


def category_tree(session: Session) -> CategoryTree:
    """The tenant's categories, each after its parent and siblings by name."""
    nodes = repository.categories(session)
    by_id = {c.id: c for c in nodes}
    children: dict[uuid.UUID | None, list[Category]] = {}
    for node in nodes:
        children.setdefault(node.parent_id, []).append(node)
    items: list[CategoryRead] = []

    def walk(parent: uuid.UUID | None) -> None:
        for node in sorted(children.get(parent, []), key=lambda c: (c.name.lower(), c.id)):
            items.append(_category_read(node, by_id))
            walk(node.id)

    walk(None)
    return CategoryTree(items=items)


def _category_read(node: Category, by_id: dict[uuid.UUID, Category]) -> CategoryRead:
    ids = list(reversed(rules.ancestors(node.path)))
    names = [by_id[i].name if i in by_id else "?" for i in ids]
    return CategoryRead(
        id=node.id, parent_id=node.parent_id, name=node.name, path=names, depth=len(ids)
    )


def _category_reads(session: Session, node: Category) -> CategoryRead:
    ids = rules.ancestors(node.path)
    by_id = {c.id: c for c in (repository.get_category(session, i) for i in ids) if c}
    return _category_read(node, by_id)


def _parent(session: Session, parent_id: uuid.UUID | None) -> Category | None:
    if parent_id is None:
        return None
    parent = repository.get_category(session, parent_id, lock=True)
    if parent is None:
        raise Problem(422, "unknown-category", f"There is no category {parent_id}")
    return parent


def _unique_name(
    session: Session, parent_id: uuid.UUID | None, name: str, besides: uuid.UUID | None = None
) -> None:
    if repository.sibling_named(session, parent_id, name, besides=besides) is not None:
        raise Problem(409, "category-exists", f"A category named {name!r} is already there")


def create_category(session: Session, body: CategoryCreate) -> CategoryRead:
    """Add a category under ``parent_id`` (or as a root)."""
    if repository.count_categories(session) >= rules.MAX_CATEGORIES:
        raise Problem(
            422, "too-many-categories", f"A tenant keeps at most {rules.MAX_CATEGORIES} categories"
        )
    parent = _parent(session, body.parent_id)
    if parent is not None and rules.depth(parent.path) >= rules.MAX_CATEGORY_DEPTH:
        raise Problem(
            422, "category-too-deep", f"Categories nest at most {rules.MAX_CATEGORY_DEPTH} deep"
        )
    _unique_name(session, body.parent_id, body.name)
    node = Category(id=new_id(), parent_id=body.parent_id, name=body.name)
    node.path = rules.path_of(parent.path if parent else None, node.id)
    session.add(node)
    session.flush()
    audit.record(session, "catalog.category.created", f"category:{node.id}", {"name": node.name})
    return _category_reads(session, node)


def update_category(session: Session, category_id: uuid.UUID, body: CategoryUpdate) -> CategoryRead:
    """Rename a category, or move it (with its subtree) under another parent or to the root.
    A move under itself or one of its descendants is refused (422 ``category-cycle``)."""
    node = repository.get_category(session, category_id, lock=True)
    if node is None:
        raise _not_found("category")
    changes: dict[str, Any] = {}
    parent_id = body.parent_id if "parent_id" in body.model_fields_set else node.parent_id
    name = body.name if body.name is not None else node.name
    if parent_id != node.parent_id:
        parent = _parent(session, parent_id)
        if parent is not None and rules.moves_under_itself(node.path, parent.path):
            raise Problem(
                422,
                "category-cycle",
                f"Category {node.name!r} cannot move under itself or one of its descendants",
            )
        below = repository.subtree(session, node.path, lock=True)
        height = max((rules.depth(c.path) for c in below), default=rules.depth(node.path))
        new_path = rules.path_of(parent.path if parent else None, node.id)
        if height - rules.depth(node.path) + rules.depth(new_path) > rules.MAX_CATEGORY_DEPTH:
            raise Problem(
                422, "category-too-deep", f"Categories nest at most {rules.MAX_CATEGORY_DEPTH} deep"
            )
        _unique_name(session, parent_id, name, besides=node.id)
        old_path = node.path
        for child in below:
            child.path = new_path + child.path[len(old_path) :]
        node.parent_id, node.path = parent_id, new_path
        changes["parent_id"] = str(parent_id) if parent_id else None
    if name != node.name:
        _unique_name(session, parent_id, name, besides=node.id)
        changes["name"] = {"before": node.name, "after": name}
        node.name = name
    if changes:
        session.flush()
        audit.record(session, "catalog.category.updated", f"category:{node.id}", changes)
    return _category_reads(session, node)


# --------------------------------------------------------------------------------------------
# Products
# --------------------------------------------------------------------------------------------


def _known_category(session: Session, category_id: uuid.UUID | None) -> None:
    if category_id is not None and repository.get_category(session, category_id) is None:
        raise Problem(422, "unknown-category", f"There is no category {category_id}")


def _flush_codes(session: Session) -> None:
    """Flush in a savepoint: a SKU code another request took meanwhile answers 409, not 500."""
    try:
        with session.begin_nested():
            session.flush()
    except IntegrityError as exc:
        raise Problem(409, "sku-code-taken", "A SKU with this code exists in the tenant") from exc


def _refuse_taken_codes(session: Session, codes: list[str]) -> None:
    repeated = sorted({c for c in codes if codes.count(c) > 1})
    if repeated:
        raise Problem(422, "duplicate-sku-code", f"SKU codes given twice: {', '.join(repeated)}")
    taken = [c for c in codes if repository.sku_with_code(session, c) is not None]
    if taken:
        raise Problem(409, "sku-code-taken", f"SKU codes already in the tenant: {', '.join(taken)}")


def _new_sku(product_id: uuid.UUID, body: SkuCreate | BundleCreate) -> Sku:
    """A variant, or a bundle: a bundle stores no cost (it is derived from its parts)."""
    cost = body.cost_minor if isinstance(body, SkuCreate) else None
    return Sku(
        product_id=product_id,
        code=body.code,
        barcode=body.barcode,
        attributes=dict(body.attributes),
        weight_grams=body.weight_grams,
        length_mm=body.length_mm,
        width_mm=body.width_mm,
        height_mm=body.height_mm,
        is_bundle=isinstance(body, BundleCreate),
        cost_minor=cost,
        currency=body.currency,
        status=body.status,
    )


def _product_payload(product: Product) -> dict[str, Any]:
    return {"product_id": str(product.id), "status": product.status.value}


def _sku_payload(sku: Sku) -> dict[str, Any]:
    return {
        "sku_id": str(sku.id),
        "product_id": str(sku.product_id),
        "code": sku.code,
        "status": sku.status.value,
    }


def create_product(session: Session, body: ProductCreate) -> ProductRead:
    """Add a product with its variants (SKUs), all or nothing."""
    _known_category(session, body.category_id)
    _refuse_taken_codes(session, [v.code for v in body.variants])
    product = Product(
        name=body.name,
        description=body.description,
        category_id=body.category_id,
        brand=body.brand,
        status=body.status,
    )
    session.add(product)
    session.flush()
    for variant in body.variants:
        session.add(_new_sku(product.id, variant))
    _flush_codes(session)
    session.refresh(product)
    audit.record(session, "catalog.product.created", f"product:{product.id}", {"name": body.name})
    emit(session, "catalog.product.created", _product_payload(product))
    for sku in product.skus:
        emit(session, "catalog.sku.created", _sku_payload(sku))
    return product_read(session, product)


def _product(session: Session, product_id: uuid.UUID, *, lock: bool = False) -> Product:
    product = repository.get_product(session, product_id, lock=lock)
    if product is None:
        raise _not_found("product")
    return product


def get_product(session: Session, product_id: uuid.UUID) -> ProductRead:
    """One of the bound tenant's products with its variants (404 when it has none such)."""
    return product_read(session, _product(session, product_id))


def find_products(
    session: Session,
    *,
    status: CatalogStatus | None = None,
    category_id: uuid.UUID | None = None,
    text: str | None = None,
    cursor: str | None = None,
    limit: int = 50,
) -> tuple[list[ProductRead], str | None]:
    """A page of products, oldest first; ``category_id`` takes its subtree too, ``text``
    matches the name or brand."""
    path = None
    if category_id is not None:
        category = repository.get_category(session, category_id)
        if category is None:
            return [], None
        path = category.path
    stmt = repository.products(repository.ProductFilter(status, path, text))
    rows, next_cursor = paginate(session, stmt, Product.id, cursor, limit)
    return product_reads(session, rows), next_cursor


def update_product(session: Session, product_id: uuid.UUID, body: ProductUpdate) -> ProductRead:
    """Change a product's name, description, category, brand or status."""
    product = _product(session, product_id, lock=True)
    changes: dict[str, Any] = {}
    for field in sorted(body.model_fields_set):
        value = getattr(body, field)
        if field == "category_id":
            _known_category(session, value)
        before = getattr(product, field)
        if before != value:
            setattr(product, field, value)
            changes[field] = {"before": _plain(before), "after": _plain(value)}
    if changes:
        session.flush()
        audit.record(session, "catalog.product.updated", f"product:{product.id}", changes)
        emit(session, "catalog.product.updated", _product_payload(product))
    return product_read(session, product)


def archive_product(session: Session, product_id: uuid.UUID) -> ProductRead:
    """Retire a product (it stays, for its orders' history); its SKUs keep their own status."""
    return update_product(session, product_id, ProductUpdate(status=CatalogStatus.archived))


def _plain(value: Any) -> Any:
    return str(value) if isinstance(value, uuid.UUID) else getattr(value, "value", value)


# --------------------------------------------------------------------------------------------
# SKUs
# --------------------------------------------------------------------------------------------


def add_variant(session: Session, product_id: uuid.UUID, body: SkuCreate) -> SkuRead:
    """Add a SKU to a product."""
    product = _product(session, product_id, lock=True)
    if repository.count_skus(session, product.id) >= MAX_VARIANTS:
        raise Problem(422, "too-many-variants", f"A product has at most {MAX_VARIANTS} SKUs")
    _refuse_taken_codes(session, [body.code])
    sku = _new_sku(product.id, body)
    session.add(sku)
    _flush_codes(session)
    session.expire(product, ["skus"])  # the loaded list predates the new SKU
    audit.record(session, "catalog.sku.created", f"sku:{sku.id}", {"code": sku.code})
    emit(session, "catalog.sku.created", _sku_payload(sku))
    return sku_read(session, sku)


def _sku(session: Session, sku_id: uuid.UUID, *, lock: bool = False) -> Sku:
    sku = repository.get_sku(session, sku_id, lock=lock)
    if sku is None:
        raise _not_found("SKU")
    return sku


def get_sku(session: Session, sku_id: uuid.UUID) -> SkuRead:
    """One SKU; a bundle with its parts and derived cost."""
    return sku_read(session, _sku(session, sku_id))


def get_bundle(session: Session, sku_id: uuid.UUID) -> SkuRead:
    """One bundle (404 for a SKU that is not one)."""
    sku = _sku(session, sku_id)
    if not sku.is_bundle:
        raise _not_found("bundle")
    return sku_read(session, sku)


def find_skus(
    session: Session,
    *,
    product_id: uuid.UUID | None = None,
    code: str | None = None,
    barcode: str | None = None,
    text: str | None = None,
    cursor: str | None = None,
    limit: int = 50,
) -> tuple[list[SkuRead], str | None]:
    """A page of SKUs, oldest first: of a product, with a code or barcode, or whose code
    contains ``text``."""
    stmt = repository.skus(product_id, code, barcode, text)
    rows, next_cursor = paginate(session, stmt, Sku.id, cursor, limit)
    return sku_reads(session, rows), next_cursor


def update_sku(session: Session, sku_id: uuid.UUID, body: SkuUpdate) -> SkuRead:
    """Change a SKU. A bundle takes new parts but never a cost (it is derived); a plain SKU
    takes a cost but no parts. A change that would give a bundle containing it a part in
    another currency, a cycle or a cost out of range is refused (422) naming them."""
    sku = _sku(session, sku_id, lock=True)
    fields = body.model_fields_set
    if sku.is_bundle and "cost_minor" in fields:
        raise Problem(
            422, "derived-cost", f"Bundle {sku.code}'s cost derives from its parts; set theirs"
        )
    if not sku.is_bundle and "parts" in fields:
        raise Problem(422, "not-a-bundle", f"SKU {sku.code} is not a bundle: it has no parts")
    if "code" in fields and body.code != sku.code:
        _refuse_taken_codes(session, [str(body.code)])
    parts = None
    if body.parts is not None:
        parts = _parts(session, body.parts, sku.id)
    costs.check_change(session, sku, body, parts)
    changes: dict[str, Any] = {}
    for field in sorted(fields - {"parts"}):
        value = getattr(body, field)
        before = getattr(sku, field)
        if before != value:
            setattr(sku, field, dict(value) if field == "attributes" else value)
            changes[field] = {"before": _plain(before), "after": _plain(value)}
    if parts is not None and parts != repository.parts_of(session, [sku.id])[sku.id]:
        repository.replace_parts(session, sku.id, parts)
        changes["parts"] = [{"sku_id": str(p), "quantity": q} for p, q in parts]
    if changes:
        _flush_codes(session)
        audit.record(session, "catalog.sku.updated", f"sku:{sku.id}", changes)
        emit(session, "catalog.sku.updated", _sku_payload(sku))
    return sku_read(session, sku)


def _parts(
    session: Session, given: list[Any], bundle_id: uuid.UUID | None
) -> list[tuple[uuid.UUID, int]]:
    """Parts as (SKU id, quantity) sorted by id, each SKU once and in the tenant (422)."""
    ids = [p.sku_id for p in given]
    if len(set(ids)) != len(ids):
        raise Problem(422, "duplicate-part", "A SKU appears twice among the parts")
    if bundle_id in ids:
        raise Problem(422, "bundle-cycle", "A bundle cannot contain itself")
    found = repository.skus_by_id(session, ids)
    missing = [str(i) for i in ids if i not in found]
    if missing:
        raise Problem(422, "unknown-sku", f"No such SKUs: {', '.join(missing)}")
    return sorted((p.sku_id, p.quantity) for p in given)


def create_bundle(session: Session, body: BundleCreate) -> SkuRead:
    """Add a bundle SKU made of ``parts``, under ``product_id`` or a new product named
    ``name``. Its cost is derived; parts in another currency are refused (422) naming them."""
    if body.product_id is None and body.name is None:
        raise Problem(422, "bundle-needs-product", "Give a product_id or a name for its product")
    _refuse_taken_codes(session, [body.code])
    parts = _parts(session, body.parts, None)
    costs.check_new_bundle(session, body.code, body.currency, parts)
    if body.product_id is not None:
        product = _product(session, body.product_id, lock=True)
    else:
        _known_category(session, body.category_id)
        product = Product(
            name=body.name,
            description=body.description,
            category_id=body.category_id,
            brand=body.brand,
            status=body.status,
        )
        session.add(product)
        session.flush()
        audit.record(session, "catalog.product.created", f"product:{product.id}", {})
        emit(session, "catalog.product.created", _product_payload(product))
    sku = _new_sku(product.id, body)
    session.add(sku)
    _flush_codes(session)
    session.expire(product, ["skus"])
    repository.replace_parts(session, sku.id, parts)
    session.flush()
    audit.record(
        session,
        "catalog.bundle.created",
        f"sku:{sku.id}",
        {"code": sku.code, "parts": [{"sku_id": str(p), "quantity": q} for p, q in parts]},
    )
    emit(session, "catalog.sku.created", _sku_payload(sku))
    return sku_read(session, sku)


# --------------------------------------------------------------------------------------------
# Reads
# --------------------------------------------------------------------------------------------


def sku_reads(session: Session, skus: list[Sku]) -> list[SkuRead]:
    """SKUs as the API shows them, bundles with their parts and derived cost (one graph load
    for all of them)."""
    graph = costs.load(session, {s.id for s in skus})
    answer = []
    for sku in skus:
        parts = [
            costs.part_read(graph, part, quantity) for part, quantity in graph.nodes[sku.id].parts
        ]
        answer.append(
            SkuRead(
                id=sku.id,
                product_id=sku.product_id,
                code=sku.code,
                barcode=sku.barcode,
                attributes=sku.attributes,
                weight_grams=sku.weight_grams,
                length_mm=sku.length_mm,
                width_mm=sku.width_mm,
                height_mm=sku.height_mm,
                is_bundle=sku.is_bundle,
                cost_minor=graph.cost(sku.id),
                currency=sku.currency,
                status=sku.status,
                parts=parts,
                created_at=sku.created_at,
                updated_at=sku.updated_at,
            )
        )
    return answer


def sku_read(session: Session, sku: Sku) -> SkuRead:
    return sku_reads(session, [sku])[0]


def product_reads(session: Session, products: list[Product]) -> list[ProductRead]:
    variants = iter(sku_reads(session, [s for p in products for s in p.skus]))
    return [
        ProductRead(
            id=p.id,
            name=p.name,
            description=p.description,
            category_id=p.category_id,
            brand=p.brand,
            status=p.status,
            variants=[next(variants) for _ in p.skus],
            created_at=p.created_at,
            updated_at=p.updated_at,
        )
        for p in products
    ]


def product_read(session: Session, product: Product) -> ProductRead:
    return product_reads(session, [product])[0]
