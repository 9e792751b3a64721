"""The sandbox marketplaces' catalogs: the listings and prices each shop received, kept for tests.

Each channel module that stands for a marketplace's listing API (``*_products.py``,
``china_listings.py``) writes what it receives here: one product per marketplace id with its
SKU, title, prices (integer minor units) and status, plus a count of the listing calls each shop
answered. Tests and the demo read it through :func:`catalog_of` or the control API
(``GET /_sandbox/{channel}/{shop}/listings``).
"""

from __future__ import annotations

import threading
import weakref
from dataclasses import asdict, dataclass, field
from typing import Any

from fastapi import APIRouter, HTTPException, Request

from daiyun.sandboxes.marketplaces.state import SandboxState


@dataclass
class Product:
    id: str
    sku: str
    title: str
    currency: str
    price: int
    compare_at: int | None = None
    status: str = "active"
    sku_id: str = ""
    inventory_item_id: str = ""
    updates: int = 0


@dataclass
class ShopCatalog:
    products: dict[str, Product] = field(default_factory=dict)
    calls: int = 0
    # Listings received per call (a batch carries many): a test sees how a push was batched.
    batch_sizes: list[int] = field(default_factory=list)


class Catalog:
    """Every shop's catalog, behind one lock (handlers run in a thread pool)."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.shops: dict[tuple[str, str], ShopCatalog] = {}
        self._next = 7_000_000_000

    def shop(self, channel: str, name: str) -> ShopCatalog:
        with self.lock:
            return self.shops.setdefault((channel, name), ShopCatalog())

    def new_id(self) -> str:
        with self.lock:
            self._next += 1
            return str(self._next)

    def call(self, channel: str, name: str, listings: int) -> ShopCatalog:
        """Count one listing call of a shop carrying ``listings`` listings."""
        shop = self.shop(channel, name)
        with self.lock:
            shop.calls += 1
            shop.batch_sizes.append(listings)
        return shop

    def create(
        self,
        channel: str,
        name: str,
        sku: str,
        title: str,
        currency: str,
        price: int,
        compare_at: int | None = None,
        status: str = "active",
    ) -> Product:
        product_id = self.new_id()
        product = Product(
            id=product_id,
            sku=sku,
            title=title,
            currency=currency,
            price=price,
            compare_at=compare_at,
            status=status,
            sku_id=self.new_id(),
            inventory_item_id=self.new_id(),
        )
        shop = self.shop(channel, name)
        with self.lock:
            shop.products[product_id] = product
        return product

    def find(self, channel: str, name: str, key: str) -> Product | None:
        """A product by its id or its SKU id (or, for SKU-keyed marketplaces, its SKU)."""
        shop = self.shop(channel, name)
        with self.lock:
            found = shop.products.get(key)
            if found is not None:
                return found
            return next((p for p in shop.products.values() if key in (p.sku_id, p.sku)), None)

    def update(self, product: Product, **values: Any) -> Product:
        with self.lock:
            for name, value in values.items():
                setattr(product, name, value)
            product.updates += 1
        return product

    def clear(self) -> None:
        with self.lock:
            self.shops.clear()


_CATALOGS: weakref.WeakKeyDictionary[SandboxState, Catalog] = weakref.WeakKeyDictionary()
_CATALOGS_LOCK = threading.Lock()


def catalog_of(state: SandboxState) -> Catalog:
    """The catalog kept beside a sandbox's state (created on first use)."""
    with _CATALOGS_LOCK:
        found = _CATALOGS.get(state)
        if found is None:
            found = _CATALOGS[state] = Catalog()
        return found


def catalog(request: Request) -> Catalog:
    return catalog_of(request.app.state.sandbox)


control = APIRouter(prefix="/_sandbox", tags=["sandbox: control"])


@control.get("/{channel}/{shop}/listings")
def shop_listings(channel: str, shop: str, request: Request) -> dict[str, Any]:
    """What a shop's listing API received: its products and how many calls carried them."""
    state: SandboxState = request.app.state.sandbox
    if state.shop(channel, shop) is None:
        raise HTTPException(404, f"no {channel} shop {shop!r}")
    found = catalog(request).shop(channel, shop)
    return {
        "calls": found.calls,
        "batch_sizes": list(found.batch_sizes),
        "products": [asdict(p) for p in found.products.values()],
    }
