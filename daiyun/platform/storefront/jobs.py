"""Catalog jobs (批量任务): imports, exports and bulk edits run in the background.

A job is a row (``CatalogJob``) with its file in the database (``CatalogJobChunk``) and its
report (``CatalogJobProblem``). The task takes the tenant id and the job id; the work commits in
batches, each batch together with the job's progress (``written_rows``), so:

* ``GET`` on the job shows how far it is while it runs;
* a worker killed mid-job leaves the job where its last batch committed: the broker hands the
  message to another worker (acks late), or the sweep queues it again, and the run resumes
  after ``written_rows``; nothing is written twice.

Each batch opens its own unit of work for the tenant (``core.db.unit_of_work``): a job of
100,000 rows is many short transactions, never one that holds locks for minutes.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Iterator
from typing import Any, cast

import structlog
from sqlalchemy import Select, Table, delete, func, insert, select
from sqlalchemy.orm import Session

from daiyun.connectors import service as shop_service
from daiyun.core.audit import service as audit
from daiyun.core.db import unit_of_work
from daiyun.core.errors import Problem
from daiyun.core.ids import new_id, utcnow
from daiyun.core.tenancy import current_tenant
from daiyun.platform.storefront import repository
from daiyun.platform.storefront.models import CatalogJob, CatalogJobChunk, CatalogJobProblem
from daiyun.platform.storefront.schemas import (
    FINISHED,
    CatalogFilter,
    JobKind,
    JobProblemRead,
    JobRead,
    JobState,
)

log = structlog.get_logger()

# Problems kept per job: a file of 100,000 bad rows still gets a report of a bounded size
# (``problem_count`` counts them all).
MAX_STORED_PROBLEMS = 10_000
# Problems shown with the job itself; the rest are in the report.
SHOWN_PROBLEMS = 100
# The size of a stored piece of a job's file.
CHUNK_BYTES = 1 << 20
# A job tried this many times without finishing is failed (a row that crashes the worker
# every time must not loop forever).
MAX_ATTEMPTS = 5


def table(model: type[Any]) -> Table:
    """A model's table, for Core statements (executemany)."""
    return cast(Table, model.__table__)


def _not_found() -> Problem:
    return Problem(404, "not-found", "No such job")


def create(
    session: Session,
    kind: JobKind,
    options: dict[str, Any],
    *,
    user_id: uuid.UUID | None,
    filename: str | None = None,
) -> CatalogJob:
    """A queued job (``runner.queue`` sends its task once the transaction commits)."""
    job = CatalogJob(
        id=new_id(),
        kind=kind,
        state=JobState.queued,
        options=options,
        filename=filename,
        created_by=user_id,
    )
    session.add(job)
    session.flush()
    audit.record(session, f"catalog.{kind.value}.queued", f"catalog_job:{job.id}", options)
    return job


def get(session: Session, job_id: uuid.UUID, kind: JobKind, *, lock: bool = False) -> CatalogJob:
    """One of the bound tenant's jobs of ``kind`` (404 otherwise)."""
    stmt = select(CatalogJob).where(CatalogJob.id == job_id, CatalogJob.kind == kind)
    if lock:
        stmt = stmt.with_for_update()
    job = session.scalar(stmt)
    if job is None:
        raise _not_found()
    return job


def problems(
    session: Session, job_id: uuid.UUID, *, after: int = -1, limit: int = SHOWN_PROBLEMS
) -> list[JobProblemRead]:
    """A job's problems by row (then as found), those after row ``after``."""
    stmt = (
        select(CatalogJobProblem.row, CatalogJobProblem.column, CatalogJobProblem.problem)
        .where(CatalogJobProblem.job_id == job_id, CatalogJobProblem.row > after)
        .order_by(CatalogJobProblem.row, CatalogJobProblem.id)
        .limit(limit)
    )
    return [JobProblemRead(row=r, column=c, problem=p) for r, c, p in session.execute(stmt)]


def all_problems(session: Session, job_id: uuid.UUID) -> Iterator[JobProblemRead]:
    """Every stored problem of a job, by row (at most ``MAX_STORED_PROBLEMS``), streamed."""
    stmt = (
        select(CatalogJobProblem.row, CatalogJobProblem.column, CatalogJobProblem.problem)
        .where(CatalogJobProblem.job_id == job_id)
        .order_by(CatalogJobProblem.row, CatalogJobProblem.id)
        .execution_options(yield_per=1000)
    )
    for r, c, p in session.execute(stmt):
        yield JobProblemRead(row=r, column=c, problem=p)


def read(session: Session, job: CatalogJob) -> JobRead:
    return JobRead(
        id=job.id,
        kind=job.kind,
        state=job.state,
        filename=job.filename,
        valid_rows_only=bool(job.options.get("valid_rows_only", False)),
        total_rows=job.total_rows,
        checked_rows=job.checked_rows,
        written_rows=job.written_rows,
        created_count=job.created_count,
        updated_count=job.updated_count,
        skipped_count=job.skipped_count,
        problem_count=job.problem_count,
        problems=problems(session, job.id),
        error=job.error,
        created_at=job.created_at,
        updated_at=job.updated_at,
        finished_at=job.finished_at,
    )


def add_problems(session: Session, job: CatalogJob, found: list[tuple[int, str, str]]) -> None:
    """Record problems (row, column, text) in one executemany; past ``MAX_STORED_PROBLEMS``
    they are only counted."""
    room = max(0, MAX_STORED_PROBLEMS - job.problem_count)
    kept = found[:room]
    if kept:
        session.execute(
            insert(table(CatalogJobProblem)),
            [
                {
                    "tenant_id": job.tenant_id,
                    "id": new_id(),
                    "job_id": job.id,
                    "row": row,
                    "column": column[:64],
                    "problem": text[:400],
                }
                for row, column, text in kept
            ],
        )
    job.problem_count += len(found)


def clear_problems(session: Session, job: CatalogJob) -> None:
    session.execute(delete(CatalogJobProblem).where(CatalogJobProblem.job_id == job.id))
    job.problem_count = 0


# --------------------------------------------------------------------------------------------
# The job's files, in pieces
# --------------------------------------------------------------------------------------------


def store_file(session: Session, job_id: uuid.UUID, part: str, pieces: Iterable[bytes]) -> int:
    """Store ``pieces`` as the job's ``part`` file (replacing it); returns its size."""
    tenant = current_tenant(session)
    session.execute(
        delete(CatalogJobChunk).where(
            CatalogJobChunk.job_id == job_id, CatalogJobChunk.part == part
        )
    )
    size = 0
    for seq, data in enumerate(pieces):
        session.execute(
            insert(table(CatalogJobChunk)),
            [
                {
                    "tenant_id": tenant,
                    "id": new_id(),
                    "job_id": job_id,
                    "part": part,
                    "seq": seq,
                    "data": data,
                }
            ],
        )
        size += len(data)
    return size


def _piece_numbers(session: Session, job_id: uuid.UUID, part: str) -> list[int]:
    return list(
        session.scalars(
            select(CatalogJobChunk.seq)
            .where(CatalogJobChunk.job_id == job_id, CatalogJobChunk.part == part)
            .order_by(CatalogJobChunk.seq)
        )
    )


def _piece(session: Session, job_id: uuid.UUID, part: str, seq: int) -> bytes | None:
    return session.scalar(
        select(CatalogJobChunk.data).where(
            CatalogJobChunk.job_id == job_id,
            CatalogJobChunk.part == part,
            CatalogJobChunk.seq == seq,
        )
    )


def file_pieces(session: Session, job_id: uuid.UUID, part: str) -> Iterator[bytes]:
    """The job's ``part`` file, one stored piece at a time (never the whole file in memory)."""
    for seq in _piece_numbers(session, job_id, part):
        data = _piece(session, job_id, part, seq)
        if data:
            yield bytes(data)


def stored_pieces(tenant_id: uuid.UUID, job_id: uuid.UUID, part: str) -> Iterator[bytes]:
    """As :func:`file_pieces`, each piece read in a short transaction of its own: a pass over
    a file holds no transaction open across the batches it commits."""
    with unit_of_work(tenant_id) as session:
        seqs = _piece_numbers(session, job_id, part)
    for seq in seqs:
        with unit_of_work(tenant_id) as session:
            data = _piece(session, job_id, part, seq)
        if data:
            yield bytes(data)


def has_file(session: Session, job_id: uuid.UUID, part: str) -> bool:
    stmt = (
        select(func.count())
        .select_from(CatalogJobChunk)
        .where(CatalogJobChunk.job_id == job_id, CatalogJobChunk.part == part)
    )
    return bool(session.scalar(stmt))


# --------------------------------------------------------------------------------------------
# Running a job
# --------------------------------------------------------------------------------------------


def begin(tenant_id: uuid.UUID, job_id: uuid.UUID) -> JobKind | None:
    """Claim a job for a run: count the attempt and beat its heart. None when it is finished
    (a duplicate message) or gone; a job out of attempts is failed here."""
    with unit_of_work(tenant_id) as session:
        job = session.scalar(select(CatalogJob).where(CatalogJob.id == job_id).with_for_update())
        if job is None or job.state in FINISHED:
            return None
        if job.attempts >= MAX_ATTEMPTS:
            finish(session, job, JobState.failed, f"gave up after {job.attempts} attempts")
            return None
        job.attempts += 1
        job.heartbeat_at = utcnow()
        job.error = None
        return job.kind


def finish(session: Session, job: CatalogJob, state: JobState, error: str | None = None) -> None:
    job.state = state
    job.error = error[:400] if error else None
    job.finished_at = utcnow()
    job.heartbeat_at = job.finished_at
    audit.record(
        session,
        f"catalog.{job.kind.value}.{state.value}",
        f"catalog_job:{job.id}",
        {
            "rows": job.total_rows,
            "created": job.created_count,
            "updated": job.updated_count,
            "skipped": job.skipped_count,
            "problems": job.problem_count,
        },
    )


def load(session: Session, job_id: uuid.UUID) -> CatalogJob:
    job = session.scalar(select(CatalogJob).where(CatalogJob.id == job_id).with_for_update())
    if job is None:
        raise _not_found()
    job.heartbeat_at = utcnow()
    return job


def peek(session: Session, job_id: uuid.UUID) -> CatalogJob:
    """The job as it is, neither locked nor touched: for a pass's reading transaction, which
    must not hold the row its batches lock and update."""
    job = session.scalar(select(CatalogJob).where(CatalogJob.id == job_id))
    if job is None:
        raise _not_found()
    return job


# --------------------------------------------------------------------------------------------
# What a job selects
# --------------------------------------------------------------------------------------------


def check_filter(session: Session, given: CatalogFilter) -> None:
    """422 for a filter naming a category that is not the tenant's."""
    if (
        given.category_id is not None
        and repository.get_category(session, given.category_id) is None
    ):
        raise Problem(422, "unknown-category", f"There is no category {given.category_id}")


def check_shop(session: Session, shop_id: uuid.UUID | None) -> None:
    """422 for a shop that is not the tenant's."""
    if shop_id is not None and shop_id not in {s.id for s in shop_service.shops(session)}:
        raise Problem(422, "unknown-shop", f"There is no shop {shop_id}")


def selection(session: Session, given: CatalogFilter) -> Select[Any]:
    """The products a filter selects (none for a category no longer there)."""
    path = None
    if given.category_id is not None:
        category = repository.get_category(session, given.category_id)
        path = category.path if category else "\x00none"
    return repository.products(repository.ProductFilter(given.status, path, given.q))
