"""The demo's customer service (客服), seeded by :func:`daiyun.demo.seed`: for each demo merchant
an SLA policy on Shanghai office hours, canned replies, a support mailbox, and buyers'
conversations in every state (open and assigned, waiting in the queue, pending on the buyer,
snoozed, resolved); the demo agent is online with room for a few more. The merchants' own shops
(Shopify, WooCommerce) carry the chat widget on their sandbox storefronts.

Idempotent as the rest of the demo: a merchant that has any conversation is left alone.
"""

from __future__ import annotations

import uuid
from datetime import timedelta

from daiyun.connectors import service as shop_service
from daiyun.core.db import unit_of_work
from daiyun.core.ids import utcnow
from daiyun.platform.customer_service import (
    assignment,
    knowledge,
    macros,
    mail,
    repository,
    service,
    widget,
)
from daiyun.platform.customer_service.schemas import (
    AgentStatus,
    AgentUpdate,
    ArticleIn,
    CannedReplyIn,
    Channel,
    ContactCreate,
    MacroIn,
    MailboxIn,
    MessageCreate,
    Priority,
    SlaPolicyIn,
    State,
    WidgetIn,
)
from daiyun.tenants.models import Tenant

# The shops whose own storefronts carry the chat widget.
OWN_SITES = ("shopify", "woocommerce")
OFFICE = {day: [["09:00", "18:00"]] for day in ("mon", "tue", "wed", "thu", "fri")}
QUESTIONS = (
    ("王小明", "Where is my parcel? It has been five days.", Priority.high),
    ("Emily Carter", "Can I change the colour of my order?", Priority.normal),
    ("李雷", "请问这款茶叶是今年的新茶吗？", Priority.normal),
    ("Jonas Weber", "The lid arrived cracked, I would like a replacement.", Priority.urgent),
    ("韩梅梅", "可以开发票吗？", Priority.low),
)

# The knowledge base each demo merchant starts with (客服手册): policies and product answers.
ARTICLES = (
    ("退货政策", "签收后 7 天内可无理由退货，商品需保持完好；质量问题由我们承担运费。", ["售后"]),
    ("发货时间", "付款后 48 小时内发货，节假日顺延；发货后可在订单中查看快递单号。", ["物流"]),
    ("Returns", "Unused items can be returned within 7 days of delivery.", ["after-sales"]),
    ("Shipping times", "Orders ship within 48 hours of payment, tracked.", ["shipping"]),
)


def ensure_service(tenant: Tenant, agent_id: uuid.UUID | None) -> list[str]:
    """The merchant's desk with conversations in every state; what was created."""
    with unit_of_work(tenant.id) as session:
        found, _ = service.find_conversations(session, service.Filters(), None, 1)
        if found:
            return []
        service.create_policy(
            session,
            SlaPolicyIn(
                name="Office hours",
                first_response_minutes=60,
                next_response_minutes=120,
                resolution_minutes=24 * 60,
                business_hours=OFFICE,
            ),
        )
        macros.create_canned(
            session,
            CannedReplyIn(
                shortcut="thanks",
                title="Thanks for waiting",
                body="Hi {{buyer_name}}, thank you for waiting. {{agent_name}}",
            ),
        )
        macros.create_canned(
            session,
            CannedReplyIn(
                shortcut="order",
                title="About your order",
                body="Hi {{buyer_name}}, your order {{order_number}} is on its way.",
            ),
        )
        for title, body, tags in ARTICLES:
            knowledge.create(session, ArticleIn(title=title, body=body, tags=tags))
        macros.create(
            session,
            MacroIn(
                name="Refund issued",
                add_labels=["refund"],
                assign_to_me=True,
                note="Refund issued in the seller centre.",
                reply="Hi {{buyer_name}}, your refund is on its way. {{agent_name}}",
                then=State.resolved,
            ),
        )
        macros.create(
            session,
            MacroIn(
                name="Escalate to the account manager",
                add_labels=["escalated"],
                priority=Priority.urgent,
                note="Escalated: the account manager takes it from here.",
            ),
        )
        mail.create_mailbox(
            session,
            MailboxIn(address=f"help@{tenant.slug}.example", display_name=tenant.display_name),
        )
        if agent_id is not None:
            assignment.update_agent(
                session, agent_id, AgentUpdate(capacity=3, status=AgentStatus.online)
            )
        conversations = []
        for n, (name, text, priority) in enumerate(QUESTIONS):
            contact = service.create_contact(
                session,
                ContactCreate(name=name, email=f"buyer{n + 1}@{tenant.slug}.example"),
            )
            conv = service.open_conversation(
                session, contact, Channel.email if n % 2 else Channel.phone, priority=priority
            )
            service.add_inbound(session, conv, text, external_id=None)
            conversations.append(conv)
        agent = service.author(session, agent_id) if agent_id is not None else None
        if agent is not None:
            assigned = [c for c in conversations if c.assignee_id == agent_id]
            if assigned:  # the agent asked back: waiting on the buyer
                service.reply(
                    session,
                    assigned[0],
                    MessageCreate(body="Could you send a photo?", then=State.pending),
                    agent,
                )
            if len(assigned) > 1:
                service.snooze(session, assigned[1], utcnow() + timedelta(hours=4))
            if len(assigned) > 2:
                service.reply(
                    session,
                    assigned[2],
                    MessageCreate(body="Done, thank you!", then=State.resolved),
                    agent,
                )
    return [f"conversations of {tenant.slug}"]


def ensure_widgets(tenant: Tenant, origins: list[str]) -> list[str]:
    """A chat widget on each of the merchant's own shops (Shopify, WooCommerce), answering their
    sandbox storefronts (``origins``), with a visitor's question already in the inbox."""
    created = []
    with unit_of_work(tenant.id) as session:
        for shop in shop_service.shops(session):
            if shop.channel not in OWN_SITES or repository.widget_of_shop(session, shop.id):
                continue
            widget.create_widget(
                session,
                WidgetIn(
                    shop_id=shop.id,
                    allowed_origins=origins,
                    greeting=f"欢迎光临 {shop.name}！Ask us anything.",
                ),
            )
            visitor = uuid.uuid4().hex
            contact = service.contact_for(session, Channel.widget, visitor, "Visitor")
            conv = service.open_conversation(
                session, contact, Channel.widget, subject="Shipping", shop_id=shop.id
            )
            service.add_inbound(
                session,
                conv,
                "Hi, do you ship to Hong Kong?",
                external_id=f"widget:{visitor}:demo",
            )
            created.append(f"chat widget of {shop.name}")
    return created
