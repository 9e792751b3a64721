"""Marketing's part of the portal matrix (tests/portal/test_portal_matrix.py): its page rules.

The console's campaign planner and ad spend import are staff pages; a merchant's campaign
results, ROAS page and its CSV ask ``marketing:read``. The import's form as the matrix sends it
carries no file: an allowed caller is sent back to the console and nothing changes (importing a
file is tests/portal/test_marketing_pages.py's)."""

from __future__ import annotations

from typing import Any

from daiyun.tenants.auth.permissions import Permission, Role

P = Permission
R = Role
MARKETERS = frozenset({R.agency_admin, R.account_manager, R.marketer})


def rules(
    rule: Any, tenant: str, staff: str, portal: str, readers: frozenset[Role]
) -> dict[tuple[str, str], Any]:
    """The marketing pages' rules, built with the matrix's own ``Rule`` and access kinds."""
    read = rule(tenant, P.marketing_read, pinned=readers)
    t = f"{portal}/t/{{tenant}}"
    return {
        ("GET", f"{portal}/console/marketing"): rule(staff),
        ("GET", f"{t}/campaigns"): read,
        ("GET", f"{portal}/console/ad-spend"): rule(staff),
        ("POST", f"{t}/ad-spend"): rule(
            tenant, P.marketing_manage, staff_only=True, pinned=MARKETERS
        ),
        ("GET", f"{t}/roas"): read,
        ("GET", f"{t}/roas.csv"): read,
    }
