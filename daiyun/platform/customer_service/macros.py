"""Canned replies and macros: texts an agent inserts by shortcut, and saved actions an agent
runs on a conversation in one go (add labels, set the priority, take it, write a private note
and a reply, leave it pending or resolved), as Zendesk's and Chatwoot's do. A macro's steps
always run in that order, in the caller's unit of work: one that is refused (a reply to a
resolved conversation, an agent without room) refuses the whole macro, and nothing of it
stays."""

from __future__ import annotations

import uuid

from sqlalchemy.orm import Session

from daiyun.core.audit import service as audit
from daiyun.core.errors import Problem
from daiyun.core.pagination import paginate
from daiyun.platform.customer_service import assignment, repository, rules, service
from daiyun.platform.customer_service.models import (
    CannedReply,
    Conversation,
    Macro,
    Message,
    MessageKind,
    State,
)
from daiyun.platform.customer_service.schemas import (
    CannedReplyIn,
    ConversationUpdate,
    MacroIn,
    MessageCreate,
)
from daiyun.tenants.auth.models import User


def find(session: Session, cursor: str | None, limit: int) -> tuple[list[Macro], str | None]:
    return paginate(session, repository.macros(), Macro.id, cursor, limit)


def get(session: Session, macro_id: uuid.UUID) -> Macro:
    found = repository.macro(session, macro_id)
    if found is None:
        raise Problem(404, "not-found", "No such macro")
    return found


def create(session: Session, body: MacroIn) -> Macro:
    macro = Macro(**body.model_dump())
    session.add(macro)
    service.unique(session, f"The macro name {body.name}")
    audit.record(session, "cs.macro_created", f"macro:{macro.id}")
    return macro


def update(session: Session, macro_id: uuid.UUID, body: MacroIn) -> Macro:
    macro = get(session, macro_id)
    for key, value in body.model_dump().items():
        setattr(macro, key, value)
    service.unique(session, f"The macro name {body.name}")
    audit.record(session, "cs.macro_updated", f"macro:{macro.id}")
    return macro


def delete(session: Session, macro_id: uuid.UUID) -> None:
    session.delete(get(session, macro_id))
    session.flush()
    audit.record(session, "cs.macro_deleted", f"macro:{macro_id}")


def run(session: Session, conv: Conversation, macro_id: uuid.UUID, user: User) -> list[Message]:
    """Apply the macro's steps to the (locked) conversation; the messages it wrote, so the
    caller queues an e-mail reply for after the commit."""
    macro = get(session, macro_id)
    written: list[Message] = []
    if macro.add_labels or macro.priority is not None:
        labels = list(dict.fromkeys([*(conv.labels or []), *macro.add_labels]))
        update = ConversationUpdate(priority=macro.priority, labels=labels[:20])
        service.update_conversation(session, conv, update)
    if macro.assign_to_me and conv.assignee_id != user.id:
        assignment.assign(session, conv, user.id)
    values = service.reply_values(session, conv, user)
    for kind, text in ((MessageKind.note, macro.note), (MessageKind.outbound, macro.reply)):
        if text:
            body = MessageCreate(kind=kind, body=rules.render(text, values))
            written.append(service.reply(session, conv, body, user))
    if macro.then == State.pending:
        service.set_pending(session, conv)
    elif macro.then == State.resolved and conv.state != State.resolved:
        service.resolve(session, conv)
    audit.record(session, "cs.macro_run", f"conversation:{conv.id}", {"macro": str(macro.id)})
    return written


# --- canned replies (快捷短语): texts an agent inserts by shortcut -------------------------------


def find_canned(
    session: Session, cursor: str | None, limit: int
) -> tuple[list[CannedReply], str | None]:
    return paginate(session, repository.canned_replies(), CannedReply.id, cursor, limit)


def create_canned(session: Session, body: CannedReplyIn) -> CannedReply:
    reply_ = CannedReply(**body.model_dump())
    session.add(reply_)
    service.unique(session, f"The shortcut {body.shortcut}")
    audit.record(session, "cs.canned_reply_created", f"canned_reply:{reply_.id}")
    return reply_


def update_canned(session: Session, reply_id: uuid.UUID, body: CannedReplyIn) -> CannedReply:
    found = repository.canned_reply(session, reply_id)
    if found is None:
        raise Problem(404, "not-found", "No such canned reply")
    found.shortcut, found.title, found.body = body.shortcut, body.title, body.body
    service.unique(session, f"The shortcut {body.shortcut}")
    audit.record(session, "cs.canned_reply_updated", f"canned_reply:{found.id}")
    return found


def delete_canned(session: Session, reply_id: uuid.UUID) -> None:
    found = repository.canned_reply(session, reply_id)
    if found is None:
        raise Problem(404, "not-found", "No such canned reply")
    session.delete(found)
    session.flush()
    audit.record(session, "cs.canned_reply_deleted", f"canned_reply:{reply_id}")
