"""Telling a marketplace that an order shipped: the connectors' ship capability behind one call.

:func:`push_shipment` is what the fulfilment department's task calls (a call is made from a
task, never from a request: MARKETPLACES.md). It ends in one of three ways:

- a :class:`ShipmentResult`: the marketplace has the tracking number (``duplicate`` when it
  had it already: a retry after a lost answer is never a second shipment);
- :class:`ShipmentPushRetryable`: nothing is known to have changed and trying later may work
  (``5xx``/``429`` past the client's bounded retries, a timeout, a paused shop, a token to
  re-authorise, a tenant suspended);
- :class:`ShipmentPushRefused`: the marketplace refused this shipment, or cannot take one
  (no ship capability, no code for the carrier, the shop disconnected); a person decides.

Error messages are masked of the shop's secrets, ready to be stored and shown.
"""

from __future__ import annotations

import uuid

import structlog
from sqlalchemy.orm import Session

from daiyun.connectors.calls import HttpFactory, shop_connector
from daiyun.connectors.channels import connector_for
from daiyun.connectors.channels.outbound import (
    SHIPMENTS,
    ShipmentPush,
    ShipmentRefused,
    ShipmentResult,
)
from daiyun.connectors.errors import ConnectorError

log = structlog.get_logger()

__all__ = [
    "SHIPMENTS",
    "HttpFactory",
    "ShipmentPush",
    "ShipmentPushRefused",
    "ShipmentPushRetryable",
    "ShipmentResult",
    "can_ship",
    "push_shipment",
]


class ShipmentPushRetryable(ConnectorError):
    """The push did not get through; nothing changed that is known: try again later."""


class ShipmentPushRefused(ConnectorError):
    """The marketplace refused the shipment or cannot take one: sending it again will not help."""


def can_ship(channel: str) -> bool:
    """Whether the channel's connector has the ship capability."""
    return SHIPMENTS in connector_for(channel).outbound


def push_shipment(
    session: Session,
    tenant_id: uuid.UUID,
    shop_id: uuid.UUID,
    push: ShipmentPush,
    *,
    http_factory: HttpFactory | None = None,
) -> ShipmentResult:
    """Send one shipment to the shop's marketplace (see the module's docstring). Refreshed
    tokens are stored on the shop in ``session`` (flushed, not committed)."""
    with shop_connector(
        session,
        tenant_id,
        shop_id,
        SHIPMENTS,
        "shipment",
        refused=ShipmentPushRefused,
        retryable=ShipmentPushRetryable,
        refusals=(ShipmentRefused,),
        http_factory=http_factory,
    ) as connector:
        result = connector.push_shipment(push)
        channel, calls = connector.channel, connector.http.calls
    log.info(
        "shipment pushed",
        shop_id=str(shop_id),
        channel=channel,
        duplicate=result.duplicate,
        calls=calls,
    )
    return result
