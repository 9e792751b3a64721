"""Service quality's pages (稽核): the console's quality page (the supervisor's sample to
review, the agent's own scores and comments) and, on a merchant, the review of one resolved
conversation against an active rubric. Reviewing asks for ``aftersales:approve`` as the API
does; staff only."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response
from starlette.datastructures import FormData

from daiyun.platform.aftersales import quality
from daiyun.platform.aftersales.schemas import ReviewIn
from daiyun.portal.console import access
from daiyun.portal.console import quality as work
from daiyun.portal.i18n import N_
from daiyun.portal.views.console import Staff, _staff_only, _submit, _text
from daiyun.portal.web import PREFIX, Page, PortalRoute, render, tenant_form, tenant_page
from daiyun.tenants.auth.permissions import Permission

router = APIRouter(prefix=PREFIX, include_in_schema=False, route_class=PortalRoute)
P = Permission
SupervisorPage = Annotated[Page, Depends(tenant_page(P.aftersales_approve))]
SupervisorForm = Annotated[tuple[Page, FormData], Depends(tenant_form(P.aftersales_approve))]
QUALITY = f"{PREFIX}/console/quality"
WHO = {
    "inbound": N_("Buyer"),
    "outbound": N_("Agent"),
    "note": N_("Private note"),
    "system": N_("System"),
}


@router.get("/console/quality")
def quality_console(request: Request, page: Staff) -> Response:
    """Supervisors: this week's conversations to review, across their merchants. Agents: the
    reviews of their own conversations, with the supervisors' comments."""
    accesses = access.accessible(page.db, page.user)
    return render(
        request,
        "console/quality.html",
        {
            "to_review": work.to_review(accesses, page.user.id),
            "mine": work.my_reviews(accesses, page.user.id),
            "supervises": bool(access.with_permission(accesses, P.aftersales_approve)),
            "done": request.query_params.get("done", ""),
            "error": request.query_params.get("error", ""),
        },
        page=page,
    )


@router.get("/t/{tenant}/qa-reviews/{qa_conversation_id}")
def review_form(request: Request, page: SupervisorPage, qa_conversation_id: uuid.UUID) -> Response:
    """A resolved conversation's messages beside the rubric to score it with."""
    _staff_only(page)
    return render(
        request,
        "console/qa_review.html",
        {
            "view": work.review_page(page.db, qa_conversation_id, page.user.id),
            "back": QUALITY,
            "who": WHO,
        },
        page=page,
    )


@router.post("/t/{tenant}/qa-reviews/{qa_conversation_id}")
def submit_review(submitted: SupervisorForm, qa_conversation_id: uuid.UUID) -> Response:
    """Record the review: a 0-5 score for each of the rubric's criteria, and a comment."""
    page, form = submitted
    _staff_only(page)

    def act() -> None:
        rubric = quality.get_rubric(page.db, uuid.UUID(_text(form, "rubric_id", 40)))
        scores = {
            str(c["key"]): int(_text(form, f"score-{c['key']}", 2) or "-1") for c in rubric.criteria
        }
        body = ReviewIn(
            conversation_id=qa_conversation_id,
            rubric_id=rubric.id,
            scores=scores,
            comment=_text(form, "comment", 5000),
        )
        quality.review(page.db, body, page.user.id)

    return _submit(page, form, QUALITY, act, done="reviewed")
