"""The public careers pages' work: an applicant arriving with their details, consent and CV,
and the agency's own page listing the openings of the merchants who chose to be on it.

The page (``portal/views/careers.py``) shows the form with a signed token and a field people
never see; what comes back is checked here in the order that costs least: the client's rate,
the token, the trap field, the consent, the details, then the file's bytes. Only then is the
candidate found or made, the application opened and the file stored.
"""

from __future__ import annotations

import hashlib
import uuid
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from daiyun.core.audit import service as audit
from daiyun.core.config import get_settings
from daiyun.core.db import unit_of_work
from daiyun.core.errors import Problem
from daiyun.core.ids import utcnow
from daiyun.platform.recruiting import repository, rules, service
from daiyun.platform.recruiting.models import (
    Application,
    ApplyAttempt,
    EmploymentType,
    Posting,
    Requisition,
)
from daiyun.tenants.models import Tenant, TenantStatus

# Merchants the agency's page looks through, at most (each is a unit of work of its own).
AGENCY_PAGE_MERCHANTS = 500
# Submissions one client address may make in the window, across every merchant's page.
MAX_ATTEMPTS = 5
WINDOW = timedelta(minutes=10)


def throttle(address: str) -> None:
    """Count this submission against the client's address (in a transaction of its own, so a
    refused form still counts) and refuse past the limit, saying when to come back."""
    key = rules.address_key(get_settings().secret_key, address)
    now = utcnow()
    with unit_of_work() as session:
        seen = repository.attempts_since(session, key, now - WINDOW)
        repository.prune_attempts(session, key, now - WINDOW)
        if seen < MAX_ATTEMPTS:
            session.add(ApplyAttempt(key=key, at=now))
    if seen >= MAX_ATTEMPTS:
        raise Problem(
            429,
            "too-many-applications",
            "Too many applications from this address; try again later",
            headers={"Retry-After": str(int(WINDOW.total_seconds()))},
        )


def token_for(posting_id: uuid.UUID) -> str:
    return rules.form_token(get_settings().secret_key, str(posting_id), utcnow())


def retention_days(session: Session) -> int:
    return service.get_settings(session).retention_days


@dataclass(frozen=True)
class Form:
    name: str
    email: str
    phone: str
    consent: bool
    note: str
    token: str
    trap: str  # the field people never see: anything in it is a script's doing
    answers: dict[str, str]  # the requisition's own questions, by key


@dataclass(frozen=True)
class Upload:
    filename: str
    data: bytes


def _invalid(code: str, detail: str) -> Problem:
    return Problem(422, code, detail)


def submit(
    session: Session,
    posting: Posting,
    requisition: Requisition,
    form: Form,
    upload: Upload | None,
) -> Application | None:
    """The application the form makes, or None when the trap was filled (answered as if it
    were taken, so a script learns nothing). Refusals are 422 with the rule's code."""
    refused = rules.check_form_token(
        get_settings().secret_key, str(posting.id), form.token, utcnow()
    )
    if refused is not None:
        raise Problem(
            403 if refused == "bad-token" else 422, refused, "Please fill in the form again"
        )
    if form.trap.strip():
        return None
    if not form.consent:
        raise _invalid("consent-required", "Consent to the processing of your data is required")
    name, email = form.name.strip(), form.email.strip()
    if not name or len(name) > 200:
        raise _invalid("name-required", "Your name is required")
    if len(email) > 320 or "@" not in email or rules.email_key(email) is None:
        raise _invalid("bad-email", "A valid e-mail address is required")
    phone = rules.phone_key(form.phone) if form.phone.strip() else None
    if form.phone.strip() and phone is None:
        raise _invalid("bad-phone", "That is not a phone number")
    try:
        answers = rules.check_answers(requisition.form_fields, form.answers)
    except rules.Refused as bad:
        raise _invalid(bad.code, f"Please check your answer: {bad.about}") from None
    if upload is None or not upload.data:
        raise _invalid("cv-required", "Please attach your CV (PDF or DOCX)")
    try:
        rules.sniff_cv(upload.data)
    except rules.Refused as bad:
        raise _invalid(bad.code, "A CV is a PDF or DOCX file of at most 3 MB") from None
    candidate = service.candidate_for(session, name, email, form.phone or None, "careers")
    service.consent(session, candidate)
    application, _ = service.open_application(
        session,
        requisition,
        candidate,
        source="careers",
        posting_id=posting.id,
        note=form.note.strip()[:5000],
    )
    application.answers = answers
    service.attach_cv(
        session, application, upload.filename, upload.data, hashlib.sha256(upload.data).hexdigest()
    )
    audit.record(session, "recruiting.applied", f"application:{application.id}")
    return application


@dataclass(frozen=True)
class Opening:
    """A posting as the agency's page lists it: where it leads and what it is."""

    slug: str
    merchant: str
    posting_id: str
    title: str
    location: str
    employment_type: EmploymentType


def agency_openings() -> list[Opening]:
    """The open postings of every merchant that chose to be on the agency's page (a merchant
    hiring before launch too; a suspended or offboarded one never), by merchant name. Each
    merchant is read in a unit of work bound to it, as its own page is."""
    shown = (TenantStatus.onboarding, TenantStatus.active)
    with unit_of_work() as session:
        stmt = select(Tenant.id, Tenant.slug, Tenant.display_name).where(Tenant.status.in_(shown))
        merchants = list(session.execute(stmt.order_by(Tenant.display_name, Tenant.id)))
    found: list[Opening] = []
    for tenant_id, slug, name in merchants[:AGENCY_PAGE_MERCHANTS]:
        with unit_of_work(tenant_id) as session:
            settings = repository.settings(session)
            if settings is None or not settings.agency_page:
                continue
            found.extend(
                Opening(
                    slug,
                    name,
                    str(posting.id),
                    posting.title,
                    requisition.location,
                    requisition.employment_type,
                )
                for posting, requisition in service.public_postings(session)
            )
    return found
