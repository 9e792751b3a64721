"""The public careers pages: the agency's page at ``/careers`` (the openings of the merchants who
chose to be on it), a merchant's open postings at ``/careers/{slug}`` and each posting with its
application form at ``/careers/{slug}/{posting_id}``. No sign-in.

What a visitor can learn is only what the page names (SECURITY.md 32): an unknown merchant, one
suspended or gone, an unknown posting and one that is closed all answer the same "not here"
page. The form carries a signed token (in place of a session's CSRF token: a visitor has no
session), a trap field people never see, and the consent with the retention period stated; each
client address may send a few applications per window (429 with ``Retry-After`` beyond).
"""

from __future__ import annotations

import uuid
from typing import Any

from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse, Response
from sqlalchemy.orm import Session
from starlette.datastructures import FormData, UploadFile

from daiyun.core.config import get_settings
from daiyun.core.errors import Problem
from daiyun.core.tenancy import bind_tenant
from daiyun.platform.recruiting import careers, rules, service
from daiyun.portal.i18n import N_
from daiyun.portal.page_cache import cache_of
from daiyun.portal.views.recruiting import TYPE_LABELS
from daiyun.portal.web import SECURITY_HEADERS, render
from daiyun.tenants import service as tenant_service
from daiyun.tenants.auth.addresses import client_address
from daiyun.tenants.auth.deps import SessionDep
from daiyun.tenants.models import Tenant, TenantStatus

router = APIRouter(prefix="/careers", include_in_schema=False)
# What the form says when it is sent back: the rule's code, in words.
ERRORS = {
    "consent-required": N_("Please agree to the processing of your data to apply."),
    "name-required": N_("Please give your name."),
    "bad-email": N_("Please give a valid e-mail address."),
    "bad-phone": N_("That is not a phone number."),
    "cv-required": N_("Please attach your CV (PDF or DOCX)."),
    "unsupported-file": N_("A CV must be a PDF or a Word (DOCX) file."),
    "file-too-large": N_("The file is larger than 3 MB."),
    "empty-file": N_("The file is empty."),
    "bad-token": N_("The form has expired; please fill it in again."),
    "expired-form": N_("The form has expired; please fill it in again."),
    "too-fast": N_("That was quick; please check the form and send it again."),
    "too-many-applications": N_("Too many applications from this address; try again later."),
    "requisition-closed": N_("This opening takes no more applications."),
    "answer-required": N_("Please answer every question marked as required."),
    "bad-answer": N_("Please check your answers: one is not of the kind asked."),
}
MAX_FIELD = 5000
# Where the form's token goes in a rendered page (filled in per answer; see page_cache).
TOKEN = "@@careers-form-token@@"
# The form's path (for the body limit, which is the CV's and room for the other fields).
FORM_PATH = r"/careers/[^/]+/[^/]+$"
MAX_FORM_BYTES = rules.MAX_CV_BYTES + 128 * 1024


def _merchant(db: Session, slug: str) -> Tenant | None:
    found = tenant_service.find_tenant(db, slug)
    # A merchant being onboarded hires too (staff before launch); a suspended or offboarded
    # one shows no page.
    if found is None or found.status not in (TenantStatus.onboarding, TenantStatus.active):
        return None
    bind_tenant(db, found.id)
    return found


def _missing(request: Request) -> HTMLResponse:
    return render(request, "careers/missing.html", {"title": N_("Not here")}, status_code=404)


def _keep(request: Request, html: str, posting_id: uuid.UUID | None = None) -> None:
    """Keep a page every visitor of its language sees alike for the next few seconds; a form
    page with a fresh token signed into each answer (its time is when the visitor saw the form,
    which the too-fast and expiry checks rely on)."""
    if (cache := cache_of(request.scope)) is None:
        return
    fill = None if posting_id is None else (lambda: {TOKEN: careers.token_for(posting_id)})
    cache.put(request, html, fill)


@router.get("")
def agency_page(request: Request) -> Response:
    """The agency's careers page: every listed merchant's openings, grouped by merchant."""
    by_merchant: dict[tuple[str, str], list[careers.Opening]] = {}
    for opening in careers.agency_openings():
        by_merchant.setdefault((opening.slug, opening.merchant), []).append(opening)
    page = render(
        request,
        "careers/agency.html",
        {
            "agency": get_settings().agency_name,
            "merchants": by_merchant,
            "type_labels": TYPE_LABELS,
        },
    )
    _keep(request, bytes(page.body).decode())
    return page


@router.get("/{tenant}")
def careers_page(request: Request, db: SessionDep, tenant: str) -> Response:
    """The merchant's open postings."""
    merchant = _merchant(db, tenant)
    if merchant is None:
        return _missing(request)
    page = render(
        request,
        "careers/list.html",
        {
            "merchant": merchant,
            "postings": service.public_postings(db),
            "type_labels": TYPE_LABELS,
        },
    )
    _keep(request, bytes(page.body).decode())
    return page


def _form_page(
    request: Request,
    db: Session,
    merchant: Tenant,
    posting_id: uuid.UUID,
    *,
    error: str = "",
    sent: dict[str, str] | None = None,
    status_code: int = 200,
    headers: dict[str, str] | None = None,
) -> Response:
    shown = service.public_posting(db, posting_id)
    if shown is None:
        return _missing(request)
    posting, requisition = shown
    page = render(
        request,
        "careers/posting.html",
        {
            "merchant": merchant,
            "posting": posting,
            "requisition": requisition,
            "token": TOKEN,
            "retention_days": careers.retention_days(db),
            "max_mb": rules.MAX_CV_BYTES // (1024 * 1024),
            "error": ERRORS.get(error, N_("Please check the form.")) if error else "",
            "sent": sent or {},
            "type_labels": TYPE_LABELS,
        },
        status_code=status_code,
    )
    html = bytes(page.body).decode()
    if not error:  # the form as first shown; one sent back holds what the visitor typed
        _keep(request, html, posting.id)
    fresh = html.replace(TOKEN, careers.token_for(posting.id))
    return HTMLResponse(fresh, status_code, headers={**SECURITY_HEADERS, **(headers or {})})


@router.get("/{tenant}/{posting_id}")
def posting_page(request: Request, db: SessionDep, tenant: str, posting_id: str) -> Response:
    """A posting with its application form."""
    merchant = _merchant(db, tenant)
    found = _uuid(posting_id)
    if merchant is None or found is None:
        return _missing(request)
    return _form_page(request, db, merchant, found)


def _uuid(value: str) -> uuid.UUID | None:
    try:
        return uuid.UUID(value)
    except ValueError:
        return None


def _field(form: FormData, name: str) -> str:
    value = form.get(name)
    return value[:MAX_FIELD] if isinstance(value, str) else ""


async def _upload(form: FormData) -> careers.Upload | None:
    value = form.get("cv")
    if not isinstance(value, UploadFile):
        return None
    # One byte past the limit is enough to know it is too large.
    data = await value.read(rules.MAX_CV_BYTES + 1)
    return careers.Upload(value.filename or "cv", data)


@router.post("/{tenant}/{posting_id}")
async def apply(request: Request, db: SessionDep, tenant: str, posting_id: str) -> Response:
    """Send an application: counted against the client's address first, then checked, then
    kept (a candidate found or made, the application at the pipeline's first stage, the CV)."""
    # The standard fields and up to ten of the requisition's own questions.
    form = await request.form(max_files=1, max_fields=30)
    upload = await _upload(form)
    return await run_in_threadpool(
        _apply, request, db, tenant, posting_id, form, upload, client_address(request)
    )


def _apply(
    request: Request,
    db: Session,
    tenant: str,
    posting_id: str,
    form: FormData,
    upload: careers.Upload | None,
    address: str,
) -> Response:
    # Counted first, before the request's own session holds a connection: every submission
    # counts, to a merchant that exists or not.
    try:
        careers.throttle(address)
        throttled = None
    except Problem as refused:
        throttled = refused
    merchant = _merchant(db, tenant)
    found = _uuid(posting_id)
    if merchant is None or found is None or service.public_posting(db, found) is None:
        return _missing(request)
    posting, requisition = service.public_posting(db, found) or (None, None)
    assert posting is not None and requisition is not None
    sent: dict[str, Any] = {k: _field(form, k) for k in ("name", "email", "phone", "note")}
    answers = {f["key"]: _field(form, f"q-{f['key']}") for f in requisition.form_fields}
    sent.update({f"q-{key}": value for key, value in answers.items()})
    try:
        if throttled is not None:
            raise throttled
        careers.submit(
            db,
            posting,
            requisition,
            careers.Form(
                name=sent["name"],
                email=sent["email"],
                phone=sent["phone"],
                consent=_field(form, "consent") == "yes",
                note=sent["note"],
                token=_field(form, "token"),
                trap=_field(form, "website"),
                answers=answers,
            ),
            upload,
        )
    except Problem as refused:
        if refused.status >= 500:
            raise
        db.rollback()
        bind_tenant(db, merchant.id)
        return _form_page(
            request,
            db,
            merchant,
            found,
            error=refused.kind,
            sent=sent,
            status_code=refused.status,
            headers=refused.headers,
        )
    return render(
        request,
        "careers/thanks.html",
        {"merchant": merchant, "posting": posting, "title": N_("Thank you")},
    )
