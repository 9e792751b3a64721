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
from collections.abc import Callable

import structlog
from sqlalchemy.orm import Session

from daiyun.connectors import service as shop_service
from daiyun.connectors.channels import connector_for
from daiyun.connectors.channels.outbound import (
    SHIPMENTS,
    CapabilityMissing,
    ShipmentPush,
    ShipmentRefused,
    ShipmentResult,
)
from daiyun.connectors.errors import ConnectorError, HostNotAllowed, for_display
from daiyun.connectors.http import ShopHttp
from daiyun.connectors.models import ShopStatus

log = structlog.get_logger()

# Attempts per call inside one push (the task retries the push itself, later).
PUSH_ATTEMPTS = 4

HttpFactory = Callable[[str], ShopHttp]

__all__ = [
    "SHIPMENTS",
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
    shop = shop_service.get(session, shop_id)
    if shop.status == ShopStatus.disconnected:
        raise ShipmentPushRefused("The shop is disconnected")
    if shop.status != ShopStatus.active:
        raise ShipmentPushRetryable(f"The shop is {shop.status.value}")
    dormant = shop_service.dormant_tenant(session, tenant_id)
    if dormant is not None:
        raise ShipmentPushRetryable(f"The tenant is {dormant.value}")
    connector_cls = connector_for(shop.channel)
    if SHIPMENTS not in connector_cls.outbound:
        raise ShipmentPushRefused(f"{shop.channel} has no shipment API ({SHIPMENTS})")
    secrets = shop_service.secrets_of(shop)
    make_http = http_factory or (lambda key: ShopHttp(key, max_attempts=PUSH_ATTEMPTS))
    # The shop's key as a pull uses it: pushes and pulls of one shop share its rate bucket.
    with make_http(str(shop_id)) as http:
        connector = connector_cls(shop_service.access(shop), http)
        try:
            result = connector.push_shipment(push)
        except (ShipmentRefused, CapabilityMissing, HostNotAllowed) as exc:
            raise ShipmentPushRefused(for_display(exc, secrets)) from exc
        except ConnectorError as exc:
            # Throttled or failing past the retries, a malformed answer, a token to renew:
            # nothing says the marketplace refused this shipment.
            raise ShipmentPushRetryable(for_display(exc, secrets)) from exc
        finally:
            if connector.refreshed_credentials:
                shop_service.store_refreshed(session, shop, connector.refreshed_credentials)
                connector.refreshed_credentials = None
            calls = http.calls
    log.info(
        "shipment pushed",
        shop_id=str(shop_id),
        channel=shop.channel,
        duplicate=result.duplicate,
        calls=calls,
    )
    return result
