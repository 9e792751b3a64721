"""The console's customer-service pages (客服): the agent's inbox in three panes (their
conversations or the queue; the open conversation with the reply box; the buyer's orders), the
supervisors' desk (queues, agents' load, breaches), and a merchant's service report.

The inbox updates without a reload: the page follows ``/console/inbox/events`` (server-sent
events, daiyun/core/live.py) and reloads when what its list shows changes. Staff only for the
console pages; each action checks the user's role in the conversation's merchant, and every form
carries the CSRF token.
"""

from __future__ import annotations

import hashlib
import uuid
from dataclasses import dataclass
from datetime import timedelta
from functools import partial
from typing import Annotated

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response
from starlette.datastructures import FormData

from daiyun.core import live
from daiyun.core.db import unit_of_work
from daiyun.core.errors import Problem
from daiyun.core.ids import utcnow
from daiyun.core.tasks import enqueue_after_commit
from daiyun.core.tenancy import bind_user
from daiyun.platform.customer_service import assignment, macros, reports, rules, service, tasks
from daiyun.platform.customer_service.schemas import (
    AgentStatus,
    Delivery,
    MessageCreate,
    MessageKind,
    State,
)
from daiyun.portal import sessions
from daiyun.portal.console import access
from daiyun.portal.console.service_desk import desks, inbox, readable, thread
from daiyun.portal.navigation import tabs
from daiyun.portal.views.console import Staff, StaffForm, _back, _staff_only, _text
from daiyun.portal.views.merchant.common import N_
from daiyun.portal.web import PREFIX, Page, PortalRoute, redirect, render, tenant_form, tenant_page
from daiyun.tenants.auth.permissions import Permission

router = APIRouter(prefix=PREFIX, include_in_schema=False, route_class=PortalRoute)
P = Permission
INBOX = f"{PREFIX}/console/inbox"
ReplyForm = Annotated[tuple[Page, FormData], Depends(tenant_form(P.conversations_reply))]
ReportPage = Annotated[Page, Depends(tenant_page(P.cs_reports))]
ACTIONS = ("reply", "note", "pending", "resolve", "reopen", "macro")
REPORT_DAYS = 30


def _selected(value: str) -> tuple[str, uuid.UUID] | None:
    slug, _, raw = value.partition(":")
    try:
        return slug, uuid.UUID(raw)
    except ValueError:
        return None


@router.get("/console/inbox")
def inbox_page(
    request: Request, page: Staff, view: str = "mine", c: str = "", kb: str = ""
) -> Response:
    """Three panes: the list (mine or the queue), the conversation with the knowledge base's
    answers to ``kb``, the buyer's orders."""
    kb = kb.replace("\x00", "").strip()[:100]
    accesses = access.accessible(page.db, page.user)
    queue = view == "queue"
    rows = inbox(accesses, page.user.id, queue)
    opened = None
    if (chosen := _selected(c)) is not None:
        found = next((a for a in readable(accesses) if a.tenant.slug == chosen[0]), None)
        if found is not None:
            opened = thread(found, page.user.id, chosen[1], kb or None)
    me = assignment.agent_row(page.db, page.user.id)
    now = utcnow()
    return render(
        request,
        "console/inbox.html",
        {
            "rows": rows,
            "queue": queue,
            "opened": opened,
            "selected": c,
            "kb": kb,
            "status": me.status.value if me else AgentStatus.offline.value,
            "statuses": [s.value for s in AgentStatus],
            "may_see": bool(readable(accesses)),
            "now": now,
            "risk_until": now + rules.AT_RISK,
            "at_risk": partial(reports.at_risk, now=now),
            "error": request.query_params.get("error", ""),
        },
        page=page,
    )


@dataclass
class _Watch:
    """What an agent's list shows, looked at once a tick: an ``inbox`` event whenever it changes
    (its id a digest of the rows, so a reconnecting page hears only of a real change). The
    sign-in and the memberships are read again each time: a session ended or a merchant taken
    away stops the news at the next tick."""

    cookie: str | None
    queue: bool

    def __call__(self, last_id: str | None) -> list[live.Event]:
        with unit_of_work() as db:
            found = sessions.resolve(db, self.cookie)
            if found is None:
                return []
            user = found[1]
            bind_user(db, user.id)  # row security shows a user their own memberships only
            accesses = access.accessible(db, user)
        rows = inbox(accesses, user.id, self.queue)
        shown = "|".join(
            f"{r.tenant.slug}:{r.conversation.id}:{r.conversation.last_message_at.isoformat()}"
            f":{r.conversation.state}:{r.conversation.assignee_id}"
            for r in rows
        )
        stamp = hashlib.sha256(shown.encode()).hexdigest()[:24]
        if stamp == last_id:
            return []
        return [live.Event(stamp, "inbox", {"count": len(rows)})]


@router.get("/console/inbox/events")
def inbox_events(request: Request, page: Staff, view: str = "mine") -> Response:
    """Server-sent events for the open inbox page: any API process answers, reading the
    database, so a message taken in by another process shows all the same."""
    return live.stream(request, _Watch(request.cookies.get(sessions.COOKIE), view == "queue"))


@router.post("/console/inbox/status")
def set_status(submitted: StaffForm) -> Response:
    """The agent's own availability (offline hands their conversations back to the queue)."""
    page, form = submitted
    try:
        status = AgentStatus(_text(form, "status"))
    except ValueError:
        return _back(form, INBOX, error="bad-form")
    if not any(a.can(P.conversations_reply) for a in access.accessible(page.db, page.user)):
        return _back(form, INBOX, error="forbidden")
    assignment.set_status(page.db, page.user.id, status)
    return _back(form, INBOX)


@router.post("/t/{tenant}/conversations/{conversation_id}")
def act(submitted: ReplyForm, conversation_id: uuid.UUID) -> Response:
    """Reply, add a note, set pending, resolve, reopen or run a macro, from the reply box."""
    page, form = submitted
    _staff_only(page)
    assert page.tenant is not None
    here = f"{INBOX}?c={page.tenant.slug}:{conversation_id}"
    action = _text(form, "action")
    if action not in ACTIONS:
        return _back(form, here, error="bad-form")
    try:
        with page.db.begin_nested():
            conv = service.get_conversation(page.db, conversation_id, lock=True)
            if action in ("reply", "note"):
                canned = _text(form, "canned_reply_id")
                body = MessageCreate(
                    kind=MessageKind.note if action == "note" else MessageKind.outbound,
                    body=_text(form, "body", 20_000) or None,
                    canned_reply_id=uuid.UUID(canned) if canned else None,
                )
                user = service.author(page.db, page.user.id)
                message = service.reply(page.db, conv, body, user)
                if message.delivery == Delivery.queued:
                    enqueue_after_commit(
                        page.db, tasks.send_reply, str(page.tenant.id), str(message.id)
                    )
            elif action == "macro":
                user = service.author(page.db, page.user.id)
                chosen = uuid.UUID(_text(form, "macro_id", 36))
                for message in macros.run(page.db, conv, chosen, user):
                    if message.delivery == Delivery.queued:
                        enqueue_after_commit(
                            page.db, tasks.send_reply, str(page.tenant.id), str(message.id)
                        )
            elif action == "pending":
                service.set_pending(page.db, conv)
            elif action == "resolve":
                service.resolve(page.db, conv)
            else:
                service.reopen(page.db, conv)
    except ValueError:
        return _back(form, here, error="bad-form")
    except Problem as refused:
        if refused.status >= 500:
            raise
        return _back(form, here, error=refused.kind)
    return redirect(here)


@router.get("/console/service")
def service_desk(request: Request, page: Staff) -> Response:
    """Supervisors: each merchant's queue, its oldest wait and breaches, and the agents' load."""
    accesses = access.accessible(page.db, page.user)
    return render(
        request,
        "console/service.html",
        {"desks": desks(accesses, page.user.id), "may_see": bool(readable(accesses))},
        page=page,
    )


@router.get("/t/{tenant}/service")
def service_report(request: Request, page: ReportPage) -> Response:
    """The merchant's service over the last 30 days: volumes, first-response times, breaches."""
    assert page.tenant is not None and page.role is not None
    until = utcnow()
    found = reports.report(page.db, until - timedelta(days=REPORT_DAYS), until)
    now = reports.desk(page.db, utcnow())
    return render(
        request,
        "merchant/service.html",
        {
            "report": found,
            "desk": now,
            "days": REPORT_DAYS,
            "states": [s.value for s in State],
            "tabs": tabs("service", page.tenant.slug, page.role, request.url.path),
            "tabs_label": N_("Service"),
        },
        page=page,
    )
