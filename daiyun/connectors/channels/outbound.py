"""Outbound capabilities: what Daiyun sends back to a marketplace, and how a connector says so.

A connector declares the capabilities it has in ``Connector.outbound``; asking one of a capability
it lacks raises :class:`CapabilityMissing`, which the caller records as such (MARKETPLACES.md:
never silently skipped). The listing capability takes :class:`ListingPush` items, in batches of
at most ``Connector.listing_batch_size``, and answers one :class:`ListingResult` per item: the
marketplace's ids on success, or its error, marked ``rejected`` when the marketplace refused the
listing itself (sending it again unchanged would be refused again).

A call that cannot get through at all (5xx or 429 after the client's bounded retries, a refused
token) raises instead: it says nothing about the listings, which stay to be tried again.

The ship capability takes one :class:`ShipmentPush` (an order left with a tracking number) and
answers a :class:`ShipmentResult`; the marketplace refusing the shipment itself (the order is
cancelled, shipped already with another number, the carrier unknown to it) raises
:class:`ShipmentRefused`, permanent. The same number pushed again is answered as a duplicate,
never as a second shipment. Each connector maps Daiyun's carrier codes (``sf``, ``zto``,
``yto``, ``jd``) to its marketplace's in ``Connector.carrier_codes``.

The buyer-messages capability reads what buyers wrote to the shop since a time
(:class:`BuyerMessage`, oldest first, at most a page) and sends a :class:`MessageReply` to one
buyer, answering the marketplace's id of the message it sent; a reply the marketplace refuses
(the buyer blocked the shop, the text broke its rules) raises :class:`MessageRefused`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Literal

from daiyun.connectors.errors import ConnectorError
from daiyun.core.money import exponent

LISTINGS = "listing+price"
SHIPMENTS = "ship with tracking"
MESSAGES = "buyer messages"

Action = Literal["publish", "update", "unlist"]


class CapabilityMissing(ConnectorError):
    """The marketplace (or this connector) has no API for what was asked."""


@dataclass(frozen=True)
class ListingPush:
    """One listing as the marketplace should have it.

    ``price_minor`` is what a buyer pays (the sale price while there is one);
    ``compare_at_minor`` the list price shown struck through beside it (None when not on sale).
    The ids are the marketplace's own, None until the first publish answered them.
    """

    key: str
    action: Action
    sku_code: str
    title: str
    currency: str
    list_price_minor: int
    sale_price_minor: int | None
    product_id: str | None = None
    sku_id: str | None = None
    inventory_item_id: str | None = None

    @property
    def price_minor(self) -> int:
        return self.sale_price_minor if self.sale_price_minor is not None else self.list_price_minor

    @property
    def compare_at_minor(self) -> int | None:
        return self.list_price_minor if self.sale_price_minor is not None else None


@dataclass(frozen=True)
class ListingResult:
    key: str
    ok: bool
    product_id: str | None = None
    sku_id: str | None = None
    inventory_item_id: str | None = None
    error: str | None = None
    rejected: bool = False


def accepted(push: ListingPush, **ids: str | None) -> ListingResult:
    """Success, keeping the ids the push already had where the answer names none."""
    return ListingResult(
        push.key,
        True,
        product_id=ids.get("product_id") or push.product_id,
        sku_id=ids.get("sku_id") or push.sku_id,
        inventory_item_id=ids.get("inventory_item_id") or push.inventory_item_id,
    )


def refused(push: ListingPush, error: str) -> ListingResult:
    return ListingResult(push.key, False, error=error, rejected=True)


class ShipmentRefused(ConnectorError):
    """The marketplace refused the shipment: sending it again unchanged is refused again."""


@dataclass(frozen=True)
class ShipmentPush:
    """An order (the marketplace's id) left with ``tracking_number`` of ``carrier`` (Daiyun's
    code). ``lines`` are (the marketplace's line id, quantity) shipped in this parcel; empty:
    every unshipped item of the order."""

    order_id: str
    carrier: str
    tracking_number: str
    shipped_at: datetime
    lines: tuple[tuple[str, int], ...] = field(default_factory=tuple)
    tracking_url: str | None = None
    carrier_name: str | None = None


@dataclass(frozen=True)
class ShipmentResult:
    # The marketplace's id of the shipment (Shopify's fulfillment), when it has one.
    reference: str | None = None
    # The marketplace had this tracking number for the order already: nothing changed.
    duplicate: bool = False


class MessageRefused(ConnectorError):
    """The marketplace refused the message: sending it again unchanged is refused again."""


@dataclass(frozen=True)
class BuyerMessage:
    """A buyer's message as the marketplace gives it: its id, the buyer's id and nickname, the
    text, when it was sent, and the order it is about (the marketplace's id) when it names one."""

    id: str
    buyer_id: str
    buyer_name: str
    text: str
    sent_at: datetime
    order_id: str | None = None


@dataclass(frozen=True)
class MessageReply:
    """A message to one buyer. ``key`` is Daiyun's id of it: sent twice, the marketplace keeps
    it once (where it takes such a key; UNCONFIRMED on every marketplace that has this API)."""

    key: str
    buyer_id: str
    text: str
    order_id: str | None = None


def decimal_text(amount_minor: int, currency: str) -> str:
    """An amount as the decimal string most marketplaces take ("12.50" for 1250 CNY fen)."""
    digits = exponent(currency)
    return f"{Decimal(amount_minor).scaleb(-digits):.{digits}f}"


def chunks(items: Sequence[ListingPush], size: int) -> list[list[ListingPush]]:
    size = max(1, size)
    return [list(items[i : i + size]) for i in range(0, len(items), size)]
