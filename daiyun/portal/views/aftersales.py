"""After-sales pages (售后).

Console (staff): every merchant's open cases with their respond-by deadlines (overdue ones
marked); the follow-up queue (回访: the user's own or everyone's, overdue first, each completed
inline with its outcome and a note); and a case page with its order, lines, the buyer's
conversation, the log and the moves open to it. Each form carries the CSRF token and is checked
against the user's role in the merchant. Merchant: their cases, read only.
"""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Annotated
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response
from starlette.datastructures import FormData

from daiyun.core.errors import Problem
from daiyun.core.ids import utcnow
from daiyun.platform.aftersales import csat, followups, repurchase, service
from daiyun.platform.aftersales.schemas import (
    CaseType,
    Condition,
    FollowupComplete,
    Outcome,
    Receive,
)
from daiyun.platform.customer_service import service as cs_service
from daiyun.platform.orders import service as orders
from daiyun.portal.console import access
from daiyun.portal.console import followups as followup_queue
from daiyun.portal.console.aftersales import case_page, open_cases, readable
from daiyun.portal.navigation import TENANT_PAGES, tabs
from daiyun.portal.views.console import Staff, _back, _staff_only, _text
from daiyun.portal.views.merchant.common import N_
from daiyun.portal.web import PREFIX, Page, PortalRoute, redirect, render, tenant_form, tenant_page
from daiyun.tenants.auth.permissions import Permission

router = APIRouter(prefix=PREFIX, include_in_schema=False, route_class=PortalRoute)
P = Permission
_permission = TENANT_PAGES["aftersales"].permission
assert _permission is not None
CasesPage = Annotated[Page, Depends(tenant_page(_permission))]
ActForm = Annotated[tuple[Page, FormData], Depends(tenant_form(P.aftersales_manage))]
ACTIONS = ("approve", "refuse", "receive", "refund", "replace", "repair", "close", "note")
LIST_LIMIT = 200
STATE_LABELS = {
    "requested": N_("Requested"),
    "approved": N_("Approved"),
    "refused": N_("Refused"),
    "awaiting_return": N_("Awaiting return"),
    "received": N_("Received"),
    "refunded": N_("Refunded"),
    "replaced": N_("Replaced"),
    "repaired": N_("Repaired"),
    "closed": N_("Closed"),
}
TYPE_LABELS = {
    "refund_only": N_("Refund only"),
    "return_refund": N_("Return and refund"),
    "exchange": N_("Exchange"),
    "repair": N_("Repair (warranty)"),
}
ACTION_LABELS = {
    "approve": N_("Approve"),
    "refuse": N_("Refuse"),
    "receive": N_("Goods received"),
    "refund": N_("Refund"),
    "replace": N_("Send a replacement"),
    "repair": N_("Repaired"),
    "close": N_("Close"),
}
OUTCOME_LABELS = {
    "satisfied": N_("Satisfied"),
    "repurchase_intent": N_("Will buy again"),
    "dissatisfied": N_("Dissatisfied"),
    "issue_found": N_("Issue found (opens a case)"),
    "no_answer": N_("No answer"),
}
RULE_LABELS = {
    "after_delivery": N_("After delivery"),
    "after_close": N_("After a case closed"),
    "high_value": N_("High-value buyer"),
}
CHANNEL_LABELS = {"message": N_("Message"), "phone": N_("Phone")}
# The merchant's page shows the follow-ups of this many days and orders within as many after.
REPURCHASE_DAYS = 90
CSAT_DAYS = 30


def _labels() -> dict[str, object]:
    return {"state_labels": STATE_LABELS, "type_labels": TYPE_LABELS}


@router.get("/console/aftersales")
def console_cases(request: Request, page: Staff) -> Response:
    """Every merchant's open cases, the nearest respond-by deadline first."""
    accesses = access.accessible(page.db, page.user)
    now = utcnow()
    return render(
        request,
        "console/aftersales.html",
        {
            "rows": open_cases(accesses, page.user.id, now),
            "may_see": bool(readable(accesses)),
            **_labels(),
        },
        page=page,
    )


@router.get("/t/{tenant}/aftersales")
def merchant_cases(request: Request, page: CasesPage) -> Response:
    """The merchant's cases (read only), newest first, what the follow-ups of the last 90 days
    brought back (复购), and the buyers' satisfaction (CSAT) of the last 30 days per agent."""
    assert page.tenant is not None and page.role is not None
    found, _ = service.find_cases(page.db, service.Filters(), None, LIST_LIMIT)
    today = utcnow().astimezone(ZoneInfo(page.tenant.time_zone)).date()
    window = REPURCHASE_DAYS - 1
    came_back = repurchase.report(page.db, today - timedelta(days=window), today, REPURCHASE_DAYS)
    numbers = orders.order_numbers(page.db, {c.order_id for c in found})
    satisfaction = csat.summary(
        page.db, today - timedelta(days=CSAT_DAYS - 1), today, page.tenant.time_zone
    )
    agents = {
        row.agent_id: cs_service.author(page.db, row.agent_id).name
        for row in satisfaction.rows
        if row.agent_id is not None
    }
    return render(
        request,
        "merchant/aftersales.html",
        {
            "cases": list(reversed(found)),
            "numbers": numbers,
            "now": utcnow(),
            "repurchase": came_back,
            "csat": satisfaction,
            "csat_days": CSAT_DAYS,
            "agents": agents,
            "outcome_labels": OUTCOME_LABELS,
            "tabs": tabs("service", page.tenant.slug, page.role, request.url.path),
            "tabs_label": N_("Service"),
            **_labels(),
        },
        page=page,
    )


@router.get("/t/{tenant}/aftersales/{case_id}")
def case_view(request: Request, page: CasesPage, case_id: uuid.UUID) -> Response:
    """One case: its order, lines, the buyer's conversation, the log and the moves open to it."""
    _staff_only(page)
    assert page.tenant is not None and page.role is not None
    found = case_page(page.db, page.tenant, page.can(P.aftersales_manage), case_id)
    return render(
        request,
        "console/aftersales_case.html",
        {
            "opened": found,
            "now": utcnow(),
            "action_labels": ACTION_LABELS,
            "conditions": [c.value for c in Condition],
            "error": request.query_params.get("error", ""),
            **_labels(),
        },
        page=page,
    )


@router.post("/t/{tenant}/aftersales/{case_id}")
def act(submitted: ActForm, case_id: uuid.UUID) -> Response:
    """A move on the case (or a note in its log) from the case page."""
    page, form = submitted
    _staff_only(page)
    assert page.tenant is not None
    here = f"{PREFIX}/t/{page.tenant.slug}/aftersales/{case_id}"
    action = _text(form, "action")
    if action not in ACTIONS:
        return _back(form, here, error="bad-form")
    note = _text(form, "note", 2000) or None
    may_approve = page.can(P.aftersales_approve)
    user_id = page.user.id
    try:
        with page.db.begin_nested():
            if action == "approve":
                service.approve(page.db, case_id, user_id, may_approve, note)
            elif action == "refuse":
                if note is None:
                    return _back(form, here, error="reason-needed")
                service.refuse(page.db, case_id, user_id, note)
            elif action == "receive":
                condition = Condition(_text(form, "condition"))
                service.receive(page.db, case_id, user_id, Receive(condition=condition))
            elif action == "refund":
                service.refund(page.db, case_id, user_id, may_approve, None)
            elif action == "replace":
                service.replace(page.db, case_id, user_id, note)
            elif action == "repair":
                service.repair(page.db, case_id, user_id, note)
            elif action == "close":
                service.close(page.db, case_id, user_id, note)
            else:
                if note is None:
                    return _back(form, here, error="note-needed")
                service.note(page.db, case_id, user_id, note)
    except ValueError:
        return _back(form, here, error="bad-form")
    except Problem as refused:
        if refused.status >= 500:
            raise
        return _back(form, here, error=refused.kind)
    return redirect(here)


# --- follow-ups (回访) ------------------------------------------------------------------------


@router.get("/console/follow-ups")
def console_followups(request: Request, page: Staff, everyone: str = "") -> Response:
    """The open follow-ups of the user's merchants: their own, or everyone's; overdue first."""
    accesses = access.accessible(page.db, page.user)
    only_mine = everyone != "1"
    return render(
        request,
        "console/followups.html",
        {
            "rows": followup_queue.open_followups(
                accesses, page.user.id, utcnow(), only_mine=only_mine
            ),
            "may_work": bool(followup_queue.workable(accesses)),
            "only_mine": only_mine,
            "outcome_labels": OUTCOME_LABELS,
            "rule_labels": RULE_LABELS,
            "channel_labels": CHANNEL_LABELS,
            "case_types": [t.value for t in CaseType],
            "error": request.query_params.get("error", ""),
            "done": request.query_params.get("done", ""),
            "here": request.url.path + ("?everyone=1" if not only_mine else ""),
            **_labels(),
        },
        page=page,
    )


FollowupForm = Annotated[tuple[Page, FormData], Depends(tenant_form(P.aftersales_manage))]


@router.post("/t/{tenant}/follow-ups/{followup_id}")
def work_followup(submitted: FollowupForm, followup_id: uuid.UUID) -> Response:
    """Complete a follow-up with its outcome and note (an issue found opens a case), or skip
    it, from the console's queue."""
    page, form = submitted
    _staff_only(page)
    here = f"{PREFIX}/console/follow-ups"
    action = _text(form, "action")
    note = _text(form, "note", 2000) or None
    try:
        with page.db.begin_nested():
            if action == "skip":
                followups.skip(page.db, followup_id, page.user.id, note)
            elif action == "complete":
                kind = _text(form, "case_type")
                body = FollowupComplete(
                    outcome=Outcome(_text(form, "outcome")),
                    note=note,
                    case_type=CaseType(kind) if kind else None,
                )
                followups.complete(page.db, followup_id, page.user.id, body)
            else:
                return _back(form, here, error="bad-form")
    except ValueError:
        return _back(form, here, error="bad-form")
    except Problem as refused:
        if refused.status >= 500:
            raise
        return _back(form, here, error=refused.kind)
    return _back(form, here, done=action)
