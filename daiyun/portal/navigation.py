"""The one place the portal's navigation is decided: which pages exist and what each requires.

A link is shown only when the page behind it would open for the signed-in user: the tenant pages'
dependencies read their permission from :data:`TENANT_PAGES` (``views/merchant/common.py``), so a
link and its page cannot disagree. Console pages are open to all staff but show only the tenants
where the user's role grants their work; their link is shown when that is at least one tenant.

What the header needs is computed here as plain values, so an error page (whose request's
database session is already closed) draws the same header as any page.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from typing import Final

from sqlalchemy.orm import Session

from daiyun.portal.console.access import accessible
from daiyun.portal.i18n import N_
from daiyun.portal.identity import TenantView, Viewer
from daiyun.tenants import service as tenant_service
from daiyun.tenants.auth.permissions import Permission, Role, allows

PREFIX: Final = "/portal"
P = Permission


@dataclass(frozen=True)
class Destination:
    """A page of the navigation: its path after the prefix, its label, what it requires."""

    path: str
    label: str
    permission: Permission | None = None


# A tenant's pages, in the order of the menu; the first the role may open is its home there.
TENANT_PAGES: Final = {
    "dashboard": Destination("dashboard", N_("Dashboard"), P.orders_read),
    "orders": Destination("orders", N_("Orders"), P.orders_read),
    "products": Destination("products", N_("Products"), P.catalog_read),
    "stock": Destination("stock", N_("Stock"), P.warehouse_read),
    "campaigns": Destination("campaigns", N_("Campaigns"), P.marketing_read),
    "statements": Destination("statements", N_("Statements"), P.billing_read),
    "shops": Destination("shops", N_("Shops"), P.shops_read),
    "service": Destination("service", N_("Service"), P.cs_reports),
    "aftersales": Destination("aftersales", N_("After-sales"), P.aftersales_read),
    "recruiting": Destination("recruiting", N_("Recruiting"), P.recruiting_review),
}
# The catalog's pages, one menu entry ("Products") and tabs on its pages: the header keeps to
# one row on a laptop screen however many of them there are.
CATALOG_PAGES: Final = {
    "products": TENANT_PAGES["products"],
    "listings": Destination("listings", N_("Listings"), P.catalog_read),
    "portfolio": Destination("portfolio", N_("Portfolio"), P.catalog_read),
}
# The warehouse's pages for a merchant, the same way: one menu entry ("Stock"), tabs below it.
STOCK_PAGES: Final = {
    "stock": TENANT_PAGES["stock"],
    "ledger": Destination("stock/ledger", N_("Stock ledger"), P.warehouse_read),
    "exceptions": Destination("stock/exceptions", N_("Out of stock"), P.warehouse_read),
    "alerts": Destination("stock/alerts", N_("Stock alerts"), P.warehouse_read),
    "replenishment": Destination("stock/replenishment", N_("Replenishment"), P.warehouse_read),
    "sync": Destination("stock/sync", N_("Shop stock sync"), P.warehouse_read),
    "fulfillment": Destination("fulfillment", N_("Fulfilment"), P.warehouse_read),
    "shipments": Destination("shipments", N_("Shipments"), P.warehouse_read),
}
# Service to buyers, the same way: the service record and after-sales, one menu entry. A role
# that opens after-sales but not the service record (the warehouse) has after-sales as its entry.
SERVICE_PAGES: Final = {
    "service": TENANT_PAGES["service"],
    "aftersales": TENANT_PAGES["aftersales"],
}
# Marketing for a merchant, the same way: the campaigns' results and the ROAS of their ads.
MARKETING_PAGES: Final = {
    "campaigns": TENANT_PAGES["campaigns"],
    "roas": Destination("roas", N_("ROAS"), P.marketing_read),
}
# Menu entries that stand for a group of pages shown as tabs.
TAB_GROUPS: Final = {
    "products": CATALOG_PAGES,
    "stock": STOCK_PAGES,
    "service": SERVICE_PAGES,
    "campaigns": MARKETING_PAGES,
}
# Pages that are a tab of another entry: in the menu only for a role that cannot open that entry.
TAB_OF: Final = {"aftersales": "service"}
# The console's pages (staff only); each lists the tenants where the permission is granted.
# The header has one "Console" entry; on the console, its pages the role opens are tabs, so
# every department's work page fits however many there are.
CONSOLE_ENTRY: Final = Destination("console", N_("Console"))
CONSOLE_PAGES: Final = (
    Destination("console", N_("Tenants")),
    Destination("console/review", N_("Review queue"), P.orders_review),
    Destination("console/sync", N_("Sync health"), P.shops_read),
    Destination("console/billing", N_("Billing"), P.billing_read),
    Destination("console/catalog", N_("Catalog work"), P.catalog_read),
    Destination("console/warehouse", N_("Warehouse work"), P.warehouse_read),
    Destination("console/stocktakes", N_("Stocktakes"), P.warehouse_read),
    Destination("console/replenishment", N_("Replenishment"), P.warehouse_read),
    Destination("console/fulfillment", N_("Fulfilment"), P.warehouse_read),
    Destination("console/shipments", N_("Shipments"), P.warehouse_read),
    Destination("console/returns", N_("Returns dock"), P.warehouse_read),
    Destination("console/carriers", N_("Carrier rules"), P.warehouse_read),
    Destination("console/marketing", N_("Campaigns"), P.marketing_read),
    Destination("console/ad-spend", N_("Ad spend"), P.marketing_manage),
    Destination("console/inbox", N_("Inbox"), P.conversations_read),
    Destination("console/service", N_("Service desk"), P.conversations_read),
    Destination("console/service-library", N_("Service library"), P.cs_manage),
    Destination("console/aftersales", N_("After-sales"), P.aftersales_read),
    Destination("console/follow-ups", N_("Follow-ups"), P.aftersales_manage),
    Destination("console/quality", N_("Quality"), P.aftersales_manage),
    Destination("console/recruiting", N_("Recruiting"), P.recruiting_review),
)


@dataclass(frozen=True)
class Link:
    href: str
    label: str
    current: bool


@dataclass(frozen=True)
class Nav:
    """The header of a signed-in page: the links, who is signed in, where, and the switcher."""

    user_name: str
    links: list[Link] = field(default_factory=list)
    tabs: list[Link] = field(default_factory=list)  # the console's pages, on a console page
    tenant_name: str | None = None
    can_switch: bool = False


def tenant_pages(role: Role) -> list[Destination]:
    """The tenant pages ``role`` may open, in menu order (a tab of an entry the role opens is
    reached through that entry)."""

    def opens(key: str) -> bool:
        permission = TENANT_PAGES[key].permission
        return permission is not None and allows(role, permission)

    return [
        d
        for key, d in TENANT_PAGES.items()
        if opens(key) and not (key in TAB_OF and opens(TAB_OF[key]))
    ]


def tenant_home(slug: str, role: Role) -> str | None:
    """Where opening a tenant lands: its first page the role may open, or None (a role that
    opens no page of the portal)."""
    pages = tenant_pages(role)
    return f"{PREFIX}/t/{slug}/{pages[0].path}" if pages else None


def console_pages(db: Session, user: Viewer) -> list[Destination]:
    """The console pages worth opening: the overview, and each page whose work the user's role
    grants in at least one of their tenants."""
    if user.merchant_tenant_id is not None:
        return []
    roles = {a.role for a in accessible(db, user)}
    return [
        d
        for d in CONSOLE_PAGES
        if d.permission is None or any(allows(role, d.permission) for role in roles)
    ]


def _current(href: str, path: str) -> bool:
    if href.startswith(f"{PREFIX}/t/"):
        entry = href.rsplit("/", 1)[1]
        if entry in TAB_GROUPS:  # every tab of a group is under its one menu entry
            base = href.removesuffix(f"/{entry}")
            return any(_tab_current(f"{base}/{d.path}", path) for d in TAB_GROUPS[entry].values())
    return path == href or path.startswith(href + "/") or path.startswith(href + ".")


def tabs(group: str, slug: str, role: Role, path: str) -> list[Link]:
    """The tabs of a menu entry's group (``TAB_GROUPS``) the role may open, the one at ``path``
    current (the deepest match: the ledger's tab, not the stock's, on the ledger)."""
    return _tab_links(
        [
            (f"{PREFIX}/t/{slug}/{d.path}", d.label)
            for d in TAB_GROUPS[group].values()
            if d.permission and allows(role, d.permission)
        ],
        path,
    )


def _tab_links(pages: list[tuple[str, str]], path: str) -> list[Link]:
    """Tabs (href, label) with the deepest one ``path`` is under current."""
    current = max((h for h, _ in pages if _tab_current(h, path)), key=len, default=None)
    return [Link(href, label, href == current) for href, label in pages]


def _tab_current(href: str, path: str) -> bool:
    return path == href or path.startswith(href + "/")


def build(
    db: Session, user: Viewer, path: str, tenant: TenantView | None, role: Role | None
) -> Nav:
    """The header of a page at ``path`` for ``user``, on ``tenant`` with ``role`` there: the
    console's one entry (staff), then the merchant's own menu; on a console page, the console's
    pages the user's roles open as tabs."""
    console = console_pages(db, user)
    root = f"{PREFIX}/{CONSOLE_ENTRY.path}"
    on_console = _tab_current(root, path)
    links = [Link(root, CONSOLE_ENTRY.label, on_console)] if console else []
    if tenant is not None and role is not None:
        links += [
            Link(href, d.label, _current(href, path))
            for d in tenant_pages(role)
            for href in [f"{PREFIX}/t/{tenant.slug}/{d.path}"]
        ]
    pages = [(f"{PREFIX}/{d.path}", d.label) for d in console]
    return Nav(
        user_name=user.name,
        links=links,
        tabs=_tab_links(pages, path) if on_console and len(pages) > 1 else [],
        tenant_name=tenant.display_name if tenant is not None and role is not None else None,
        can_switch=user.merchant_tenant_id is None,
    )


def tenant_in_path(db: Session, user_id: uuid.UUID, path: str) -> tuple[TenantView, Role] | None:
    """The tenant a ``/portal/t/{slug}/...`` path names, if the user is a member there (for an
    error page's header; a refusal was already recorded by the page that failed)."""
    prefix = f"{PREFIX}/t/"
    if not path.startswith(prefix):
        return None
    slug = path[len(prefix) :].split("/", 1)[0]
    found = tenant_service.find_tenant(db, slug) if slug else None
    role = tenant_service.role_of(db, user_id, found.id) if found is not None else None
    return (found, role) if found is not None and role is not None else None
