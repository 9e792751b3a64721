"""The web-chat widget: a merchant's own shop (Shopify, WooCommerce) puts one script tag in its
pages, and its visitors talk to the agency's agents in the shared inbox.

Each shop has one widget, known to the world by an unguessable key (``/widget/{key}.js``). A
visitor's browser gets a signed token naming a random visitor id (``rules.visitor_token``);
nothing is stored until they write. Their first message makes a contact known by that id and a
conversation on the shop's widget channel, assigned like any other; later messages land in the
same conversation (reopening it once resolved). A visitor reads only their own conversation, and
never its private notes or system lines.

Every call names its page's ``Origin``: a widget answers only the origins its merchant listed,
and writes are rate-limited per visitor and per shop, counted in the database so every API
process sees the same count.
"""

from __future__ import annotations

import secrets
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from daiyun.connectors import service as shop_service
from daiyun.core.audit import service as audit
from daiyun.core.config import get_settings
from daiyun.core.db import take_write_lock, unit_of_work
from daiyun.core.errors import Problem
from daiyun.core.ids import utcnow
from daiyun.core.live import Event
from daiyun.core.pagination import paginate
from daiyun.platform.customer_service import repository, rules, service
from daiyun.platform.customer_service.models import (
    Channel,
    Conversation,
    Message,
    MessageKind,
    Widget,
    WidgetRoute,
)
from daiyun.platform.customer_service.schemas import (
    VisitorMessage,
    VisitorMessageIn,
    VisitorSession,
    VisitorThread,
    WidgetIn,
    WidgetRead,
    WidgetUpdate,
)

# What one visitor may write in a minute, and how many new visitors one shop takes a minute.
MESSAGES_PER_MINUTE = 20
NEW_CONVERSATIONS_PER_MINUTE = 60
# The messages a visitor's widget shows when it opens.
HISTORY = 100
# A message committed late (its transaction ran long) still reaches a stream that already sent
# a newer one: each look goes back this far and skips what it has sent.
OVERLAP = timedelta(seconds=10)


# --- the merchant's side ---------------------------------------------------------------------


def script_url(widget: Widget) -> str:
    return f"{get_settings().base_url.rstrip('/')}/widget/{widget.key}.js"


def read(widget: Widget) -> WidgetRead:
    url = script_url(widget)
    return WidgetRead(
        id=widget.id,
        shop_id=widget.shop_id,
        key=widget.key,
        allowed_origins=list(widget.allowed_origins),
        greeting=widget.greeting,
        enabled=widget.enabled,
        script_url=url,
        snippet=f'<script src="{url}" async></script>',
    )


def create_widget(session: Session, body: WidgetIn) -> Widget:
    if service.shop_name(session, body.shop_id) is None:
        raise Problem(422, "unknown-shop", "No shop of this merchant has that id")
    if repository.widget_of_shop(session, body.shop_id) is not None:
        raise Problem(409, "widget-exists", "This shop has a chat widget already; change that one")
    widget = Widget(
        shop_id=body.shop_id,
        key=secrets.token_urlsafe(24),
        allowed_origins=body.allowed_origins,
        greeting=body.greeting,
        enabled=body.enabled,
    )
    session.add(widget)
    session.flush()
    session.add(WidgetRoute(key=widget.key, tenant_id=widget.tenant_id, widget_id=widget.id))
    session.flush()
    audit.record(session, "cs.widget_created", f"widget:{widget.id}")
    return widget


def get_widget(session: Session, widget_id: uuid.UUID) -> Widget:
    found = repository.widget(session, widget_id)
    if found is None:
        raise Problem(404, "not-found", "No such widget")
    return found


def update_widget(session: Session, widget_id: uuid.UUID, body: WidgetUpdate) -> Widget:
    widget = get_widget(session, widget_id)
    changes = body.model_dump(exclude_none=True)
    for name, value in changes.items():
        setattr(widget, name, value)
    session.flush()
    audit.record(session, "cs.widget_updated", f"widget:{widget.id}", changes)
    return widget


def shops(session: Session) -> list[tuple[uuid.UUID, str]]:
    """The bound merchant's shops, (id, name), for the form that gives one a widget."""
    return [(shop.id, shop.name) for shop in shop_service.shops(session)]


def find_widgets(
    session: Session, cursor: str | None, limit: int
) -> tuple[list[Widget], str | None]:
    return paginate(session, repository.widgets(), Widget.id, cursor, limit)


# --- the visitor's side ----------------------------------------------------------------------


@dataclass(frozen=True)
class Here:
    """The widget a visitor's call reached, checked against the page's origin."""

    key: str
    tenant_id: uuid.UUID
    widget_id: uuid.UUID
    shop_id: uuid.UUID
    shop_name: str
    greeting: str


def _unknown() -> Problem:
    # The same answer for a key that never existed, another tenant's, or a switched-off widget.
    return Problem(404, "unknown-widget", "No chat widget answers at this address")


def reach(key: str, origin: str | None) -> Here:
    """The widget behind ``key``, if it is on and ``origin`` is one of its merchant's sites."""
    with unit_of_work() as session:
        route = repository.widget_route(session, key[:64])
        if route is None:
            raise _unknown()
        tenant_id, widget_id = route.tenant_id, route.widget_id
    with unit_of_work(tenant_id) as session:
        widget = repository.widget(session, widget_id)
        if widget is None or not widget.enabled:
            raise _unknown()
        if rules.normal_origin(origin or "") not in widget.allowed_origins:
            raise Problem(
                403, "origin-not-allowed", "This widget does not answer pages of this origin"
            )
        name = service.shop_name(session, widget.shop_id) or ""
        return Here(key, tenant_id, widget.id, widget.shop_id, name, widget.greeting)


def allows_origin(key: str, origin: str | None) -> bool:
    """Whether a browser's preflight from ``origin`` may go on (no problem body on OPTIONS)."""
    try:
        reach(key, origin)
    except Problem:
        return False
    return True


def start(here: Here) -> VisitorSession:
    """A new visitor: a token only; nothing is stored until they write."""
    visitor = uuid.uuid4().hex
    token = rules.visitor_token(get_settings().secret_key, here.key, visitor, utcnow())
    return VisitorSession(token=token, greeting=here.greeting, shop_name=here.shop_name)


def visitor_of(here: Here, token: str | None) -> str:
    found = rules.visitor_of(get_settings().secret_key, here.key, token or "", utcnow())
    if found is None:
        raise Problem(401, "invalid-visitor-token", "The visitor token is missing or not valid")
    return found


def _shown(message: Message) -> VisitorMessage:
    author = "visitor" if message.kind == MessageKind.inbound else "agent"
    return VisitorMessage(id=message.id, author=author, body=message.body, at=message.created_at)


def _conversation(session: Session, here: Here, visitor: str) -> Conversation | None:
    identity = repository.identity(session, Channel.widget.value, visitor)
    if identity is None:
        return None
    return repository.channel_conversation(
        session, identity.contact_id, here.shop_id, Channel.widget
    )


def _too_many(kind: str, detail: str) -> Problem:
    return Problem(429, kind, detail, headers={"Retry-After": "60"})


def _write(session: Session, here: Here, visitor: str, body: VisitorMessageIn) -> Message:
    # Locked before reading, so two messages at once see each other (and count each other).
    take_write_lock(session)
    now = utcnow()
    external_id = f"widget:{visitor}:{body.client_id}"
    seen = repository.message_by_external(session, [external_id])
    if seen is not None:
        return seen
    conv = _conversation(session, here, visitor)
    if conv is None:
        since = now - timedelta(minutes=1)
        if repository.widget_conversations_since(session, here.shop_id, since) >= (
            NEW_CONVERSATIONS_PER_MINUTE
        ):
            raise _too_many("widget-busy", "Too many new chats on this shop; try again shortly")
        name = body.name.strip() or "Visitor"
        contact = service.contact_for(session, Channel.widget, visitor, name, email=body.email)
        conv = service.open_conversation(
            session, contact, Channel.widget, subject=body.body[:80], shop_id=here.shop_id
        )
    else:
        conv = service.get_conversation(session, conv.id, lock=True)
        if repository.inbound_since(session, conv.id, now - timedelta(minutes=1)) >= (
            MESSAGES_PER_MINUTE
        ):
            raise _too_many("too-many-messages", "Too many messages; wait a minute")
    return service.add_inbound(session, conv, body.body, external_id=external_id, now=now)


def post(here: Here, token: str | None, body: VisitorMessageIn) -> VisitorMessage:
    """The visitor's message, kept once per ``client_id`` however often the browser retries."""
    visitor = visitor_of(here, token)
    for attempt in range(3):
        try:
            with unit_of_work(here.tenant_id) as session:
                return _shown(_write(session, here, visitor, body))
        except IntegrityError:
            # The same visitor's first two messages at once: one made the contact (or the
            # same message landed twice); the next attempt finds what the other wrote.
            if attempt == 2:
                raise
    raise AssertionError("unreachable")


def thread(here: Here, token: str | None) -> VisitorThread:
    visitor = visitor_of(here, token)
    with unit_of_work(here.tenant_id) as session:
        conv = _conversation(session, here, visitor)
        found = repository.visible_messages(session, conv.id, None, HISTORY) if conv else []
        return VisitorThread(messages=[_shown(m) for m in found])


@dataclass
class Follow:
    """A visitor's live stream: each look reads their conversation from a little before the
    newest message already sent, and sends what it has not sent."""

    here: Here
    visitor: str
    since: datetime | None = None
    sent: dict[uuid.UUID, datetime] = field(default_factory=dict)

    def __call__(self, last_id: str | None) -> list[Event]:
        with unit_of_work(self.here.tenant_id) as session:
            conv = _conversation(session, self.here, self.visitor)
            if conv is None:
                return []
            if self.since is None and last_id:
                self.since = _resumed_at(session, conv.id, last_id)
            since = self.since - OVERLAP if self.since else None
            found = repository.visible_messages(session, conv.id, since, HISTORY)
        fresh = [m for m in found if m.id not in self.sent]
        for message in fresh:
            self.sent[message.id] = message.created_at
            self.since = max(self.since or message.created_at, message.created_at)
        if self.since is not None:
            cutoff = self.since - 2 * OVERLAP
            self.sent = {k: at for k, at in self.sent.items() if at >= cutoff}
        return [Event(str(m.id), "message", _shown(m).model_dump(mode="json")) for m in fresh]


def _resumed_at(session: Session, conversation_id: uuid.UUID, last_id: str) -> datetime | None:
    try:
        message = repository.message(session, uuid.UUID(last_id))
    except ValueError:
        return None
    return message.created_at if message and message.conversation_id == conversation_id else None


def follow(here: Here, token: str | None) -> Follow:
    return Follow(here, visitor_of(here, token))
