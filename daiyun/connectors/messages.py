"""Buyers' messages on a marketplace: the connectors' buyer-messages capability behind two calls,
for customer service's tasks (a call is made from a task, never from a request: MARKETPLACES.md).

:func:`fetch` reads what buyers wrote since a time; :func:`send` sends one reply. Either ends in
its answer, in :class:`MessagesRetryable` (nothing is known to have changed: a shop paused or
throttled past the client's retries, a token to re-authorise, a tenant suspended) or in
:class:`MessagesRefused` (the marketplace refused this message or has no such API, the shop is
disconnected: sending again will not help). Errors are masked of the shop's secrets.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from contextlib import contextmanager
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from daiyun.connectors import service as shop_service
from daiyun.connectors.channels import connector_for
from daiyun.connectors.channels.outbound import (
    MESSAGES,
    BuyerMessage,
    CapabilityMissing,
    MessageRefused,
    MessageReply,
)
from daiyun.connectors.errors import ConnectorError, HostNotAllowed, for_display
from daiyun.connectors.http import ShopHttp
from daiyun.connectors.models import ShopStatus

# Attempts per call (the task tries again later).
ATTEMPTS = 4
HttpFactory = Callable[[str], ShopHttp]

__all__ = ["BuyerMessage", "MessageReply", "can_message", "fetch", "send", "shops_to_read"]


class MessagesRetryable(ConnectorError):
    """The call did not get through; try again later."""


class MessagesRefused(ConnectorError):
    """The marketplace refused the message or cannot take one."""


def can_message(channel: str) -> bool:
    """Whether the channel's marketplace has a buyer-message API Daiyun speaks."""
    return MESSAGES in connector_for(channel).outbound


def shops_to_read(session: Session) -> list[uuid.UUID]:
    """The bound tenant's active shops on a marketplace whose chat Daiyun reads."""
    return [
        shop.id
        for shop in shop_service.shops(session)
        if shop.status == ShopStatus.active and can_message(shop.channel)
    ]


@contextmanager
def _connector(
    session: Session, tenant_id: uuid.UUID, shop_id: uuid.UUID, http_factory: HttpFactory | None
) -> Any:
    shop = shop_service.get(session, shop_id)
    if shop.status == ShopStatus.disconnected:
        raise MessagesRefused("The shop is disconnected")
    if shop.status != ShopStatus.active:
        raise MessagesRetryable(f"The shop is {shop.status.value}")
    dormant = shop_service.dormant_tenant(session, tenant_id)
    if dormant is not None:
        raise MessagesRetryable(f"The tenant is {dormant.value}")
    if not can_message(shop.channel):
        raise MessagesRefused(f"{shop.channel} has no buyer-message API ({MESSAGES})")
    secrets = shop_service.secrets_of(shop)
    make_http = http_factory or (lambda key: ShopHttp(key, max_attempts=ATTEMPTS))
    # Keyed by the shop, as its pulls and pushes are: they share its rate bucket.
    with make_http(str(shop_id)) as http:
        connector = connector_for(shop.channel)(shop_service.access(shop), http)
        try:
            yield connector
        except (MessageRefused, CapabilityMissing, HostNotAllowed) as exc:
            raise MessagesRefused(for_display(exc, secrets)) from exc
        except ConnectorError as exc:
            raise MessagesRetryable(for_display(exc, secrets)) from exc
        finally:
            if connector.refreshed_credentials:
                shop_service.store_refreshed(session, shop, connector.refreshed_credentials)
                connector.refreshed_credentials = None


def fetch(
    session: Session,
    tenant_id: uuid.UUID,
    shop_id: uuid.UUID,
    since: datetime,
    *,
    http_factory: HttpFactory | None = None,
) -> list[BuyerMessage]:
    """What buyers wrote to the shop at or after ``since``, oldest first (one page)."""
    with _connector(session, tenant_id, shop_id, http_factory) as connector:
        found: list[BuyerMessage] = connector.fetch_messages(since)
    return found


def send(
    session: Session,
    tenant_id: uuid.UUID,
    shop_id: uuid.UUID,
    reply: MessageReply,
    *,
    http_factory: HttpFactory | None = None,
) -> str:
    """Send one reply; the marketplace's id of it."""
    with _connector(session, tenant_id, shop_id, http_factory) as connector:
        sent: str = connector.send_message(reply)
    return sent
