"""The customer-service API's shapes (Create / Update / Read)."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StrictBool,
    StringConstraints,
    field_validator,
    model_validator,
)

from daiyun.core.ids import DateTime, Day
from daiyun.core.numbers import WholeNumber
from daiyun.platform.customer_service import rules
from daiyun.platform.customer_service.models import (
    AgentStatus,
    Channel,
    Delivery,
    MessageKind,
    Priority,
    State,
    Strategy,
)

_LINE = r"^[^\s\x00-\x1F\x7F](?:[^\x00-\x1F\x7F]*[^\s\x00-\x1F\x7F])?$"
Line = Annotated[str, StringConstraints(min_length=1, max_length=200, pattern=_LINE)]
# A canned reply's title and an SLA policy's name are kept in 120-character columns.
ShortLine = Annotated[str, StringConstraints(min_length=1, max_length=120, pattern=_LINE)]
Text = Annotated[str, StringConstraints(min_length=1, max_length=20_000, pattern=r"^[^\x00]*$")]
Tag = Annotated[
    str, StringConstraints(min_length=1, max_length=40, pattern=r"^[0-9A-Za-z_\-\u4e00-\u9fff]+$")
]
Shortcut = Annotated[
    str, StringConstraints(min_length=1, max_length=40, pattern=r"^[0-9A-Za-z_-]+$")
]
Email = Annotated[
    str,
    StringConstraints(min_length=3, max_length=320, pattern=r"^[^@\s\x00-\x1F]+@[^@\s\x00-\x1F]+$"),
]
Phone = Annotated[
    str, StringConstraints(min_length=3, max_length=32, pattern=r"^\+?[0-9 ()\-]*[0-9][0-9 ()\-]*$")
]


Count = WholeNumber
Minutes = Annotated[Count, Field(ge=1, le=60 * 24 * 365)]


class _Input(BaseModel):
    model_config = ConfigDict(extra="forbid")


class _Read(BaseModel):
    model_config = ConfigDict(from_attributes=True)


# --- contacts ------------------------------------------------------------------------------


class IdentityIn(_Input):
    channel: Channel
    value: Line


class ContactCreate(_Input):
    name: Line
    email: Email | None = None
    phone: Phone | None = None
    identities: list[IdentityIn] = Field(default_factory=list, max_length=20)


class IdentityRead(_Read):
    channel: Channel
    value: str


class ContactRead(_Read):
    id: uuid.UUID
    name: str
    email: str | None
    phone: str | None
    merged_into_id: uuid.UUID | None
    identities: list[IdentityRead] = Field(default_factory=list)
    created_at: datetime


class ContactMerge(_Input):
    """Merge the contact in the path into ``into_id`` (its identities and conversations move)."""

    into_id: uuid.UUID


# --- conversations -------------------------------------------------------------------------


class ConversationCreate(_Input):
    """A conversation an agent starts (or one entered by hand), with the buyer's first words."""

    contact_id: uuid.UUID
    channel: Channel
    shop_id: uuid.UUID | None = None
    subject: Annotated[str, StringConstraints(max_length=300, pattern=r"^[^\x00-\x1F\x7F]*$")] = ""
    priority: Priority = Priority.normal
    labels: list[Tag] = Field(default_factory=list, max_length=20)
    order_id: uuid.UUID | None = None
    body: Text


class ConversationUpdate(_Input):
    priority: Priority | None = None
    labels: list[Tag] | None = Field(default=None, max_length=20)


class ConversationRead(_Read):
    id: uuid.UUID
    contact_id: uuid.UUID
    shop_id: uuid.UUID | None
    channel: Channel
    subject: str
    state: State
    snoozed_until: datetime | None
    priority: Priority
    labels: list[str]
    order_id: uuid.UUID | None
    assignee_id: uuid.UUID | None
    queued_at: datetime | None
    last_message_at: datetime
    sla_policy_id: uuid.UUID | None
    first_response_due: datetime | None
    first_response_at: datetime | None
    next_response_due: datetime | None
    resolution_due: datetime | None
    breaches: list[str]
    resolved_at: datetime | None
    created_at: datetime


class InboxItem(ConversationRead):
    tenant: str  # the merchant's slug


class MessageCreate(_Input):
    """A reply (sent to the buyer on the conversation's channel) or a private note. A canned
    reply's body is used, its variables filled, when ``canned_reply_id`` is given instead."""

    kind: MessageKind = MessageKind.outbound
    body: Text | None = None
    canned_reply_id: uuid.UUID | None = None
    then: State | None = Field(
        default=None, description="Move the conversation to this state after the reply"
    )

    @field_validator("kind")
    @classmethod
    def _agent_kinds(cls, value: MessageKind) -> MessageKind:
        if value not in (MessageKind.outbound, MessageKind.note):
            raise ValueError("agents write outbound replies or notes")
        return value


class MessageRead(_Read):
    id: uuid.UUID
    conversation_id: uuid.UUID
    kind: MessageKind
    body: str
    author_id: uuid.UUID | None
    external_id: str | None
    in_reply_to: str | None
    delivery: Delivery
    attachments: list[dict[str, Any]]
    created_at: datetime


class Assign(_Input):
    """``assignee_id``: an agent of this merchant; None: assign by the rule (or queue)."""

    assignee_id: uuid.UUID | None = None


class Snooze(_Input):
    until: DateTime


# --- canned replies, SLA policies, agents, settings, mailboxes -----------------------------


class CannedReplyIn(_Input):
    shortcut: Shortcut
    title: ShortLine
    body: Text

    @field_validator("body")
    @classmethod
    def _known_variables(cls, value: str) -> str:
        unknown = rules.unknown_variables(value)
        if unknown:
            raise ValueError(f"unknown variables {unknown}: use {', '.join(rules.VARIABLES)}")
        return value


class CannedReplyRead(_Read):
    id: uuid.UUID
    shortcut: str
    title: str
    body: str


class ArticleIn(_Input):
    title: Line
    body: Text
    tags: list[Tag] = Field(default_factory=list, max_length=10)


class ArticleRead(_Read):
    id: uuid.UUID
    title: str
    body: str
    tags: list[str]
    updated_at: datetime


class MacroIn(_Input):
    """What a macro does, in this order: labels, priority, assign to the agent running it, a
    private note, a reply (variables as in canned replies), then pending or resolved."""

    name: ShortLine
    add_labels: list[Tag] = Field(default_factory=list, max_length=20)
    priority: Priority | None = None
    assign_to_me: StrictBool = False
    note: Text | None = None
    reply: Text | None = None
    then: Literal[State.pending, State.resolved] | None = None

    @field_validator("note", "reply")
    @classmethod
    def _known_variables(cls, value: str | None) -> str | None:
        unknown = rules.unknown_variables(value or "")
        if unknown:
            raise ValueError(f"unknown variables {unknown}: use {', '.join(rules.VARIABLES)}")
        return value

    @model_validator(mode="after")
    def _does_something(self) -> MacroIn:
        if not (
            self.add_labels
            or self.priority
            or self.assign_to_me
            or self.note
            or self.reply
            or self.then
        ):
            raise ValueError("a macro needs at least one action")
        return self


class MacroRead(_Read):
    id: uuid.UUID
    name: str
    add_labels: list[str]
    priority: Priority | None
    assign_to_me: bool
    note: str | None
    reply: str | None
    then: State | None


Span = Annotated[
    list[Annotated[str, StringConstraints(pattern=r"^\d{2}:\d{2}$")]],
    Field(min_length=2, max_length=2),
]


class SlaPolicyIn(_Input):
    name: ShortLine
    position: Count = Field(default=100, ge=0, le=10_000)
    priority: Priority | None = None
    channel: Channel | None = None
    label: Tag | None = None
    first_response_minutes: Minutes | None = None
    next_response_minutes: Minutes | None = None
    resolution_minutes: Minutes | None = None
    business_hours: dict[str, list[Span]] = Field(default_factory=dict)
    holidays: list[Day] = Field(default_factory=list, max_length=400)

    @field_validator("business_hours")
    @classmethod
    def _hours(cls, value: dict[str, list[list[str]]]) -> dict[str, list[list[str]]]:
        rules.parse_hours(value)
        return value


class SlaPolicyRead(_Read):
    id: uuid.UUID
    name: str
    position: int
    priority: Priority | None
    channel: Channel | None
    label: str | None
    first_response_minutes: int | None
    next_response_minutes: int | None
    resolution_minutes: int | None
    business_hours: dict[str, list[list[str]]]
    holidays: list[str]


class AgentRead(BaseModel):
    user_id: uuid.UUID
    name: str
    status: AgentStatus
    capacity: int
    load: int


class AgentUpdate(_Input):
    status: AgentStatus | None = None
    capacity: Annotated[Count, Field(ge=0, le=500)] | None = None


class StatusIn(_Input):
    status: AgentStatus


class SettingsIn(_Input):
    strategy: Strategy


class SettingsRead(BaseModel):
    strategy: Strategy


class MailboxIn(_Input):
    address: Email
    display_name: Annotated[
        str, StringConstraints(max_length=120, pattern=r"^[^\x00-\x1F\x7F]*$")
    ] = ""
    shop_id: uuid.UUID | None = None


class MailboxRead(_Read):
    id: uuid.UUID
    address: str
    display_name: str
    shop_id: uuid.UUID | None
    webhook_url: str


class InboundAck(BaseModel):
    status: str  # accepted, duplicate


# --- the chat widget -----------------------------------------------------------------------

# What ``rules.normal_origin`` reads, stated for the API's document (and its callers).
Origin = Annotated[
    str,
    StringConstraints(
        max_length=200,
        pattern=r"^[Hh][Tt][Tt][Pp][Ss]?://([A-Za-z0-9.-]+|\[[0-9A-Fa-f:]+\])(:[0-9]{1,5})?/?$",
    ),
]


def _origins(values: list[str] | None) -> list[str] | None:
    if values is None:
        return None
    found = []
    for value in values:
        origin = rules.normal_origin(value)
        if origin is None:
            raise ValueError(f"{value!r} is not an origin (scheme://host[:port], no path)")
        found.append(origin)
    return list(dict.fromkeys(found))


class WidgetIn(_Input):
    shop_id: uuid.UUID
    allowed_origins: Annotated[list[Origin], Field(min_length=1, max_length=20)]
    greeting: Annotated[str, StringConstraints(max_length=300, pattern=r"^[^\x00-\x1F\x7F]*$")] = ""
    enabled: StrictBool = True

    _normal = field_validator("allowed_origins")(_origins)


class WidgetUpdate(_Input):
    allowed_origins: Annotated[list[Origin], Field(min_length=1, max_length=20)] | None = None
    greeting: (
        Annotated[str, StringConstraints(max_length=300, pattern=r"^[^\x00-\x1F\x7F]*$")] | None
    ) = None
    enabled: StrictBool | None = None

    _normal = field_validator("allowed_origins")(_origins)


class WidgetRead(_Read):
    id: uuid.UUID
    shop_id: uuid.UUID
    key: str
    allowed_origins: list[str]
    greeting: str
    enabled: bool
    script_url: str
    # The tag the merchant's site puts in its pages.
    snippet: str


class VisitorSession(BaseModel):
    token: str
    greeting: str
    shop_name: str


class VisitorMessageIn(_Input):
    body: Annotated[str, StringConstraints(min_length=1, max_length=5000, pattern=r"^[^\x00]*\S")]
    # The browser's own id for this message: sent twice (a retry), it is kept once.
    client_id: Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9_-]{8,64}$")]
    name: Annotated[str, StringConstraints(max_length=120, pattern=r"^[^\x00-\x1F\x7F]*$")] = ""
    email: Email | None = None


class VisitorMessage(BaseModel):
    id: uuid.UUID
    author: Literal["visitor", "agent"]
    body: str
    at: datetime


class VisitorThread(BaseModel):
    messages: list[VisitorMessage]
