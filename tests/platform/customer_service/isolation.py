"""Customer service's part of the isolation tests (the interface is described at the top of
tests/platform/warehouse/isolation.py)."""

from __future__ import annotations

import base64
import uuid
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from daiyun.connectors.models import Shop
from daiyun.core import db
from daiyun.platform.customer_service import knowledge, macros, mail, service, widget
from daiyun.platform.customer_service.models import (
    Agent,
    Article,
    Attachment,
    CannedReply,
    Channel,
    Contact,
    Conversation,
    Identity,
    InboundEmail,
    Macro,
    Mailbox,
    MailRoute,
    Message,
    MessageKind,
    Settings,
    SlaPolicy,
    State,
    Strategy,
    Widget,
    WidgetRoute,
)
from daiyun.platform.customer_service.schemas import (
    ArticleIn,
    CannedReplyIn,
    ContactCreate,
    MacroIn,
    MailboxIn,
    SlaPolicyIn,
    WidgetIn,
)
from daiyun.tenants.auth.permissions import Permission, Role
from daiyun.tenants.models import Membership
from tests import factories
from tests.authz import ADMIN, API, P, Route, TenantRule, columns_of, rows_of, rules

CS_READERS = frozenset({Role.agency_admin, Role.account_manager, Role.cs_agent})
CS_REPLIERS = frozenset({Role.agency_admin, Role.cs_agent})

TENANT_TABLES = (
    Settings,
    Contact,
    Identity,
    SlaPolicy,
    Conversation,
    Message,
    Attachment,
    CannedReply,
    Macro,
    Article,
    Mailbox,
    InboundEmail,
    Widget,
)
READ = TenantRule(P.conversations_read, CS_READERS)
REPLY = TenantRule(P.conversations_reply, CS_REPLIERS)
MANAGE = TenantRule(P.cs_manage, ADMIN)
CONV = "/conversations/{conversation_id}"

TENANT_RULES = (
    rules(
        (
            ("GET", "/contacts"),
            ("POST", "/contacts"),
            ("GET", "/contacts/{contact_id}"),
            ("GET", "/contacts/{contact_id}/suggestions"),
            ("POST", "/contacts/{contact_id}/merge"),
            ("GET", "/conversations"),
            ("POST", "/conversations"),
            ("GET", CONV),
            ("PATCH", CONV),
            ("GET", f"{CONV}/messages"),
            ("POST", f"{CONV}/messages"),
            ("POST", f"{CONV}/assign"),
            ("POST", f"{CONV}/snooze"),
            ("POST", f"{CONV}/pending"),
            ("POST", f"{CONV}/resolve"),
            ("POST", f"{CONV}/reopen"),
            ("GET", "/canned-replies"),
            ("GET", "/macros"),
            ("GET", "/knowledge-base"),
            ("GET", "/knowledge-base/{article_id}"),
            ("POST", f"{CONV}/macros/{{macro_id}}"),
            ("GET", "/sla-policies"),
            ("GET", "/agents"),
            ("GET", "/cs-settings"),
        ),
        read=READ,
        write=REPLY,
    )
    | rules(
        (
            ("POST", "/canned-replies"),
            ("PUT", "/canned-replies/{reply_id}"),
            ("DELETE", "/canned-replies/{reply_id}"),
            ("POST", "/macros"),
            ("PUT", "/macros/{macro_id}"),
            ("DELETE", "/macros/{macro_id}"),
            ("POST", "/knowledge-base"),
            ("PUT", "/knowledge-base/{article_id}"),
            ("DELETE", "/knowledge-base/{article_id}"),
            ("POST", "/sla-policies"),
            ("PUT", "/sla-policies/{policy_id}"),
            ("PUT", "/agents/{agent_id}"),
            ("PUT", "/cs-settings"),
            ("POST", "/mailboxes"),
            ("POST", "/widgets"),
            ("PATCH", "/widgets/{widget_id}"),
        ),
        read=MANAGE,
        write=MANAGE,
    )
    | {
        # The webhook URLs name the mailboxes' keys: for supervisors only.
        ("GET", f"{API}/tenants/{{tenant}}/mailboxes"): MANAGE,
        ("GET", f"{API}/tenants/{{tenant}}/widgets"): MANAGE,
    }
)
# An agent's own inbox across merchants and their availability: by the caller's own role.
OTHER_RULES: dict[Route, str | Permission] = {
    ("GET", f"{API}/inbox"): P.conversations_read,
    ("PUT", f"{API}/inbox/status"): P.conversations_reply,
    # The mail provider authenticates by signature (tests/platform/customer_service/test_mail.py).
    ("POST", "/webhooks/email/{mailbox_key}/inbound"): "signature",
    # A chat visitor's calls need the widget's page origin (and a token for one widget, which
    # reads only its own conversation: tests/platform/customer_service/test_widget.py); the
    # script itself is public.
    ("GET", "/widget/{key}.js"): "public",
    **{
        (method, f"/widget/{{key}}/{what}"): "visitor"
        for method, what in (
            ("POST", "visitors"),
            ("GET", "messages"),
            ("POST", "messages"),
            ("GET", "events"),
        )
    },
}


def seed(tenant_id: uuid.UUID, places: dict[str, str]) -> dict[str, str]:
    """Two contacts with the same e-mail, a conversation, a canned reply, a policy, a macro, an
    article, a mailbox;
    the cs agent member of A (if any) as the agent to manage."""
    tag = uuid.uuid4().hex[:8]
    with db.unit_of_work(tenant_id) as session:
        first = service.create_contact(
            session, ContactCreate(name="Li Na", email=f"li-{tag}@example.com")
        )
        second = service.create_contact(
            session, ContactCreate(name="Na Li", phone=f"+86 138 {int(tag, 16) % 10**8:08d}")
        )
        second.email = first.email
        conv = service.open_conversation(session, first, Channel.phone, subject="Where is it?")
        service.add_inbound(session, conv, "Where is my parcel?", external_id=None)
        canned = macros.create_canned(
            session, CannedReplyIn(shortcut="hello", title="Hello", body="Hello {{buyer_name}}")
        )
        policy = service.create_policy(
            session, SlaPolicyIn(name="Standard", first_response_minutes=60)
        )
        macro = macros.create(session, MacroIn(name="Escalate", add_labels=["vip"], note="Look"))
        article = knowledge.create(session, ArticleIn(title="Returns", body="Within 7 days"))
        mailbox = mail.create_mailbox(session, MailboxIn(address=f"help-{tag}@shop.example"))
        agents = [m.user_id for m in session.scalars(select(Membership)) if m.role == Role.cs_agent]
    # The widget to change sits on a shop of its own: POST /widgets takes the seeded shop.
    other_shop = factories.shop(tenant_id, channel="woocommerce").id
    with db.unit_of_work(tenant_id) as session:
        chat = widget.create_widget(
            session, WidgetIn(shop_id=other_shop, allowed_origins=["https://a.example"])
        )
    return {
        "widget_id": str(chat.id),
        "key": chat.key,
        "contact_id": str(first.id),
        "other_contact_id": str(second.id),
        "conversation_id": str(conv.id),
        "reply_id": str(canned.id),
        "policy_id": str(policy.id),
        "macro_id": str(macro.id),
        "article_id": str(article.id),
        "mailbox_key": mailbox.key,
        "agent_id": str(agents[0]) if agents else str(uuid.uuid4()),
    }


def request(path: str, method: str, places: dict[str, str], n: int) -> dict[str, Any] | None:
    """A valid body for a customer-service write on a tenant, new values each call."""
    bodies: dict[tuple[str, str], dict[str, Any]] = {
        ("POST", "/contacts"): {
            "name": f"Buyer {n}",
            "identities": [{"channel": "marketplace", "value": f"matrix-buyer-{n}"}],
        },
        ("POST", "/contacts/{contact_id}/merge"): {"into_id": places["other_contact_id"]},
        ("POST", "/conversations"): {
            "contact_id": places["contact_id"],
            "channel": "phone",
            "body": f"Question {n}",
        },
        ("PATCH", CONV): {"labels": [f"m{n}"]},
        ("POST", f"{CONV}/messages"): {"kind": "note", "body": f"Note {n}"},
        ("POST", f"{CONV}/assign"): {},
        ("POST", f"{CONV}/snooze"): {"until": f"2030-01-{1 + n % 28:02d}T00:00:00Z"},
        ("POST", "/canned-replies"): {"shortcut": f"m{n}", "title": "M", "body": "Hi"},
        ("PUT", "/canned-replies/{reply_id}"): {"shortcut": f"p{n}", "title": "P", "body": "Hi"},
        ("POST", "/macros"): {"name": f"Macro {n}", "priority": "high"},
        ("POST", "/knowledge-base"): {"title": f"Article {n}", "body": "Answer"},
        ("PUT", "/knowledge-base/{article_id}"): {"title": f"Put {n}", "body": f"Answer {n}"},
        ("PUT", "/macros/{macro_id}"): {"name": f"Put {n}", "add_labels": [f"p{n}"]},
        ("POST", "/sla-policies"): {"name": f"Matrix {n}", "first_response_minutes": 10 + n},
        ("PUT", "/sla-policies/{policy_id}"): {"name": f"Put {n}", "resolution_minutes": 60 + n},
        ("PUT", "/agents/{agent_id}"): {"capacity": 1 + n % 50},
        ("PUT", "/cs-settings"): {"strategy": ("round_robin", "least_loaded")[n % 2]},
        ("POST", "/mailboxes"): {"address": f"m{n}-{uuid.uuid4().hex[:6]}@shop.example"},
        ("POST", "/widgets"): {
            "shop_id": places["shop_id"],
            "allowed_origins": [f"https://m{n}.example"],
        },
        ("PATCH", "/widgets/{widget_id}"): {"greeting": f"Hello {n}"},
    }
    if (method, path) in bodies:
        return {"json": bodies[(method, path)]}
    if (method, path) in {
        ("POST", f"{CONV}/pending"),
        ("POST", f"{CONV}/resolve"),
        ("POST", f"{CONV}/reopen"),
        ("DELETE", "/canned-replies/{reply_id}"),
        ("DELETE", "/macros/{macro_id}"),
        ("DELETE", "/knowledge-base/{article_id}"),
        ("POST", f"{CONV}/macros/{{macro_id}}"),
    }:
        return {}
    return None


def restore(path: str, tenant_id: uuid.UUID, places: dict[str, str]) -> None:
    """After each caller: the seeded conversation in the state the route acts on, the merged
    contact apart again, the deleted canned reply, macro and article back."""
    conversation_id = uuid.UUID(places["conversation_id"])
    with db.unit_of_work(tenant_id) as session:
        if path == "/widgets":  # the seeded shop takes the next caller's widget
            shop_id = uuid.UUID(places["shop_id"])
            keys = list(session.scalars(select(Widget.key).where(Widget.shop_id == shop_id)))
            session.execute(delete(WidgetRoute).where(WidgetRoute.key.in_(keys)))
            session.execute(delete(Widget).where(Widget.shop_id == shop_id))
        if path.startswith(CONV):
            conv = service.get_conversation(session, conversation_id)
            needs = State.resolved if path.endswith("/reopen") else State.open
            conv.state, conv.snoozed_until, conv.paused = needs, None, {}
            conv.resolved_at = datetime(2026, 1, 1, tzinfo=UTC) if needs == State.resolved else None
        if path.endswith("/merge"):
            source = service.get_contact(session, uuid.UUID(places["contact_id"]))
            source.merged_into_id = None
            for conv in session.scalars(select(Conversation)):
                conv.contact_id = source.id
        if path == "/canned-replies/{reply_id}":
            reply_id = uuid.UUID(places["reply_id"])
            if session.scalar(select(CannedReply).where(CannedReply.id == reply_id)) is None:
                session.add(CannedReply(id=reply_id, shortcut="hello", title="Hello", body="Hi"))
        if path == "/macros/{macro_id}":
            macro_id = uuid.UUID(places["macro_id"])
            if session.scalar(select(Macro).where(Macro.id == macro_id)) is None:
                session.add(Macro(id=macro_id, name="Escalate", add_labels=["vip"], note="Look"))
        if path == "/knowledge-base/{article_id}":
            article_id = uuid.UUID(places["article_id"])
            if session.scalar(select(Article).where(Article.id == article_id)) is None:
                session.add(Article(id=article_id, title="Returns", body="Within 7 days"))


def tenant_state(session: Session) -> list[tuple[Any, ...]]:
    return rows_of(session, TENANT_TABLES)


def platform_state(session: Session) -> list[str]:
    """Agents' availability and load, and the mail and widget routes."""
    agents = [tuple(columns_of(a).items()) for a in session.scalars(select(Agent))]
    routes = [
        tuple(columns_of(r).items())
        for model in (MailRoute, WidgetRoute)
        for r in session.scalars(select(model))
    ]
    return sorted(map(str, agents + routes))


def other_request(path: str, method: str, n: int) -> dict[str, Any] | None:
    if (method, path) == ("PUT", "/inbox/status"):
        return {"json": {"status": ("away", "online")[n % 2]}}
    if (method, path) == ("POST", "/widget/{key}/messages"):
        # Valid, so that only the missing page origin refuses it.
        return {"json": {"body": f"Hello {n}", "client_id": f"matrix-{n:04d}"}}
    return None


BULK_UPDATES: dict[type[Any], tuple[str, Any]] = {
    Settings: ("strategy", Strategy.round_robin),
    Contact: ("name", "tests-bulk"),
    Identity: ("created_at", datetime(2026, 1, 1, tzinfo=UTC)),
    SlaPolicy: ("name", "tests-bulk"),
    Conversation: ("subject", "tests-bulk"),
    Message: ("body", "tests-bulk"),
    Attachment: ("filename", "tests-bulk"),
    CannedReply: ("title", "tests-bulk"),
    Macro: ("note", "tests-bulk"),
    Article: ("body", "tests-bulk"),
    Mailbox: ("display_name", "tests-bulk"),
    InboundEmail: ("error", "tests-bulk"),
    Widget: ("greeting", "tests-bulk"),
}
APPEND_ONLY: frozenset[type[Any]] = frozenset()


def guard_seed(
    tenant_id: uuid.UUID, sku_id: uuid.UUID, order_ids: list[uuid.UUID]
) -> dict[type[Any], set[uuid.UUID]]:
    """A row of every customer-service tenant table."""
    tag = uuid.uuid4().hex[:8]
    with db.unit_of_work(tenant_id) as session:
        contact = service.create_contact(
            session, ContactCreate(name="Guard", email=f"guard-{tag}@example.com")
        )
        service.create_policy(session, SlaPolicyIn(name="Guard", first_response_minutes=5))
        macros.create_canned(session, CannedReplyIn(shortcut="g", title="G", body="G"))
        macros.create(session, MacroIn(name="G", then="resolved"))
        knowledge.create(session, ArticleIn(title="G", body="G"))
        mailbox = mail.create_mailbox(session, MailboxIn(address=f"g-{tag}@shop.example"))
        shop = session.scalars(select(Shop)).first()
        assert shop is not None, "the guard's seed gives the tenant a shop"
        widget.create_widget(
            session, WidgetIn(shop_id=shop.id, allowed_origins=["https://guard.example"])
        )
        conv = service.open_conversation(
            session,
            contact,
            Channel.email,
            mailbox_id=mailbox.id,
            order_id=order_ids[0] if order_ids else None,
        )
        message = service.add_inbound(session, conv, "guard", external_id=f"<{tag}@guard>")
        session.add(
            Attachment(
                message_id=message.id,
                filename="a.txt",
                content_type="text/plain",
                size=1,
                data=b"a",
            )
        )
        session.add(Settings(strategy=Strategy.least_loaded))
        session.add(
            InboundEmail(
                mailbox_id=mailbox.id,
                token=tag,
                message_id=f"<{tag}@guard>",
                fields={"from": "guard@example.com"},
                files=[
                    {
                        "filename": "a",
                        "content_type": "text/plain",
                        "data": base64.b64encode(b"a").decode(),
                    }
                ],
            )
        )
        session.add(Message(conversation_id=conv.id, kind=MessageKind.note, body="note"))
        session.flush()
        return {
            model: set(session.scalars(select(model.id).where(model.tenant_id == tenant_id)))
            for model in TENANT_TABLES
        }
