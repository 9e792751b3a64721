"""Customer service's tasks: processing inbound mail, reading the marketplaces' chats, sending
replies on their channel, warning of SLA clocks at risk, and the sweep that records SLA
breaches, wakes snoozed conversations, serves the queues and picks up stored mail a lost
message never handed on."""

from __future__ import annotations

import smtplib
import uuid
from datetime import timedelta

import structlog
from sqlalchemy import select
from sqlalchemy.orm import Session

from daiyun.connectors import messages
from daiyun.core.db import unit_of_work
from daiyun.core.ids import utcnow
from daiyun.core.tasks import enqueue_after_commit, platform_task, tenant_task
from daiyun.platform.customer_service import (
    assignment,
    clocks,
    mail,
    marketplace,
    repository,
    service,
)
from daiyun.platform.customer_service.assignment import WORKING
from daiyun.platform.customer_service.models import Channel, Delivery
from daiyun.tenants.models import Tenant

log = structlog.get_logger()
SWEEP_SECONDS = 30.0
# How often the shops' marketplace chats are read for buyers' messages.
PULL_SECONDS = 60.0
# Stored mail still unprocessed after this long is handed on again by the sweep.
STALE_SECONDS = 60
# An e-mail still queued this long after it was written lost its task: the sweep sends it.
UNSENT_AFTER = timedelta(minutes=5)


@tenant_task("daiyun.cs.process_email", autoretry_for=(Exception,), max_retries=5)
def process_email(session: Session, inbound_id: str) -> str | None:
    status = mail.process(session, uuid.UUID(inbound_id))
    return status.value if status is not None else None


def _send(session: Session, message_id: uuid.UUID) -> Delivery | None:
    """A queued reply out on its conversation's channel: a marketplace's chat, else e-mail."""
    message = repository.message(session, message_id)
    if message is None:
        return None
    conv = service.get_conversation(session, message.conversation_id)
    if conv.channel == Channel.marketplace:
        return marketplace.send(session, message_id)
    return mail.send(session, message_id)


@tenant_task("daiyun.cs.send_reply", autoretry_for=(Exception,), max_retries=5)
def send_reply(session: Session, message_id: str) -> str | None:
    delivery = _send(session, uuid.UUID(message_id))
    return delivery.value if delivery is not None else None


@tenant_task("daiyun.cs.warn_sla", autoretry_for=(OSError, smtplib.SMTPException), max_retries=5)
def warn_sla(session: Session, conversation_id: str, key: str) -> list[str]:
    return mail.send_warning(session, uuid.UUID(conversation_id), key)


def sweep_tenant(tenant_id: uuid.UUID) -> dict[str, int]:
    """One tenant's pass: breaches recorded, clocks at risk warned of, snoozes woken, the queue
    served, mail processed, and e-mails left queued (their task lost) sent."""
    now = utcnow()
    with unit_of_work(tenant_id) as session:
        warnings = clocks.warn(session, now)
        for conversation_id, key in warnings:
            enqueue_after_commit(session, warn_sla, str(tenant_id), str(conversation_id), key)
        done = {
            "warned": len(warnings),
            "breached": clocks.sweep(session, now),
            "woken": service.wake(session, now),
            "assigned": assignment.serve_queue(session, now),
        }
        stale = repository.unprocessed(session, now - timedelta(seconds=STALE_SECONDS))
        unsent = repository.unsent(session, now - UNSENT_AFTER)
    for inbound_id in stale:
        with unit_of_work(tenant_id) as session:
            mail.process(session, inbound_id)
    for message_id in unsent:
        with unit_of_work(tenant_id) as session:
            _send(session, message_id)
    done["mail"], done["sent"] = len(stale), len(unsent)
    return done


@platform_task("daiyun.cs.sweep")
def sweep(session: Session) -> int:
    """Every active tenant's pass; a tenant that fails is logged and the others go on."""
    swept = 0
    stmt = select(Tenant.id).where(Tenant.status.in_(WORKING))
    for tenant_id in list(session.scalars(stmt)):
        try:
            sweep_tenant(tenant_id)
            swept += 1
        except Exception:
            log.exception("customer-service sweep failed", tenant_id=str(tenant_id))
    return swept


def pull_shop(tenant_id: uuid.UUID, shop_id: uuid.UUID) -> int:
    """One shop's buyer messages taken in; a call that fails is logged and tried next time."""
    try:
        return marketplace.pull(tenant_id, shop_id)
    except (messages.MessagesRetryable, messages.MessagesRefused) as exc:
        log.warning("buyer messages not pulled", shop_id=str(shop_id), error=str(exc)[:300])
        return 0


@platform_task("daiyun.cs.pull_messages")
def pull_messages(session: Session) -> int:
    """Every working tenant's shops on a marketplace with a buyer-message API: what their
    buyers wrote since the last pull."""
    kept = 0
    stmt = select(Tenant.id).where(Tenant.status.in_(WORKING))
    for tenant_id in list(session.scalars(stmt)):
        with unit_of_work(tenant_id) as tenant_session:
            shops = messages.shops_to_read(tenant_session)
        for shop_id in shops:
            kept += pull_shop(tenant_id, shop_id)
    return kept


SCHEDULE = {
    "cs-sweep": {"task": "daiyun.cs.sweep", "schedule": SWEEP_SECONDS},
    "cs-pull-messages": {"task": "daiyun.cs.pull_messages", "schedule": PULL_SECONDS},
}
