"""Recruiting's pages (人事代理).

Console (staff): the requisitions across the user's merchants, each with its active applications
per stage. On a merchant: the pipeline board of a requisition (its stages as columns, a card per
application, moved or refused from the card by recruiters), and a candidate's page (every
application with its stage log, and the candidate they may duplicate).

Merchant: their openings and the shortlist to review. Every page asks for ``recruiting:review``
as the API does; moving a card asks for ``recruiting:manage``, staff only.
"""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response
from starlette.datastructures import FormData

from daiyun.core.errors import Problem
from daiyun.platform.recruiting import service
from daiyun.platform.recruiting.schemas import RefusalReason
from daiyun.portal.console import access
from daiyun.portal.console import recruiting as work
from daiyun.portal.i18n import N_
from daiyun.portal.identity import TenantView
from daiyun.portal.navigation import TENANT_PAGES
from daiyun.portal.views.console import Staff, _back, _staff_only, _text
from daiyun.portal.web import PREFIX, Page, PortalRoute, render, tenant_form, tenant_page
from daiyun.tenants.auth.permissions import Permission

router = APIRouter(prefix=PREFIX, include_in_schema=False, route_class=PortalRoute)
P = Permission
_permission = TENANT_PAGES["recruiting"].permission
assert _permission is not None
ReviewPage = Annotated[Page, Depends(tenant_page(_permission))]
ManageForm = Annotated[tuple[Page, FormData], Depends(tenant_form(P.recruiting_manage))]

STATUS_LABELS = {
    "pending_approval": N_("Pending approval"),
    "open": N_("Open"),
    "on_hold": N_("On hold"),
    "filled": N_("Filled"),
    "cancelled": N_("Cancelled"),
}
TYPE_LABELS = {
    "full_time": N_("Full-time"),
    "part_time": N_("Part-time"),
    "seasonal": N_("Seasonal"),
}
REASON_LABELS = {
    RefusalReason.not_qualified.value: N_("Not qualified"),
    RefusalReason.position_filled.value: N_("Position filled"),
    RefusalReason.pay_mismatch.value: N_("Pay expectations differ"),
    RefusalReason.location.value: N_("Location"),
    RefusalReason.no_show.value: N_("Did not show up"),
    RefusalReason.withdrew.value: N_("Withdrew"),
    RefusalReason.duplicate.value: N_("Duplicate"),
    RefusalReason.other.value: N_("Other"),
}
MOVE_LABELS = {
    "applied": N_("Applied"),
    "moved": N_("Moved"),
    "refused": N_("Refused"),
    "reopened": N_("Reopened"),
    "merged": N_("Merged"),
}
# The default pipeline's stages in words; a merchant's own stages show as they named them.
STAGE_LABELS = {
    "applied": N_("Applied"),
    "screened": N_("Screened"),
    "interview": N_("Interview"),
    "offer": N_("Offer"),
    "hired": N_("Hired"),
}


def _labels() -> dict[str, object]:
    return {
        "status_labels": STATUS_LABELS,
        "type_labels": TYPE_LABELS,
        "reason_labels": REASON_LABELS,
        "move_labels": MOVE_LABELS,
        "stage_labels": STAGE_LABELS,
    }


def _view(page: Page) -> TenantView:
    assert page.tenant is not None
    return page.tenant


@router.get("/console/recruiting")
def recruiting_console(request: Request, page: Staff) -> Response:
    """Requisitions across the user's merchants, with the active applications at each stage."""
    accesses = access.accessible(page.db, page.user)
    return render(
        request,
        "console/recruiting.html",
        {
            "rows": work.requisitions(accesses, page.user.id),
            "may_see": bool(work.reviewable(accesses)),
            **_labels(),
        },
        page=page,
    )


@router.get("/t/{tenant}/recruiting")
def openings(request: Request, page: ReviewPage) -> Response:
    """The merchant's openings (status, headcount, applications per stage) and its shortlist."""
    return render(
        request,
        "merchant/recruiting.html",
        {
            "rows": work.merchant_requisitions(page.db, _view(page)),
            "shortlist": work.shortlist(page.db),
            "base": f"{PREFIX}/t/{page.tenant.slug if page.tenant else ''}",
            **_labels(),
        },
        page=page,
    )


@router.get("/t/{tenant}/requisitions/{requisition_id}")
def pipeline(request: Request, page: ReviewPage, requisition_id: uuid.UUID) -> Response:
    """The pipeline board: a column per stage, a card per application."""
    shown = work.board(page.db, requisition_id)
    return render(
        request,
        "merchant/pipeline.html",
        {
            "board": shown,
            "can_move": page.is_staff and page.can(P.recruiting_manage),
            "base": f"{PREFIX}/t/{page.tenant.slug if page.tenant else ''}",
            "error": request.query_params.get("error", ""),
            **_labels(),
        },
        page=page,
    )


@router.get("/t/{tenant}/candidates/{candidate_id}")
def candidate_page(request: Request, page: ReviewPage, candidate_id: uuid.UUID) -> Response:
    """A candidate: their details, every application with its stage log."""
    return render(
        request,
        "merchant/candidate.html",
        {
            "view": work.candidate(page.db, candidate_id),
            "base": f"{PREFIX}/t/{page.tenant.slug if page.tenant else ''}",
            **_labels(),
        },
        page=page,
    )


@router.post("/t/{tenant}/applications/{application_id}")
def act(submitted: ManageForm, application_id: uuid.UUID) -> Response:
    """Move a card to another stage, or refuse it with a reason, from the board."""
    page, form = submitted
    _staff_only(page)
    assert page.tenant is not None
    try:
        found = service.get_application(page.db, application_id, lock=True)
        here = f"{PREFIX}/t/{page.tenant.slug}/requisitions/{found.requisition_id}"
        with page.db.begin_nested():
            if _text(form, "action") == "refuse":
                reason = RefusalReason(_text(form, "reason"))
                service.refuse(page.db, found, reason, _text(form, "message", 2000), page.user.id)
            else:
                service.move(page.db, found, _text(form, "stage", 40), page.user.id)
    except ValueError:
        return _back(form, f"{PREFIX}/console/recruiting", error="bad-form")
    except Problem as refused:
        if refused.status >= 500 or refused.status == 404:
            raise
        return _back(form, here, error=refused.kind)
    return _back(form, here)
