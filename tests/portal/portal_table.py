"""The portal matrix's expectation table: every portal route with what it requires (who gets
through, and whose allowed POST changes tenant A). The test is tests/portal/test_portal_matrix.py;
each department's part adds its own routes (tests/portal/*_matrix.py)."""

from __future__ import annotations

from dataclasses import dataclass

from daiyun.tenants.auth.permissions import MERCHANT_ROLES, Permission, Role, allows
from tests.portal import (
    aftersales_matrix,
    marketing_matrix,
    recruiting_matrix,
    service_library_matrix,
    stocktake_matrix,
)

P = Permission
R = Role
PORTAL = "/portal"
T = f"{PORTAL}/t/{{tenant}}"
Route = tuple[str, str]

# --------------------------------------------------------------------------------------------
# The expectation table
# --------------------------------------------------------------------------------------------

PUBLIC = "public"  # anyone, signed in or not
HOME = "home"  # everyone is redirected: to sign in, or to their start page
SIGNED_IN = "signed-in"  # any signed-in user; visitors are sent to sign in
STAFF = "staff"  # agency employees; a merchant's user finds no such page (404)
MEMBER_OF_A = "member-of-a"  # a form naming tenant A in its body (switching to it)
TENANT = "tenant"  # a page on tenant A, checked by tenant_page / tenant_form


@dataclass(frozen=True)
class Rule:
    """What a portal route requires.

    ``permission`` is checked in the tenant of the path; ``staff_only`` routes answer 404 to a
    merchant's user who has the permission. ``pinned`` lists the roles in A that get through
    (so a widened role table shows up here). ``changes`` lists the roles whose allowed POST
    changes A's data; for everyone else A must stay as it was.
    """

    access: str
    permission: Permission | None = None
    staff_only: bool = False
    pinned: frozenset[Role] | None = None
    changes: frozenset[Role] = frozenset()

    def allowed(self) -> frozenset[Role]:
        """The roles in A that this rule lets through."""
        if self.access in (PUBLIC, HOME, SIGNED_IN, MEMBER_OF_A):
            return frozenset(Role)
        if self.access == STAFF:
            return frozenset(Role) - MERCHANT_ROLES
        assert self.permission is not None
        return frozenset(
            r
            for r in Role
            if allows(r, self.permission) and not (self.staff_only and r in MERCHANT_ROLES)
        )


ORDER_READERS = frozenset(
    {
        R.agency_admin,
        R.account_manager,
        R.cs_agent,
        R.warehouse_operator,
        R.marketer,
        R.finance,
        R.merchant_owner,
        R.merchant_viewer,
    }
)
REVIEWERS = frozenset({R.agency_admin, R.account_manager, R.cs_agent})
BILL_READERS = frozenset(
    {R.agency_admin, R.account_manager, R.finance, R.merchant_owner, R.merchant_viewer}
)
STAFF_BILL_READERS = frozenset({R.agency_admin, R.account_manager, R.finance})
BILLERS = frozenset({R.agency_admin, R.finance})
SHOP_READERS = frozenset(
    {R.agency_admin, R.account_manager, R.cs_agent, R.marketer, R.merchant_owner, R.merchant_viewer}
)
SHOP_MANAGERS = frozenset({R.agency_admin, R.account_manager})
STOCK_KEEPERS = frozenset({R.agency_admin, R.warehouse_operator})
STAFF_STOCK_READERS = ORDER_READERS - MERCHANT_ROLES
# Merchants and the staff who read promotions (not the warehouse or recruiting).
MARKETING_READERS = ORDER_READERS - {R.warehouse_operator}
CS_REPLIERS = frozenset({R.agency_admin, R.cs_agent})
CS_REPORT_READERS = frozenset(
    {R.agency_admin, R.account_manager, R.cs_agent, R.merchant_owner, R.merchant_viewer}
)


def orders_page() -> Rule:
    return Rule(TENANT, P.orders_read, pinned=ORDER_READERS)


def billing_page() -> Rule:
    return Rule(TENANT, P.billing_read, pinned=BILL_READERS)


PORTAL_TABLE: dict[Route, Rule] = {
    # Account (views/account.py)
    ("GET", PORTAL): Rule(HOME),
    ("GET", f"{PORTAL}/"): Rule(HOME),
    ("GET", f"{PORTAL}/login"): Rule(PUBLIC),
    ("POST", f"{PORTAL}/login"): Rule(PUBLIC),
    ("POST", f"{PORTAL}/locale"): Rule(PUBLIC),
    ("POST", f"{PORTAL}/logout"): Rule(SIGNED_IN),
    ("POST", f"{PORTAL}/switch"): Rule(MEMBER_OF_A),
    ("GET", f"{PORTAL}/tenants"): Rule(SIGNED_IN),
    ("GET", f"{PORTAL}/preferences"): Rule(SIGNED_IN),
    ("POST", f"{PORTAL}/preferences"): Rule(SIGNED_IN),
    # Merchant pages (views/merchant.py)
    ("GET", f"{T}/dashboard"): orders_page(),
    ("GET", f"{T}/orders"): orders_page(),
    ("GET", f"{T}/orders.csv"): orders_page(),
    ("GET", f"{T}/orders/{{order_id}}"): orders_page(),
    ("GET", f"{T}/statements"): billing_page(),
    ("GET", f"{T}/statements/{{statement_id}}"): billing_page(),
    ("GET", f"{T}/statements/{{statement_id}}.csv"): billing_page(),
    ("GET", f"{T}/statements/{{statement_id}}.pdf"): billing_page(),
    ("GET", f"{T}/statements/{{statement_id}}/lines/{{position}}"): billing_page(),
    ("GET", f"{T}/shops"): Rule(TENANT, P.shops_read, pinned=SHOP_READERS),
    # The catalog (views/catalog*.py): read as orders are; thresholds set by catalog managers
    ("GET", f"{T}/products"): Rule(TENANT, P.catalog_read, pinned=ORDER_READERS),
    ("GET", f"{T}/products/{{product_id}}"): Rule(TENANT, P.catalog_read, pinned=ORDER_READERS),
    ("GET", f"{T}/listings"): Rule(TENANT, P.catalog_read, pinned=ORDER_READERS),
    ("GET", f"{T}/portfolio"): Rule(TENANT, P.catalog_read, pinned=ORDER_READERS),
    ("POST", f"{T}/portfolio/settings"): Rule(
        TENANT, P.catalog_manage, pinned=SHOP_MANAGERS, changes=SHOP_MANAGERS
    ),
    ("GET", f"{PORTAL}/console/catalog"): Rule(STAFF),
    ("GET", f"{PORTAL}/console/warehouse"): Rule(STAFF),
    ("GET", f"{T}/stock"): Rule(TENANT, P.warehouse_read, pinned=ORDER_READERS),
    ("GET", f"{T}/stock/ledger"): Rule(TENANT, P.warehouse_read, pinned=ORDER_READERS),
    ("GET", f"{T}/stock/exceptions"): Rule(TENANT, P.warehouse_read, pinned=ORDER_READERS),
    ("GET", f"{T}/stock/alerts"): Rule(TENANT, P.warehouse_read, pinned=ORDER_READERS),
    ("GET", f"{T}/stock/replenishment"): Rule(TENANT, P.warehouse_read, pinned=ORDER_READERS),
    # Shop stock sync (views/stock_sync.py): read by stock readers, sent again by keepers (staff).
    ("GET", f"{T}/stock/sync"): Rule(TENANT, P.warehouse_read, pinned=ORDER_READERS),
    ("POST", f"{T}/stock/sync/resync"): Rule(
        TENANT, P.warehouse_manage, staff_only=True, pinned=STOCK_KEEPERS, changes=STOCK_KEEPERS
    ),
    # Marketing (views/marketing.py, views/marketing_roas.py)
    **marketing_matrix.rules(Rule, TENANT, STAFF, PORTAL, MARKETING_READERS),
    # Stocktakes and replenishment (views/stocktake_console.py)
    **stocktake_matrix.rules(Rule, TENANT, STAFF, PORTAL, STAFF_STOCK_READERS),
    # Fulfilment (views/fulfillment*.py): parcels for merchants, the pack station and waves
    # for warehouse operators
    ("GET", f"{T}/fulfillment"): Rule(TENANT, P.warehouse_read, pinned=ORDER_READERS),
    ("GET", f"{T}/pack"): Rule(
        TENANT, P.warehouse_read, staff_only=True, pinned=STAFF_STOCK_READERS
    ),
    **{
        ("POST", f"{T}{action}"): Rule(
            TENANT, P.warehouse_manage, staff_only=True, pinned=STOCK_KEEPERS, changes=STOCK_KEEPERS
        )
        for action in (
            "/pack/{fo_id}/scan",
            "/pack/{fo_id}/finish",
            "/fulfillment/exceptions/{exception_id}/resolve",
        )
    },
    # The ship step (views/shipping*.py): shipments for merchants too; the label, shipping,
    # pushing again and the carrier rules for the warehouse's staff
    ("GET", f"{T}/shipments"): Rule(TENANT, P.warehouse_read, pinned=ORDER_READERS),
    ("GET", f"{T}/shipments/{{shipment_id}}/label.pdf"): Rule(
        TENANT, P.warehouse_read, staff_only=True, pinned=STAFF_STOCK_READERS
    ),
    **{
        ("POST", f"{T}{action}"): Rule(
            TENANT, P.warehouse_manage, staff_only=True, pinned=STOCK_KEEPERS, changes=STOCK_KEEPERS
        )
        for action in (
            "/parcels/{parcel_id}/ship",
            "/shipments/{shipment_id}/push",
            "/carriers",
            "/carriers/{priority}/remove",
        )
    },
    ("GET", f"{PORTAL}/console/shipments"): Rule(STAFF),
    ("GET", f"{PORTAL}/console/carriers"): Rule(STAFF),
    ("GET", f"{PORTAL}/console/fulfillment"): Rule(STAFF),
    ("GET", f"{PORTAL}/console/waves/{{wave_id}}"): Rule(STAFF),
    ("GET", f"{PORTAL}/console/waves/{{wave_id}}/pick-list.pdf"): Rule(STAFF),
    # A wave takes the parcels of the merchants where the user manages stock: for everyone
    # else A stays as it was.
    ("POST", f"{PORTAL}/console/waves"): Rule(STAFF, changes=STOCK_KEEPERS),
    ("POST", f"{PORTAL}/console/waves/{{wave_id}}/pick"): Rule(STAFF, changes=STOCK_KEEPERS),
    # Customer service (views/inbox_console.py): the inbox and the desk are staff pages; the
    # reply box acts where the role answers buyers; the service report is read by merchants too.
    ("GET", f"{PORTAL}/console/inbox"): Rule(STAFF),
    ("GET", f"{PORTAL}/console/inbox/events"): Rule(STAFF),
    ("POST", f"{PORTAL}/console/inbox/status"): Rule(STAFF),
    ("GET", f"{PORTAL}/console/service"): Rule(STAFF),
    ("POST", f"{T}/conversations/{{conversation_id}}"): Rule(
        TENANT, P.conversations_reply, staff_only=True, pinned=CS_REPLIERS, changes=CS_REPLIERS
    ),
    ("GET", f"{T}/service"): Rule(TENANT, P.cs_reports, pinned=CS_REPORT_READERS),
    # After-sales (views/aftersales.py): cases, their moves, the follow-up queue.
    **aftersales_matrix.rules(Rule, TENANT, STAFF, PORTAL),
    # Agency console (views/console.py)
    ("GET", f"{PORTAL}/console"): Rule(STAFF),
    ("GET", f"{PORTAL}/console/review"): Rule(STAFF),
    ("GET", f"{PORTAL}/console/sync"): Rule(STAFF),
    ("GET", f"{PORTAL}/console/billing"): Rule(STAFF),
    # Bulk decisions are open to staff, but only orders of tenants where the user reviews are
    # decided: everyone else's post leaves A as it was.
    ("POST", f"{PORTAL}/console/review/bulk"): Rule(STAFF, changes=REVIEWERS),
    ("POST", f"{T}/orders/{{order_id}}/release"): Rule(
        TENANT, P.orders_review, staff_only=True, pinned=REVIEWERS, changes=REVIEWERS
    ),
    ("POST", f"{T}/orders/{{order_id}}/cancel"): Rule(
        TENANT, P.orders_review, staff_only=True, pinned=REVIEWERS, changes=REVIEWERS
    ),
    ("POST", f"{T}/deliveries/{{delivery_id}}/replay"): Rule(
        TENANT, P.shops_manage, staff_only=True, pinned=SHOP_MANAGERS, changes=SHOP_MANAGERS
    ),
    ("GET", f"{T}/statements/{{statement_id}}/review"): Rule(
        TENANT, P.billing_read, staff_only=True, pinned=STAFF_BILL_READERS
    ),
    ("POST", f"{T}/statements/{{statement_id}}/finalize"): Rule(
        TENANT, P.billing_manage, staff_only=True, pinned=BILLERS, changes=BILLERS
    ),
    ("POST", f"{T}/statements/{{statement_id}}/regenerate"): Rule(
        TENANT, P.billing_manage, staff_only=True, pinned=BILLERS, changes=BILLERS
    ),
    # Recruiting (views/recruiting.py): the console's requisitions; a merchant's openings, the
    # pipeline board and candidates for reviewers; moving a card for recruiters (staff).
    **recruiting_matrix.rules(Rule, TENANT, STAFF, PORTAL),
    **service_library_matrix.rules(Rule, TENANT, STAFF, PORTAL),
}
