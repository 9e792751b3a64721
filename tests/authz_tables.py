"""The route matrix's expectation tables: every route on a tenant with its rule, every other route
with its access. Each department's part (tests/isolation_parts.py) adds its own rows.
"""

from __future__ import annotations

from daiyun.tenants.auth.permissions import Permission
from tests.authz import (
    ADMIN,
    API,
    EVERY_ROLE,
    ORDER_READERS,
    P,
    R,
    Route,
    TenantRule,
)
from tests.isolation_parts import PARTS

# --------------------------------------------------------------------------------------------
# The expectation tables
# --------------------------------------------------------------------------------------------


OFFBOARD: Route = ("DELETE", f"{API}/tenants/{{tenant}}")
DISCONNECT: Route = ("DELETE", f"{API}/tenants/{{tenant}}/shops/{{shop_id}}")

REVIEWERS = frozenset({R.agency_admin, R.account_manager, R.cs_agent})
SHOP_READERS = frozenset(
    {
        R.agency_admin,
        R.account_manager,
        R.cs_agent,
        R.marketer,
        R.merchant_owner,
        R.merchant_viewer,
    }
)
SHOP_MANAGERS = frozenset({R.agency_admin, R.account_manager})
CREATE_CONTRACT: Route = ("POST", f"{API}/tenants/{{tenant}}/contracts")
BILLERS = frozenset({R.agency_admin, R.finance})
BILL_READERS = frozenset(
    {R.agency_admin, R.account_manager, R.finance, R.merchant_owner, R.merchant_viewer}
)

TENANT_TABLE: dict[Route, TenantRule] = {
    ("GET", f"{API}/tenants/{{tenant}}"): TenantRule(P.tenant_read, EVERY_ROLE),
    ("PATCH", f"{API}/tenants/{{tenant}}"): TenantRule(
        P.tenant_update, frozenset({R.agency_admin, R.account_manager})
    ),
    OFFBOARD: TenantRule(P.members_manage, ADMIN, admin_only=True),
    ("GET", f"{API}/tenants/{{tenant}}/members"): TenantRule(P.members_read, EVERY_ROLE),
    ("POST", f"{API}/tenants/{{tenant}}/members"): TenantRule(P.members_manage, ADMIN),
    ("DELETE", f"{API}/tenants/{{tenant}}/members/{{user_id}}"): TenantRule(
        P.members_manage, ADMIN
    ),
    ("GET", f"{API}/tenants/{{tenant}}/audit"): TenantRule(P.audit_read, ADMIN),
    # Orders (issue 3)
    ("GET", f"{API}/tenants/{{tenant}}/orders"): TenantRule(P.orders_read, ORDER_READERS),
    ("GET", f"{API}/tenants/{{tenant}}/orders/{{order_id}}"): TenantRule(
        P.orders_read, ORDER_READERS
    ),
    ("POST", f"{API}/tenants/{{tenant}}/orders/{{order_id}}/release"): TenantRule(
        P.orders_review, REVIEWERS
    ),
    ("POST", f"{API}/tenants/{{tenant}}/orders/{{order_id}}/cancel"): TenantRule(
        P.orders_review, REVIEWERS
    ),
    ("GET", f"{API}/tenants/{{tenant}}/review-policy"): TenantRule(P.orders_review, REVIEWERS),
    ("PUT", f"{API}/tenants/{{tenant}}/review-policy"): TenantRule(P.orders_review, REVIEWERS),
    # Shops, syncs and webhook deliveries (issue 3)
    ("GET", f"{API}/tenants/{{tenant}}/shops"): TenantRule(P.shops_read, SHOP_READERS),
    ("POST", f"{API}/tenants/{{tenant}}/shops"): TenantRule(P.shops_manage, SHOP_MANAGERS),
    ("GET", f"{API}/tenants/{{tenant}}/shops/{{shop_id}}"): TenantRule(P.shops_read, SHOP_READERS),
    ("PATCH", f"{API}/tenants/{{tenant}}/shops/{{shop_id}}"): TenantRule(
        P.shops_manage, SHOP_MANAGERS
    ),
    DISCONNECT: TenantRule(P.shops_manage, SHOP_MANAGERS),
    ("POST", f"{API}/tenants/{{tenant}}/shops/{{shop_id}}/sync"): TenantRule(
        P.shops_manage, SHOP_MANAGERS
    ),
    ("GET", f"{API}/tenants/{{tenant}}/shops/{{shop_id}}/sync-runs"): TenantRule(
        P.shops_read, SHOP_READERS
    ),
    ("GET", f"{API}/tenants/{{tenant}}/webhook-deliveries"): TenantRule(P.shops_read, SHOP_READERS),
    ("POST", f"{API}/tenants/{{tenant}}/webhook-deliveries/{{delivery_id}}/replay"): TenantRule(
        P.shops_manage, SHOP_MANAGERS
    ),
    # Billing (issue 5)
    CREATE_CONTRACT: TenantRule(P.billing_manage, BILLERS),
    ("GET", f"{API}/tenants/{{tenant}}/contracts"): TenantRule(P.billing_read, BILL_READERS),
    ("GET", f"{API}/tenants/{{tenant}}/contracts/{{contract_id}}"): TenantRule(
        P.billing_read, BILL_READERS
    ),
    ("POST", f"{API}/tenants/{{tenant}}/contracts/{{contract_id}}/versions"): TenantRule(
        P.billing_manage, BILLERS
    ),
    ("POST", f"{API}/tenants/{{tenant}}/service-facts"): TenantRule(P.billing_manage, BILLERS),
    ("GET", f"{API}/tenants/{{tenant}}/service-facts"): TenantRule(P.billing_read, BILL_READERS),
    ("GET", f"{API}/tenants/{{tenant}}/statements"): TenantRule(P.billing_read, BILL_READERS),
    ("POST", f"{API}/tenants/{{tenant}}/statements"): TenantRule(P.billing_manage, BILLERS),
    ("GET", f"{API}/tenants/{{tenant}}/statements/preview"): TenantRule(
        P.billing_read, BILL_READERS
    ),
    ("GET", f"{API}/tenants/{{tenant}}/statements/{{statement_id}}"): TenantRule(
        P.billing_read, BILL_READERS
    ),
    ("GET", f"{API}/tenants/{{tenant}}/statements/{{statement_id}}/sources"): TenantRule(
        P.billing_read, BILL_READERS
    ),
    ("GET", f"{API}/tenants/{{tenant}}/statements/{{statement_id}}/csv"): TenantRule(
        P.billing_read, BILL_READERS
    ),
    ("GET", f"{API}/tenants/{{tenant}}/statements/{{statement_id}}/pdf"): TenantRule(
        P.billing_read, BILL_READERS
    ),
    ("POST", f"{API}/tenants/{{tenant}}/statements/{{statement_id}}/finalize"): TenantRule(
        P.billing_manage, BILLERS
    ),
    ("POST", f"{API}/tenants/{{tenant}}/statements/{{statement_id}}/void"): TenantRule(
        P.billing_manage, BILLERS
    ),
    # Each department's part (tests/isolation_parts.py)
    **{route: rule for part in PARTS for route, rule in part.TENANT_RULES.items()},
}

PUBLIC = "public"  # no sign-in needed
SIGNED_IN = "signed-in"  # any signed-in user, about itself
ADMIN_ONLY = "admin-only"  # agency admins; everyone else 403
INVITE_VIEWER = "invite-viewer"  # admins, or a merchant owner inviting a viewer of its tenant
SIGNATURE = "signature"  # a marketplace's signature on the body; a sign-in is no substitute
# A chat visitor's call: the widget's page origin (and the visitor's token) or 403, whoever is
# signed in (tests/platform/customer_service/test_widget.py checks origins and tokens).
VISITOR = "visitor"
RATE_KEEPERS = "rate-keepers"  # agency admins and finance staff; everyone else 403
# A Permission as the access: users whose own role carries it (the agency's platform resources,
# such as warehouses); everyone else 403.

OTHER_TABLE: dict[Route, str | Permission] = {
    ("POST", f"{API}/auth/token"): PUBLIC,
    ("POST", f"{API}/auth/logout"): SIGNED_IN,
    ("GET", f"{API}/me"): SIGNED_IN,
    ("PATCH", f"{API}/me"): SIGNED_IN,
    ("GET", f"{API}/me/api-keys"): SIGNED_IN,
    ("POST", f"{API}/me/api-keys"): SIGNED_IN,
    ("DELETE", f"{API}/me/api-keys/{{key_id}}"): SIGNED_IN,
    ("POST", f"{API}/users"): INVITE_VIEWER,
    ("GET", f"{API}/users"): ADMIN_ONLY,
    ("GET", f"{API}/tenants"): SIGNED_IN,
    ("POST", f"{API}/tenants"): ADMIN_ONLY,
    ("GET", f"{API}/audit"): ADMIN_ONLY,
    ("GET", f"{API}/exchange-rates"): SIGNED_IN,
    ("PUT", f"{API}/exchange-rates"): RATE_KEEPERS,
    ("GET", "/healthz"): PUBLIC,
    ("GET", "/readyz"): PUBLIC,
    # Marketplaces authenticate by signature, not by sign-in (tests/connectors/test_webhooks.py).
    ("POST", "/webhooks/{channel}/{shop_key}"): SIGNATURE,
    ("POST", "/webhooks/stripe"): SIGNATURE,
    **{route: access for part in PARTS for route, access in part.OTHER_RULES.items()},
}
