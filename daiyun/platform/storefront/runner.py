"""Running catalog jobs: the task a job's queueing sends, and the sweep that queues again the
jobs whose worker died.

The message names the tenant and the job. The broker hands an unacknowledged message to
another worker when one dies (acks late); a message lost anyway (the embedded SQL transport can
lose one whose worker was killed) is found by the sweep from the job's stopped heartbeat. Either
way the run resumes where the job's last batch committed (``jobs``).
"""

from __future__ import annotations

import uuid
from datetime import timedelta

import structlog
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from daiyun.core.db import unit_of_work
from daiyun.core.ids import utcnow
from daiyun.core.tasks import celery_app, enqueue_after_commit, parse_tenant, platform_task
from daiyun.platform.storefront import bulk, exports, imports, jobs
from daiyun.platform.storefront.models import CatalogJob
from daiyun.platform.storefront.schemas import FINISHED, JobKind
from daiyun.tenants.models import Tenant

log = structlog.get_logger()

# A running job whose heartbeat (each committed batch) is older than this is presumed dead.
STALE_AFTER = timedelta(minutes=5)

SCHEDULE = {"catalog-jobs-sweep": {"task": "daiyun.catalog.sweep_jobs", "schedule": 60.0}}

WORK = {JobKind.import_: imports.run, JobKind.export: exports.run, JobKind.bulk_edit: bulk.run}


def queue(session: Session, job: CatalogJob) -> CatalogJob:
    """Send the job's task once the transaction that made the job commits."""
    enqueue_after_commit(session, run_job, str(job.tenant_id), str(job.id))
    return job


def run(tenant_id: uuid.UUID, job_id: uuid.UUID) -> str:
    """Run (or resume) one job to its end; what it did is in the job row."""
    kind = jobs.begin(tenant_id, job_id)
    if kind is None:
        return "finished"
    try:
        WORK[kind](tenant_id, job_id)
    except Exception as exc:
        # The batches committed so far stay, with the progress that says so: a retry (the
        # sweep's, or the broker's redelivery) resumes after them.
        log.exception("catalog job failed", job_id=str(job_id))
        with unit_of_work(tenant_id) as session:
            job = jobs.load(session, job_id)
            job.error = f"{type(exc).__name__}: {exc}"[:400]
        raise
    return "done"


@celery_app.task(name="daiyun.catalog.run_job", queue="default")
def run_job(tenant_id: str, job_id: str) -> str:
    """Run a catalog job (the tenant is named first, as for every tenant task)."""
    tenant = parse_tenant(tenant_id)
    structlog.contextvars.clear_contextvars()
    structlog.contextvars.bind_contextvars(task="daiyun.catalog.run_job", tenant_id=str(tenant))
    try:
        return run(tenant, uuid.UUID(str(job_id)))
    finally:
        structlog.contextvars.clear_contextvars()


@platform_task("daiyun.catalog.sweep_jobs")
def sweep_jobs(session: Session) -> int:
    """Queue again every unfinished job whose heartbeat stopped (its worker died, or the broker
    lost its message): the run resumes where its last batch committed."""
    stale = utcnow() - STALE_AFTER
    queued = 0
    for tenant_id in list(session.scalars(select(Tenant.id))):
        with unit_of_work(tenant_id) as tenant_session:
            ids = list(
                tenant_session.scalars(
                    select(CatalogJob.id).where(
                        CatalogJob.state.not_in(list(FINISHED)),
                        func.coalesce(CatalogJob.heartbeat_at, CatalogJob.created_at) < stale,
                    )
                )
            )
        for job_id in ids:
            run_job.delay(str(tenant_id), str(job_id))
            queued += 1
    return queued
