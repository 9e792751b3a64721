"""Customer service (客服) in the console: an agent's inbox across their merchants, one
conversation with the buyer's orders beside it, and the supervisors' view of queues, agents'
load and breaches. Each merchant is read in a unit of work of its own where the user's role
there grants ``conversations:read``; a merchant that cannot be read shows nothing rather than
failing the page, as the other console pages do.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import datetime
from functools import partial

from sqlalchemy.orm import Session

from daiyun.core.ids import utcnow
from daiyun.platform.customer_service import assignment, knowledge, macros, reports, service
from daiyun.platform.customer_service.schemas import (
    AgentRead,
    ArticleRead,
    CannedReplyRead,
    ContactRead,
    ConversationRead,
    MacroRead,
    MessageRead,
)
from daiyun.platform.orders import service as orders
from daiyun.portal.console.access import Access, quietly, tenant_unit, with_permission
from daiyun.portal.identity import TenantView
from daiyun.tenants.auth.permissions import Permission

P = Permission
# Conversations each merchant contributes to the list; the API pages through all of them.
PER_MERCHANT = 50
ORDERS_SHOWN = 10
ARTICLES_SHOWN = 5


@dataclass(frozen=True)
class Row:
    tenant: TenantView
    conversation: ConversationRead
    buyer: str


@dataclass(frozen=True)
class OrderLine:
    order_id: uuid.UUID
    number: str
    status: str
    total_minor: int
    currency: str
    placed_at: datetime


@dataclass
class Thread:
    tenant: TenantView
    conversation: ConversationRead
    contact: ContactRead
    messages: list[MessageRead]
    canned: list[CannedReplyRead]
    orders: list[OrderLine]
    can_reply: bool
    macros: list[MacroRead] = field(default_factory=list)
    articles: list[ArticleRead] = field(default_factory=list)  # the knowledge base's answers


@dataclass
class DeskRow:
    tenant: TenantView
    desk: reports.Desk
    agents: list[AgentRead] = field(default_factory=list)


def readable(accesses: list[Access]) -> list[Access]:
    return with_permission(accesses, P.conversations_read)


def inbox(accesses: list[Access], user_id: uuid.UUID, queue: bool) -> list[Row]:
    """The user's unresolved conversations (or the merchants' queues), oldest message first."""
    rows: list[Row] = []
    for access in readable(accesses):
        with tenant_unit(access.tenant.id, user_id) as session:
            quietly(partial(_rows, session, access.tenant, user_id, queue, rows))
            session.rollback()
    rows.sort(key=lambda r: r.conversation.last_message_at)
    return rows


def _rows(
    session: Session, tenant: TenantView, user_id: uuid.UUID, queue: bool, rows: list[Row]
) -> bool:
    # Unresolved ones only, in the query: an agent's resolved history would fill the page.
    filters = service.Filters(
        assignee_id=None if queue else user_id, unassigned=queue, unresolved=True
    )
    found, _ = service.find_conversations(session, filters, None, PER_MERCHANT)
    for conv in found:
        contact = service.get_contact(session, conv.contact_id)
        rows.append(Row(tenant, ConversationRead.model_validate(conv), contact.name))
    return True


def thread(
    access: Access, user_id: uuid.UUID, conversation_id: uuid.UUID, kb: str | None = None
) -> Thread | None:
    """One conversation with its messages, the canned replies, the macros, the knowledge base's
    articles holding ``kb`` and the buyer's recent orders."""
    with tenant_unit(access.tenant.id, user_id) as session:
        found = quietly(partial(_thread, session, access, conversation_id, kb))
        session.rollback()
    return found


def _thread(session: Session, access: Access, conversation_id: uuid.UUID, kb: str | None) -> Thread:
    conv = service.get_conversation(session, conversation_id)
    contact = service.read_contacts(session, [service.get_contact(session, conv.contact_id)])[0]
    messages, _ = service.find_messages(session, conv, None, 200)
    canned, _ = macros.find_canned(session, None, 100)
    saved, _ = macros.find(session, None, 100)
    answers = knowledge.find(session, kb, None, ARTICLES_SHOWN)[0] if kb else []
    lines: list[OrderLine] = []
    if access.can(P.orders_read):
        seen: set[uuid.UUID] = set()
        picked = []
        if conv.order_id is not None and (order := orders.get_order(session, conv.order_id)):
            picked.append(order)
        if contact.email:
            found, _ = orders.find_orders(session, text=contact.email, limit=ORDERS_SHOWN)
            picked += found
        for order in picked:
            if order.id in seen:
                continue
            seen.add(order.id)
            lines.append(
                OrderLine(
                    order.id,
                    order.external_id,
                    order.status.value,
                    order.total_minor,
                    order.currency,
                    order.placed_at,
                )
            )
    return Thread(
        access.tenant,
        ConversationRead.model_validate(conv),
        contact,
        [MessageRead.model_validate(m) for m in messages],
        [CannedReplyRead.model_validate(c) for c in canned],
        lines,
        access.can(P.conversations_reply),
        [MacroRead.model_validate(m) for m in saved],
        [ArticleRead.model_validate(a) for a in answers],
    )


def _desk(session: Session, tenant: TenantView) -> DeskRow:
    return DeskRow(tenant, reports.desk(session, utcnow()), assignment.list_agents(session))


def desks(accesses: list[Access], user_id: uuid.UUID) -> list[DeskRow]:
    """Per merchant: unresolved and queued conversations, the oldest wait, breaches, agents."""
    found: list[DeskRow] = []
    for access in readable(accesses):
        with tenant_unit(access.tenant.id, user_id) as session:
            row = quietly(partial(_desk, session, access.tenant))
            session.rollback()
        if row is not None:
            found.append(row)
    return found
