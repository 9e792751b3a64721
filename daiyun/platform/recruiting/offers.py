"""Offers: the terms put to a candidate, from a recruiter's draft through the merchant's approval
to the candidate's answer. Accepting is the hire: the application moves to the last stage of its
pipeline (logged like every move) and becomes a placement (``placements``). One offer stands
per application at a time: another is made only once the last was declined. Services flush,
audit and never commit.
"""

from __future__ import annotations

import smtplib
import uuid
from email.message import EmailMessage

import structlog
from sqlalchemy.orm import Session

from daiyun.core import mail as outbox
from daiyun.core.audit import service as audit
from daiyun.core.config import get_settings
from daiyun.core.errors import Problem
from daiyun.core.ids import utcnow
from daiyun.core.money import to_major
from daiyun.core.pagination import paginate
from daiyun.core.tasks import celery_app, enqueue_after_commit
from daiyun.platform.recruiting import placements, repository, service
from daiyun.platform.recruiting.models import Application, ApplicationStatus, Offer, OfferStatus
from daiyun.platform.recruiting.schemas import OfferCreate, OfferUpdate
from daiyun.tenants.models import Tenant

log = structlog.get_logger()
S = OfferStatus
# The task mailing an offer's letter (``tasks.mail_offer``), named: tasks imports this module.
LETTER_TASK = "daiyun.rc.mail_offer"
PERIOD_WORDS = {
    "hour": "/ 小时 hour",
    "day": "/ 天 day",
    "month": "/ 月 month",
    "year": "/ 年 year",
}
# What each step needs the offer to be at, and what it becomes.
STEPS: dict[str, tuple[frozenset[OfferStatus], OfferStatus]] = {
    "approve": (frozenset({S.draft}), S.approved),
    "send": (frozenset({S.approved}), S.sent),
    "accept": (frozenset({S.sent}), S.accepted),
    "decline": (frozenset({S.sent}), S.declined),
}


def create(
    session: Session, application: Application, body: OfferCreate, actor: uuid.UUID | None
) -> Offer:
    """A draft offer for an active application that has no other standing offer."""
    if application.status != ApplicationStatus.active:
        raise Problem(409, "not-active", "Only an active application gets an offer")
    standing = [o for o in repository.offers_of(session, application.id) if o.status != S.declined]
    if standing:
        raise Problem(409, "offer-standing", f"Offer {standing[0].id} stands for this application")
    found = Offer(application_id=application.id, created_by=actor, **body.model_dump())
    session.add(found)
    session.flush()
    audit.record(session, "recruiting.offer_drafted", f"offer:{found.id}")
    return found


def get(session: Session, offer_id: uuid.UUID, *, lock: bool = False) -> Offer:
    found = repository.offer(session, offer_id, lock=lock)
    if found is None:
        raise Problem(404, "not-found", "No such offer")
    return found


def update(session: Session, found: Offer, body: OfferUpdate) -> Offer:
    """New terms before the offer is sent; an approved offer goes back to the merchant."""
    if found.status not in (S.draft, S.approved):
        raise Problem(409, "offer-sent", f"An offer {found.status.value} keeps its terms")
    changes = body.model_dump(exclude_unset=True, exclude_none=True)
    if not changes:
        return found
    for name, value in changes.items():
        setattr(found, name, value)
    found.status, found.approved_by, found.approved_at = S.draft, None, None
    session.flush()
    audit.record(
        session, "recruiting.offer_changed", f"offer:{found.id}", body.model_dump(mode="json")
    )
    return found


def _step(session: Session, found: Offer, step: str) -> None:
    needs, becomes = STEPS[step]
    if found.status not in needs:
        raise Problem(
            409, "bad-transition", f"An offer {found.status.value} cannot be {becomes.value}"
        )
    found.status = becomes


def approve(session: Session, found: Offer, actor: uuid.UUID) -> Offer:
    """The merchant approves the terms: the offer may be sent."""
    _step(session, found, "approve")
    found.approved_by, found.approved_at = actor, utcnow()
    session.flush()
    audit.record(session, "recruiting.offer_approved", f"offer:{found.id}")
    return found


def send(session: Session, found: Offer) -> Offer:
    """The offer goes out: its letter is mailed to the candidate after the commit (the sweep
    mails it if that is lost)."""
    _step(session, found, "send")
    found.sent_at = utcnow()
    session.flush()
    audit.record(session, "recruiting.offer_sent", f"offer:{found.id}")
    task = celery_app.signature(LETTER_TASK)
    enqueue_after_commit(session, task, str(found.tenant_id), str(found.id))
    return found


def _letter(session: Session, found: Offer, to: str) -> EmailMessage:
    application = service.get_application(session, found.application_id)
    requisition = service.get_requisition(session, application.requisition_id)
    candidate = service.get_candidate(session, application.candidate_id)
    merchant = session.get(Tenant, found.tenant_id)
    company = merchant.display_name if merchant is not None else ""
    pay = f"{to_major(found.salary_minor, found.currency):,} {found.currency}"
    per = PERIOD_WORDS.get(found.pay_period, found.pay_period)
    mail = EmailMessage()
    mail["From"] = get_settings().recruiting_mail_from
    mail["To"] = to
    mail["Subject"] = f"录用通知 Offer: {requisition.role} · {company}"
    mail.set_content(
        f"{candidate.name}：\n\n"
        f"{company} 很高兴向您发出录用通知 / is pleased to offer you the position of "
        f"{requisition.role}.\n\n"
        f"薪酬 Pay: {pay} {per}\n"
        f"入职日期 Start date: {found.starts_on.isoformat()}\n"
        + (f"\n{found.terms}\n" if found.terms else "")
        + "\n请回复本邮件接受或婉拒。Please reply to this e-mail to accept or decline.\n"
    )
    return mail


def mail_letter(session: Session, offer_id: uuid.UUID) -> bool | None:
    """Mail a sent offer's letter to the candidate, once. False when the SMTP server refused
    (the sweep tries again); None when there is nothing to mail (no such offer, not sent, or a
    candidate without an e-mail address: the recruiter tells them by phone)."""
    found = repository.offer(session, offer_id, lock=True)
    if found is None or found.sent_at is None:
        return None
    if found.mailed_at is not None:
        return True
    application = service.get_application(session, found.application_id)
    to = service.get_candidate(session, application.candidate_id).email
    if not to:
        return None
    try:
        outbox.send(_letter(session, found, to))
    except (OSError, smtplib.SMTPException) as exc:
        log.warning("offer letter not sent", offer_id=str(found.id), error=str(exc)[:200])
        return False
    found.mailed_at = utcnow()
    session.flush()
    return True


def accept(session: Session, found: Offer, actor: uuid.UUID | None) -> Offer:
    """The candidate accepted: the application moves to its pipeline's last stage, the hire,
    and the hire becomes a placement when the offer's pay gives the first-year salary."""
    _step(session, found, "accept")
    application = service.get_application(session, found.application_id, lock=True)
    requisition = service.get_requisition(session, application.requisition_id)
    service.move(session, application, requisition.stages[-1], actor)
    found.responded_at = utcnow()
    session.flush()
    placements.from_offer(session, found, actor)
    audit.record(session, "recruiting.offer_accepted", f"offer:{found.id}")
    return found


def decline(session: Session, found: Offer, reason: str) -> Offer:
    _step(session, found, "decline")
    found.responded_at, found.decline_reason = utcnow(), reason
    session.flush()
    audit.record(session, "recruiting.offer_declined", f"offer:{found.id}")
    return found


def find(
    session: Session, status: OfferStatus | None, cursor: str | None, limit: int
) -> tuple[list[Offer], str | None]:
    return paginate(session, repository.offers(status), Offer.id, cursor, limit)


def of_application(session: Session, application_id: uuid.UUID) -> list[Offer]:
    return repository.offers_of(session, application_id)
