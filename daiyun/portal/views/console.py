"""The agency console: every assigned merchant at once, review queue, sync health, billing.

Only staff see it (a merchant user gets 404 on ``/portal/console``). Pages across tenants cover
only the tenants the user may open, each figure and action checked against the user's role in
that tenant. Actions on one tenant's object post to ``/portal/t/{tenant}/...`` and are checked
like any tenant page; every form carries the session's CSRF token and works without JavaScript.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Annotated
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response
from starlette.datastructures import FormData

from daiyun.connectors import service as shop_service
from daiyun.core.errors import Problem
from daiyun.portal.console import access, billing, orders, overview, shops
from daiyun.portal.web import (
    PREFIX,
    Page,
    PortalRoute,
    SignedIn,
    checked_form,
    redirect,
    render,
    safe_next,
    tenant_form,
    tenant_page,
)
from daiyun.tenants.auth.permissions import Permission

router = APIRouter(prefix=PREFIX, include_in_schema=False, route_class=PortalRoute)
P = Permission

REVIEW = f"{PREFIX}/console/review"
SYNC = f"{PREFIX}/console/sync"
BILLING = f"{PREFIX}/console/billing"
ACTIONS = ("release", "cancel")


def staff_page(page: SignedIn) -> Page:
    """The signed-in page of an agency employee; merchants' users find no console (404)."""
    if not page.is_staff:
        raise Problem(404, "not-found", "No such page")
    return page


Staff = Annotated[Page, Depends(staff_page)]


async def staff_form(request: Request, page: Staff) -> tuple[Page, FormData]:
    """A staff member's form POST outside a tenant, with its CSRF token checked."""
    return page, await checked_form(request, page.current.csrf_token)


StaffForm = Annotated[tuple[Page, FormData], Depends(staff_form)]
ReviewForm = Annotated[tuple[Page, FormData], Depends(tenant_form(P.orders_review))]
ShopsForm = Annotated[tuple[Page, FormData], Depends(tenant_form(P.shops_manage))]
BillingForm = Annotated[tuple[Page, FormData], Depends(tenant_form(P.billing_manage))]
BillingPage = Annotated[Page, Depends(tenant_page(P.billing_read))]


def _back(form: FormData, default: str, **notice: object) -> Response:
    """Back to the page the form was on (a portal path only), with a notice to show."""
    target = safe_next(form.get("next"), default)
    query = urlencode({k: str(v) for k, v in notice.items()})
    return redirect(f"{target}{'&' if '?' in target else '?'}{query}" if query else target)


def _submit(
    page: Page, form: FormData, here: str, act: Callable[[], object], **done: object
) -> Response:
    """Run a form's action in a savepoint and go back to the page: with ``done`` when it
    worked, else with why not (a malformed form, or the kind of problem the service raised),
    nothing of the action kept."""
    try:
        with page.db.begin_nested():
            act()
    except ValueError:  # a value the form cannot hold, pydantic's refusals included
        return _back(form, here, error="bad-form")
    except Problem as refused:
        if refused.status >= 500:
            raise
        return _back(form, here, error=refused.kind)
    return _back(form, here, **done)


def _text(form: FormData, name: str, limit: int = 1000) -> str:
    value = form.get(name)
    return value.strip()[:limit] if isinstance(value, str) else ""


NOTICE_KEYS = ("notice", "done", "skipped")


def _here(request: Request) -> str:
    """This page's address for a form to come back to, without the last action's notice."""
    kept = [(k, v) for k, v in request.query_params.multi_items() if k not in NOTICE_KEYS]
    return request.url.path + (f"?{urlencode(kept)}" if kept else "")


def _staff_only(page: Page) -> None:
    if not page.is_staff:
        raise Problem(404, "not-found", "No such page")


# --- tenants overview ------------------------------------------------------------------------


@router.get("/console")
def tenants_overview(request: Request, page: Staff, sort: str = "name", dir: str = "") -> Response:
    """Per merchant: GMV this month, commission accrued, held orders, failing shops, unpaid
    statements; sortable by any column."""
    sort = sort if sort in overview.SORTS else "name"
    direction = dir if dir in ("asc", "desc") else overview.DEFAULT_DIRECTION[sort]
    accesses = access.accessible(page.db, page.user)
    rows = overview.overview(accesses, page.user.id, sort, direction)
    return render(
        request,
        "console/overview.html",
        {
            "rows": rows,
            "sort": sort,
            "direction": direction,
            "defaults": overview.DEFAULT_DIRECTION,
        },
        page=page,
    )


# --- order review queue (订单审核) ---------------------------------------------------------


@router.get("/console/review")
def review_queue(
    request: Request, page: Staff, tenant: str = "", reason: str = "", notice: str = ""
) -> Response:
    """Held orders across the tenants where the user reviews orders, with their reasons."""
    accesses = access.with_permission(access.accessible(page.db, page.user), P.orders_review)
    queue = orders.review_queue(accesses, page.user.id, tenant or None, reason or None)
    return render(
        request,
        "console/review.html",
        {
            "queue": queue,
            # None: the user's role reviews orders nowhere (not "no orders are waiting").
            "may_review": bool(accesses),
            "tenants": [a.tenant for a in accesses],
            "chosen_tenant": tenant,
            "chosen_reason": reason,
            "notice": notice,
            "done": request.query_params.get("done", ""),
            "skipped": request.query_params.get("skipped", ""),
            "here": _here(request),
        },
        page=page,
    )


@router.post("/t/{tenant}/orders/{order_id}/release")
def release_order(order_id: uuid.UUID, submitted: ReviewForm) -> Response:
    """Accept one held order in one click, then back to the queue."""
    page, form = submitted
    _staff_only(page)
    done = orders.decide(page.db, order_id, page.user.id, "release", _text(form, "note"))
    return _back(form, REVIEW, notice="released" if done else "stale")


@router.post("/t/{tenant}/orders/{order_id}/cancel")
def cancel_order(order_id: uuid.UUID, submitted: ReviewForm) -> Response:
    """Refuse one held order in one click (with the reason given, or a standard one)."""
    page, form = submitted
    _staff_only(page)
    done = orders.decide(page.db, order_id, page.user.id, "cancel", _text(form, "reason"))
    return _back(form, REVIEW, notice="cancelled" if done else "stale")


@router.post("/console/review/bulk")
def bulk_review(submitted: StaffForm) -> Response:
    """Release or cancel every checked order, each checked against the user's role in its
    tenant; orders the user may not decide are skipped and left as they are."""
    page, form = submitted
    action = _text(form, "action")
    if action not in ACTIONS:
        raise Problem(400, "unknown-action", "Choose release or cancel")
    choices = [v for v in form.getlist("order") if isinstance(v, str)][: orders.QUEUE_LIMIT * 5]
    accesses = access.accessible(page.db, page.user)
    result = orders.decide_many(accesses, page.user, choices, action, _text(form, "reason"))
    return _back(form, REVIEW, notice="bulk", done=result.done, skipped=result.skipped)


# --- sync and webhook health -------------------------------------------------------------------


@router.get("/console/sync")
def sync_health(request: Request, page: Staff, notice: str = "") -> Response:
    """Failing shops, how far each shop's orders trail the channel, and recent deliveries."""
    accesses = access.accessible(page.db, page.user)
    health = shops.sync_health(accesses, page.user.id)
    return render(
        request,
        "console/sync.html",
        {
            "health": health,
            "notice": notice,
            "lag_text": shops.lag_text,
            "may_see": bool(access.with_permission(accesses, P.shops_read)),
        },
        page=page,
    )


@router.post("/t/{tenant}/deliveries/{delivery_id}/replay")
def replay_delivery(delivery_id: uuid.UUID, submitted: ShopsForm) -> Response:
    """Queue a stored webhook delivery to be applied again."""
    page, form = submitted
    _staff_only(page)
    shop_service.replay_delivery(page.db, delivery_id)
    return _back(form, SYNC, notice="replayed")


# --- billing -----------------------------------------------------------------------------------


@router.get("/console/billing")
def billing_drafts(request: Request, page: Staff, notice: str = "") -> Response:
    """Draft statements to review and finalize, across the tenants whose billing the user sees."""
    accesses = access.accessible(page.db, page.user)
    drafts = billing.draft_statements(accesses, page.user.id)
    may_see = bool(access.with_permission(accesses, P.billing_read))
    return render(
        request,
        "console/billing.html",
        {"drafts": drafts, "notice": notice, "may_see": may_see},
        page=page,
    )


@router.get("/t/{tenant}/statements/{statement_id}/review")
def review_statement(
    request: Request, statement_id: uuid.UUID, page: BillingPage, notice: str = ""
) -> Response:
    """A statement and what regenerating its draft now would change, line by line."""
    _staff_only(page)
    review = billing.review_draft(page.db, statement_id)
    return render(
        request,
        "console/statement.html",
        {"review": review, "notice": notice, "can_manage": page.can(P.billing_manage)},
        page=page,
    )


@router.post("/t/{tenant}/statements/{statement_id}/finalize")
def finalize_statement(statement_id: uuid.UUID, submitted: BillingForm) -> Response:
    """Close a draft (recomputed from the facts of this moment, then immutable)."""
    page, form = submitted
    _staff_only(page)
    billing.finalize(page.db, statement_id)
    return _back(form, BILLING, notice="finalized")


@router.post("/t/{tenant}/statements/{statement_id}/regenerate")
def regenerate_statement(statement_id: uuid.UUID, submitted: BillingForm) -> Response:
    """Rebuild a draft from the facts as they are now."""
    page, form = submitted
    _staff_only(page)
    billing.regenerate(page.db, statement_id)
    assert page.tenant is not None
    default = f"{PREFIX}/t/{page.tenant.slug}/statements/{statement_id}/review"
    return _back(form, default, notice="regenerated")
