"""Recruiting's tasks: mailing an interview's invitation and an offer's letter after the change
commits, the sweep that mails again what a lost message or a refusing SMTP server left unsent,
and the erasure of candidates whose retention ended."""

from __future__ import annotations

import uuid
from datetime import timedelta

import structlog
from sqlalchemy import select
from sqlalchemy.orm import Session

from daiyun.core.db import unit_of_work
from daiyun.core.ids import utcnow
from daiyun.core.tasks import platform_task, tenant_task
from daiyun.platform.recruiting import interviews, offers, privacy, repository
from daiyun.tenants.models import Tenant, TenantStatus

log = structlog.get_logger()
SWEEP_SECONDS = 300.0
# An invitation still unsent this long after its change is sent again by the sweep.
STALE = timedelta(minutes=2)


@tenant_task("daiyun.rc.send_invitation")
def send_invitation(session: Session, interview_id: str) -> bool | None:
    return interviews.send(session, uuid.UUID(interview_id))


@tenant_task("daiyun.rc.mail_offer")
def mail_offer(session: Session, offer_id: str) -> bool | None:
    return offers.mail_letter(session, uuid.UUID(offer_id))


def sweep_tenant(tenant_id: uuid.UUID) -> int:
    """Invitations and offer letters a lost task or a refusing server left unmailed (a day back
    at most: older ones are given up)."""
    with unit_of_work(tenant_id) as session:
        now = utcnow()
        stale = repository.unmailed(session, now - timedelta(days=1), now - STALE)
        letters = repository.unmailed_offers(session, now - timedelta(days=1), now - STALE)
    for interview_id in stale:
        with unit_of_work(tenant_id) as session:
            interviews.send(session, interview_id)
    for offer_id in letters:
        with unit_of_work(tenant_id) as session:
            offers.mail_letter(session, offer_id)
    return len(stale) + len(letters)


@platform_task("daiyun.rc.sweep")
def sweep(session: Session) -> int:
    """Every working tenant's unsent invitations; a tenant that fails is logged, the others
    go on."""
    sent = 0
    working = (TenantStatus.onboarding, TenantStatus.active)
    for tenant_id in list(session.scalars(select(Tenant.id).where(Tenant.status.in_(working)))):
        try:
            sent += sweep_tenant(tenant_id)
        except Exception:
            log.exception("recruiting sweep failed", tenant_id=str(tenant_id))
    return sent


@platform_task("daiyun.rc.erase_expired")
def erase_expired(session: Session) -> int:
    """Every tenant's candidates past their retention, erased (a tenant that fails is logged,
    the others go on; the next run tries it again)."""
    erased = 0
    for tenant_id in list(session.scalars(select(Tenant.id))):
        try:
            with unit_of_work(tenant_id) as tenant_session:
                erased += privacy.erase_expired(tenant_session)
        except Exception:
            log.exception("recruiting erasure failed", tenant_id=str(tenant_id))
    return erased


SCHEDULE = {
    "rc-sweep": {"task": "daiyun.rc.sweep", "schedule": SWEEP_SECONDS},
    "rc-erase-expired": {"task": "daiyun.rc.erase_expired", "schedule": 3600.0},
}
