"""Recruiting's pages (人事代理).

Console (staff): the requisitions across the user's merchants, each with its active applications
per stage. On a merchant: the pipeline board of a requisition (its stages as columns, a card per
application, moved or refused from the card by recruiters), and a candidate's page (every
application with its stage log, and the candidate they may duplicate).

Merchant: their openings and the shortlist to review. Every page asks for ``recruiting:review``
as the API does; moving a card asks for ``recruiting:manage``, staff only.

Interviews: the upcoming ones, an interview's page with its scorecards (as the reader may see
them) and, for someone on its panel who has not scored yet, the scorecard form; recruiters
schedule from the candidate's page and cancel from the interview's.
"""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from typing import Annotated

from fastapi import APIRouter, Depends, Request
from fastapi.responses import Response
from starlette.datastructures import FormData

from daiyun.core import periods
from daiyun.core.errors import Problem
from daiyun.core.money import to_minor
from daiyun.platform.recruiting import interviews, offers, placements, service, teams
from daiyun.platform.recruiting.schemas import (
    InterviewCreate,
    InterviewKind,
    OfferCreate,
    PlacementCreate,
    PlacementLeave,
    Recommendation,
    RefusalReason,
    ScorecardCreate,
)
from daiyun.portal.console import access
from daiyun.portal.console import recruiting as work
from daiyun.portal.i18n import N_
from daiyun.portal.identity import TenantView
from daiyun.portal.navigation import TENANT_PAGES
from daiyun.portal.views.console import Staff, _back, _staff_only, _submit, _text
from daiyun.portal.web import PREFIX, Page, PortalRoute, render, tenant_form, tenant_page
from daiyun.tenants.auth.permissions import Permission

router = APIRouter(prefix=PREFIX, include_in_schema=False, route_class=PortalRoute)
P = Permission
_permission = TENANT_PAGES["recruiting"].permission
assert _permission is not None
ReviewPage = Annotated[Page, Depends(tenant_page(_permission))]
ManageForm = Annotated[tuple[Page, FormData], Depends(tenant_form(P.recruiting_manage))]
ReviewForm = Annotated[tuple[Page, FormData], Depends(tenant_form(P.recruiting_review))]

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

KIND_LABELS = {
    InterviewKind.phone.value: N_("Phone"),
    InterviewKind.video.value: N_("Video"),
    InterviewKind.onsite.value: N_("On site"),
}
RECOMMENDATION_LABELS = {
    Recommendation.strong_no.value: N_("Strong no"),
    Recommendation.no.value: N_("No"),
    Recommendation.yes.value: N_("Yes"),
    Recommendation.strong_yes.value: N_("Strong yes"),
}
# What an interviewer rates unless the recruiter's form names other criteria.
OFFER_LABELS = {
    "draft": N_("Waiting for approval"),
    "approved": N_("Approved"),
    "sent": N_("Sent"),
    "accepted": N_("Accepted"),
    "declined": N_("Declined"),
}
PERIOD_LABELS = {
    "hour": N_("per hour"),
    "day": N_("per day"),
    "month": N_("per month"),
    "year": N_("per year"),
}
GUARANTEE_LABELS = {
    "none": N_("No claim"),
    "refunded": N_("Left within the guarantee: fee refunded"),
    "replacement_due": N_("Left within the guarantee: free replacement owed"),
    "replaced": N_("Left within the guarantee: replaced free"),
}
CRITERIA = (N_("Communication"), N_("Skills for the role"), N_("Reliability"))
DURATIONS = (30, 45, 60, 90, 120)


def _labels() -> dict[str, object]:
    return {
        "kind_labels": KIND_LABELS,
        "offer_labels": OFFER_LABELS,
        "period_labels": PERIOD_LABELS,
        "recommendation_labels": RECOMMENDATION_LABELS,
        "status_labels": STATUS_LABELS,
        "type_labels": TYPE_LABELS,
        "reason_labels": REASON_LABELS,
        "move_labels": MOVE_LABELS,
        "stage_labels": STAGE_LABELS,
        "guarantee_labels": GUARANTEE_LABELS,
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
    """The merchant's openings (status, headcount, applications per stage), its shortlist, the
    offers waiting for it, its hires (placements: their fee basis and guarantee) and the last
    90 days' hiring figures."""
    return render(
        request,
        "merchant/recruiting.html",
        {
            "rows": work.merchant_requisitions(page.db, _view(page)),
            "shortlist": work.shortlist(page.db),
            "offers": work.offers_to_approve(page.db),
            "placements": work.placement_rows(page.db),
            "teams": teams.find(page.db, None, 100)[0],
            "report": work.report(page.db, _view(page)),
            "unplaced": work.unplaced_hires(page.db) if page.is_staff else [],
            "can_place": page.is_staff and page.can(P.recruiting_manage),
            "error": request.query_params.get("error", ""),
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
            "view": work.candidate(page.db, candidate_id, page.user.id),
            "base": f"{PREFIX}/t/{page.tenant.slug if page.tenant else ''}",
            "can_schedule": page.is_staff and page.can(P.recruiting_manage),
            "durations": DURATIONS,
            "error": request.query_params.get("error", ""),
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


# --- interviews ----------------------------------------------------------------------------


def _base(page: Page) -> str:
    return f"{PREFIX}/t/{page.tenant.slug if page.tenant else ''}"


@router.get("/t/{tenant}/interviews")
def upcoming_interviews(request: Request, page: ReviewPage) -> Response:
    """The merchant's interviews still to come, soonest first (times in the merchant's zone)."""
    return render(
        request,
        "merchant/interviews.html",
        {"rows": work.upcoming(page.db), "base": _base(page), **_labels()},
        page=page,
    )


@router.get("/t/{tenant}/interviews/{interview_id}")
def interview_page(request: Request, page: ReviewPage, interview_id: uuid.UUID) -> Response:
    """An interview: when, where, who; its scorecards as the reader may see them, and the
    scorecard form for a panel member who has not scored it yet."""
    return render(
        request,
        "merchant/interview.html",
        {
            "view": work.interview(page.db, interview_id, page.user.id),
            "base": _base(page),
            "criteria": CRITERIA,
            "can_cancel": page.is_staff and page.can(P.recruiting_manage),
            "error": request.query_params.get("error", ""),
            **_labels(),
        },
        page=page,
    )


@router.post("/t/{tenant}/applications/{application_id}/interviews")
def schedule_interview(submitted: ManageForm, application_id: uuid.UUID) -> Response:
    """Schedule an interview from the candidate's page: a start on the merchant's wall clock
    and a length; the panel is mailed an invitation."""
    page, form = submitted
    _staff_only(page)
    assert page.tenant is not None
    found = service.get_application(page.db, application_id, lock=True)
    here = f"{_base(page)}/candidates/{found.candidate_id}"
    try:
        starts = datetime.fromisoformat(_text(form, "starts_at", 40))
        minutes = int(_text(form, "minutes", 4) or "60")
        if starts.tzinfo is not None or minutes not in DURATIONS:
            raise ValueError("a wall-clock start and a listed length")
        body = InterviewCreate(
            title=_text(form, "title", 200) or "Interview",
            kind=InterviewKind(_text(form, "kind", 10)),
            starts_at=starts,
            ends_at=starts + timedelta(minutes=minutes),
            location=_text(form, "location", 500),
            interviewer_ids=[uuid.UUID(str(v)) for v in form.getlist("interviewer")][:10],
        )
        with page.db.begin_nested():
            interviews.schedule(page.db, found, body, page.user.id, page.tenant.time_zone)
    except ValueError:
        return _back(form, here, error="bad-form")
    except Problem as refused:
        if refused.status >= 500 or refused.status == 404:
            raise
        return _back(form, here, error=refused.kind)
    return _back(form, here)


@router.post("/t/{tenant}/interviews/{interview_id}/cancel")
def cancel_interview(submitted: ManageForm, interview_id: uuid.UUID) -> Response:
    """Cancel an interview: the candidate and the panel are mailed the cancellation."""
    page, form = submitted
    _staff_only(page)
    found = interviews.get(page.db, interview_id, lock=True)
    interviews.cancel(page.db, found)
    return _back(form, f"{_base(page)}/interviews/{interview_id}")


@router.post("/t/{tenant}/interviews/{interview_id}/scorecard")
def submit_scorecard(submitted: ReviewForm, interview_id: uuid.UUID) -> Response:
    """A panel member's scorecard: a rating per criterion, a recommendation, notes."""
    page, form = submitted
    here = f"{_base(page)}/interviews/{interview_id}"
    found = interviews.get(page.db, interview_id, lock=True)
    try:
        ratings = {
            str(criterion): int(_text(form, f"rating-{n}", 1))
            for n, criterion in enumerate(CRITERIA)
        }
        body = ScorecardCreate(
            ratings=ratings,
            recommendation=Recommendation(_text(form, "recommendation", 20)),
            notes=_text(form, "notes", 5000),
        )
        with page.db.begin_nested():
            interviews.submit(page.db, found, page.user.id, body)
    except ValueError:
        return _back(form, here, error="bad-form")
    except Problem as refused:
        if refused.status >= 500 or refused.status == 404:
            raise
        return _back(form, here, error=refused.kind)
    return _back(form, here)


# --- offers --------------------------------------------------------------------------------


@router.post("/t/{tenant}/applications/{application_id}/offers")
def draft_offer(submitted: ManageForm, application_id: uuid.UUID) -> Response:
    """Draft an offer from the candidate's page (the amount in major units: 8000.00 yuan)."""
    page, form = submitted
    _staff_only(page)
    found = service.get_application(page.db, application_id, lock=True)
    here = f"{_base(page)}/candidates/{found.candidate_id}"
    try:
        currency = _text(form, "currency", 3) or "CNY"
        body = OfferCreate(
            salary_minor=to_minor(_text(form, "amount", 20), currency),
            currency=currency,
            pay_period=_text(form, "pay_period", 8) or "month",
            starts_on=_text(form, "starts_on", 10),
            terms=_text(form, "terms", 5000),
        )
        with page.db.begin_nested():
            offers.create(page.db, found, body, page.user.id)
    except ValueError:
        return _back(form, here, error="bad-form")
    except Problem as refused:
        if refused.status >= 500 or refused.status == 404:
            raise
        return _back(form, here, error=refused.kind)
    return _back(form, here)


@router.post("/t/{tenant}/offers/{offer_id}/approve")
def approve_offer(submitted: ReviewForm, offer_id: uuid.UUID) -> Response:
    """The merchant approves an offer's terms, from its recruiting page."""
    page, form = submitted
    here = f"{_base(page)}/recruiting"
    found = offers.get(page.db, offer_id, lock=True)
    try:
        with page.db.begin_nested():
            offers.approve(page.db, found, page.user.id)
    except Problem as refused:
        if refused.status >= 500 or refused.status == 404:
            raise
        return _back(form, here, error=refused.kind)
    return _back(form, here)


@router.post("/t/{tenant}/offers/{offer_id}")
def offer_step(submitted: ManageForm, offer_id: uuid.UUID) -> Response:
    """A recruiter records the offer sent, accepted (the hire) or declined."""
    page, form = submitted
    _staff_only(page)
    found = offers.get(page.db, offer_id, lock=True)
    application = service.get_application(page.db, found.application_id)
    here = f"{_base(page)}/candidates/{application.candidate_id}"
    action = _text(form, "action", 10)
    try:
        with page.db.begin_nested():
            if action == "send":
                offers.send(page.db, found)
            elif action == "accept":
                offers.accept(page.db, found, page.user.id)
            elif action == "decline":
                offers.decline(page.db, found, _text(form, "reason", 2000))
            else:
                raise ValueError(action)
    except ValueError:
        return _back(form, here, error="bad-form")
    except Problem as refused:
        if refused.status >= 500 or refused.status == 404:
            raise
        return _back(form, here, error=refused.kind)
    return _back(form, here)


# --- placements ----------------------------------------------------------------------------


@router.post("/t/{tenant}/placements")
def record_placement(submitted: ManageForm) -> Response:
    """A recruiter records a hire no offer made a placement of (the first-year salary in major
    units: 96000.00 yuan)."""
    page, form = submitted
    _staff_only(page)

    def act() -> None:
        currency = _text(form, "currency", 3) or "CNY"
        body = PlacementCreate(
            application_id=uuid.UUID(_text(form, "application_id", 40)),
            salary_minor=to_minor(_text(form, "salary", 20), currency),
            currency=currency,
            starts_on=_text(form, "starts_on", 10),
        )
        application = service.get_application(page.db, body.application_id, lock=True)
        placements.create(page.db, application, body, page.user.id)

    return _submit(page, form, f"{_base(page)}/recruiting", act)


@router.post("/t/{tenant}/placements/{placement_id}/leave")
def placement_left(submitted: ManageForm, placement_id: uuid.UUID) -> Response:
    """A recruiter records that a hire left: the guarantee's remedy follows."""
    page, form = submitted
    _staff_only(page)
    found = placements.get(page.db, placement_id, lock=True)

    def act() -> None:
        body = PlacementLeave(left_on=_text(form, "left_on", 10), reason=_text(form, "reason", 500))
        today = periods.today(page.tenant.time_zone if page.tenant else "UTC")
        placements.leave(page.db, found, body, page.user.id, today)

    return _submit(page, form, f"{_base(page)}/recruiting", act)
