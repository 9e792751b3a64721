"""Pure rules of listings and their prices: the lifecycle, what a sync must send, the bounds
of a price and the backoff of a failed push.

No session here: the listing and price services gather the rows, these functions decide.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from enum import StrEnum

from daiyun.platform.storefront.rules import MAX_AMOUNT_MINOR


class ListingState(StrEnum):
    """Where a listing stands on its marketplace.

    ``draft``: prepared, never sent; ``in_review``: sent to publish, the marketplace has not
    accepted it yet; ``published``: on sale; ``rejected``: the marketplace refused it (its
    error is kept); ``unlisted``: taken off sale (kept, with its marketplace ids).
    """

    draft = "draft"
    in_review = "in_review"
    published = "published"
    rejected = "rejected"
    unlisted = "unlisted"


class SyncStatus(StrEnum):
    """Whether the marketplace has what Daiyun last decided for a listing."""

    pending = "pending"
    synced = "synced"
    failed = "failed"


class PriceListStatus(StrEnum):
    """A scheduled price list: waiting for its start, in effect, or over (prices restored)."""

    scheduled = "scheduled"
    active = "active"
    ended = "ended"


class PushAction(StrEnum):
    """What a push asks of the marketplace for one listing."""

    publish = "publish"
    update = "update"
    unlist = "unlist"


# Which states a publish or an unlist may start from.
PUBLISHABLE = frozenset(
    {ListingState.draft, ListingState.rejected, ListingState.unlisted, ListingState.in_review}
)
UNLISTABLE = frozenset({ListingState.published, ListingState.in_review})

# Prices are within the catalog's bounds, and a listing's price is never zero: a marketplace
# would sell it for nothing.
MIN_PRICE_MINOR = 1
MAX_PRICE_MINOR = MAX_AMOUNT_MINOR

# A failed push is tried again after 1, 2, 4 ... minutes, at most an hour apart, and by the
# sweep at most this many times; after that only a person's retry sends it again.
RETRY_BASE = timedelta(minutes=1)
RETRY_CAP = timedelta(hours=1)
MAX_AUTOMATIC_ATTEMPTS = 8


def action_for(state: ListingState, pushed_state: str | None) -> PushAction | None:
    """What a listing in ``state`` needs sent, given the state last pushed (None: nothing to
    send: a draft, or an unlisted listing that never reached the marketplace)."""
    if state is ListingState.in_review:
        return PushAction.publish
    if state is ListingState.published:
        return PushAction.update
    if state is ListingState.unlisted and pushed_state in (
        ListingState.published.value,
        ListingState.in_review.value,
    ):
        return PushAction.unlist
    return None


def next_attempt(attempts: int, now: datetime) -> datetime | None:
    """When the sweep tries a listing again after its ``attempts``-th failed push (None: no
    more automatic attempts)."""
    if attempts >= MAX_AUTOMATIC_ATTEMPTS:
        return None
    delay = min(RETRY_CAP, RETRY_BASE * 2 ** max(0, attempts - 1))
    return now + delay


def effective_price(list_price_minor: int, sale_price_minor: int | None) -> int:
    """What a buyer pays: the sale price while there is one, else the list price."""
    return sale_price_minor if sale_price_minor is not None else list_price_minor
