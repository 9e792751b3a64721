"""The vocabulary of the isolation tests: route rules and the role sets they pin.

tests/test_authorization.py (the route matrix) and tests/tenants/guard/ (the ORM guard)
read it, and so does each department's part (``tests/platform/<department>/isolation.py``, listed
in ``tests/isolation_parts.py``).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import httpx
from sqlalchemy import inspect, select
from sqlalchemy.orm import Session

from daiyun.tenants.auth.permissions import Permission, Role, allows

API = "/api/v1"
TENANT = f"{API}/tenants/{{tenant}}"
P = Permission
R = Role
Route = tuple[str, str]
# The audit action of a refused access to a tenant (written for SECURITY.md 14).
DENIED = "tenant.access_denied"


@dataclass(frozen=True)
class TenantRule:
    """What a route on a tenant requires, and (pinned separately) which roles that lets in."""

    permission: Permission
    pinned: frozenset[Role]
    admin_only: bool = False  # the endpoint also insists on an agency admin

    def allowed(self) -> frozenset[Role]:
        return frozenset(
            r
            for r in Role
            if allows(r, self.permission) and (not self.admin_only or r == R.agency_admin)
        )


def rules(
    routes: tuple[Route, ...], read: TenantRule, write: TenantRule
) -> dict[Route, TenantRule]:
    """Routes on a tenant (paths after ``/tenants/{tenant}``): GETs read, the others write."""
    return {
        (method, f"{TENANT}{path}"): read if method == "GET" else write for method, path in routes
    }


EVERY_ROLE = frozenset(Role)
ADMIN = frozenset({R.agency_admin})
# Merchants and every staff role that reads orders.
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
STOCK_KEEPERS = frozenset({R.agency_admin, R.warehouse_operator})


def problem_kind(answer: httpx.Response) -> str:
    """The last segment of a problem+json answer's type ("" when the body is not JSON)."""
    try:
        return str(answer.json().get("type", "")).rsplit("/", 1)[-1]
    except ValueError:
        return ""


def without_instance(answer: httpx.Response) -> dict[str, Any]:
    """A problem's body without its instance (the one member two equal refusals differ in)."""
    return {k: v for k, v in answer.json().items() if k != "instance"}


def rows_of(session: Session, models: Iterable[type[Any]]) -> list[tuple[Any, ...]]:
    """Every row of these tenant tables, read through the session bound to the tenant (the
    guard's criteria, and row security, applied), as column values: what a refused write must
    leave as it was. Read as plain rows, not entities: the route matrices read them twice per
    write and caller."""
    found: list[tuple[Any, ...]] = []
    for model in models:
        columns = [getattr(model, c.key) for c in inspect(model).column_attrs]
        found += [tuple(row) for row in session.execute(select(*columns).order_by(model.id))]
    return found


def columns_of(obj: object) -> dict[str, Any]:
    """A row's column values, to compare before and after a refused write."""
    return {c.key: getattr(obj, c.key) for c in inspect(type(obj)).column_attrs}
