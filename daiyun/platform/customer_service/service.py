"""Customer service: contacts, conversations and their messages, canned replies, SLA policies.

Assignment lives in ``assignment``, the SLA clocks in ``clocks``, e-mail in ``mail``. Services
flush, audit and never commit.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import or_
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from daiyun.connectors import service as shop_service
from daiyun.connectors.messages import can_message
from daiyun.core.audit import service as audit
from daiyun.core.errors import Problem
from daiyun.core.events.service import emit
from daiyun.core.ids import utcnow
from daiyun.core.pagination import encode_cursor, paginate
from daiyun.core.tasks import celery_app, enqueue_after_commit
from daiyun.platform.customer_service import assignment, clocks, repository, rules
from daiyun.platform.customer_service.models import (
    Channel,
    Contact,
    Conversation,
    Delivery,
    Identity,
    Message,
    MessageKind,
    SlaPolicy,
    State,
)
from daiyun.platform.customer_service.schemas import (
    ContactCreate,
    ContactRead,
    ConversationCreate,
    ConversationUpdate,
    IdentityRead,
    MessageCreate,
    SlaPolicyIn,
)
from daiyun.platform.orders import service as order_service
from daiyun.tenants.auth.models import User

# --- agents ---------------------------------------------------------------------------------


def agent_ids(session: Session) -> list[uuid.UUID]:
    """The bound tenant's customer-service agents (members whose role may answer buyers), for
    other departments handing them work (after-sales' follow-ups)."""
    return assignment.agent_ids(session)


# --- contacts ------------------------------------------------------------------------------


def _identity_value(channel: Channel, value: str) -> str:
    if channel == Channel.email:
        return rules.normal_email(value) or value
    if channel == Channel.phone:
        return rules.normal_phone(value) or value
    return value.strip()


def _add_identity(session: Session, contact: Contact, channel: Channel, value: str) -> None:
    value = _identity_value(channel, value)
    existing = repository.identity(session, channel, value)
    if existing is not None:
        if existing.contact_id != contact.id:
            raise Problem(
                409,
                "identity-taken",
                f"Another contact is already known as {channel.value} {value}",
            )
        return
    session.add(Identity(contact_id=contact.id, channel=channel, value=value))
    session.flush()


def create_contact(session: Session, body: ContactCreate) -> Contact:
    contact = Contact(
        name=body.name, email=rules.normal_email(body.email), phone=rules.normal_phone(body.phone)
    )
    session.add(contact)
    session.flush()
    # An e-mail or phone another contact is known by stays on this one as a detail only: the
    # two are then suggested for a merge (an explicit identity that is taken is refused).
    for channel, value in ((Channel.email, contact.email), (Channel.phone, contact.phone)):
        if value and repository.identity(session, channel, value) is None:
            _add_identity(session, contact, channel, value)
    for identity in body.identities:
        _add_identity(session, contact, identity.channel, identity.value)
    audit.record(session, "cs.contact_created", f"contact:{contact.id}")
    return contact


def contact_for(
    session: Session, channel: Channel, value: str, name: str, email: str | None = None
) -> Contact:
    """The contact known by this identity, made on first contact."""
    found = repository.identity(session, channel, _identity_value(channel, value))
    if found is not None:
        contact = get_contact(session, found.contact_id)
        while contact.merged_into_id is not None:
            contact = get_contact(session, contact.merged_into_id)
        return contact
    contact = Contact(name=name or value, email=rules.normal_email(email))
    session.add(contact)
    session.flush()
    _add_identity(session, contact, channel, value)
    return contact


def get_contact(session: Session, contact_id: uuid.UUID) -> Contact:
    found = repository.contact(session, contact_id)
    if found is None:
        raise Problem(404, "not-found", "No such contact")
    return found


def read_contacts(session: Session, found: list[Contact]) -> list[ContactRead]:
    ids = [c.id for c in found]
    by_contact: dict[uuid.UUID, list[IdentityRead]] = {i: [] for i in ids}
    for identity in repository.identities(session, ids):
        by_contact[identity.contact_id].append(IdentityRead.model_validate(identity))
    return [
        ContactRead.model_validate(c).model_copy(update={"identities": by_contact[c.id]})
        for c in found
    ]


def find_contacts(
    session: Session, q: str | None, cursor: str | None, limit: int
) -> tuple[list[Contact], str | None]:
    stmt = repository.contacts()
    if q:
        like = f"%{q.lower()}%"
        stmt = stmt.where(
            or_(Contact.email.like(like), Contact.name.ilike(like), Contact.phone.like(like))
        )
    return paginate(session, stmt, Contact.id, cursor, limit)


def suggestions(session: Session, contact_id: uuid.UUID) -> list[Contact]:
    """Contacts that look like the same person: the same e-mail or phone."""
    return repository.look_alikes(session, get_contact(session, contact_id))


def merge(session: Session, source_id: uuid.UUID, into_id: uuid.UUID) -> Contact:
    """One person, two contacts: the source's identities and conversations move to ``into``;
    the source stays, pointing at it (so old links still resolve)."""
    if source_id == into_id:
        raise Problem(422, "same-contact", "A contact cannot be merged into itself")
    source, into = get_contact(session, source_id), _named_contact(session, into_id)
    if into.merged_into_id is not None:
        raise Problem(409, "contact-merged", "The target was itself merged into another contact")
    if source.merged_into_id is not None:
        raise Problem(409, "contact-merged", "This contact was already merged")
    for identity in repository.identities(session, [source.id]):
        identity.contact_id = into.id
    for conv in repository.of_contact(session, source.id):
        conv.contact_id = into.id
    into.email = into.email or source.email
    into.phone = into.phone or source.phone
    source.merged_into_id = into.id
    session.flush()
    audit.record(session, "cs.contact_merged", f"contact:{source.id}", {"into": str(into.id)})
    return into


# --- conversations -------------------------------------------------------------------------


@dataclass(frozen=True, kw_only=True)
class Filters:
    state: State | None = None
    assignee_id: uuid.UUID | None = None
    unassigned: bool = False
    label: str | None = None
    shop_id: uuid.UUID | None = None
    channel: Channel | None = None
    contact_id: uuid.UUID | None = None
    unresolved: bool = False  # any state but resolved (an inbox's list)


def find_conversations(
    session: Session, filters: Filters, cursor: str | None, limit: int
) -> tuple[list[Conversation], str | None]:
    stmt = repository.conversations()
    if filters.state is not None:
        stmt = stmt.where(Conversation.state == filters.state)
    if filters.unresolved:
        stmt = stmt.where(Conversation.state != State.resolved)
    if filters.assignee_id is not None:
        stmt = stmt.where(Conversation.assignee_id == filters.assignee_id)
    if filters.unassigned:
        stmt = stmt.where(Conversation.assignee_id.is_(None))
    if filters.shop_id is not None:
        stmt = stmt.where(Conversation.shop_id == filters.shop_id)
    if filters.channel is not None:
        stmt = stmt.where(Conversation.channel == filters.channel)
    if filters.contact_id is not None:
        stmt = stmt.where(Conversation.contact_id == filters.contact_id)
    if filters.label is None:
        return paginate(session, stmt, Conversation.id, cursor, limit)
    # Labels are a short JSON list: filtered here, page by page, the same on both databases.
    found: list[Conversation] = []
    after = cursor
    while True:
        rows, after = paginate(session, stmt, Conversation.id, after, 200)
        found += [c for c in rows if filters.label in (c.labels or [])]
        if len(found) > limit or after is None:
            break
    if len(found) > limit:
        return found[:limit], encode_cursor(found[limit - 1].id)
    return found, None


def get_conversation(
    session: Session, conversation_id: uuid.UUID, *, lock: bool = False
) -> Conversation:
    found = repository.conversation(session, conversation_id, lock=lock)
    if found is None:
        raise Problem(404, "not-found", "No such conversation")
    return found


def shop_name(session: Session, shop_id: uuid.UUID) -> str | None:
    try:
        return shop_service.get(session, shop_id).name
    except Problem:
        return None


def _shop_known(session: Session, shop_id: uuid.UUID | None) -> None:
    if shop_id is not None and shop_name(session, shop_id) is None:
        raise Problem(422, "unknown-shop", "No shop of this merchant has that id")


def open_conversation(
    session: Session,
    contact: Contact,
    channel: Channel,
    *,
    subject: str = "",
    shop_id: uuid.UUID | None = None,
    order_id: uuid.UUID | None = None,
    mailbox_id: uuid.UUID | None = None,
    priority: Any = None,
    labels: list[str] | None = None,
    now: datetime | None = None,
) -> Conversation:
    """A new conversation: its SLA clocks start, and it is assigned (or queued)."""
    now = now or utcnow()
    conv = Conversation(
        contact_id=contact.id,
        channel=channel,
        subject=subject,
        shop_id=shop_id,
        order_id=order_id,
        mailbox_id=mailbox_id,
        labels=list(dict.fromkeys(labels or [])),
        state=State.open,
        last_message_at=now,
        created_at=now,
        breaches=[],
        paused={},
    )
    if priority is not None:
        conv.priority = priority
    session.add(conv)
    clocks.start(session, conv, now)
    session.flush()
    assignment.auto_assign(session, conv, now)
    audit.record(session, "cs.conversation_opened", f"conversation:{conv.id}")
    return conv


def _named_contact(session: Session, contact_id: uuid.UUID) -> Contact:
    # A contact named in a body (not the path): unknown is a broken request, not a missing page.
    found = repository.contact(session, contact_id)
    if found is None:
        raise Problem(422, "unknown-contact", "No contact of this merchant has that id")
    return found


def create_conversation(session: Session, body: ConversationCreate) -> Conversation:
    contact = _named_contact(session, body.contact_id)
    if contact.merged_into_id is not None:
        contact = get_contact(session, contact.merged_into_id)
    _shop_known(session, body.shop_id)
    if body.order_id is not None and order_service.get_order(session, body.order_id) is None:
        raise Problem(422, "unknown-order", "No order of this merchant has that id")
    conv = open_conversation(
        session,
        contact,
        body.channel,
        subject=body.subject,
        shop_id=body.shop_id,
        order_id=body.order_id,
        priority=body.priority,
        labels=body.labels,
    )
    add_inbound(session, conv, body.body, external_id=None)
    return conv


def update_conversation(
    session: Session, conv: Conversation, body: ConversationUpdate
) -> Conversation:
    if body.priority is not None:
        conv.priority = body.priority
    if body.labels is not None:
        conv.labels = list(dict.fromkeys(body.labels))
    session.flush()
    clocks.rematch(session, conv, utcnow())
    session.flush()
    audit.record(
        session,
        "cs.conversation_updated",
        f"conversation:{conv.id}",
        body.model_dump(mode="json", exclude_none=True),
    )
    return conv


def _system(session: Session, conv: Conversation, text: str) -> None:
    session.add(Message(conversation_id=conv.id, kind=MessageKind.system, body=text))


def add_inbound(
    session: Session,
    conv: Conversation,
    body: str,
    *,
    external_id: str | None,
    in_reply_to: str | None = None,
    attachments: list[dict[str, Any]] | None = None,
    now: datetime | None = None,
) -> Message:
    """The buyer's message: a resolved, snoozed or pending conversation opens again."""
    now = now or utcnow()
    message = Message(
        conversation_id=conv.id,
        kind=MessageKind.inbound,
        body=body,
        external_id=external_id,
        in_reply_to=in_reply_to,
        attachments=attachments or [],
        created_at=now,
    )
    session.add(message)
    was = conv.state
    conv.last_message_at = now
    if was == State.resolved:
        conv.state, conv.resolved_at = State.open, None
        clocks.reopen(session, conv, now)
        assignment.retake(session, conv, now)
    elif was in (State.pending, State.snoozed):
        conv.state, conv.snoozed_until = State.open, None
    clocks.on_inbound(session, conv, now)
    session.flush()
    return message


def reply_values(session: Session, conv: Conversation, user: User | None) -> dict[str, str | None]:
    contact = get_contact(session, conv.contact_id)
    values: dict[str, str | None] = {
        "buyer_name": contact.name,
        "agent_name": user.name if user else None,
    }
    if conv.order_id is not None:
        order = order_service.get_order(session, conv.order_id)
        if order is not None:
            values["order_number"] = order.external_id
        # Tracking numbers: the order book records no shipments yet, so the variable is empty.
    if conv.shop_id is not None:
        values["shop_name"] = shop_name(session, conv.shop_id)
    return values


def reply(session: Session, conv: Conversation, body: MessageCreate, user: User) -> Message:
    """An agent's reply (sent on the conversation's channel) or private note."""
    text = body.body
    if body.canned_reply_id is not None:
        canned = repository.canned_reply(session, body.canned_reply_id)
        if canned is None:
            raise Problem(422, "unknown-canned-reply", "No canned reply has that id")
        text = rules.render(canned.body, reply_values(session, conv, user))
    if not text or not text.strip():
        raise Problem(422, "empty-message", "Write a body or name a canned reply")
    now = utcnow()
    message = Message(
        conversation_id=conv.id, kind=body.kind, body=text, author_id=user.id, created_at=now
    )
    session.add(message)
    if body.kind == MessageKind.outbound:
        if conv.state == State.resolved:
            raise Problem(409, "conversation-resolved", "Reopen the conversation to reply")
        message.delivery = _delivery(session, conv)
        conv.last_message_at = now
        clocks.on_reply(conv, now)
    if message.delivery == Delivery.queued and conv.channel == Channel.email:
        _thread(session, conv, message)
    session.flush()
    if body.then == State.pending:
        set_pending(session, conv)
    elif body.then == State.resolved:
        resolve(session, conv)
    elif body.then is not None and body.then != conv.state:
        raise Problem(
            422, "invalid-state", "After a reply a conversation may go pending or resolved"
        )
    audit.record(session, f"cs.{body.kind.value}_written", f"conversation:{conv.id}")
    return message


def notify_buyer(session: Session, conversation_id: uuid.UUID, text: str) -> Message:
    """An automated message to the buyer (a decision on their after-sales case, a survey), sent
    on the conversation's channel like a reply (an e-mail is queued after the commit, and the
    sweep sends it if that is lost); no agent wrote it, so it neither answers the buyer for the
    SLA clocks nor counts as anyone's work."""
    conv = get_conversation(session, conversation_id)
    now = utcnow()
    message = Message(conversation_id=conv.id, kind=MessageKind.outbound, body=text, created_at=now)
    session.add(message)
    message.delivery = _delivery(session, conv)
    if message.delivery == Delivery.queued and conv.channel == Channel.email:
        _thread(session, conv, message)
    conv.last_message_at = now
    session.flush()
    if message.delivery == Delivery.queued:
        task = celery_app.signature(rules.SEND_REPLY_TASK)
        enqueue_after_commit(session, task, str(conv.tenant_id), str(message.id))
    return message


def _delivery(session: Session, conv: Conversation) -> Delivery:
    """How a message to the buyer goes out: e-mail, and a marketplace's chat where it has an
    API, are queued for the sending task; the chat widget's visitor reads it from the
    conversation (sent once written); other channels have no way out from here (the agent
    answers on the phone or in the marketplace's seller centre, and the reply is the record)."""
    if conv.channel == Channel.email:
        return Delivery.queued
    if conv.channel == Channel.widget:
        return Delivery.sent
    if (
        conv.channel == Channel.marketplace
        and conv.shop_id is not None
        and can_message(shop_service.get(session, conv.shop_id).channel)
    ):
        return Delivery.queued
    return Delivery.none


def _thread(session: Session, conv: Conversation, message: Message) -> None:
    """An e-mail reply's own Message-ID (at the mailbox's domain) and the buyer's last message
    it answers, so the buyer's client threads it and their answer comes back here."""
    mailbox = repository.mailbox(session, conv.mailbox_id) if conv.mailbox_id else None
    domain = mailbox.address.rsplit("@", 1)[-1] if mailbox else "daiyun.invalid"
    message.external_id = f"<{uuid.uuid4().hex}@{domain}>"
    last = repository.last_inbound(session, conv.id)
    message.in_reply_to = last.external_id if last is not None else None


def author(session: Session, user_id: uuid.UUID) -> User:
    """The agent writing (the portal knows its user by id only)."""
    found = session.get(User, user_id)
    if found is None:
        raise Problem(404, "not-found", "No such user")
    return found


def find_messages(
    session: Session, conv: Conversation, cursor: str | None, limit: int
) -> tuple[list[Message], str | None]:
    return paginate(session, repository.messages(conv.id), Message.id, cursor, limit)


def set_pending(session: Session, conv: Conversation) -> Conversation:
    if conv.state == State.resolved:
        raise Problem(409, "conversation-resolved", "Reopen the conversation first")
    if conv.state != State.pending:
        clocks.pause(session, conv, utcnow())
        conv.state, conv.snoozed_until = State.pending, None
        session.flush()
    audit.record(session, "cs.conversation_pending", f"conversation:{conv.id}")
    return conv


def snooze(session: Session, conv: Conversation, until: datetime) -> Conversation:
    now = utcnow()
    if until <= now:
        raise Problem(422, "snooze-in-past", "Snooze until a time to come")
    if conv.state == State.resolved:
        raise Problem(409, "conversation-resolved", "Reopen the conversation first")
    if conv.state == State.pending:
        clocks.resume(session, conv, now)
    clocks.record_breaches(conv, now)
    conv.state, conv.snoozed_until = State.snoozed, until
    session.flush()
    audit.record(session, "cs.conversation_snoozed", f"conversation:{conv.id}")
    return conv


def resolve(session: Session, conv: Conversation) -> Conversation:
    """Resolved: the clocks stop, the agent's slot frees up for the queue, and the event lets
    after-sales offer the buyer its satisfaction survey."""
    if conv.state == State.resolved:
        return conv
    now = utcnow()
    clocks.stop(conv, now)
    conv.state, conv.snoozed_until, conv.resolved_at = State.resolved, None, now
    assignment.release(session, conv)
    _system(session, conv, "resolved")
    session.flush()
    assignment.serve_queue(session, now)
    audit.record(session, "cs.conversation_resolved", f"conversation:{conv.id}")
    emit(session, rules.CONVERSATION_RESOLVED, {"conversation_id": str(conv.id)})
    return conv


def reopen(session: Session, conv: Conversation) -> Conversation:
    now = utcnow()
    if conv.state == State.resolved:
        conv.state, conv.resolved_at = State.open, None
        clocks.reopen(session, conv, now)
        assignment.retake(session, conv, now)
    elif conv.state in (State.pending, State.snoozed):
        if conv.state == State.pending:
            clocks.resume(session, conv, now)
        conv.state, conv.snoozed_until = State.open, None
    else:
        return conv
    _system(session, conv, "reopened")
    session.flush()
    audit.record(session, "cs.conversation_reopened", f"conversation:{conv.id}")
    return conv


def resolved_between(session: Session, start: datetime, end: datetime) -> list[Any]:
    """(id, assignee_id, resolved_at) of the conversations resolved in the period: what quality
    review samples from."""
    return repository.resolved_between(session, start, end)


def wake(session: Session, now: datetime | None = None) -> int:
    """Snoozed conversations whose time has come open again."""
    now = now or utcnow()
    woken = repository.woken(session, now)
    for conv in woken:
        conv.state, conv.snoozed_until = State.open, None
    session.flush()
    return len(woken)


# --- canned replies and SLA policies -------------------------------------------------------


def unique(session: Session, what: str) -> None:
    try:
        with session.begin_nested():
            session.flush()
    except IntegrityError as exc:
        raise Problem(409, "conflict", f"{what} is taken") from exc


def policies(session: Session) -> list[SlaPolicy]:
    return repository.policies(session)


def _policy_fields(body: SlaPolicyIn) -> dict[str, Any]:
    data = body.model_dump(mode="json")
    data["holidays"] = sorted(set(data["holidays"]))
    return data


def create_policy(session: Session, body: SlaPolicyIn) -> SlaPolicy:
    policy = SlaPolicy(**_policy_fields(body))
    session.add(policy)
    session.flush()
    audit.record(session, "cs.sla_policy_created", f"sla_policy:{policy.id}")
    return policy


def update_policy(session: Session, policy_id: uuid.UUID, body: SlaPolicyIn) -> SlaPolicy:
    """New targets apply to conversations that start from now on; running clocks keep theirs."""
    found = repository.policy(session, policy_id)
    if found is None:
        raise Problem(404, "not-found", "No such SLA policy")
    for key, value in _policy_fields(body).items():
        setattr(found, key, value)
    session.flush()
    audit.record(session, "cs.sla_policy_updated", f"sla_policy:{found.id}")
    return found
