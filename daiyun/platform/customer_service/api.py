"""The customer-service API (客服): contacts, conversations and messages, canned replies,
macros, the knowledge base, SLA policies, agents and settings per merchant; an agent's inbox
across merchants; the inbound-parse webhook of the e-mail channel; and, from ``widget_api``, the
chat widget's routes."""

from __future__ import annotations

import base64
import uuid
from typing import Annotated, Any

import structlog
from fastapi import APIRouter, Depends, Query, Request, Response
from fastapi.concurrency import run_in_threadpool

from daiyun.core.errors import Problem
from daiyun.core.idempotency import IdempotencyKey, idempotent
from daiyun.core.ids import instant
from daiyun.core.openapi import problems
from daiyun.core.pagination import Cursor, Limit, Page, decode_cursor, encode_cursor
from daiyun.core.tasks import enqueue_after_commit
from daiyun.platform.customer_service import (
    assignment,
    knowledge,
    macros,
    mail,
    service,
    tasks,
    widget_api,
)
from daiyun.platform.customer_service.models import Channel, Delivery, State
from daiyun.platform.customer_service.schemas import (
    AgentRead,
    AgentUpdate,
    ArticleIn,
    ArticleRead,
    Assign,
    CannedReplyIn,
    CannedReplyRead,
    ContactCreate,
    ContactMerge,
    ContactRead,
    ConversationCreate,
    ConversationRead,
    ConversationUpdate,
    InboundAck,
    InboxItem,
    MacroIn,
    MacroRead,
    MailboxIn,
    MailboxRead,
    MessageCreate,
    MessageRead,
    SettingsIn,
    SettingsRead,
    SlaPolicyIn,
    SlaPolicyRead,
    Snooze,
    StatusIn,
)
from daiyun.tenants import service as tenant_service
from daiyun.tenants.auth.deps import (
    CurrentUser,
    SessionDep,
    TenantAccess,
    memberships_of,
    tenant_access,
)
from daiyun.tenants.auth.models import User
from daiyun.tenants.auth.permissions import Permission, Role, allows

log = structlog.get_logger()
router = APIRouter(tags=["customer service"])
ingress = APIRouter(tags=["webhooks"])
P = Permission
Reader = Annotated[TenantAccess, Depends(tenant_access(P.conversations_read))]
Replier = Annotated[TenantAccess, Depends(tenant_access(P.conversations_reply))]
Manager = Annotated[TenantAccess, Depends(tenant_access(P.cs_manage))]
T = "/tenants/{tenant}"
# The chat widget's routes live beside these (widget_api.py): its merchant's side and the visitor's.
router.include_router(widget_api.router)
ingress.include_router(widget_api.visitors)


def _own(user: User, permission: Permission) -> None:
    if not allows(user.role, permission):
        raise Problem(403, "forbidden", f"This needs the {permission.value} permission")


# --- contacts ------------------------------------------------------------------------------


@router.get(f"{T}/contacts", response_model=Page[ContactRead])
def list_contacts(
    session: SessionDep,
    access: Reader,
    q: Annotated[str | None, Query(max_length=100, pattern=r"^[^\x00]*$")] = None,
    cursor: Cursor = None,
    limit: Limit = 50,
) -> Page[ContactRead]:
    """The merchant's buyers (merged ones left out), searched by name, e-mail or phone."""
    rows, next_cursor = service.find_contacts(session, q, cursor, limit)
    return Page(items=service.read_contacts(session, rows), next_cursor=next_cursor)


@router.post(f"{T}/contacts", response_model=ContactRead, status_code=201, responses=problems(409))
def create_contact(
    session: SessionDep,
    access: Replier,
    body: ContactCreate,
    idempotency_key: IdempotencyKey = None,
) -> Response:
    """Add a buyer with their identities (one already known as another contact's: 409)."""
    return idempotent(
        session,
        access.user.id,
        idempotency_key,
        {"tenant": access.tenant.slug, **body.model_dump(mode="json")},
        lambda: service.read_contacts(session, [service.create_contact(session, body)])[0],
    )


@router.get(f"{T}/contacts/{{contact_id}}", response_model=ContactRead)
def get_contact(session: SessionDep, access: Reader, contact_id: uuid.UUID) -> ContactRead:
    return service.read_contacts(session, [service.get_contact(session, contact_id)])[0]


@router.get(f"{T}/contacts/{{contact_id}}/suggestions", response_model=list[ContactRead])
def merge_suggestions(
    session: SessionDep, access: Reader, contact_id: uuid.UUID
) -> list[ContactRead]:
    """Contacts that may be the same person (the same e-mail or phone), to merge."""
    return service.read_contacts(session, service.suggestions(session, contact_id))


@router.post(
    f"{T}/contacts/{{contact_id}}/merge", response_model=ContactRead, responses=problems(409)
)
def merge_contact(
    session: SessionDep, access: Replier, contact_id: uuid.UUID, body: ContactMerge
) -> ContactRead:
    """Merge this contact into another: identities and conversations move (already merged: 409)."""
    return service.read_contacts(session, [service.merge(session, contact_id, body.into_id)])[0]


# --- conversations -------------------------------------------------------------------------


@router.get(f"{T}/conversations", response_model=Page[ConversationRead])
def list_conversations(
    session: SessionDep,
    access: Reader,
    state: State | None = None,
    assignee_id: uuid.UUID | None = None,
    unassigned: bool = False,
    label: Annotated[str | None, Query(max_length=40, pattern=r"^[^\x00]*$")] = None,
    shop_id: uuid.UUID | None = None,
    channel: Channel | None = None,
    contact_id: uuid.UUID | None = None,
    cursor: Cursor = None,
    limit: Limit = 50,
) -> Page[ConversationRead]:
    """Conversations, oldest first, filtered by state, assignee, label, shop, channel or buyer."""
    filters = service.Filters(
        state=state,
        assignee_id=assignee_id,
        unassigned=unassigned,
        label=label,
        shop_id=shop_id,
        channel=channel,
        contact_id=contact_id,
    )
    rows, next_cursor = service.find_conversations(session, filters, cursor, limit)
    return Page(items=[ConversationRead.model_validate(r) for r in rows], next_cursor=next_cursor)


@router.post(f"{T}/conversations", response_model=ConversationRead, status_code=201)
def create_conversation(
    session: SessionDep,
    access: Replier,
    body: ConversationCreate,
    idempotency_key: IdempotencyKey = None,
) -> Response:
    """Enter a buyer's question by hand (a phone call, say): it is assigned or queued."""
    return idempotent(
        session,
        access.user.id,
        idempotency_key,
        {"tenant": access.tenant.slug, **body.model_dump(mode="json")},
        lambda: ConversationRead.model_validate(service.create_conversation(session, body)),
    )


@router.get(f"{T}/conversations/{{conversation_id}}", response_model=ConversationRead)
def get_conversation(
    session: SessionDep, access: Reader, conversation_id: uuid.UUID
) -> ConversationRead:
    return ConversationRead.model_validate(service.get_conversation(session, conversation_id))


@router.patch(f"{T}/conversations/{{conversation_id}}", response_model=ConversationRead)
def update_conversation(
    session: SessionDep, access: Replier, conversation_id: uuid.UUID, body: ConversationUpdate
) -> ConversationRead:
    """Change priority or labels (the SLA policy that matches may change with them)."""
    conv = service.get_conversation(session, conversation_id, lock=True)
    return ConversationRead.model_validate(service.update_conversation(session, conv, body))


@router.get(f"{T}/conversations/{{conversation_id}}/messages", response_model=Page[MessageRead])
def list_messages(
    session: SessionDep,
    access: Reader,
    conversation_id: uuid.UUID,
    cursor: Cursor = None,
    limit: Limit = 50,
) -> Page[MessageRead]:
    """The conversation's messages, oldest first (notes included)."""
    conv = service.get_conversation(session, conversation_id)
    rows, next_cursor = service.find_messages(session, conv, cursor, limit)
    return Page(items=[MessageRead.model_validate(r) for r in rows], next_cursor=next_cursor)


@router.post(
    f"{T}/conversations/{{conversation_id}}/messages",
    response_model=MessageRead,
    status_code=201,
    responses=problems(409),
)
def write_message(
    session: SessionDep,
    access: Replier,
    conversation_id: uuid.UUID,
    body: MessageCreate,
    idempotency_key: IdempotencyKey = None,
) -> Response:
    """Reply to the buyer (sent on the conversation's channel) or add a private note; a retry
    with the same Idempotency-Key sends nothing twice. Replying to a resolved one: 409."""

    def write() -> MessageRead:
        conv = service.get_conversation(session, conversation_id, lock=True)
        message = service.reply(session, conv, body, access.user)
        if message.delivery == Delivery.queued:
            enqueue_after_commit(session, tasks.send_reply, str(access.tenant.id), str(message.id))
        return MessageRead.model_validate(message)

    return idempotent(
        session,
        access.user.id,
        idempotency_key,
        {
            "tenant": access.tenant.slug,
            "conversation": str(conversation_id),
            **body.model_dump(mode="json"),
        },
        write,
    )


def _act(session: Any, conversation_id: uuid.UUID, action: Any) -> ConversationRead:
    conv = service.get_conversation(session, conversation_id, lock=True)
    return ConversationRead.model_validate(action(conv))


@router.post(
    f"{T}/conversations/{{conversation_id}}/assign",
    response_model=ConversationRead,
    responses=problems(409),
)
def assign(
    session: SessionDep, access: Replier, conversation_id: uuid.UUID, body: Assign
) -> ConversationRead:
    """Give it to an agent (online, with room: 409 otherwise), or by the rule with no agent."""
    return _act(session, conversation_id, lambda c: assignment.assign(session, c, body.assignee_id))


@router.post(
    f"{T}/conversations/{{conversation_id}}/snooze",
    response_model=ConversationRead,
    responses=problems(409),
)
def snooze(
    session: SessionDep, access: Replier, conversation_id: uuid.UUID, body: Snooze
) -> ConversationRead:
    """Put it aside until a time (it opens again then); a resolved one: 409."""
    until = instant("until", body.until)
    assert until is not None
    return _act(session, conversation_id, lambda c: service.snooze(session, c, until))


@router.post(
    f"{T}/conversations/{{conversation_id}}/pending",
    response_model=ConversationRead,
    responses=problems(409),
)
def set_pending(
    session: SessionDep, access: Replier, conversation_id: uuid.UUID
) -> ConversationRead:
    """Waiting on the buyer: the SLA clocks pause until they write; a resolved one: 409."""
    return _act(session, conversation_id, lambda c: service.set_pending(session, c))


@router.post(f"{T}/conversations/{{conversation_id}}/resolve", response_model=ConversationRead)
def resolve(session: SessionDep, access: Replier, conversation_id: uuid.UUID) -> ConversationRead:
    """Resolved: the clocks stop and the agent's slot goes to the next in the queue."""
    return _act(session, conversation_id, lambda c: service.resolve(session, c))


@router.post(f"{T}/conversations/{{conversation_id}}/reopen", response_model=ConversationRead)
def reopen(session: SessionDep, access: Replier, conversation_id: uuid.UUID) -> ConversationRead:
    return _act(session, conversation_id, lambda c: service.reopen(session, c))


# --- canned replies, SLA policies, agents, settings, mailboxes -----------------------------


@router.get(f"{T}/canned-replies", response_model=Page[CannedReplyRead])
def list_canned(
    session: SessionDep, access: Reader, cursor: Cursor = None, limit: Limit = 50
) -> Page[CannedReplyRead]:
    rows, next_cursor = macros.find_canned(session, cursor, limit)
    return Page(items=[CannedReplyRead.model_validate(r) for r in rows], next_cursor=next_cursor)


@router.post(
    f"{T}/canned-replies", response_model=CannedReplyRead, status_code=201, responses=problems(409)
)
def create_canned(session: SessionDep, access: Manager, body: CannedReplyIn) -> CannedReplyRead:
    """A saved answer; its shortcut is unique (409). Variables: {{buyer_name}}, {{order_number}},
    {{tracking_number}}, {{agent_name}}, {{shop_name}}."""
    return CannedReplyRead.model_validate(macros.create_canned(session, body))


@router.put(
    f"{T}/canned-replies/{{reply_id}}", response_model=CannedReplyRead, responses=problems(409)
)
def update_canned(
    session: SessionDep, access: Manager, reply_id: uuid.UUID, body: CannedReplyIn
) -> CannedReplyRead:
    return CannedReplyRead.model_validate(macros.update_canned(session, reply_id, body))


@router.delete(f"{T}/canned-replies/{{reply_id}}", status_code=204)
def delete_canned(session: SessionDep, access: Manager, reply_id: uuid.UUID) -> Response:
    macros.delete_canned(session, reply_id)
    return Response(status_code=204)


@router.get(f"{T}/knowledge-base", response_model=Page[ArticleRead])
def list_articles(
    session: SessionDep,
    access: Reader,
    q: Annotated[str | None, Query(max_length=100, pattern=r"^[^\x00]*$")] = None,
    cursor: Cursor = None,
    limit: Limit = 50,
) -> Page[ArticleRead]:
    """The merchant's knowledge base (客服手册), or the articles holding ``q`` (any case)."""
    rows, next_cursor = knowledge.find(session, (q or "").strip() or None, cursor, limit)
    return Page(items=[ArticleRead.model_validate(r) for r in rows], next_cursor=next_cursor)


@router.post(
    f"{T}/knowledge-base", response_model=ArticleRead, status_code=201, responses=problems(409)
)
def create_article(session: SessionDep, access: Manager, body: ArticleIn) -> ArticleRead:
    """An answer for the agents; its title is unique (409)."""
    return ArticleRead.model_validate(knowledge.create(session, body))


@router.get(f"{T}/knowledge-base/{{article_id}}", response_model=ArticleRead)
def get_article(session: SessionDep, access: Reader, article_id: uuid.UUID) -> ArticleRead:
    return ArticleRead.model_validate(knowledge.get(session, article_id))


@router.put(
    f"{T}/knowledge-base/{{article_id}}", response_model=ArticleRead, responses=problems(409)
)
def update_article(
    session: SessionDep, access: Manager, article_id: uuid.UUID, body: ArticleIn
) -> ArticleRead:
    return ArticleRead.model_validate(knowledge.update(session, article_id, body))


@router.delete(f"{T}/knowledge-base/{{article_id}}", status_code=204)
def delete_article(session: SessionDep, access: Manager, article_id: uuid.UUID) -> Response:
    knowledge.delete(session, article_id)
    return Response(status_code=204)


@router.get(f"{T}/macros", response_model=Page[MacroRead])
def list_macros(
    session: SessionDep, access: Reader, cursor: Cursor = None, limit: Limit = 50
) -> Page[MacroRead]:
    rows, next_cursor = macros.find(session, cursor, limit)
    return Page(items=[MacroRead.model_validate(r) for r in rows], next_cursor=next_cursor)


@router.post(f"{T}/macros", response_model=MacroRead, status_code=201, responses=problems(409))
def create_macro(session: SessionDep, access: Manager, body: MacroIn) -> MacroRead:
    """Saved actions, run in this order: labels added, priority, taken by the agent running it,
    a private note, a reply (variables as in canned replies), pending or resolved. Its name is
    unique (409)."""
    return MacroRead.model_validate(macros.create(session, body))


@router.put(f"{T}/macros/{{macro_id}}", response_model=MacroRead, responses=problems(409))
def update_macro(
    session: SessionDep, access: Manager, macro_id: uuid.UUID, body: MacroIn
) -> MacroRead:
    return MacroRead.model_validate(macros.update(session, macro_id, body))


@router.delete(f"{T}/macros/{{macro_id}}", status_code=204)
def delete_macro(session: SessionDep, access: Manager, macro_id: uuid.UUID) -> Response:
    macros.delete(session, macro_id)
    return Response(status_code=204)


@router.post(
    f"{T}/conversations/{{conversation_id}}/macros/{{macro_id}}",
    response_model=ConversationRead,
    responses=problems(409),
)
def run_macro(
    session: SessionDep, access: Replier, conversation_id: uuid.UUID, macro_id: uuid.UUID
) -> ConversationRead:
    """Run a macro on the conversation: all its steps, or none when one is refused (a reply to a
    resolved conversation: 409)."""
    conv = service.get_conversation(session, conversation_id, lock=True)
    for message in macros.run(session, conv, macro_id, access.user):
        if message.delivery == Delivery.queued:
            enqueue_after_commit(session, tasks.send_reply, str(access.tenant.id), str(message.id))
    return ConversationRead.model_validate(conv)


@router.get(f"{T}/sla-policies", response_model=list[SlaPolicyRead])
def list_policies(session: SessionDep, access: Reader) -> list[SlaPolicyRead]:
    """The SLA policies in the order they are matched."""
    return [SlaPolicyRead.model_validate(p) for p in service.policies(session)]


@router.post(f"{T}/sla-policies", response_model=SlaPolicyRead, status_code=201)
def create_policy(session: SessionDep, access: Manager, body: SlaPolicyIn) -> SlaPolicyRead:
    """Targets in business minutes (business hours and holidays in the merchant's time zone),
    matched by priority, channel and label."""
    return SlaPolicyRead.model_validate(service.create_policy(session, body))


@router.put(f"{T}/sla-policies/{{policy_id}}", response_model=SlaPolicyRead)
def update_policy(
    session: SessionDep, access: Manager, policy_id: uuid.UUID, body: SlaPolicyIn
) -> SlaPolicyRead:
    return SlaPolicyRead.model_validate(service.update_policy(session, policy_id, body))


@router.get(f"{T}/agents", response_model=list[AgentRead])
def list_agents(session: SessionDep, access: Reader) -> list[AgentRead]:
    """The merchant's agents with their availability, capacity and load (across merchants)."""
    return assignment.list_agents(session)


@router.put(f"{T}/agents/{{agent_id}}", response_model=AgentRead)
def update_agent(
    session: SessionDep, access: Manager, agent_id: uuid.UUID, body: AgentUpdate
) -> AgentRead:
    """Set an agent's capacity or status (offline hands their conversations back)."""
    return assignment.update_agent(session, agent_id, body)


@router.get(f"{T}/cs-settings", response_model=SettingsRead)
def get_settings_(session: SessionDep, access: Reader) -> SettingsRead:
    return SettingsRead(strategy=assignment.strategy(session))


@router.put(f"{T}/cs-settings", response_model=SettingsRead)
def put_settings(session: SessionDep, access: Manager, body: SettingsIn) -> SettingsRead:
    """How conversations are assigned: round robin or least loaded."""
    return SettingsRead(strategy=assignment.set_strategy(session, body.strategy).strategy)


@router.get(f"{T}/mailboxes", response_model=Page[MailboxRead])
def list_mailboxes(
    session: SessionDep, access: Manager, cursor: Cursor = None, limit: Limit = 50
) -> Page[MailboxRead]:
    """The merchant's support addresses with the webhook URL to give the mail provider."""
    rows, next_cursor = mail.find_mailboxes(session, cursor, limit)
    return Page(items=[mail.read(r) for r in rows], next_cursor=next_cursor)


@router.post(f"{T}/mailboxes", response_model=MailboxRead, status_code=201)
def create_mailbox(session: SessionDep, access: Manager, body: MailboxIn) -> MailboxRead:
    return mail.read(mail.create_mailbox(session, body))


# --- the agent's own view ------------------------------------------------------------------


def _inbox_tenants(session: Any, user: User) -> list[tuple[uuid.UUID, str]]:
    tenants = tenant_service.tenants_open_to(session, user.id)
    if user.role == Role.agency_admin:
        return [(t.id, t.slug) for t in tenants]
    roles = {m.tenant_id: m.role for m in memberships_of(session, user.id)}
    return [(t.id, t.slug) for t in tenants if allows(roles[t.id], P.conversations_read)]


@router.get("/inbox", response_model=Page[InboxItem])
def inbox(
    session: SessionDep,
    user: CurrentUser,
    queue: Annotated[bool, Query(description="The unassigned queue instead of your own")] = False,
    state: State | None = None,
    cursor: Cursor = None,
    limit: Limit = 50,
) -> Page[InboxItem]:
    """Your conversations across every merchant you answer for (or their queues), oldest first."""
    _own(user, P.conversations_read)
    after = decode_cursor(cursor) if cursor else None
    user_id = user.id
    tenants = _inbox_tenants(session, user)
    slugs = dict(tenants)
    found: list[InboxItem] = []
    for tenant_id in assignment.each_tenant(session, [t for t, _ in tenants]):
        filters = service.Filters(
            state=state, assignee_id=None if queue else user_id, unassigned=queue
        )
        rows, _ = service.find_conversations(
            session, filters, encode_cursor(after) if after else None, limit + 1
        )
        found += [
            InboxItem.model_validate(
                {**ConversationRead.model_validate(r).model_dump(), "tenant": slugs[tenant_id]}
            )
            for r in rows
        ]
    found.sort(key=lambda item: item.id)
    if len(found) > limit:
        return Page(items=found[:limit], next_cursor=encode_cursor(found[limit - 1].id))
    return Page(items=found, next_cursor=None)


@router.put("/inbox/status", response_model=AgentRead)
def set_status(session: SessionDep, user: CurrentUser, body: StatusIn) -> AgentRead:
    """Your availability: online takes conversations, away keeps yours, offline hands them back."""
    _own(user, P.conversations_reply)
    user_id, name = user.id, user.name
    row = assignment.set_status(session, user_id, body.status)
    return AgentRead(
        user_id=user_id, name=name, status=row.status, capacity=row.capacity, load=row.load
    )


# --- inbound e-mail ------------------------------------------------------------------------


@ingress.post(
    "/webhooks/email/{mailbox_key}/inbound",
    response_model=InboundAck,
    responses=problems(400, 401),
)
async def inbound_email(mailbox_key: str, request: Request) -> InboundAck:
    """The mail provider's inbound-parse post (form fields with ``timestamp``, ``token`` and
    ``signature``): 200 once stored (or already stored), 401 on a bad or stale signature."""
    try:
        form = await request.form(max_files=mail.MAX_FILES, max_fields=200)
    except Exception as exc:
        raise Problem(400, "malformed-payload", "The body is not a form") from exc
    fields: dict[str, str] = {}
    files: list[dict[str, Any]] = []
    for name, value in form.multi_items():
        if isinstance(value, str):
            fields[name] = value
        else:
            data = await value.read()
            files.append(
                {
                    "filename": value.filename or name,
                    "content_type": value.content_type or "application/octet-stream",
                    "data": base64.b64encode(data).decode(),
                }
            )
    receipt = await run_in_threadpool(mail.receive, mailbox_key[:64], fields, files)
    if receipt.status == "accepted" and receipt.inbound_id is not None:
        await run_in_threadpool(_hand_on, receipt.tenant_id, receipt.inbound_id)
    return InboundAck(status=receipt.status)


def _hand_on(tenant_id: uuid.UUID | None, inbound_id: uuid.UUID) -> None:
    """Queue the stored mail's processing; publishing is blocking I/O (a broker round trip), so
    it runs off the event loop. Lost here, the sweep hands it on again."""
    try:
        tasks.process_email.delay(str(tenant_id), str(inbound_id))
    except Exception:
        log.warning("inbound mail not queued", inbound_id=str(inbound_id))
