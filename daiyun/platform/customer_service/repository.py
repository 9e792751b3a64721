"""Every query on customer service's tables."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, Row, Select, Text, case, cast, func, or_, select, update
from sqlalchemy.orm import Session

from daiyun.platform.customer_service.models import (
    PRIORITY_RANK,
    Agent,
    AgentStatus,
    Article,
    CannedReply,
    Contact,
    Conversation,
    Delivery,
    Identity,
    InboundEmail,
    InboundStatus,
    Macro,
    Mailbox,
    MailRoute,
    Message,
    Settings,
    SlaPolicy,
    State,
    Widget,
    WidgetRoute,
)
from daiyun.tenants.auth.models import User
from daiyun.tenants.models import Membership

OPEN_STATES = (State.open, State.pending, State.snoozed)


def contacts() -> Select[Any]:
    return select(Contact).where(Contact.merged_into_id.is_(None))


def contact(session: Session, contact_id: uuid.UUID) -> Contact | None:
    return session.scalar(select(Contact).where(Contact.id == contact_id))


def identities(session: Session, contact_ids: Sequence[uuid.UUID]) -> list[Identity]:
    stmt = select(Identity).where(Identity.contact_id.in_(contact_ids)).order_by(Identity.id)
    return list(session.scalars(stmt))


def identity(session: Session, channel: str, value: str) -> Identity | None:
    stmt = select(Identity).where(Identity.channel == channel, Identity.value == value)
    return session.scalar(stmt)


def look_alikes(session: Session, found: Contact) -> list[Contact]:
    """Other live contacts with the same e-mail or phone."""
    same = []
    if found.email:
        same.append(Contact.email == found.email)
    if found.phone:
        same.append(Contact.phone == found.phone)
    if not same:
        return []
    stmt = contacts().where(or_(*same), Contact.id != found.id).order_by(Contact.id)
    return list(session.scalars(stmt))


def conversations() -> Select[Any]:
    return select(Conversation)


def conversation(
    session: Session, conversation_id: uuid.UUID, *, lock: bool = False
) -> Conversation | None:
    stmt = select(Conversation).where(Conversation.id == conversation_id)
    return session.scalar(stmt.with_for_update() if lock else stmt)


def of_contact(session: Session, contact_id: uuid.UUID) -> list[Conversation]:
    return list(session.scalars(select(Conversation).where(Conversation.contact_id == contact_id)))


def assigned_to(session: Session, user_id: uuid.UUID) -> list[Conversation]:
    stmt = select(Conversation).where(
        Conversation.assignee_id == user_id, Conversation.state.in_(OPEN_STATES)
    )
    return list(session.scalars(stmt.order_by(Conversation.id)))


def queue() -> Select[Any]:
    """Waiting conversations, in service order: priority, then age."""
    rank = case(*((Conversation.priority == p, r) for p, r in PRIORITY_RANK.items()), else_=0)
    return (
        select(Conversation)
        .where(Conversation.assignee_id.is_(None), Conversation.state.in_(OPEN_STATES))
        .order_by(rank.desc(), Conversation.queued_at, Conversation.id)
    )


def due_clocks(session: Session, now: datetime) -> list[Conversation]:
    """Unresolved conversations with a clock past due."""
    stmt = select(Conversation).where(
        Conversation.state.in_((State.open, State.snoozed)),
        or_(
            Conversation.first_response_due < now,
            Conversation.next_response_due < now,
            Conversation.resolution_due < now,
        ),
    )
    return list(session.scalars(stmt))


def _due(clock: str) -> Any:
    return getattr(Conversation, f"{clock}_due")


def breach_groups(session: Session, clocks: Sequence[str], now: datetime) -> list[Row[Any]]:
    """The conversations ``due_clocks`` finds, in groups that change alike: by their breaches as
    stored (``breaches``, the JSON text) and which of ``clocks`` are past due. Each group has,
    per clock, its latest due time (past if the clock is past due in the group, else not)."""
    stored = cast(Conversation.breaches, Text)
    stmt = (
        select(stored.label("breaches"), *(func.max(_due(c)).label(c) for c in clocks))
        .where(
            Conversation.state.in_((State.open, State.snoozed)),
            or_(*(_due(c) < now for c in clocks)),
        )
        .group_by(stored, *(case((_due(c) < now, 1), else_=0) for c in clocks))
    )
    return list(session.execute(stmt))


def write_breaches(
    session: Session,
    stored: str,
    past: dict[str, bool],
    now: datetime,
    breaches: list[str],
    stamp: datetime,
) -> int:
    """Set ``breaches`` on one group of ``breach_groups`` (its stored text, which clocks are past
    due) in one UPDATE; how many were written."""
    alike: list[ColumnElement[bool]] = [
        _due(c) < now if is_past else or_(_due(c).is_(None), _due(c) >= now)
        for c, is_past in past.items()
    ]
    stmt = (
        update(Conversation)
        .where(
            Conversation.state.in_((State.open, State.snoozed)),
            cast(Conversation.breaches, Text) == stored,
            *alike,
        )
        .values(breaches=breaches, updated_at=stamp)
        .execution_options(synchronize_session=False)
    )
    return int(session.execute(stmt).rowcount)  # type: ignore[attr-defined]


def woken(session: Session, now: datetime) -> list[Conversation]:
    stmt = select(Conversation).where(
        Conversation.state == State.snoozed, Conversation.snoozed_until <= now
    )
    return list(session.scalars(stmt))


def messages(conversation_id: uuid.UUID) -> Select[Any]:
    return select(Message).where(Message.conversation_id == conversation_id)


def message(session: Session, message_id: uuid.UUID, *, lock: bool = False) -> Message | None:
    stmt = select(Message).where(Message.id == message_id)
    return session.scalar(stmt.with_for_update() if lock else stmt)


def message_by_external(session: Session, external_ids: Sequence[str]) -> Message | None:
    if not external_ids:
        return None
    stmt = select(Message).where(Message.external_id.in_(external_ids)).order_by(Message.id.desc())
    return session.scalar(stmt.limit(1))


def unsent(session: Session, before: datetime) -> list[uuid.UUID]:
    """E-mails queued before ``before`` and never handed to the server (the task lost with its
    broker message, or never queued): the sweep sends them."""
    stmt = select(Message.id).where(
        Message.delivery == Delivery.queued, Message.created_at < before
    )
    return list(session.scalars(stmt.order_by(Message.id).limit(500)))


def last_inbound(session: Session, conversation_id: uuid.UUID) -> Message | None:
    stmt = (
        messages(conversation_id)
        .where(Message.kind == "inbound")
        .order_by(Message.id.desc())
        .limit(1)
    )
    return session.scalar(stmt)


def thread_ids(session: Session, conversation_id: uuid.UUID) -> list[str]:
    stmt = (
        select(Message.external_id)
        .where(Message.conversation_id == conversation_id, Message.external_id.is_not(None))
        .order_by(Message.id)
    )
    return [m for m in session.scalars(stmt) if m]


def canned_replies() -> Select[Any]:
    return select(CannedReply)


def canned_reply(session: Session, reply_id: uuid.UUID) -> CannedReply | None:
    return session.scalar(select(CannedReply).where(CannedReply.id == reply_id))


def policies(session: Session) -> list[SlaPolicy]:
    return list(session.scalars(select(SlaPolicy).order_by(SlaPolicy.position, SlaPolicy.id)))


def policy(session: Session, policy_id: uuid.UUID) -> SlaPolicy | None:
    return session.scalar(select(SlaPolicy).where(SlaPolicy.id == policy_id))


def settings(session: Session) -> Settings | None:
    return session.scalar(select(Settings))


def mailboxes() -> Select[Any]:
    return select(Mailbox)


def mailbox(session: Session, mailbox_id: uuid.UUID) -> Mailbox | None:
    return session.scalar(select(Mailbox).where(Mailbox.id == mailbox_id))


def mail_route(session: Session, key: str) -> MailRoute | None:
    """The route of a mailbox key. On PostgreSQL row security shows a route only to a
    transaction that names its key, so the key is set first."""
    if session.get_bind().dialect.name == "postgresql":
        session.execute(select(func.set_config("app.mail_key", key, True)))
    return session.scalar(select(MailRoute).where(MailRoute.key == key))


def inbound(session: Session, inbound_id: uuid.UUID, *, lock: bool = False) -> InboundEmail | None:
    stmt = select(InboundEmail).where(InboundEmail.id == inbound_id)
    return session.scalar(stmt.with_for_update() if lock else stmt)


def inbound_by_token(session: Session, token: str) -> InboundEmail | None:
    return session.scalar(select(InboundEmail).where(InboundEmail.token == token))


def unprocessed(session: Session, before: datetime) -> list[uuid.UUID]:
    stmt = select(InboundEmail.id).where(
        InboundEmail.status == InboundStatus.received, InboundEmail.received_at < before
    )
    return list(session.scalars(stmt.order_by(InboundEmail.id).limit(500)))


# --- agents (platform rows) ----------------------------------------------------------------


def agent(session: Session, user_id: uuid.UUID, *, lock: bool = False) -> Agent | None:
    stmt = select(Agent).where(Agent.user_id == user_id)
    return session.scalar(stmt.with_for_update() if lock else stmt)


def hold_agents(session: Session, user_ids: Sequence[uuid.UUID]) -> None:
    """Lock these agents' rows in id order. Work that moves slots between agents takes them all
    first, in one order, so two opposite moves wait for each other instead of deadlocking."""
    if user_ids:
        stmt = select(Agent.user_id).where(Agent.user_id.in_(user_ids)).order_by(Agent.user_id)
        session.execute(stmt.with_for_update()).all()


def agents(session: Session, user_ids: Sequence[uuid.UUID]) -> list[Agent]:
    if not user_ids:
        return []
    return list(session.scalars(select(Agent).where(Agent.user_id.in_(user_ids))))


def take_slot(session: Session, user_id: uuid.UUID, now: datetime) -> bool:
    """One more conversation for an online agent with room, in one conditional UPDATE: two
    arrivals racing for the last slot cannot both win (the row lock on PostgreSQL re-reads the
    condition; SQLite writes one at a time)."""
    stmt = (
        update(Agent)
        .where(
            Agent.user_id == user_id,
            Agent.status == AgentStatus.online,
            Agent.load < Agent.capacity,
        )
        .values(load=Agent.load + 1, last_assigned_at=now)
        .execution_options(synchronize_session=False)
    )
    taken = session.execute(stmt).rowcount == 1  # type: ignore[attr-defined]
    if taken:
        found = session.get(Agent, user_id)
        if found is not None:
            session.refresh(found)
    return taken


def give_slot(session: Session, user_id: uuid.UUID) -> None:
    stmt = (
        update(Agent)
        .where(Agent.user_id == user_id, Agent.load > 0)
        .values(load=Agent.load - 1)
        .execution_options(synchronize_session=False)
    )
    session.execute(stmt)
    found = session.get(Agent, user_id)
    if found is not None:
        session.refresh(found)


def reset_load(session: Session, user_id: uuid.UUID) -> None:
    session.execute(
        update(Agent)
        .where(Agent.user_id == user_id)
        .values(load=0)
        .execution_options(synchronize_session=False)
    )


def inbound_by_message_id(session: Session, message_id: str) -> InboundEmail | None:
    return session.scalar(select(InboundEmail).where(InboundEmail.message_id == message_id))


def supervisors(session: Session, roles: Sequence[str]) -> list[tuple[uuid.UUID, str]]:
    """(id, e-mail) of the bound tenant's active members whose role there is one of ``roles``."""
    stmt = (
        select(User.id, User.email)
        .join(Membership, Membership.user_id == User.id)
        .where(Membership.role.in_(roles), User.is_active.is_(True))
        .order_by(User.email)
    )
    return [(row.id, row.email) for row in session.execute(stmt)]


def user_email(session: Session, user_id: uuid.UUID) -> str | None:
    return session.scalar(select(User.email).where(User.id == user_id, User.is_active.is_(True)))


def macros() -> Select[Any]:
    return select(Macro)


def macro(session: Session, macro_id: uuid.UUID) -> Macro | None:
    return session.scalar(select(Macro).where(Macro.id == macro_id))


def articles(text: str | None) -> Select[Any]:
    """The knowledge base, those whose title or body holds ``text`` (any case) when given."""
    stmt = select(Article)
    if text:
        needle = text.lower()
        stmt = stmt.where(
            or_(
                func.lower(Article.title).contains(needle, autoescape=True),
                func.lower(Article.body).contains(needle, autoescape=True),
            )
        )
    return stmt


def article(session: Session, article_id: uuid.UUID) -> Article | None:
    return session.scalar(select(Article).where(Article.id == article_id))


def resolved_between(session: Session, start: datetime, end: datetime) -> list[Any]:
    """Conversations resolved in the period (and still resolved), with who held them."""
    stmt = select(Conversation.id, Conversation.assignee_id, Conversation.resolved_at).where(
        Conversation.resolved_at >= start, Conversation.resolved_at < end
    )
    return list(session.execute(stmt.order_by(Conversation.resolved_at, Conversation.id)))


# --- the chat widget -----------------------------------------------------------------------


def widgets() -> Select[Any]:
    return select(Widget)


def widget(session: Session, widget_id: uuid.UUID) -> Widget | None:
    return session.scalar(select(Widget).where(Widget.id == widget_id))


def widget_of_shop(session: Session, shop_id: uuid.UUID) -> Widget | None:
    return session.scalar(select(Widget).where(Widget.shop_id == shop_id))


def widget_route(session: Session, key: str) -> WidgetRoute | None:
    """The route of a widget key; on PostgreSQL readable only by a transaction naming the key
    (as for the mail routes)."""
    if session.get_bind().dialect.name == "postgresql":
        session.execute(select(func.set_config("app.widget_key", key, True)))
    return session.scalar(select(WidgetRoute).where(WidgetRoute.key == key))


def channel_conversation(
    session: Session, contact_id: uuid.UUID, shop_id: uuid.UUID, channel: str
) -> Conversation | None:
    """A buyer's conversation with one shop on a chat channel (the widget, a marketplace's
    chat): one each, which a new message reopens."""
    stmt = select(Conversation).where(
        Conversation.contact_id == contact_id,
        Conversation.shop_id == shop_id,
        Conversation.channel == channel,
    )
    return session.scalar(stmt.order_by(Conversation.id.desc()).limit(1))


def newest_inbound(session: Session, shop_id: uuid.UUID, channel: str) -> datetime | None:
    """When the newest buyer's message kept from a shop's channel was sent."""
    stmt = (
        select(func.max(Message.created_at))
        .join(
            Conversation,
            (Conversation.tenant_id == Message.tenant_id)
            & (Conversation.id == Message.conversation_id),
        )
        .where(
            Conversation.shop_id == shop_id,
            Conversation.channel == channel,
            Message.kind == "inbound",
        )
    )
    return session.scalar(stmt)


def visible_messages(
    session: Session, conversation_id: uuid.UUID, since: datetime | None, limit: int
) -> list[Message]:
    """What the visitor may read of their conversation (never notes or system lines), from
    ``since`` on, oldest first; without ``since`` the latest ``limit``."""
    stmt = messages(conversation_id).where(Message.kind.in_(("inbound", "outbound")))
    if since is not None:
        return list(session.scalars(stmt.where(Message.created_at >= since).order_by(Message.id)))
    latest = list(session.scalars(stmt.order_by(Message.id.desc()).limit(limit)))
    return latest[::-1]


def inbound_since(session: Session, conversation_id: uuid.UUID, since: datetime) -> int:
    stmt = select(func.count()).where(
        Message.conversation_id == conversation_id,
        Message.kind == "inbound",
        Message.created_at >= since,
    )
    return session.scalar(stmt) or 0


def widget_conversations_since(session: Session, shop_id: uuid.UUID, since: datetime) -> int:
    stmt = select(func.count()).where(
        Conversation.shop_id == shop_id,
        Conversation.channel == "widget",
        Conversation.created_at >= since,
    )
    return session.scalar(stmt) or 0
