"""The marketplace channel: what buyers write in a marketplace's own chat, where the marketplace
opens it to service providers (the connectors' buyer-messages capability: Pinduoduo, JD and
Douyin, UNCONFIRMED on the wire; Shopify, WooCommerce, Amazon and Taobao have none, and their
conversations are answered in the seller centre, the reply kept here as a record).

:func:`pull` runs in a task per shop: it asks for the messages sent since a little before the
newest one kept (so a message the marketplace listed late is still found) and keeps each once,
by the marketplace's id. Each buyer is a contact known by ``{channel}:{buyer id}``, and their
messages to one shop are one conversation, opened on the order they name when the order book
has it. :func:`send` hands a queued reply to the marketplace in a task, carrying the message's
own id so that a retry is kept once; a refusal marks it failed with the marketplace's reason as
a system line the agent sees.
"""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta

import structlog
from sqlalchemy.orm import Session

from daiyun.connectors import messages
from daiyun.connectors import service as shop_service
from daiyun.core.db import take_write_lock, unit_of_work
from daiyun.core.ids import utcnow
from daiyun.platform.customer_service import repository, service
from daiyun.platform.customer_service.models import (
    Channel,
    Conversation,
    Delivery,
    Message,
    MessageKind,
)
from daiyun.platform.orders import service as order_service

log = structlog.get_logger()
# How far before the newest kept message each pull looks again, and how far back the first goes.
OVERLAP = timedelta(minutes=10)
FIRST_LOOK = timedelta(days=1)


def _external(shop_id: uuid.UUID, message_id: str) -> str:
    return f"mkt:{shop_id}:{message_id}"[:300]


def _conversation(
    session: Session, shop_id: uuid.UUID, channel: str, found: messages.BuyerMessage
) -> Conversation:
    value = f"{channel}:{found.buyer_id}"
    contact = service.contact_for(session, Channel.marketplace, value, found.buyer_name)
    conv = repository.channel_conversation(session, contact.id, shop_id, Channel.marketplace)
    if conv is not None:
        return conv
    order = None
    if found.order_id:
        order = order_service.find_by_external_id(session, shop_id, found.order_id)
    return service.open_conversation(
        session,
        contact,
        Channel.marketplace,
        subject=found.text[:80],
        shop_id=shop_id,
        order_id=order.id if order is not None else None,
        now=found.sent_at,
    )


def pull(
    tenant_id: uuid.UUID,
    shop_id: uuid.UUID,
    *,
    now: datetime | None = None,
    http_factory: messages.HttpFactory | None = None,
) -> int:
    """Keep what buyers wrote to the shop since the last pull; how many messages were new.
    Raises :class:`messages.MessagesRetryable` or ``MessagesRefused`` when the call fails."""
    now = now or utcnow()
    with unit_of_work(tenant_id) as session:
        channel = shop_service.get(session, shop_id).channel
        newest = repository.newest_inbound(session, shop_id, Channel.marketplace)
        since = newest - OVERLAP if newest is not None else now - FIRST_LOOK
        found = messages.fetch(session, tenant_id, shop_id, since, http_factory=http_factory)
    kept = 0
    with unit_of_work(tenant_id) as session:
        take_write_lock(session)  # two pulls of one shop at once keep each message once
        for one in found:
            external_id = _external(shop_id, one.id)
            if repository.message_by_external(session, [external_id]) is not None:
                continue
            conv = _conversation(session, shop_id, channel, one)
            conv = service.get_conversation(session, conv.id, lock=True)
            service.add_inbound(session, conv, one.text, external_id=external_id, now=one.sent_at)
            kept += 1
    return kept


def _buyer_id(session: Session, contact_id: uuid.UUID, channel: str) -> str | None:
    for identity in repository.identities(session, [contact_id]):
        prefix = f"{channel}:"
        if identity.channel == Channel.marketplace and identity.value.startswith(prefix):
            return identity.value[len(prefix) :]
    return None


def send(session: Session, message_id: uuid.UUID) -> Delivery | None:
    """Hand a queued reply to the marketplace (the row locked, so it goes once)."""
    message = repository.message(session, message_id, lock=True)
    if message is None or message.delivery != Delivery.queued:
        return message.delivery if message is not None else None
    conv = service.get_conversation(session, message.conversation_id)
    assert conv.shop_id is not None  # a marketplace conversation is always a shop's
    channel = shop_service.get(session, conv.shop_id).channel
    buyer = _buyer_id(session, conv.contact_id, channel)
    order = order_service.get_order(session, conv.order_id) if conv.order_id else None
    if buyer is None:
        return _failed(session, message, "the buyer has no id on this marketplace")
    reply = messages.MessageReply(
        key=str(message.id),
        buyer_id=buyer,
        text=message.body,
        order_id=order.external_id if order is not None else None,
    )
    try:
        sent = messages.send(session, conv.tenant_id, conv.shop_id, reply)
    except messages.MessagesRefused as exc:
        return _failed(session, message, str(exc))
    except messages.MessagesRetryable as exc:
        # Still queued: the sweep sends it again later.
        log.warning("marketplace reply not sent yet", message_id=str(message.id), error=str(exc))
        return message.delivery
    message.external_id = _external(conv.shop_id, sent)
    message.delivery = Delivery.sent
    session.flush()
    return message.delivery


def _failed(session: Session, message: Message, why: str) -> Delivery:
    message.delivery = Delivery.failed
    session.add(
        Message(
            conversation_id=message.conversation_id,
            kind=MessageKind.system,
            body=f"The marketplace did not take the reply: {why}"[:2000],
        )
    )
    session.flush()
    return message.delivery
