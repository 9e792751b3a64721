"""Contracts, service facts and statements (结算单) of a tenant, and their exports."""

from __future__ import annotations

import uuid
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Header, Query, Request, Response
from fastapi.responses import JSONResponse

from daiyun.billing import exports, pdf, repository, service, webhooks
from daiyun.billing.facts import Period
from daiyun.billing.models import ServiceFactRecord, Statement, StatementStatus
from daiyun.billing.schemas import (
    ContractCreate,
    ContractRead,
    ServiceFactCreate,
    ServiceFactRead,
    StatementDetail,
    StatementRead,
    StripeAcknowledgement,
    VersionCreate,
    VoidBody,
    preview_of,
)
from daiyun.core.errors import Problem
from daiyun.core.openapi import problems
from daiyun.core.pagination import Cursor, Limit, Page, paginate
from daiyun.tenants.auth.deps import SessionDep, TenantAccess, tenant_access
from daiyun.tenants.auth.permissions import Permission

router = APIRouter(prefix="/tenants/{tenant}", tags=["billing"])
P = Permission
Reader = Annotated[TenantAccess, Depends(tenant_access(P.billing_read))]
Manager = Annotated[TenantAccess, Depends(tenant_access(P.billing_manage))]
# The years Period accepts (2000-2999) and the twelve months, so the schema says the whole rule.
PeriodQuery = Annotated[str, Query(pattern=r"^2\d{3}-(0[1-9]|1[0-2])$", examples=["2026-10"])]


def _period(text: str) -> Period:
    try:
        return Period.parse(text)
    except ValueError as exc:
        raise Problem(422, "invalid-period", str(exc)) from exc


@router.post(
    "/contracts", status_code=201, response_model=ContractRead, responses=problems(409, 422)
)
def create_contract(session: SessionDep, access: Manager, body: ContractCreate) -> ContractRead:
    """The tenant's contract with its first version of terms."""
    return ContractRead.model_validate(service.create_contract(session, body, access.user.id))


@router.get("/contracts", response_model=list[ContractRead])
def list_contracts(session: SessionDep, access: Reader) -> list[ContractRead]:
    """The tenant's contract (at most one) with every version."""
    found = repository.contract(session)
    return [ContractRead.model_validate(found)] if found else []


@router.get("/contracts/{contract_id}", response_model=ContractRead)
def get_contract(session: SessionDep, access: Reader, contract_id: uuid.UUID) -> ContractRead:
    """One contract with every version."""
    found = service.get_contract(session)
    if found.id != contract_id:
        raise Problem(404, "not-found", "No such contract")
    return ContractRead.model_validate(found)


@router.post(
    "/contracts/{contract_id}/versions",
    status_code=201,
    response_model=ContractRead,
    responses=problems(404, 409, 422),
)
def add_version(
    session: SessionDep, access: Manager, contract_id: uuid.UUID, body: VersionCreate
) -> ContractRead:
    """New terms from a date on; the previous version ends the day before."""
    return ContractRead.model_validate(
        service.add_version(session, contract_id, body, access.user.id)
    )


@router.post(
    "/service-facts",
    status_code=201,
    response_model=ServiceFactRead,
    responses={
        200: {"model": ServiceFactRead, "description": "A retry: the fact recorded before"},
        **problems(409, 422),
    },
)
def record_service_fact(
    session: SessionDep,
    access: Manager,
    body: ServiceFactCreate,
    idempotency_key: Annotated[str, Header(alias="Idempotency-Key", min_length=1, max_length=200)],
) -> Response:
    """Record billable work that is not an order (ad spend, pallet-days, picks, placements,
    one-off fees). The Idempotency-Key makes a retry harmless: 201 the first time, 200 after."""
    record, created = service.record_fact(session, idempotency_key, body)
    read = ServiceFactRead.model_validate(record)
    return JSONResponse(read.model_dump(mode="json"), status_code=201 if created else 200)


@router.get("/service-facts", response_model=Page[ServiceFactRead])
def list_service_facts(
    session: SessionDep, access: Reader, cursor: Cursor = None, limit: Limit = 50
) -> Page[ServiceFactRead]:
    """Recorded service facts, oldest first."""
    stmt = repository.service_facts()
    rows, next_cursor = paginate(session, stmt, ServiceFactRecord.id, cursor, limit)
    return Page(items=[ServiceFactRead.model_validate(r) for r in rows], next_cursor=next_cursor)


@router.get(
    "/statements/preview", response_model=StatementDetail, responses=problems(404, 409, 422)
)
def preview_statement(session: SessionDep, access: Reader, period: PeriodQuery) -> StatementDetail:
    """What the statement of a period would say now; nothing is saved. A finalized period
    answers its statement as it was closed."""
    closed = repository.live_statement(session, str(_period(period)))
    if closed is not None and closed.status == StatementStatus.finalized:
        return StatementDetail.model_validate(closed)
    computed = service.compute(session, _period(period))
    return preview_of(period, computed.version.version, computed.terms.currency, computed)


@router.post(
    "/statements",
    status_code=201,
    response_model=StatementDetail,
    responses=problems(404, 409, 422),
)
def generate_statement(
    session: SessionDep, access: Manager, period: PeriodQuery
) -> StatementDetail:
    """Build or rebuild the draft statement of a period (409 once it is finalized)."""
    return StatementDetail.model_validate(service.generate(session, _period(period)))


@router.get("/statements", response_model=Page[StatementRead])
def list_statements(
    session: SessionDep, access: Reader, cursor: Cursor = None, limit: Limit = 50
) -> Page[StatementRead]:
    """Statements with their status and payment state, oldest first."""
    rows, next_cursor = paginate(session, repository.statements(), Statement.id, cursor, limit)
    return Page(items=[StatementRead.model_validate(s) for s in rows], next_cursor=next_cursor)


@router.get("/statements/{statement_id}", response_model=StatementDetail)
def get_statement(session: SessionDep, access: Reader, statement_id: uuid.UUID) -> StatementDetail:
    """One statement with its lines and the facts behind each line."""
    return StatementDetail.model_validate(service.get_statement(session, statement_id))


@router.get("/statements/{statement_id}/sources", response_model=Page[str])
def statement_line_sources(
    session: SessionDep,
    access: Reader,
    statement_id: uuid.UUID,
    line: Annotated[int, Query(ge=0, description="The line's position")] = 0,
    cursor: Cursor = None,
    limit: Limit = 50,
) -> Page[str]:
    """The facts behind one line of a statement (``order:<id>``, ``refund:<id>``,
    ``service:<id>``), a page at a time: a commission line names its orders by a selector
    (``orders:<kind>``), and this answers which orders it stands for."""
    keys, next_cursor = service.line_sources(session, statement_id, line, cursor, limit)
    return Page(items=keys, next_cursor=next_cursor)


@router.post(
    "/statements/{statement_id}/finalize",
    response_model=StatementDetail,
    responses=problems(404, 409, 422),
)
def finalize_statement(
    session: SessionDep, access: Manager, statement_id: uuid.UUID
) -> StatementDetail:
    """Close a draft: recomputed from the facts of this moment, then immutable."""
    return StatementDetail.model_validate(service.finalize(session, statement_id))


@router.post(
    "/statements/{statement_id}/void", response_model=StatementDetail, responses=problems(409)
)
def void_statement(
    session: SessionDep, access: Manager, statement_id: uuid.UUID, body: VoidBody
) -> StatementDetail:
    """Void a statement with a reason; its facts may be billed again."""
    return StatementDetail.model_validate(service.void(session, statement_id, body.reason))


@router.get(
    "/statements/{statement_id}/csv",
    response_class=Response,
    responses={200: {"content": {"text/csv": {}}}},
)
def statement_csv(session: SessionDep, access: Reader, statement_id: uuid.UUID) -> Response:
    """The statement's lines as CSV."""
    statement = service.get_statement(session, statement_id)
    return Response(
        exports.to_csv(statement),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="statement-{statement.period}.csv"'},
    )


@router.get(
    "/statements/{statement_id}/pdf",
    response_class=Response,
    responses={200: {"content": {"application/pdf": {}}}},
)
def statement_pdf(
    session: SessionDep,
    access: Reader,
    statement_id: uuid.UUID,
    lang: Annotated[Literal["zh", "en"] | None, Query(description="zh or en")] = None,
    accept_language: Annotated[str | None, Header()] = None,
) -> Response:
    """The statement as a PDF for accounting, in ``lang``, else the ``Accept-Language``'s best of
    zh and en (default en): letterhead, bill-to, number, dates, lines, VAT, totals."""
    statement = service.get_statement(session, statement_id)
    language = pdf.negotiate(lang, accept_language)
    return Response(
        pdf.to_pdf(statement, access.tenant, language),
        media_type="application/pdf",
        headers={
            "Content-Disposition": f'attachment; filename="statement-{statement.period}.pdf"',
            "Content-Language": language,
            "Vary": "Accept-Language",
        },
    )


# --- Stripe webhooks -------------------------------------------------------------------------

ingress = APIRouter(tags=["webhooks"])


async def raw_body(request: Request) -> bytes:
    """The request body exactly as sent: the signature is computed over these bytes."""
    return await request.body()


@ingress.post(
    "/webhooks/stripe", response_model=StripeAcknowledgement, responses=problems(400, 401, 404)
)
def stripe_webhook(
    session: SessionDep, request: Request, body: Annotated[bytes, Depends(raw_body)]
) -> StripeAcknowledgement:
    """Stripe's invoice events: 401 on a bad, malformed or stale signature (tolerance 300 s),
    400 on an authentic body that is not of a Stripe event's shape (ids as strings, ``created``
    in whole seconds, ``data.object`` and its ``metadata`` objects); stored once by event id,
    applied to the statement's payment state in a ``billing``-queue task (other event types
    are acknowledged and ignored)."""
    receipt = webhooks.receive(session, body, request.headers.get("stripe-signature"))
    return StripeAcknowledgement(status=receipt.status, event_id=receipt.event_id)
