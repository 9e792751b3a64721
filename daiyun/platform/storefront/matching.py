"""Order lines matched to catalog SKUs (订单商品匹配).

An order line names a shop (through its order) and the marketplace's SKU string. It is the
catalog's SKU, in this order of authority:

1. a mapping (``SkuMapping``): a person said so for that shop and string;
2. a listing on that shop whose marketplace SKU id is the string (``Listing.external_sku_id``);
3. the SKU whose merchant code is the string.

The link is not stored on the line: it is read, in one statement, by joining the order book's
lines (a selectable the order book's service hands out) with the catalog's own tables. So a
mapping applies at once to every line already there and to every line still to come, a new
listing or a renamed code moves the lines it explains, and the order book knows nothing of the
catalog (the departments' order, pyproject.toml). Nothing here queries line by line.
"""

from __future__ import annotations

import base64
import json
import uuid
from typing import Any

from sqlalchemy import ColumnElement, Subquery, and_, case, exists, func, or_, select
from sqlalchemy.orm import Session

from daiyun.connectors import service as shop_service
from daiyun.core.audit import service as audit
from daiyun.core.errors import Problem
from daiyun.core.events.service import emit
from daiyun.core.tenancy import TenantContextMissing, current_tenant
from daiyun.platform.orders import service as order_service
from daiyun.platform.storefront import repository
from daiyun.platform.storefront.models import Listing, Sku, SkuMapping
from daiyun.platform.storefront.schemas import MappingCreate, MappingRead, UnmatchedLine


def _tenant(session: Session) -> uuid.UUID:
    tenant = current_tenant(session)
    if tenant is None:
        raise TenantContextMissing("no tenant bound to this session")
    return tenant


def _mapped(lines: Subquery, tenant: uuid.UUID) -> Any:
    return (
        select(SkuMapping.sku_id)
        .where(
            SkuMapping.tenant_id == tenant,
            SkuMapping.shop_id == lines.c.shop_id,
            SkuMapping.marketplace_sku == lines.c.marketplace_sku,
        )
        .correlate(lines)
    )


def _listed(lines: Subquery, tenant: uuid.UUID) -> Any:
    # The marketplace may hand one SKU id to two listings of a shop (a relisted item): the
    # oldest listing answers, so the match never depends on the plan's row order.
    return (
        select(Listing.sku_id)
        .where(
            Listing.tenant_id == tenant,
            Listing.shop_id == lines.c.shop_id,
            Listing.external_sku_id == lines.c.marketplace_sku,
        )
        .order_by(Listing.id)
        .limit(1)
        .correlate(lines)
    )


def _coded(lines: Subquery, tenant: uuid.UUID) -> Any:
    return (
        select(Sku.id)
        .where(Sku.tenant_id == tenant, Sku.code == lines.c.marketplace_sku)
        .correlate(lines)
    )


def resolved_lines(session: Session) -> Subquery:
    """Every order line of the bound tenant with the SKU it matches: ``line_id``,
    ``order_id``, ``shop_id``, ``placed_at``, ``marketplace_sku``, ``title``, ``sku_id`` (NULL
    when unmatched) and ``matched_by`` (``mapping``, ``listing``, ``code`` or NULL). Other
    departments join it to read orders by SKU."""
    tenant = _tenant(session)
    lines = order_service.order_line_keys(session)
    mapped = _mapped(lines, tenant).scalar_subquery()
    listed = _listed(lines, tenant).scalar_subquery()
    coded = _coded(lines, tenant).scalar_subquery()
    return select(
        *lines.c,
        func.coalesce(mapped, listed, coded).label("sku_id"),
        case(
            (mapped.is_not(None), "mapping"),
            (listed.is_not(None), "listing"),
            (coded.is_not(None), "code"),
            else_=None,
        ).label("matched_by"),
    ).subquery("resolved_lines")


def _unmatched_condition(lines: Subquery, tenant: uuid.UUID) -> ColumnElement[bool]:
    # A line without a SKU string cannot be told from another one: it is not listed for mapping.
    return and_(
        lines.c.marketplace_sku != "",
        ~exists(_mapped(lines, tenant)),
        ~exists(_listed(lines, tenant)),
        ~exists(_coded(lines, tenant)),
    )


def _encode(shop_id: uuid.UUID, marketplace_sku: str) -> str:
    raw = json.dumps([shop_id.hex, marketplace_sku], separators=(",", ":"))
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def _decode(cursor: str) -> tuple[uuid.UUID, str]:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        shop_hex, marketplace_sku = json.loads(raw)
        if not isinstance(marketplace_sku, str):
            raise ValueError("not a SKU string")
        return uuid.UUID(hex=shop_hex), marketplace_sku
    except (ValueError, TypeError, AttributeError) as exc:
        raise Problem(400, "invalid-cursor", "The cursor is not one this API issued") from exc


def unmatched_lines(
    session: Session,
    *,
    shop_id: uuid.UUID | None = None,
    cursor: str | None = None,
    limit: int = 50,
) -> tuple[list[UnmatchedLine], str | None]:
    """The bound tenant's order lines that match no SKU, one row per (shop, marketplace SKU
    string) with how many lines and orders, an example title and the last order's time; by
    shop and string. One grouped statement per page."""
    tenant = _tenant(session)
    lines = order_service.order_line_keys(session)
    stmt = (
        select(
            lines.c.shop_id,
            lines.c.marketplace_sku,
            func.count().label("lines"),
            func.count(func.distinct(lines.c.order_id)).label("orders"),
            func.min(lines.c.title).label("example_title"),
            func.max(lines.c.placed_at).label("last_ordered_at"),
        )
        .where(_unmatched_condition(lines, tenant))
        .group_by(lines.c.shop_id, lines.c.marketplace_sku)
        .order_by(lines.c.shop_id, lines.c.marketplace_sku)
        .limit(limit + 1)
    )
    if shop_id is not None:
        stmt = stmt.where(lines.c.shop_id == shop_id)
    if cursor:
        after_shop, after_sku = _decode(cursor)
        stmt = stmt.where(
            or_(
                lines.c.shop_id > after_shop,
                and_(lines.c.shop_id == after_shop, lines.c.marketplace_sku > after_sku),
            )
        )
    rows = [UnmatchedLine.model_validate(dict(r._mapping)) for r in session.execute(stmt)]
    if len(rows) > limit:
        last = rows[limit - 1]
        return rows[:limit], _encode(last.shop_id, last.marketplace_sku)
    return rows, None


def _lines_under(session: Session, shop_id: uuid.UUID, marketplace_sku: str) -> int:
    lines = order_service.order_line_keys(session)
    stmt = (
        select(func.count())
        .select_from(lines)
        .where(lines.c.shop_id == shop_id, lines.c.marketplace_sku == marketplace_sku)
    )
    return int(session.scalar(stmt) or 0)


def map_lines(session: Session, body: MappingCreate, user_id: uuid.UUID | None) -> MappingRead:
    """Say that a shop's marketplace SKU string is catalog SKU ``sku_id``: its lines, past and
    future, match that SKU from now on (a mapping for the same string is replaced). The shop
    and the SKU must be the tenant's (422)."""
    try:
        shop_service.get(session, body.shop_id)
    except Problem as exc:
        raise Problem(422, "unknown-shop", f"There is no shop {body.shop_id}") from exc
    sku = repository.get_sku(session, body.sku_id)
    if sku is None:
        raise Problem(422, "unknown-sku", f"There is no SKU {body.sku_id}")
    found = session.scalar(
        select(SkuMapping)
        .where(
            SkuMapping.shop_id == body.shop_id, SkuMapping.marketplace_sku == body.marketplace_sku
        )
        .with_for_update()
    )
    before = None
    if found is None:
        found = SkuMapping(
            shop_id=body.shop_id,
            marketplace_sku=body.marketplace_sku,
            sku_id=sku.id,
            created_by=user_id,
        )
        session.add(found)
    elif found.sku_id != sku.id:
        before = str(found.sku_id)
        found.sku_id = sku.id
    session.flush()
    audit.record(
        session,
        "catalog.lines.mapped",
        f"sku_mapping:{found.id}",
        {
            "shop_id": str(body.shop_id),
            "marketplace_sku": body.marketplace_sku,
            "sku_id": str(sku.id),
            "before": before,
        },
    )
    emit(
        session,
        "catalog.lines.mapped",
        {
            "shop_id": str(body.shop_id),
            "marketplace_sku": body.marketplace_sku,
            "sku_id": str(sku.id),
        },
    )
    return MappingRead(
        id=found.id,
        shop_id=found.shop_id,
        marketplace_sku=found.marketplace_sku,
        sku_id=sku.id,
        sku_code=sku.code,
        lines=_lines_under(session, body.shop_id, body.marketplace_sku),
        created_at=found.created_at,
        updated_at=found.updated_at,
    )
