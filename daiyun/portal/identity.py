"""What the portal reads of a signed-in user and of a tenant.

Users and tenants belong to the tenants domain: its services hand the portal their rows, pages
read a few attributes of them and pass ids back. These protocols name those attributes, so the
portal is typed without importing the domain's tables.
"""

from __future__ import annotations

import uuid
from typing import Protocol

from daiyun.tenants.auth.permissions import Role


class Viewer(Protocol):
    """The signed-in user: agency staff (no merchant tenant) or a merchant's user."""

    @property
    def id(self) -> uuid.UUID: ...

    @property
    def name(self) -> str: ...

    @property
    def role(self) -> Role: ...

    @property
    def merchant_tenant_id(self) -> uuid.UUID | None: ...

    @property
    def locale(self) -> str: ...

    @property
    def time_zone(self) -> str | None: ...


class TenantView(Protocol):
    """A merchant (tenant) as pages name it and place it in time."""

    @property
    def id(self) -> uuid.UUID: ...

    @property
    def slug(self) -> str: ...

    @property
    def display_name(self) -> str: ...

    @property
    def time_zone(self) -> str: ...

    @property
    def status(self) -> str: ...
