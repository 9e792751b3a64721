"""Each department's part of the isolation tests.

The interface a part keeps is described in tests/platform/warehouse/isolation.py.

A department with tenant tables or routes adds its part here; the route matrix and the ORM guard
tests fail on a route or a tenant model no part covers.
"""

from __future__ import annotations

from types import ModuleType

from tests.platform.warehouse import isolation as warehouse
from tests.platform.warehouse import isolation_sync as stock_sync

PARTS: tuple[ModuleType, ...] = (warehouse, stock_sync)
