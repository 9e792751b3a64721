"""The e-mail channel: mailboxes, the signed inbound-parse webhook, and replies over SMTP.

Inbound (ARCHITECTURE.md rule 4): ``receive`` checks the signature (HMAC-SHA256 of timestamp and
token, fresh within five minutes), finds the mailbox by its unguessable key, and stores the
delivery under its token in one short transaction; a delivery seen before (same token or same
Message-ID) is answered as a duplicate and stored once. ``process`` runs in a task and makes a
message of it, in the conversation its In-Reply-To or References name, else a new one.

Outbound: a reply on an e-mail conversation carries its own Message-ID and In-Reply-To (the
buyer's last message) and References (the thread), so the buyer's client threads it and the
buyer's answer finds its way back here. ``send`` hands it to the SMTP server in a task.
"""

from __future__ import annotations

import base64
import secrets
import smtplib
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from email.message import EmailMessage
from typing import Any
from zoneinfo import ZoneInfo

import structlog
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from daiyun.core import mail as outbox
from daiyun.core.audit import service as audit
from daiyun.core.config import get_settings
from daiyun.core.db import unit_of_work
from daiyun.core.errors import Problem
from daiyun.core.ids import utcnow
from daiyun.core.pagination import paginate
from daiyun.platform.customer_service import clocks, repository, rules, service
from daiyun.platform.customer_service.models import (
    Attachment,
    Channel,
    Delivery,
    InboundEmail,
    InboundStatus,
    Mailbox,
    MailRoute,
    State,
)
from daiyun.platform.customer_service.schemas import MailboxIn, MailboxRead
from daiyun.tenants import service as tenant_service
from daiyun.tenants.auth.permissions import Role
from daiyun.tenants.models import Tenant

log = structlog.get_logger()
MAX_FILES = 10


def webhook_url(mailbox: Mailbox) -> str:
    return f"{get_settings().base_url.rstrip('/')}/webhooks/email/{mailbox.key}/inbound"


def read(mailbox: Mailbox) -> MailboxRead:
    return MailboxRead(
        id=mailbox.id,
        address=mailbox.address,
        display_name=mailbox.display_name,
        shop_id=mailbox.shop_id,
        webhook_url=webhook_url(mailbox),
    )


def create_mailbox(session: Session, body: MailboxIn) -> Mailbox:
    if body.shop_id is not None and service.shop_name(session, body.shop_id) is None:
        raise Problem(422, "unknown-shop", "No shop of this merchant has that id")
    mailbox = Mailbox(
        address=rules.normal_email(body.address) or body.address,
        display_name=body.display_name,
        shop_id=body.shop_id,
        key=secrets.token_urlsafe(32),
    )
    session.add(mailbox)
    session.flush()
    session.add(MailRoute(key=mailbox.key, tenant_id=mailbox.tenant_id, mailbox_id=mailbox.id))
    session.flush()
    audit.record(session, "cs.mailbox_created", f"mailbox:{mailbox.id}")
    return mailbox


def find_mailboxes(
    session: Session, cursor: str | None, limit: int
) -> tuple[list[Mailbox], str | None]:
    return paginate(session, repository.mailboxes(), Mailbox.id, cursor, limit)


@dataclass(frozen=True)
class Receipt:
    tenant_id: uuid.UUID | None
    inbound_id: uuid.UUID | None
    status: str  # accepted, duplicate


def _refused() -> Problem:
    return Problem(401, "invalid-signature", "The signature does not match or is stale")


def receive(key: str, fields: Mapping[str, str], files: list[dict[str, Any]]) -> Receipt:
    """Authenticate and store one inbound-parse delivery; raises Problem on refusal."""
    signing_key = get_settings().email_signing_key
    timestamp, token = fields.get("timestamp", ""), fields.get("token", "")
    signature = fields.get("signature", "")
    if (
        not signing_key
        or not token
        or not rules.signature_ok(signing_key, timestamp, token, signature, utcnow())
    ):
        raise _refused()
    with unit_of_work() as session:
        route = repository.mail_route(session, key)
        if route is None:
            raise Problem(404, "unknown-mailbox", "No mailbox listens at this address")
        tenant_id, mailbox_id = route.tenant_id, route.mailbox_id
    message_id = (
        rules.message_ids(fields.get("Message-Id")) or [f"<{token[:80]}@inbound.invalid>"]
    )[0]
    kept = {k: v[:100_000] for k, v in fields.items() if k not in ("signature",)}
    with unit_of_work(tenant_id) as session:
        seen = repository.inbound_by_token(
            session, token[:120]
        ) or repository.inbound_by_message_id(session, message_id[:300])
        if seen is not None:
            if seen.token == token[:120] and seen.message_id != message_id[:300]:
                raise _refused()  # a token is used once: another mail under it is a replay
            return Receipt(tenant_id, seen.id, "duplicate")
        row = InboundEmail(
            mailbox_id=mailbox_id,
            token=token[:120],
            message_id=message_id[:300],
            fields=kept,
            files=files[:MAX_FILES],
            status=InboundStatus.received,
        )
        session.add(row)
        try:
            with session.begin_nested():
                session.flush()
        except IntegrityError:  # the same delivery, concurrently
            return Receipt(tenant_id, None, "duplicate")
        return Receipt(tenant_id, row.id, "accepted")


def process(session: Session, inbound_id: uuid.UUID) -> InboundStatus | None:
    """Make a message of a stored delivery (safe to run twice)."""
    row = repository.inbound(session, inbound_id, lock=True)
    if row is None or row.status != InboundStatus.received:
        return row.status if row is not None else None
    fields = row.fields
    name, address = rules.address_of(fields.get("from") or fields.get("sender") or "")
    if address is None:
        row.status, row.error = InboundStatus.failed, "no sender address"
        session.flush()
        return row.status
    if repository.message_by_external(session, [row.message_id]) is not None:
        row.status = InboundStatus.processed
        session.flush()
        return row.status
    thread = rules.message_ids(fields.get("In-Reply-To")) + rules.message_ids(
        fields.get("References")
    )
    earlier = repository.message_by_external(session, thread)
    conv = service.get_conversation(session, earlier.conversation_id) if earlier else None
    if conv is None:
        mailbox = repository.mailbox(session, row.mailbox_id)
        contact = service.contact_for(session, Channel.email, address, name, email=address)
        conv = service.open_conversation(
            session,
            contact,
            Channel.email,
            subject=(fields.get("subject") or "")[:300],
            shop_id=mailbox.shop_id if mailbox else None,
            mailbox_id=row.mailbox_id,
        )
    body = fields.get("stripped-text") or fields.get("body-plain") or ""
    replying_to = rules.message_ids(fields.get("In-Reply-To"))
    message = service.add_inbound(
        session,
        conv,
        body or "(no text)",
        external_id=row.message_id,
        in_reply_to=replying_to[0] if replying_to else None,
    )
    listed = []
    for file in row.files:
        data = base64.b64decode(file["data"])
        kept = Attachment(
            message_id=message.id,
            filename=str(file["filename"])[:255],
            content_type=str(file["content_type"])[:120],
            size=len(data),
            data=data,
        )
        session.add(kept)
        session.flush()
        listed.append({"id": str(kept.id), "filename": kept.filename, "size": kept.size})
    message.attachments = listed
    row.status = InboundStatus.processed
    session.flush()
    return row.status


def send(session: Session, message_id: uuid.UUID) -> Delivery | None:
    """Hand a queued reply to the SMTP server, with its threading headers. The row is locked,
    so the task and the sweep picking up the same message send it once."""
    message = repository.message(session, message_id, lock=True)
    if message is None or message.delivery != Delivery.queued:
        return message.delivery if message is not None else None
    conv = service.get_conversation(session, message.conversation_id)
    contact = service.get_contact(session, conv.contact_id)
    mailbox = repository.mailbox(session, conv.mailbox_id) if conv.mailbox_id else None
    to = contact.email
    if mailbox is None or to is None:
        message.delivery = Delivery.failed
        session.flush()
        return message.delivery
    mail = EmailMessage()
    mail["From"] = (
        f"{mailbox.display_name} <{mailbox.address}>" if mailbox.display_name else mailbox.address
    )
    mail["To"] = to
    subject = conv.subject or ""
    mail["Subject"] = subject if subject.lower().startswith("re:") else f"Re: {subject}".strip()
    mail["Message-ID"] = message.external_id
    if message.in_reply_to:
        mail["In-Reply-To"] = message.in_reply_to
    references = [m for m in repository.thread_ids(session, conv.id) if m != message.external_id]
    if references:
        mail["References"] = " ".join(references[-20:])
    mail.set_content(message.body)
    try:
        outbox.send(mail)
    except (OSError, smtplib.SMTPException) as exc:
        log.warning("reply not sent", message_id=str(message.id), error=str(exc)[:200])
        message.delivery = Delivery.failed
        session.flush()
        return message.delivery
    message.delivery = Delivery.sent
    session.flush()
    return message.delivery


# Who hears of a clock at risk besides the conversation's agent: the merchant's account managers,
# who answer to the merchant for its service (cs:manage is the agency admins', who are members
# of no tenant and would hear of every merchant's clocks).
SUPERVISOR_ROLES = (Role.account_manager.value,)


def send_warning(session: Session, conversation_id: uuid.UUID, key: str) -> list[str]:
    """E-mail a clock-at-risk warning to the conversation's agent and the merchant's supervisors
    (one message, every one of them a recipient); the addresses it went to. A conversation
    answered or resolved since, whose clock no longer runs to that due time, needs none."""
    conv = service.get_conversation(session, conversation_id)
    clock, _, due_text = key.partition("@")
    if getattr(conv, f"{clock}_due", None) is None or conv.state == State.resolved:
        return []
    due = datetime.fromisoformat(due_text)
    if getattr(conv, f"{clock}_due").isoformat() != due.isoformat():
        return []  # re-timed since: the new time warns of its own
    addresses = [email for _, email in repository.supervisors(session, SUPERVISOR_ROLES)]
    agent = repository.user_email(session, conv.assignee_id) if conv.assignee_id else None
    if agent and agent not in addresses:
        addresses.insert(0, agent)
    if not addresses:
        return []
    tenant = session.get(Tenant, conv.tenant_id)
    buyer = service.get_contact(session, conv.contact_id).name
    local = due.astimezone(ZoneInfo(tenant_service.time_zone(session)))
    settings = get_settings()
    link = f"{settings.base_url}/portal/console/inbox?c={tenant.slug if tenant else ''}:{conv.id}"
    mail = EmailMessage()
    mail["From"] = settings.notifications_from
    mail["To"] = ", ".join(addresses)
    mail["Subject"] = (
        f"SLA at risk: {clocks.CLOCK_NAMES[clock]} for {buyer} due {local:%Y-%m-%d %H:%M}"
    )
    mail.set_content(
        f"{tenant.display_name if tenant else ''}: the {clocks.CLOCK_NAMES[clock]} to {buyer} is"
        f" due {local:%Y-%m-%d %H:%M} ({local.tzname()}).\n\nOpen the conversation: {link}\n"
    )
    outbox.send(mail)
    return addresses
