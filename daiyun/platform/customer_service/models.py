"""Customer service (客服): contacts and their channel identities, conversations with their
messages, canned replies, SLA policies, mailboxes and the e-mail that arrives at them.

Everything a merchant's buyers say is tenant-owned and keyed ``(tenant_id, id)``. Two tables are
platform rows: an agent's availability and load (``cs_agents``: one agent answers for many
merchants, so the capacity is theirs, not a merchant's) and the routes from a mailbox's webhook key
and from a chat widget's key to their tenant (``cs_mail_routes``, ``cs_widget_routes``: read
before any tenant is known, holding no secret).
"""

from __future__ import annotations

import uuid
from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import (
    JSON,
    Enum,
    ForeignKey,
    ForeignKeyConstraint,
    Index,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from daiyun.core.db import Base, Timestamped
from daiyun.core.ids import utcnow
from daiyun.core.tenancy import TenantScoped


def _kind(enum: type[StrEnum], length: int = 16) -> Enum:
    return Enum(
        enum, native_enum=False, length=length, values_callable=lambda e: [m.value for m in e]
    )


class Channel(StrEnum):
    email = "email"
    marketplace = "marketplace"
    phone = "phone"
    widget = "widget"


class State(StrEnum):
    open = "open"
    pending = "pending"  # waiting on the buyer: SLA clocks pause
    snoozed = "snoozed"  # until a time, then open again
    resolved = "resolved"


class Priority(StrEnum):
    low = "low"
    normal = "normal"
    high = "high"
    urgent = "urgent"


# Queue order: the higher rank is served first.
PRIORITY_RANK = {Priority.low: 0, Priority.normal: 1, Priority.high: 2, Priority.urgent: 3}


class MessageKind(StrEnum):
    inbound = "inbound"
    outbound = "outbound"
    note = "note"  # private: never sent to the buyer
    system = "system"


class Delivery(StrEnum):
    """Where an outbound message stands with its channel."""

    none = "none"  # nothing to send (notes, system lines, channels without a way out)
    queued = "queued"
    sent = "sent"
    failed = "failed"


class AgentStatus(StrEnum):
    online = "online"
    away = "away"  # keeps their conversations, takes no new ones
    offline = "offline"  # hands their conversations back to the queue


class Strategy(StrEnum):
    round_robin = "round_robin"
    least_loaded = "least_loaded"


class InboundStatus(StrEnum):
    received = "received"
    processed = "processed"
    failed = "failed"


class Agent(Timestamped, Base):
    """An agent's availability and load across every merchant they answer for (a platform row).

    ``load`` counts the unresolved conversations assigned to them; it only changes through one
    conditional UPDATE (``repository.take_slot``), which is what keeps it under ``capacity`` when
    conversations arrive at the same moment.
    """

    __tablename__ = "cs_agents"

    user_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), primary_key=True
    )
    status: Mapped[AgentStatus] = mapped_column(_kind(AgentStatus), default=AgentStatus.offline)
    capacity: Mapped[int] = mapped_column(default=5)
    load: Mapped[int] = mapped_column(default=0)
    last_assigned_at: Mapped[datetime | None]


class MailRoute(Base):
    """Which tenant and mailbox a mail webhook key belongs to: read before any tenant is known."""

    __tablename__ = "cs_mail_routes"

    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    tenant_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"))
    mailbox_id: Mapped[uuid.UUID]


class WidgetRoute(Base):
    """Which tenant and widget a widget key belongs to: the visitor's browser names only the key."""

    __tablename__ = "cs_widget_routes"

    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    tenant_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("tenants.id", ondelete="CASCADE"))
    widget_id: Mapped[uuid.UUID]


class Settings(TenantScoped, Timestamped, Base):
    """A merchant's customer-service settings (one row per tenant, made on first write)."""

    __tablename__ = "cs_settings"
    __table_args__ = (UniqueConstraint("tenant_id"),)

    strategy: Mapped[Strategy] = mapped_column(_kind(Strategy), default=Strategy.least_loaded)


class Contact(TenantScoped, Timestamped, Base):
    """A buyer. A contact merged into another keeps its row, pointing at the survivor."""

    __tablename__ = "cs_contacts"
    __table_args__ = (
        ForeignKeyConstraint(
            ["tenant_id", "merged_into_id"], ["cs_contacts.tenant_id", "cs_contacts.id"]
        ),
        Index("ix_cs_contacts_email", "tenant_id", "email"),
        Index("ix_cs_contacts_phone", "tenant_id", "phone"),
    )

    name: Mapped[str] = mapped_column(String(200))
    email: Mapped[str | None] = mapped_column(String(320))  # lower-cased
    phone: Mapped[str | None] = mapped_column(String(32))  # digits and a leading +
    merged_into_id: Mapped[uuid.UUID | None]


class Identity(TenantScoped, Base):
    """How a contact is known on one channel (an e-mail address, a marketplace buyer id...)."""

    __tablename__ = "cs_identities"
    __table_args__ = (
        UniqueConstraint("tenant_id", "channel", "value"),
        ForeignKeyConstraint(
            ["tenant_id", "contact_id"], ["cs_contacts.tenant_id", "cs_contacts.id"]
        ),
    )

    contact_id: Mapped[uuid.UUID]
    channel: Mapped[Channel] = mapped_column(_kind(Channel))
    value: Mapped[str] = mapped_column(String(320))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class SlaPolicy(TenantScoped, Timestamped, Base):
    """Targets in business minutes, matched by priority, channel and label (None: any); the
    lowest ``position`` that matches applies."""

    __tablename__ = "cs_sla_policies"

    name: Mapped[str] = mapped_column(String(120))
    position: Mapped[int] = mapped_column(default=100)
    priority: Mapped[Priority | None] = mapped_column(_kind(Priority))
    channel: Mapped[Channel | None] = mapped_column(_kind(Channel))
    label: Mapped[str | None] = mapped_column(String(40))
    first_response_minutes: Mapped[int | None]
    next_response_minutes: Mapped[int | None]
    resolution_minutes: Mapped[int | None]
    # {"mon": [["09:00", "18:00"]], ...}; empty: around the clock.
    business_hours: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    holidays: Mapped[list[str]] = mapped_column(JSON, default=list)  # ISO dates


class Conversation(TenantScoped, Timestamped, Base):
    """A thread with one contact on one channel (and shop), with its SLA clocks."""

    __tablename__ = "cs_conversations"
    __table_args__ = (
        ForeignKeyConstraint(
            ["tenant_id", "contact_id"], ["cs_contacts.tenant_id", "cs_contacts.id"]
        ),
        ForeignKeyConstraint(["tenant_id", "shop_id"], ["shops.tenant_id", "shops.id"]),
        ForeignKeyConstraint(
            ["tenant_id", "sla_policy_id"], ["cs_sla_policies.tenant_id", "cs_sla_policies.id"]
        ),
        Index("ix_cs_conversations_queue", "tenant_id", "assignee_id", "state"),
    )

    contact_id: Mapped[uuid.UUID]
    shop_id: Mapped[uuid.UUID | None]
    channel: Mapped[Channel] = mapped_column(_kind(Channel))
    subject: Mapped[str] = mapped_column(String(300), default="")
    state: Mapped[State] = mapped_column(_kind(State), default=State.open)
    snoozed_until: Mapped[datetime | None]
    priority: Mapped[Priority] = mapped_column(_kind(Priority), default=Priority.normal)
    labels: Mapped[list[str]] = mapped_column(JSON, default=list)
    order_id: Mapped[uuid.UUID | None]
    mailbox_id: Mapped[uuid.UUID | None]
    assignee_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("users.id"))
    # Waiting for an agent since (None while assigned or resolved): the queue's age.
    queued_at: Mapped[datetime | None]
    last_message_at: Mapped[datetime] = mapped_column(default=utcnow)
    sla_policy_id: Mapped[uuid.UUID | None]
    first_response_due: Mapped[datetime | None]
    first_response_at: Mapped[datetime | None]
    next_response_due: Mapped[datetime | None]
    resolution_due: Mapped[datetime | None]
    # Business seconds each running clock had left when the conversation went pending.
    paused: Mapped[dict[str, int]] = mapped_column(JSON, default=dict)
    # Clocks that went past due: once breached, breached for good.
    breaches: Mapped[list[str]] = mapped_column(JSON, default=list)
    # Warnings given before a breach ("clock@due"), so each due time warns once.
    warned: Mapped[list[str]] = mapped_column(JSON, default=list)
    resolved_at: Mapped[datetime | None]


class Message(TenantScoped, Base):
    """One line of a conversation. ``external_id`` is the channel's id (an e-mail's Message-ID)."""

    __tablename__ = "cs_messages"
    __table_args__ = (
        ForeignKeyConstraint(
            ["tenant_id", "conversation_id"], ["cs_conversations.tenant_id", "cs_conversations.id"]
        ),
        UniqueConstraint("tenant_id", "external_id"),
        Index("ix_cs_messages_conversation", "tenant_id", "conversation_id", "id"),
    )

    conversation_id: Mapped[uuid.UUID]
    kind: Mapped[MessageKind] = mapped_column(_kind(MessageKind))
    body: Mapped[str] = mapped_column(Text)
    author_id: Mapped[uuid.UUID | None]  # the agent (outbound, notes)
    external_id: Mapped[str | None] = mapped_column(String(300))
    in_reply_to: Mapped[str | None] = mapped_column(String(300))
    delivery: Mapped[Delivery] = mapped_column(_kind(Delivery), default=Delivery.none)
    attachments: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class Attachment(TenantScoped, Base):
    """A file that came with (or went out with) a message."""

    __tablename__ = "cs_attachments"
    __table_args__ = (
        ForeignKeyConstraint(
            ["tenant_id", "message_id"], ["cs_messages.tenant_id", "cs_messages.id"]
        ),
    )

    message_id: Mapped[uuid.UUID]
    filename: Mapped[str] = mapped_column(String(255))
    content_type: Mapped[str] = mapped_column(String(120))
    size: Mapped[int]
    data: Mapped[bytes] = mapped_column(LargeBinary)


class CannedReply(TenantScoped, Timestamped, Base):
    """A saved answer, typed by its shortcut; ``{{buyer_name}}`` and the like are filled in."""

    __tablename__ = "cs_canned_replies"
    __table_args__ = (UniqueConstraint("tenant_id", "shortcut"),)

    shortcut: Mapped[str] = mapped_column(String(40))
    title: Mapped[str] = mapped_column(String(120))
    body: Mapped[str] = mapped_column(Text)


class Macro(TenantScoped, Timestamped, Base):
    """Saved actions an agent runs on a conversation in one go, always in this order: labels
    added, priority set, taken by the agent, a private note, a reply, then pending or resolved."""

    __tablename__ = "cs_macros"
    __table_args__ = (UniqueConstraint("tenant_id", "name"),)

    name: Mapped[str] = mapped_column(String(120))
    add_labels: Mapped[list[str]] = mapped_column(JSON, default=list)
    priority: Mapped[Priority | None] = mapped_column(_kind(Priority))
    assign_to_me: Mapped[bool] = mapped_column(default=False)
    note: Mapped[str | None] = mapped_column(Text)
    reply: Mapped[str | None] = mapped_column(Text)
    then: Mapped[State | None] = mapped_column(_kind(State))


class Article(TenantScoped, Timestamped, Base):
    """An answer of the merchant's knowledge base (客服手册): product questions and policies the
    agents look up from the reply box."""

    __tablename__ = "cs_articles"
    __table_args__ = (UniqueConstraint("tenant_id", "title"),)

    title: Mapped[str] = mapped_column(String(200))
    body: Mapped[str] = mapped_column(Text)
    tags: Mapped[list[str]] = mapped_column(JSON, default=list)


class Mailbox(TenantScoped, Timestamped, Base):
    """An address buyers write to; its inbound-parse webhook posts to ``/webhooks/email/{key}``."""

    __tablename__ = "cs_mailboxes"
    __table_args__ = (
        UniqueConstraint("key"),
        ForeignKeyConstraint(["tenant_id", "shop_id"], ["shops.tenant_id", "shops.id"]),
    )

    address: Mapped[str] = mapped_column(String(320))
    display_name: Mapped[str] = mapped_column(String(120), default="")
    shop_id: Mapped[uuid.UUID | None]
    key: Mapped[str] = mapped_column(String(64))


class Widget(TenantScoped, Timestamped, Base):
    """The web-chat widget of one of the merchant's own shops (Shopify, WooCommerce): a script
    at ``/widget/{key}.js`` answering only pages of ``allowed_origins``."""

    __tablename__ = "cs_widgets"
    __table_args__ = (
        UniqueConstraint("key"),
        UniqueConstraint("tenant_id", "shop_id"),
        ForeignKeyConstraint(["tenant_id", "shop_id"], ["shops.tenant_id", "shops.id"]),
    )

    shop_id: Mapped[uuid.UUID]
    key: Mapped[str] = mapped_column(String(64))
    # Exact origins ("https://shop.example.com"): a browser's Origin header must be one of them.
    allowed_origins: Mapped[list[str]] = mapped_column(JSON, default=list)
    greeting: Mapped[str] = mapped_column(String(300), default="")
    enabled: Mapped[bool] = mapped_column(default=True)


class InboundEmail(TenantScoped, Base):
    """An inbound-parse delivery, stored as it came before anything is made of it."""

    __tablename__ = "cs_inbound_emails"
    __table_args__ = (
        UniqueConstraint("tenant_id", "token"),
        ForeignKeyConstraint(
            ["tenant_id", "mailbox_id"], ["cs_mailboxes.tenant_id", "cs_mailboxes.id"]
        ),
    )

    mailbox_id: Mapped[uuid.UUID]
    token: Mapped[str] = mapped_column(String(120))
    message_id: Mapped[str] = mapped_column(String(300))
    fields: Mapped[dict[str, Any]] = mapped_column(JSON)
    files: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)  # base64 contents
    status: Mapped[InboundStatus] = mapped_column(
        _kind(InboundStatus), default=InboundStatus.received
    )
    error: Mapped[str | None] = mapped_column(String(300))
    received_at: Mapped[datetime] = mapped_column(default=utcnow)
