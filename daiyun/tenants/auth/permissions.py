"""Roles and what each may do: the one place permissions are decided."""

from __future__ import annotations

from enum import StrEnum


class Role(StrEnum):
    agency_admin = "agency_admin"
    account_manager = "account_manager"  # 运营
    cs_agent = "cs_agent"  # 客服
    warehouse_operator = "warehouse_operator"  # 仓储
    recruiter = "recruiter"  # 人事代理
    marketer = "marketer"  # 推广
    finance = "finance"  # 财务
    merchant_owner = "merchant_owner"
    merchant_viewer = "merchant_viewer"


MERCHANT_ROLES = frozenset({Role.merchant_owner, Role.merchant_viewer})
STAFF_ROLES = frozenset(Role) - MERCHANT_ROLES - {Role.agency_admin}


class Permission(StrEnum):
    tenant_read = "tenant:read"
    tenant_update = "tenant:update"
    members_read = "members:read"
    members_manage = "members:manage"
    viewers_invite = "viewers:invite"
    audit_read = "audit:read"
    orders_read = "orders:read"
    orders_review = "orders:review"
    # Buyers' names, phones and addresses in full; without it the API masks them.
    buyers_read = "buyers:read"
    shops_read = "shops:read"
    shops_manage = "shops:manage"
    billing_read = "billing:read"
    billing_manage = "billing:manage"
    # Warehousing (仓储): stock, its ledger, reservations; receipts, adjustments, transfers;
    # approving stocktake adjustments (used by the stocktakes to come).
    warehouse_read = "warehouse:read"
    warehouse_manage = "warehouse:manage"
    warehouse_approve = "warehouse:approve"
    # Recruiting (人事代理): recruiters manage requisitions, postings, candidates and the
    # pipeline; reviewing (reading them, the shortlist) is the merchant owner's part too.
    recruiting_manage = "recruiting:manage"
    recruiting_review = "recruiting:review"
    # Marketing (市场/推广): campaigns, promotions, coupons, redemptions; reading them and
    # pricing carts is marketing:read, planning and running them marketing:manage.
    marketing_read = "marketing:read"
    marketing_manage = "marketing:manage"
    # The catalog (店铺/商品): products, SKUs, bundles, categories and margin floors.
    catalog_read = "catalog:read"
    catalog_manage = "catalog:manage"
    # Setting a price under the margin floor, with a reason (audited).
    prices_override = "prices:override"
    # Customer service (客服): reading the inbox, answering buyers, and managing the service
    # (SLA policies, canned replies, agents' capacity, mailboxes, assignment) as supervisors do.
    conversations_read = "conversations:read"
    conversations_reply = "conversations:reply"
    cs_manage = "cs:manage"
    # The service report (volumes, first-response times, breaches): merchants read it too.
    cs_reports = "cs:reports"
    # After-sales (售后): reading cases (merchants too), working them (agents and account
    # managers), and refunds above the merchant's threshold (account managers).
    aftersales_read = "aftersales:read"
    aftersales_manage = "aftersales:manage"
    aftersales_approve = "aftersales:approve"


P = Permission
_READ = {P.tenant_read, P.members_read}

ROLE_PERMISSIONS: dict[Role, frozenset[Permission]] = {
    Role.agency_admin: frozenset(Permission),
    Role.account_manager: frozenset(
        _READ
        | {
            P.tenant_update,
            P.orders_read,
            P.orders_review,
            P.buyers_read,
            P.shops_read,
            P.shops_manage,
            P.billing_read,
            P.marketing_read,
            P.marketing_manage,
            P.catalog_read,
            P.catalog_manage,
            P.warehouse_read,
            P.conversations_read,
            P.cs_reports,
            P.aftersales_read,
            P.aftersales_manage,
            P.aftersales_approve,
        }
    ),
    Role.cs_agent: frozenset(
        _READ
        | {
            P.orders_read,
            P.orders_review,
            P.buyers_read,
            P.shops_read,
            P.catalog_read,
            P.warehouse_read,
            P.marketing_read,
            P.conversations_read,
            P.conversations_reply,
            P.cs_reports,
            P.aftersales_read,
            P.aftersales_manage,
        }
    ),
    Role.warehouse_operator: frozenset(
        _READ
        | {
            P.orders_read,
            P.buyers_read,
            P.warehouse_read,
            P.warehouse_manage,
            P.catalog_read,
            P.aftersales_read,
        }
    ),
    Role.recruiter: frozenset(_READ | {P.recruiting_manage, P.recruiting_review}),
    Role.marketer: frozenset(
        _READ
        | {
            P.orders_read,
            P.shops_read,
            P.marketing_read,
            P.marketing_manage,
            P.catalog_read,
            P.warehouse_read,
        }
    ),
    Role.finance: frozenset(
        _READ
        | {
            P.orders_read,
            P.billing_read,
            P.billing_manage,
            P.catalog_read,
            P.warehouse_read,
            P.marketing_read,
        }
    ),
    Role.merchant_owner: frozenset(
        _READ
        | {
            P.viewers_invite,
            P.recruiting_review,
            P.orders_read,
            P.buyers_read,
            P.shops_read,
            P.billing_read,
            P.catalog_read,
            P.warehouse_read,
            P.marketing_read,
            P.cs_reports,
            P.aftersales_read,
        }
    ),
    Role.merchant_viewer: frozenset(
        _READ
        | {
            P.orders_read,
            P.shops_read,
            P.billing_read,
            P.catalog_read,
            P.warehouse_read,
            P.marketing_read,
            P.cs_reports,
            P.aftersales_read,
        }
    ),
}


def allows(role: Role, permission: Permission) -> bool:
    """Whether a role carries a permission."""
    return permission in ROLE_PERMISSIONS[role]
