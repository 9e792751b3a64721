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
from contextlib import AbstractContextManager
from datetime import datetime

from sqlalchemy.orm import Session

from daiyun.connectors import service as shop_service
from daiyun.connectors.calls import HttpFactory, shop_connector
from daiyun.connectors.channels import connector_for
from daiyun.connectors.channels.base import Connector
from daiyun.connectors.channels.outbound import MESSAGES, BuyerMessage, MessageRefused, MessageReply
from daiyun.connectors.errors import ConnectorError
from daiyun.connectors.models import ShopStatus

__all__ = [
    "BuyerMessage",
    "HttpFactory",
    "MessageReply",
    "can_message",
    "fetch",
    "send",
    "shops_to_read",
]


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


def _connector(
    session: Session, tenant_id: uuid.UUID, shop_id: uuid.UUID, http_factory: HttpFactory | None
) -> AbstractContextManager[Connector]:
    return shop_connector(
        session,
        tenant_id,
        shop_id,
        MESSAGES,
        "buyer-message",
        refused=MessagesRefused,
        retryable=MessagesRetryable,
        refusals=(MessageRefused,),
        http_factory=http_factory,
    )


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
        found = connector.fetch_messages(since)
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
        sent = connector.send_message(reply)
    return sent
