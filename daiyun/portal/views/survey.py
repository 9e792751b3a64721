"""The buyer's satisfaction survey (CSAT) at ``/survey/{token}``: no sign-in, the signed token
is the key (``aftersales/csat.py``). A token that is not the server's, of a merchant that is
suspended or gone, or of no survey, answers the same "not here" page; a closed link says so
(410), an answered one thanks the buyer again (409 for a second answer).

The form needs no CSRF token: the only thing it can do is what the link's holder may do once,
and the link itself is the unguessable secret.
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse, Response
from sqlalchemy.orm import Session

from daiyun.core.errors import Problem
from daiyun.core.ids import utcnow
from daiyun.core.tenancy import bind_tenant
from daiyun.platform.aftersales import csat
from daiyun.platform.aftersales.schemas import SurveyRead
from daiyun.portal.i18n import N_
from daiyun.portal.web import render
from daiyun.tenants import service as tenant_service
from daiyun.tenants.auth.deps import SessionDep
from daiyun.tenants.models import Tenant, TenantStatus

router = APIRouter(prefix="/survey", include_in_schema=False)
RATINGS = (
    (5, N_("Very satisfied")),
    (4, N_("Satisfied")),
    (3, N_("Neutral")),
    (2, N_("Dissatisfied")),
    (1, N_("Very dissatisfied")),
)


def _found(db: Session, token: str) -> tuple[Tenant, SurveyRead] | None:
    named = csat.read_token(token)
    if named is None:
        return None
    merchant = tenant_service.get_tenant(db, named[0])
    if merchant is None or merchant.status not in (TenantStatus.onboarding, TenantStatus.active):
        return None
    bind_tenant(db, merchant.id)
    try:
        return merchant, SurveyRead.model_validate(csat.get(db, named[1], lock=True))
    except Problem:
        return None


def _page(
    request: Request, template: str, values: dict[str, object], status_code: int = 200
) -> HTMLResponse:
    return render(request, f"survey/{template}.html", values, status_code=status_code)


def _missing(request: Request) -> HTMLResponse:
    return _page(request, "closed", {"title": N_("Not here"), "missing": True}, 404)


def _state(request: Request, merchant: Tenant, found: SurveyRead) -> HTMLResponse | None:
    """The page for a survey that takes no answer any more, or None while it is open."""
    if found.answered_at is not None or found.skipped:
        return _page(request, "thanks", {"title": N_("Thank you"), "merchant": merchant})
    if utcnow() >= found.expires_at:
        return _page(request, "closed", {"title": N_("This survey has closed")}, 410)
    return None


@router.get("/{token}")
def survey_page(request: Request, db: SessionDep, token: str) -> Response:
    """The survey: five ratings, a comment, and a way to skip it."""
    shown = _found(db, token)
    if shown is None:
        return _missing(request)
    merchant, found = shown
    done = _state(request, merchant, found)
    if done is not None:
        return done
    values = {"title": N_("How did we do?"), "merchant": merchant, "ratings": RATINGS}
    return _page(request, "form", {**values, "token": token})


@router.post("/{token}")
async def answer_survey(request: Request, db: SessionDep, token: str) -> Response:
    form = await request.form(max_files=0, max_fields=5)
    fields = (form.get("action"), form.get("rating"), form.get("comment"))
    return await run_in_threadpool(_answer, request, db, token, *fields)


def _answer(
    request: Request, db: Session, token: str, action: object, rating: object, comment: object
) -> Response:
    """The buyer's answer (or skip): once, while the link is open."""
    shown = _found(db, token)
    if shown is None:
        return _missing(request)
    merchant, found = shown
    done = _state(request, merchant, found)
    if done is not None:
        done.status_code = 409 if done.status_code == 200 else done.status_code
        return done
    survey = csat.get(db, found.id)  # locked by _found
    if action == "skip":
        csat.skip(db, survey)
    else:
        value = int(rating) if isinstance(rating, str) and rating.isdigit() else 0
        if not 1 <= value <= 5:
            values = {"title": N_("How did we do?"), "merchant": merchant, "ratings": RATINGS}
            return _page(request, "form", {**values, "token": token, "error": True}, 422)
        text = comment if isinstance(comment, str) else ""
        csat.answer(db, survey, value, text.replace("\x00", "").strip())
    return _page(request, "thanks", {"title": N_("Thank you"), "merchant": merchant})
