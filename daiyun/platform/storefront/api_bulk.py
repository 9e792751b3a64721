"""The catalog's bulk work and order-line matching, under ``/tenants/{tenant}/catalog``:
imports, exports and bulk edits as jobs with progress and a report; unmatched order lines and
their mapping to SKUs. Mounted by ``api.router`` (its prefix names the tenant)."""

from __future__ import annotations

import hashlib
import io
import uuid
from collections.abc import Iterator
from typing import Annotated, Any

from fastapi import APIRouter, Depends, File, Form, Query, UploadFile
from fastapi.responses import Response, StreamingResponse

from daiyun.core import csv_export
from daiyun.core.db import new_session
from daiyun.core.idempotency import IdempotencyKey, idempotent
from daiyun.core.openapi import problems
from daiyun.core.pagination import Cursor, Limit, Page
from daiyun.core.tenancy import bind_tenant
from daiyun.platform.storefront import bulk, exports, imports, jobs, matching, runner
from daiyun.platform.storefront.schemas import (
    BulkEditCreate,
    ExportCreate,
    JobKind,
    JobRead,
    MappingCreate,
    MappingRead,
    UnmatchedLine,
)
from daiyun.tenants.auth.deps import SessionDep, TenantAccess, tenant_access
from daiyun.tenants.auth.permissions import Permission

router = APIRouter(tags=["catalog"])
P = Permission
Reader = Annotated[TenantAccess, Depends(tenant_access(P.catalog_read))]
Manager = Annotated[TenantAccess, Depends(tenant_access(P.catalog_manage))]
# The import's upload may be larger than the API's usual body limit (a multipart envelope
# around a file of up to ``imports.MAX_IMPORT_BYTES``); the application reads this at start.
LARGE_BODIES = {r"/tenants/[^/]+/catalog/imports": imports.MAX_IMPORT_BYTES + (64 << 10)}
CSV: dict[int | str, dict[str, Any]] = {
    200: {"content": {"text/csv": {}}, "description": "A CSV file"}
}


def _digest(upload: UploadFile) -> str:
    """The upload's SHA-256 (what an Idempotency-Key's replay compares), the file rewound."""
    digest = hashlib.sha256()
    while piece := upload.file.read(1 << 20):
        digest.update(piece)
    upload.file.seek(0)
    return digest.hexdigest()


# --------------------------------------------------------------------------------------------
# Imports
# --------------------------------------------------------------------------------------------


@router.post(
    "/catalog/imports",
    response_model=JobRead,
    status_code=202,
    responses=problems(413, 415, 422),
)
def start_import(
    session: SessionDep,
    access: Manager,
    file: Annotated[UploadFile, File(description="The CSV file (UTF-8; , ; or tab separated)")],
    valid_rows_only: Annotated[
        bool, Form(description="Write the valid rows even when others have problems")
    ] = False,
    idempotency_key: IdempotencyKey = None,
) -> Response:
    """Upload a CSV of products, variants and prices and queue its import (202 with the job).
    The file is judged by its content: not CSV text is 415, a header without the columns
    ``product``, ``code``, ``cost_minor`` and ``currency`` (or with unknown ones) 422, past
    20 MiB 413. Every row is checked before anything is written; with any problem nothing is
    written unless ``valid_rows_only``. Follow the job at ``/catalog/imports/{import_id}``."""
    name = (file.filename or "import.csv")[-200:]
    request = {
        "tenant": access.tenant.slug,
        "filename": name,
        "valid_rows_only": valid_rows_only,
        "sha256": _digest(file),
    }
    return idempotent(
        session,
        access.user.id,
        idempotency_key,
        request,
        lambda: jobs.read(
            session,
            runner.queue(
                session,
                imports.start(
                    session,
                    file.file,
                    name,
                    valid_rows_only=valid_rows_only,
                    user_id=access.user.id,
                ),
            ),
        ),
        status_code=202,
    )


@router.get("/catalog/imports/{import_id}", response_model=JobRead)
def get_import(session: SessionDep, access: Reader, import_id: uuid.UUID) -> JobRead:
    """An import's state and progress: rows checked and written, SKUs created, updated and
    skipped, and its first problems."""
    return jobs.read(session, jobs.get(session, import_id, JobKind.import_))


def _report_csv(tenant_id: uuid.UUID, job_id: uuid.UUID) -> Iterator[str]:
    # The answer streams after the request's session closed: the report is read in a session
    # of its own, for the same tenant.
    session = new_session()
    try:
        bind_tenant(session, tenant_id)
        out = io.StringIO()
        writer = csv_export.writer(out)
        writer.writerow(["row", "column", "problem"])
        for n, found in enumerate(jobs.all_problems(session, job_id), start=1):
            writer.writerow([found.row, found.column, found.problem])
            if n % 1000 == 0:
                yield out.getvalue()
                out.seek(0)
                out.truncate()
        yield out.getvalue()
    finally:
        session.close()


@router.get("/catalog/imports/{import_id}/report", response_class=Response, responses=CSV)
def import_report(session: SessionDep, access: Reader, import_id: uuid.UUID) -> Response:
    """The import's report as CSV: row, column, problem (row 1 is the first row after the
    header), by row."""
    job = jobs.get(session, import_id, JobKind.import_)
    return StreamingResponse(
        _report_csv(access.tenant.id, job.id),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="import-{job.id}-report.csv"'},
    )


# --------------------------------------------------------------------------------------------
# Exports
# --------------------------------------------------------------------------------------------


@router.post("/catalog/exports", response_model=JobRead, status_code=202, responses=problems(422))
def start_export(
    session: SessionDep,
    access: Reader,
    body: ExportCreate,
    idempotency_key: IdempotencyKey = None,
) -> Response:
    """Queue a CSV export of the products the filter selects (202 with the job), one row per
    SKU in the columns an import reads; with ``shop_id``, the listing prices on that shop. A
    category or shop that is not the tenant's is 422. Download it at ``/file`` once done."""
    return idempotent(
        session,
        access.user.id,
        idempotency_key,
        {"tenant": access.tenant.slug, **body.model_dump(mode="json")},
        lambda: jobs.read(
            session, runner.queue(session, exports.start(session, body, access.user.id))
        ),
        status_code=202,
    )


@router.get("/catalog/exports/{export_id}", response_model=JobRead)
def get_export(session: SessionDep, access: Reader, export_id: uuid.UUID) -> JobRead:
    """An export's state and progress (``total_rows``: SKU rows written so far)."""
    return jobs.read(session, jobs.get(session, export_id, JobKind.export))


def _file(tenant_id: uuid.UUID, job_id: uuid.UUID) -> Iterator[bytes]:
    session = new_session()
    try:
        bind_tenant(session, tenant_id)
        yield from jobs.file_pieces(session, job_id, "result")
    finally:
        session.close()


@router.get(
    "/catalog/exports/{export_id}/file",
    response_class=Response,
    responses={**CSV, **problems(409)},
)
def export_file(session: SessionDep, access: Reader, export_id: uuid.UUID) -> Response:
    """The finished export as a CSV file (409 while it is being written). Cells a spreadsheet
    would run as formulas are neutralized."""
    job = exports.download(session, export_id)
    return StreamingResponse(
        _file(access.tenant.id, job.id),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="catalog-{job.id}.csv"'},
    )


# --------------------------------------------------------------------------------------------
# Bulk edits
# --------------------------------------------------------------------------------------------


@router.post(
    "/catalog/bulk-edits", response_model=JobRead, status_code=202, responses=problems(422)
)
def start_bulk_edit(
    session: SessionDep,
    access: Manager,
    body: BulkEditCreate,
    idempotency_key: IdempotencyKey = None,
) -> Response:
    """Queue a change of status, category or list price (by a percentage, through the margin
    floor) over the products the filter selects (202 with the job). No change given, or a
    category or shop that is not the tenant's, is 422."""
    return idempotent(
        session,
        access.user.id,
        idempotency_key,
        {"tenant": access.tenant.slug, **body.model_dump(mode="json", exclude_unset=True)},
        lambda: jobs.read(
            session, runner.queue(session, bulk.start(session, body, access.user.id))
        ),
        status_code=202,
    )


@router.get("/catalog/bulk-edits/{edit_id}", response_model=JobRead)
def get_bulk_edit(session: SessionDep, access: Reader, edit_id: uuid.UUID) -> JobRead:
    """A bulk edit's state and progress: products done, products and listings changed,
    listings left as they were (with the problem that kept each)."""
    return jobs.read(session, jobs.get(session, edit_id, JobKind.bulk_edit))


@router.get("/catalog/bulk-edits/{edit_id}/report", response_class=Response, responses=CSV)
def bulk_edit_report(session: SessionDep, access: Reader, edit_id: uuid.UUID) -> Response:
    """The bulk edit's report as CSV: row (the product's place in the selection), column,
    problem: each listing it left as it was, and why."""
    job = jobs.get(session, edit_id, JobKind.bulk_edit)
    return StreamingResponse(
        _report_csv(access.tenant.id, job.id),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="bulk-edit-{job.id}-report.csv"'},
    )


# --------------------------------------------------------------------------------------------
# Order lines matched to SKUs
# --------------------------------------------------------------------------------------------


@router.get("/catalog/unmatched-lines", response_model=Page[UnmatchedLine])
def unmatched_lines(
    session: SessionDep,
    access: Reader,
    shop_id: Annotated[uuid.UUID | None, Query(description="Only this shop's lines")] = None,
    cursor: Cursor = None,
    limit: Limit = 50,
) -> Page[UnmatchedLine]:
    """Order lines that match no SKU (no mapping, no listing with their marketplace SKU id,
    no SKU with their code), one row per shop and marketplace SKU string, with how many lines
    and orders and an example title; by shop and string."""
    rows, next_cursor = matching.unmatched_lines(
        session, shop_id=shop_id, cursor=cursor, limit=limit
    )
    return Page(items=rows, next_cursor=next_cursor)


@router.post(
    "/catalog/unmatched-lines/mappings",
    response_model=MappingRead,
    status_code=201,
    responses=problems(422),
)
def map_lines(
    session: SessionDep,
    access: Manager,
    body: MappingCreate,
    idempotency_key: IdempotencyKey = None,
) -> Response:
    """Map a shop's marketplace SKU string to a SKU: the lines already there and every line
    to come match it (it comes before a listing or a SKU code). Mapping the same string again
    replaces the mapping. A shop or SKU that is not the tenant's is 422."""
    return idempotent(
        session,
        access.user.id,
        idempotency_key,
        {"tenant": access.tenant.slug, **body.model_dump(mode="json")},
        lambda: matching.map_lines(session, body, access.user.id),
    )
