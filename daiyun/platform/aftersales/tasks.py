"""After-sales' beat work: the follow-ups (回访) that came due, every working tenant's. The
satisfaction survey's subscription (``csat.survey_on_resolve``) is imported here, with the
tasks a worker loads."""

from __future__ import annotations

import uuid

import structlog
from sqlalchemy import select
from sqlalchemy.orm import Session

from daiyun.core.db import unit_of_work
from daiyun.core.tasks import platform_task
from daiyun.platform.aftersales import csat, followups
from daiyun.tenants.models import Tenant, TenantStatus

log = structlog.get_logger()
# Follow-ups are made by the day: an hourly pass keeps the queue current without a tight loop.
FOLLOWUP_SECONDS = 3600.0
WORKING = (TenantStatus.onboarding, TenantStatus.active)


def followups_for(tenant_id: uuid.UUID) -> int:
    with unit_of_work(tenant_id) as session:
        return followups.generate(session)


@platform_task("daiyun.aftersales.followups")
def generate_followups(session: Session) -> int:
    """Every working tenant's pass (each its own unit of work); a tenant that fails is logged
    and the others go on. How many follow-ups were made."""
    made = 0
    stmt = select(Tenant.id).where(Tenant.status.in_(WORKING))
    for tenant_id in list(session.scalars(stmt)):
        try:
            made += followups_for(tenant_id)
        except Exception:
            log.exception("follow-up generation failed", tenant_id=str(tenant_id))
    return made


SCHEDULE = {
    "aftersales-followups": {
        "task": "daiyun.aftersales.followups",
        "schedule": FOLLOWUP_SECONDS,
    }
}


SUBSCRIPTIONS = (csat.survey_on_resolve,)
