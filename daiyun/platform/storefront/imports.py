"""CSV import of products, variants and prices (商品导入), as a background job.

The file: a header, then one row per SKU. A product's rows follow one another under the same
``product`` name (its product columns are read from its first row); a row whose ``code`` is
already the tenant's updates that SKU and its product, any other row adds one. ``attributes``
is a JSON object; amounts are integer minor units; ``shop_id`` with ``list_price_minor`` (and
``sale_price_minor``) prices the SKU's listing on that shop, a draft listing when it has none,
through the margin floor: a price a ``block`` floor refuses is a problem of its row, a ``warn``
floor flags the listing. A column left out of the header leaves that field as it is; an empty
cell clears a field that may be empty.

Two passes over the stored file, never holding it whole: the first checks every row and writes
the report (row, column, problem); with any problem nothing is written (the job is
``rejected``) unless ``valid_rows_only`` was asked. The second writes in batches of whole
products, Core ``executemany`` inserts and updates, each batch committed with the job's
progress, so a resumed run starts after the last committed row and never adds a SKU twice.
"""

from __future__ import annotations

import csv
import io
import uuid
from collections.abc import Iterator
from typing import IO, Any

from sqlalchemy.orm import Session

from daiyun.core.db import unit_of_work
from daiyun.core.errors import Problem
from daiyun.platform.storefront import jobs
from daiyun.platform.storefront.import_rows import COLUMNS, REQUIRED, Context, Raw, check_batch
from daiyun.platform.storefront.import_writes import write_batch
from daiyun.platform.storefront.models import CatalogJob
from daiyun.platform.storefront.schemas import JobKind, JobState

# An upload's size: 20 MiB holds some 150,000 SKU rows.
MAX_IMPORT_BYTES = 20 << 20
# Rows checked, or written, per transaction: whole products, so a batch may run a little over.
BATCH_ROWS = 2000

# Files that are not text, recognised by their first bytes (a spreadsheet saved as .xlsx is
# the usual mistake).
_BINARY_MAGIC = (b"PK\x03\x04", b"%PDF", b"\x89PNG", b"GIF8", b"\xff\xd8\xff", b"\xd0\xcf\x11\xe0")

# --------------------------------------------------------------------------------------------
# The upload
# --------------------------------------------------------------------------------------------


def sniff(head: bytes) -> tuple[str, list[str]]:
    """The delimiter and header of a CSV file from its first bytes, judged by content: a
    binary file is 415, a header without the required columns (or with unknown ones) 422."""
    if head.startswith(_BINARY_MAGIC) or b"\x00" in head:
        raise Problem(415, "not-csv", "The file is not CSV text (a spreadsheet? save it as CSV)")
    text = head.decode("utf-8-sig", errors="ignore") if head else ""
    try:
        head.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        # Only the piece's last character may be cut by the piece's end.
        if exc.start < len(head) - 4:
            raise Problem(415, "not-utf8", "The file is not UTF-8 text") from exc
    first = text.splitlines()[0] if text.strip() else ""
    if not first:
        raise Problem(422, "empty-file", "The file has no header row")
    try:
        delimiter = csv.Sniffer().sniff(first, delimiters=",;\t").delimiter
    except csv.Error:
        delimiter = ","
    header = [h.strip() for h in next(csv.reader([first], delimiter=delimiter))]
    missing = [c for c in REQUIRED if c not in header]
    unknown = [h for h in header if h not in COLUMNS]
    repeated = sorted({h for h in header if header.count(h) > 1})
    if missing or unknown or repeated:
        parts = []
        if missing:
            parts.append(f"missing columns: {', '.join(missing)}")
        if unknown:
            parts.append(f"unknown columns: {', '.join(h[:40] for h in unknown[:10])}")
        if repeated:
            parts.append(f"columns given twice: {', '.join(repeated)}")
        raise Problem(
            422,
            "bad-header",
            "; ".join(parts) + f" (columns: {', '.join(COLUMNS)})",
            missing=missing,
            unknown=[h[:40] for h in unknown[:10]],
        )
    return delimiter, header


def _pieces(upload: IO[bytes], first: bytes) -> Iterator[bytes]:
    size = len(first)
    yield first
    while True:
        piece = upload.read(jobs.CHUNK_BYTES)
        if not piece:
            return
        size += len(piece)
        if size > MAX_IMPORT_BYTES:
            raise Problem(
                413, "file-too-large", f"An import file is at most {MAX_IMPORT_BYTES:,} bytes"
            )
        yield piece


def start(
    session: Session,
    upload: IO[bytes],
    filename: str | None,
    *,
    valid_rows_only: bool,
    user_id: uuid.UUID | None,
) -> CatalogJob:
    """Store an uploaded CSV and queue its import (sniffed first: 415 or 422 for a file that
    is not one; 413 past ``MAX_IMPORT_BYTES``)."""
    first = upload.read(jobs.CHUNK_BYTES)
    delimiter, header = sniff(first)
    name = (filename or "import.csv").replace("\x00", "")[-200:]
    job = jobs.create(
        session,
        JobKind.import_,
        {"valid_rows_only": valid_rows_only, "delimiter": delimiter, "columns": header},
        user_id=user_id,
        filename=name,
    )
    jobs.store_file(session, job.id, "upload", _pieces(upload, first))
    return job


# --------------------------------------------------------------------------------------------
# Reading the stored file
# --------------------------------------------------------------------------------------------


class _Pieces(io.RawIOBase):
    """The stored pieces of a file as one readable stream."""

    def __init__(self, pieces: Iterator[bytes]) -> None:
        self._pieces = pieces
        self._buffer = b""

    def readable(self) -> bool:
        return True

    def readinto(self, target: Any) -> int:
        while not self._buffer:
            try:
                self._buffer = next(self._pieces)
            except StopIteration:
                return 0
        n = min(len(target), len(self._buffer))
        target[:n] = self._buffer[:n]
        self._buffer = self._buffer[n:]
        return n


def _rows(job: CatalogJob) -> Iterator[Raw]:
    """(row number, cells by column) for every data row; row 1 follows the header."""
    stream = io.TextIOWrapper(
        io.BufferedReader(_Pieces(jobs.stored_pieces(job.tenant_id, job.id, "upload"))),
        encoding="utf-8-sig",
        newline="",
    )
    reader = csv.reader(stream, delimiter=job.options.get("delimiter", ","))
    header = [h.strip() for h in next(reader, [])]
    for number, cells in enumerate(reader, start=1):
        if not "".join(cells).strip():
            continue
        yield (
            number,
            dict(zip(header, cells, strict=False))
            | ({"": "\x00extra"} if len(cells) > len(header) else {}),
        )


def _groups(rows: Iterator[Raw]) -> Iterator[list[Raw]]:
    """Consecutive rows under one product name."""
    group: list[Raw] = []
    for row in rows:
        if group and row[1].get("product", "").strip() != group[0][1].get("product", "").strip():
            yield group
            group = []
        group.append(row)
    if group:
        yield group


def _batches(rows: Iterator[Raw]) -> Iterator[list[list[Raw]]]:
    batch: list[list[Raw]] = []
    size = 0
    for group in _groups(rows):
        batch.append(group)
        size += len(group)
        if size >= BATCH_ROWS:
            yield batch
            batch, size = [], 0
    if batch:
        yield batch


# --------------------------------------------------------------------------------------------
# The job
# --------------------------------------------------------------------------------------------


def run(tenant_id: uuid.UUID, job_id: uuid.UUID) -> None:
    """Check the whole file (unless an earlier run got past it), then write it in batches
    from where the last committed batch ended."""
    with unit_of_work(tenant_id) as session:
        job = jobs.load(session, job_id)
        state = job.state
        if state is JobState.queued:
            job.state = state = JobState.validating
    if state is JobState.validating and not _validate(tenant_id, job_id):
        return
    _write(tenant_id, job_id)


def _start_pass(tenant_id: uuid.UUID, job_id: uuid.UUID) -> tuple[CatalogJob, Context]:
    """The job as it is and what the checks read, in a short transaction: a pass holds no
    transaction open across the batches it commits (each piece of the file is read in one of
    its own too)."""
    with unit_of_work(tenant_id) as session:
        return jobs.peek(session, job_id), Context.load(session)


def _validate(tenant_id: uuid.UUID, job_id: uuid.UUID) -> bool:
    """The first pass: every row checked, every problem recorded; True when the writing may
    start (no problems, or the valid rows only were asked for)."""
    with unit_of_work(tenant_id) as session:
        job = jobs.load(session, job_id)
        # A run that stopped mid-check starts the check again: it wrote nothing but problems.
        jobs.clear_problems(session, job)
        job.checked_rows = job.total_rows = 0
    job, ctx = _start_pass(tenant_id, job_id)
    try:
        for batch in _batches(_rows(job)):
            # Each batch's problems and progress commit on their own: the job shows how far
            # the check is.
            with unit_of_work(tenant_id) as session:
                _, problems = check_batch(session, ctx, batch)
                progress = jobs.load(session, job_id)
                jobs.add_problems(session, progress, problems)
                progress.checked_rows = batch[-1][-1][0]
                progress.total_rows += sum(len(g) for g in batch)
    except (UnicodeDecodeError, csv.Error) as exc:
        with unit_of_work(tenant_id) as session:
            progress = jobs.load(session, job_id)
            jobs.add_problems(
                session, progress, [(progress.checked_rows + 1, "", f"unreadable: {exc}")]
            )
            jobs.finish(session, progress, JobState.rejected)
        return False
    with unit_of_work(tenant_id) as session:
        job = jobs.load(session, job_id)
        if job.problem_count and not job.options.get("valid_rows_only"):
            jobs.finish(session, job, JobState.rejected)
            return False
        job.state = JobState.writing
        return True


def _write(tenant_id: uuid.UUID, job_id: uuid.UUID) -> None:
    """The second pass: batches of whole products, each committed with the job's progress."""
    job, ctx = _start_pass(tenant_id, job_id)
    done = job.written_rows
    for batch in _batches(_rows(job)):
        last = batch[-1][-1][0]
        if last <= done:
            # Written by an earlier run; its codes still count as the file's.
            ctx.seen_codes.update({r.get("code", "").strip(): n for g in batch for n, r in g})
            continue
        with unit_of_work(tenant_id) as session:
            progress = jobs.load(session, job_id)
            if progress.written_rows >= last:
                continue  # another run of the same job got here first
            valid, _ = check_batch(session, ctx, batch)
            created, updated = write_batch(session, valid)
            rows = sum(len(g) for g in batch)
            progress.written_rows = last
            progress.created_count += created
            progress.updated_count += updated
            progress.skipped_count += rows - created - updated
        done = last
    with unit_of_work(tenant_id) as session:
        job = jobs.load(session, job_id)
        jobs.finish(session, job, JobState.succeeded)
