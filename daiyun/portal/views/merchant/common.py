"""What the merchant pages share: their dependencies, labels and small helpers."""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from datetime import UTC, date, datetime, time
from typing import Annotated, Any
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

from fastapi import Depends, Request
from sqlalchemy.orm import Session

from daiyun.connectors import service as shop_service
from daiyun.connectors.schemas import ShopStatus
from daiyun.core.errors import Problem
from daiyun.core.money import to_major
from daiyun.core.pagination import decode_cursor
from daiyun.platform.orders.normalized import OrderStatus
from daiyun.portal.navigation import TENANT_PAGES
from daiyun.portal.web import PREFIX, Page, tenant_page
from daiyun.tenants.auth.permissions import Permission

P = Permission


def _requires(name: str) -> Permission:
    """The permission the navigation shows a page's link for: the page asks for the same."""
    permission = TENANT_PAGES[name].permission
    assert permission is not None
    return permission


OrdersPage = Annotated[Page, Depends(tenant_page(_requires("orders")))]
BillingPage = Annotated[Page, Depends(tenant_page(_requires("statements")))]
ShopsPage = Annotated[Page, Depends(tenant_page(_requires("shops")))]

PAGE_SIZE = 50
CSV_PAGE = 500
# A UTF-8 byte order mark: spreadsheet programs then read Chinese text in a CSV correctly.
BOM = "\ufeff"


def N_(message: str) -> str:
    """Marks a message for translation where it is defined; it is translated where shown."""
    return message


STATUS_LABELS = {
    OrderStatus.pending: N_("Pending payment"),
    OrderStatus.paid: N_("Paid"),
    OrderStatus.on_hold: N_("On hold"),
    OrderStatus.fulfilled: N_("Fulfilled"),
    OrderStatus.partially_fulfilled: N_("Partially fulfilled"),
    OrderStatus.shipped: N_("Shipped"),
    OrderStatus.delivered: N_("Delivered"),
    OrderStatus.cancelled: N_("Cancelled"),
    OrderStatus.refunded: N_("Refunded"),
    OrderStatus.partially_refunded: N_("Partially refunded"),
}
REVIEW_LABELS = {
    "passed": N_("Passed"),
    "held": N_("Held for review"),
    "released": N_("Released"),
    "auto_approved": N_("Approved automatically"),
    "cancelled": N_("Cancelled in review"),
}
STATEMENT_LABELS = {
    "draft": N_("Draft"),
    "finalized": N_("Finalized"),
    "void": N_("Void"),
}
PAYMENT_LABELS = {
    "not_sent": N_("Not sent"),
    "open": N_("Awaiting payment"),
    "paid": N_("Paid"),
    "payment_failed": N_("Payment failed"),
    "void": N_("Void"),
    "uncollectible": N_("Uncollectible"),
}
SHOP_LABELS = {
    ShopStatus.active: N_("Active"),
    ShopStatus.paused: N_("Paused"),
    ShopStatus.reauthorization_needed: N_("Reauthorization needed"),
    ShopStatus.disconnected: N_("Disconnected"),
}
EVENT_LABELS = {
    "created": N_("Received from the channel"),
    "updated": N_("Updated by the channel"),
    "held": N_("Held for review"),
    "released": N_("Released"),
    "cancelled": N_("Cancelled"),
    "refunded": N_("Refunded"),
}
# What a fact key behind a statement line stands for (``refund:<id>``, ``service:<id>``).
FACT_LABELS = {
    "order": N_("Order"),
    "refund": N_("Refund"),
    "service": N_("Service record"),
}
# Badge colour of a status: good, warn or bad (others plain).
TONES = {
    **dict.fromkeys(("paid", "delivered", "shipped", "fulfilled", "finalized", "active"), "good"),
    **dict.fromkeys(
        ("on_hold", "pending", "draft", "open", "paused", "partially_refunded"), "warn"
    ),
    **dict.fromkeys(
        ("cancelled", "refunded", "payment_failed", "uncollectible", "reauthorization_needed"),
        "bad",
    ),
    "disconnected": "bad",
}


def label(labels: Mapping[Any, str], value: Any) -> str:
    return labels.get(value, str(value))


def tenant_base(page: Page) -> str:
    assert page.tenant is not None
    return f"{PREFIX}/t/{page.tenant.slug}"


def tenant_zone(page: Page) -> ZoneInfo:
    return ZoneInfo(page.fmt.time_zone)


def uuid_or_none(text: str) -> uuid.UUID | None:
    try:
        return uuid.UUID(text)
    except ValueError:
        return None


def path_id(text: str, what: str) -> uuid.UUID:
    """A path id; anything that is not one is a page that does not exist."""
    found = uuid_or_none(text)
    if found is None:
        raise Problem(404, "not-found", f"No such {what}")
    return found


def day(text: str | None) -> date | None:
    """A ``YYYY-MM-DD`` day from a form field; empty is None, anything else a ValueError."""
    text = (text or "").strip()
    return date.fromisoformat(text) if text else None


def day_start(day: date, zone: ZoneInfo) -> datetime:
    """The first moment of a local day, in UTC."""
    return datetime.combine(day, time(), tzinfo=zone).astimezone(UTC)


def url(path: str, params: Mapping[str, str | None]) -> str:
    kept = {k: v for k, v in params.items() if v}
    return f"{path}?{urlencode(kept)}" if kept else path


def values(page: Page, **values: Any) -> dict[str, Any]:
    """What every merchant template uses besides its own values."""
    return {
        "base": tenant_base(page),
        "status_labels": STATUS_LABELS,
        "review_labels": REVIEW_LABELS,
        "statement_labels": STATEMENT_LABELS,
        "payment_labels": PAYMENT_LABELS,
        "shop_labels": SHOP_LABELS,
        "event_labels": EVENT_LABELS,
        "fact_labels": FACT_LABELS,
        "tones": TONES,
        "label": label,
        "major": to_major,
        **values,
    }


def shop_names(db: Session) -> dict[uuid.UUID, str]:
    """The name of every shop of the bound tenant, disconnected ones included, by id."""
    return {shop.id: shop.name for shop in shop_service.shops(db)}


def list_cursor(request: Request) -> str | None:
    """The page cursor of a list, if it is one the portal issued (else the first page)."""
    raw = request.query_params.get("cursor") or None
    if raw is None:
        return None
    try:
        decode_cursor(raw)
    except Problem:
        return None
    return raw
