"""Each department's part of the isolation tests.

The interface a part keeps is described in tests/platform/warehouse/isolation.py.

A department with tenant tables or routes adds its part here; the route matrix and the ORM guard
tests fail on a route or a tenant model no part covers.
"""

from __future__ import annotations

from types import ModuleType

from tests.platform.aftersales import isolation as aftersales
from tests.platform.customer_service import isolation as customer_service
from tests.platform.fulfillment import isolation as fulfillment
from tests.platform.marketing import isolation as marketing
from tests.platform.recruiting import isolation as recruiting
from tests.platform.recruiting import isolation_teams as recruiting_teams
from tests.platform.storefront import isolation as storefront
from tests.platform.warehouse import isolation as warehouse
from tests.platform.warehouse import isolation_sync as stock_sync

# Each part sees the places of those before it: the catalog's SKU is what the others stock, list
# and promote; fulfilment's parcels follow the warehouse's reservations; stock sync shares its
# stock out to the shops' listings; marketing carves stock out of the warehouse; after-sales
# opens its cases on the matrix's order; recruiting's teams are made of its placement.
PARTS: tuple[ModuleType, ...] = (
    storefront,
    warehouse,
    stock_sync,
    fulfillment,
    customer_service,
    marketing,
    aftersales,
    recruiting,
    recruiting_teams,
)
