"""The after-sales API (售后): cases with their lines and log, the moves on them, the
merchant's after-sales settings, and the satisfaction surveys' answers. Refunds above the
merchant's threshold need aftersales:approve on top of aftersales:manage; a refused move is
409 problem+json."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Response

from daiyun.core import periods
from daiyun.core.idempotency import IdempotencyKey, idempotent
from daiyun.core.ids import Day
from daiyun.core.openapi import problems
from daiyun.core.pagination import Cursor, Limit, Page
from daiyun.platform.aftersales import api_quality, csat, followups, repurchase, service
from daiyun.platform.aftersales.models import Case
from daiyun.platform.aftersales.schemas import (
    Approve,
    CaseCreate,
    CaseDetail,
    CaseRead,
    CaseState,
    CaseType,
    CsatSummary,
    DockReturn,
    FollowupComplete,
    FollowupRead,
    FollowupReassign,
    FollowupSettingsIn,
    FollowupSettingsRead,
    FollowupSkip,
    FollowupState,
    Note,
    Receive,
    Refund,
    Refuse,
    RepurchaseReport,
    ReturnIn,
    SettingsIn,
    SettingsRead,
    SurveyRead,
)
from daiyun.tenants.auth.deps import SessionDep, TenantAccess, tenant_access
from daiyun.tenants.auth.permissions import Permission

router = APIRouter(tags=["after-sales"])
P = Permission
Reader = Annotated[TenantAccess, Depends(tenant_access(P.aftersales_read))]
Manager = Annotated[TenantAccess, Depends(tenant_access(P.aftersales_manage))]
Approver = Annotated[TenantAccess, Depends(tenant_access(P.aftersales_approve))]
# The returns dock is the warehouse's work: its operators receive returns they cannot decide on.
DockReader = Annotated[TenantAccess, Depends(tenant_access(P.warehouse_read))]
DockHand = Annotated[TenantAccess, Depends(tenant_access(P.warehouse_manage))]
T = "/tenants/{tenant}/aftersales"
CASE = f"{T}/{{case_id}}"
FU = "/tenants/{tenant}/follow-ups"
ONE = f"{FU}/{{followup_id}}"
RETURNS = "/tenants/{tenant}/returns"
CSAT = "/tenants/{tenant}/csat"


@router.get(f"{T}/settings", response_model=SettingsRead)
def get_settings(session: SessionDep, access: Reader) -> SettingsRead:
    """The 三包 periods, auto-approval of small refunds, the approval threshold, respond-by."""
    return service.settings(session)


@router.put(f"{T}/settings", response_model=SettingsRead)
def put_settings(session: SessionDep, access: Approver, body: SettingsIn) -> SettingsRead:
    """Change the rules (as those who approve big refunds may)."""
    return service.put_settings(session, body)


@router.get(T, response_model=Page[CaseRead])
def list_cases(
    session: SessionDep,
    access: Reader,
    state: CaseState | None = None,
    type: CaseType | None = None,
    shop_id: uuid.UUID | None = None,
    order_id: uuid.UUID | None = None,
    cursor: Cursor = None,
    limit: Limit = 50,
) -> Page[CaseRead]:
    """Cases, oldest first, filtered by state, type, shop or order."""
    filters = service.Filters(state, type, shop_id, order_id)
    rows, next_cursor = service.find_cases(session, filters, cursor, limit)
    return Page(items=[CaseRead.model_validate(r) for r in rows], next_cursor=next_cursor)


@router.post(T, response_model=CaseDetail, status_code=201, responses=problems(409, 422))
def create_case(
    session: SessionDep,
    access: Manager,
    body: CaseCreate,
    idempotency_key: IdempotencyKey = None,
) -> Response:
    """Open a case on an order, by hand or from a buyer's conversation (whose order it takes).
    Outside the 三包 period, or asking more than is left to refund: 422."""
    return idempotent(
        session,
        access.user.id,
        idempotency_key,
        {"tenant": access.tenant.slug, **body.model_dump(mode="json")},
        lambda: service.detail(session, service.create_case(session, body, access.user.id)),
    )


@router.get(CASE, response_model=CaseDetail)
def get_case(session: SessionDep, access: Reader, case_id: uuid.UUID) -> CaseDetail:
    """One case with its lines, its log and the moves open to it."""
    return service.detail(session, service.get_case(session, case_id))


def _move(
    session: SessionDep,
    access: TenantAccess,
    case_id: uuid.UUID,
    key: str | None,
    body: object,
    act: Callable[[], Case],
) -> Response:
    dumped = body.model_dump(mode="json") if hasattr(body, "model_dump") else {}
    return idempotent(
        session,
        access.user.id,
        key,
        {"tenant": access.tenant.slug, "case": str(case_id), **dumped},
        lambda: service.detail(session, act()),
        status_code=200,
    )


@router.post(f"{CASE}/approve", response_model=CaseDetail, responses=problems(409))
def approve(
    session: SessionDep,
    access: Manager,
    case_id: uuid.UUID,
    body: Approve,
    idempotency_key: IdempotencyKey = None,
) -> Response:
    """Accept the request (goods to come back for all but a refund only). A request above the
    threshold needs aftersales:approve (403 otherwise); a case past requested: 409."""
    may = access.can(P.aftersales_approve)
    user_id = access.user.id
    return _move(
        session,
        access,
        case_id,
        idempotency_key,
        body,
        lambda: service.approve(session, case_id, user_id, may, body.note),
    )


@router.post(f"{CASE}/refuse", response_model=CaseDetail, responses=problems(409))
def refuse(
    session: SessionDep,
    access: Manager,
    case_id: uuid.UUID,
    body: Refuse,
    idempotency_key: IdempotencyKey = None,
) -> Response:
    """Refuse the request, with the reason the buyer is given."""
    user_id = access.user.id
    return _move(
        session,
        access,
        case_id,
        idempotency_key,
        body,
        lambda: service.refuse(session, case_id, user_id, body.reason),
    )


@router.post(f"{CASE}/receive", response_model=CaseDetail, responses=problems(409, 422))
def receive(
    session: SessionDep,
    access: Manager,
    case_id: uuid.UUID,
    body: Receive,
    idempotency_key: IdempotencyKey = None,
) -> Response:
    """The goods are back: resellable into stock (a return receipt), damaged into a quarantine
    bin (one not pickable)."""
    user_id = access.user.id
    return _move(
        session,
        access,
        case_id,
        idempotency_key,
        body,
        lambda: service.receive(session, case_id, user_id, body),
    )


@router.post(f"{CASE}/refund", response_model=CaseDetail, responses=problems(409, 422))
def refund(
    session: SessionDep,
    access: Manager,
    case_id: uuid.UUID,
    body: Refund,
    idempotency_key: IdempotencyKey = None,
) -> Response:
    """Refund the buyer (by default what the case asks): never above what is left to refund on
    its lines (422); above the threshold only with aftersales:approve (403). Recorded into the
    order book once, even when the marketplace reports the same refund."""
    may = access.can(P.aftersales_approve)
    user_id = access.user.id
    return _move(
        session,
        access,
        case_id,
        idempotency_key,
        body,
        lambda: service.refund(session, case_id, user_id, may, body.amount_minor),
    )


def _settle(name: str) -> Callable[..., Response]:
    act = {"replace": service.replace, "repair": service.repair, "close": service.close}[name]

    def settle(
        session: SessionDep,
        access: Manager,
        case_id: uuid.UUID,
        body: Note,
        idempotency_key: IdempotencyKey = None,
    ) -> Response:
        user_id = access.user.id
        return _move(
            session,
            access,
            case_id,
            idempotency_key,
            body,
            lambda: act(session, case_id, user_id, body.note),
        )

    settle.__name__ = name
    return settle


router.post(
    f"{CASE}/replace",
    response_model=CaseDetail,
    responses=problems(409),
    summary="Replace",
    description="Settle an exchange (or a warranty case) with a replacement.",
)(_settle("replace"))
router.post(
    f"{CASE}/repair",
    response_model=CaseDetail,
    responses=problems(409),
    summary="Repair",
    description="Settle a warranty case by repairing the goods.",
)(_settle("repair"))
router.post(
    f"{CASE}/close",
    response_model=CaseDetail,
    responses=problems(409),
    summary="Close",
    description="Close a settled or refused case.",
)(_settle("close"))


# --- follow-ups (回访) ------------------------------------------------------------------------


@router.get(f"{FU}/settings", response_model=FollowupSettingsRead)
def get_followup_settings(session: SessionDep, access: Manager) -> FollowupSettingsRead:
    """The follow-up rules: days after delivery, after a case closes, the high-value threshold
    (a call instead of a message), and how long a follow-up may wait before it is overdue."""
    return followups.settings(session)


@router.put(f"{FU}/settings", response_model=FollowupSettingsRead)
def put_followup_settings(
    session: SessionDep, access: Approver, body: FollowupSettingsIn
) -> FollowupSettingsRead:
    """Change the follow-up rules (as those who approve big refunds may)."""
    return followups.put_settings(session, body)


@router.get(f"{FU}/repurchase", response_model=RepurchaseReport, responses=problems(422))
def repurchase_report(
    session: SessionDep,
    access: Reader,
    first: Day | None = None,
    last: Day | None = None,
    within_days: Annotated[int, Query(ge=1, le=365)] = 90,
) -> RepurchaseReport:
    """Of the follow-ups completed from ``first`` to ``last`` (the merchant's days; by default
    the 90 days to today), per outcome and in all: how many buyers ordered again within
    ``within_days`` after the call. A period longer than a year, or backwards: 422."""
    first, last = periods.window(access.tenant.time_zone, 90, first, last)
    return repurchase.report(session, first, last, within_days)


@router.get(FU, response_model=Page[FollowupRead])
def list_followups(
    session: SessionDep,
    access: Manager,
    state: FollowupState | None = None,
    mine: bool = False,
    unassigned: bool = False,
    overdue: bool = False,
    order_id: uuid.UUID | None = None,
    cursor: Cursor = None,
    limit: Limit = 50,
) -> Page[FollowupRead]:
    """Follow-ups, oldest first: by state, the caller's own (``mine``), the unassigned, the
    overdue (open and past due), or an order's."""
    filters = followups.Filters(
        state, access.user.id if mine else None, unassigned, overdue, order_id
    )
    rows, next_cursor = followups.find(session, filters, cursor, limit)
    return Page(items=[FollowupRead.model_validate(r) for r in rows], next_cursor=next_cursor)


@router.get(ONE, response_model=FollowupRead)
def get_followup(session: SessionDep, access: Manager, followup_id: uuid.UUID) -> FollowupRead:
    return FollowupRead.model_validate(followups.get(session, followup_id))


def _fu_move(
    session: SessionDep,
    access: TenantAccess,
    followup_id: uuid.UUID,
    key: str | None,
    body: FollowupComplete | FollowupReassign | FollowupSkip,
    act: Callable[[], object],
) -> Response:
    return idempotent(
        session,
        access.user.id,
        key,
        {"tenant": access.tenant.slug, "fu": str(followup_id), **body.model_dump(mode="json")},
        lambda: FollowupRead.model_validate(act()),
        status_code=200,
    )


@router.post(f"{ONE}/complete", response_model=FollowupRead, responses=problems(409, 422))
def complete_followup(
    session: SessionDep,
    access: Manager,
    followup_id: uuid.UUID,
    body: FollowupComplete,
    idempotency_key: IdempotencyKey = None,
) -> Response:
    """Done, with the outcome and a note. "issue_found" opens an after-sales case on the order
    (422 when the case is refused: out of its 三包 period, above what is left to refund). A
    follow-up no longer open: 409."""
    user_id = access.user.id
    return _fu_move(
        session,
        access,
        followup_id,
        idempotency_key,
        body,
        lambda: followups.complete(session, followup_id, user_id, body),
    )


@router.post(f"{ONE}/reassign", response_model=FollowupRead, responses=problems(409, 422))
def reassign_followup(
    session: SessionDep,
    access: Manager,
    followup_id: uuid.UUID,
    body: FollowupReassign,
    idempotency_key: IdempotencyKey = None,
) -> Response:
    """To another customer-service agent of the merchant (422 for anyone else), or back to the
    unassigned queue."""
    return _fu_move(
        session,
        access,
        followup_id,
        idempotency_key,
        body,
        lambda: followups.reassign(session, followup_id, body.assignee_id),
    )


@router.post(f"{ONE}/skip", response_model=FollowupRead, responses=problems(409))
def skip_followup(
    session: SessionDep,
    access: Manager,
    followup_id: uuid.UUID,
    body: FollowupSkip,
    idempotency_key: IdempotencyKey = None,
) -> Response:
    """Not to be made (the buyer asked not to be called...), with a note."""
    user_id = access.user.id
    return _fu_move(
        session,
        access,
        followup_id,
        idempotency_key,
        body,
        lambda: followups.skip(session, followup_id, user_id, body.note),
    )


# --- the returns dock (退货入库) ---------------------------------------------------------------


@router.get(RETURNS, response_model=Page[CaseRead])
def expected_returns(
    session: SessionDep, access: DockReader, cursor: Cursor = None, limit: Limit = 50
) -> Page[CaseRead]:
    """Returns the warehouse expects: cases approved and awaiting the buyer's parcel, oldest
    first."""
    filters = service.Filters(state=CaseState.awaiting_return)
    rows, next_cursor = service.find_cases(session, filters, cursor, limit)
    return Page(items=[CaseRead.model_validate(r) for r in rows], next_cursor=next_cursor)


@router.post(RETURNS, response_model=CaseDetail, status_code=201, responses=problems(409, 422))
def register_return(
    session: SessionDep,
    access: DockHand,
    body: DockReturn,
    idempotency_key: IdempotencyKey = None,
) -> Response:
    """A parcel no request announced: its return case is opened on the order, accepted and
    received line by line (resellable into stock, damaged into quarantine). The refund is
    decided on the case afterwards."""
    return idempotent(
        session,
        access.user.id,
        idempotency_key,
        {"tenant": access.tenant.slug, "dock": True, **body.model_dump(mode="json")},
        lambda: service.detail(session, service.register_return(session, body, access.user.id)),
    )


@router.post(
    f"{RETURNS}/{{return_id}}/receive", response_model=CaseDetail, responses=problems(409, 422)
)
def receive_return(
    session: SessionDep,
    access: DockHand,
    return_id: uuid.UUID,
    body: ReturnIn,
    idempotency_key: IdempotencyKey = None,
) -> Response:
    """An expected return received line by line, each with its condition and bin (all in one
    warehouse; never more units than the case names: 422). A case not awaiting goods: 409."""
    user_id = access.user.id
    return _move(
        session,
        access,
        return_id,
        idempotency_key,
        body,
        lambda: service.receive(session, return_id, user_id, body),
    )


# --- satisfaction surveys (CSAT) -----------------------------------------------------------


@router.get(CSAT, response_model=Page[SurveyRead])
def list_surveys(
    session: SessionDep,
    access: Reader,
    agent_id: uuid.UUID | None = None,
    answered: bool | None = None,
    rating: Annotated[int | None, Query(ge=1, le=5)] = None,
    cursor: Cursor = None,
    limit: Limit = 50,
) -> Page[SurveyRead]:
    """Surveys offered on resolved conversations, newest first; of one agent, answered or not,
    or of one rating if named."""
    rows, next_cursor = csat.find(session, agent_id, answered, rating, cursor, limit)
    return Page(items=[SurveyRead.model_validate(s) for s in rows], next_cursor=next_cursor)


@router.get(f"{CSAT}/summary", response_model=CsatSummary, responses=problems(422))
def csat_summary(
    session: SessionDep, access: Reader, first: Day | None = None, last: Day | None = None
) -> CsatSummary:
    """Per agent and in all, of the surveys sent from ``first`` to ``last`` (the merchant's
    days; by default the 30 days to today): sent, answered, skipped, the mean rating, the share
    rated 4 or 5 (the CSAT score) and the response rate. Backwards or over a year: 422."""
    first, last = periods.window(access.tenant.time_zone, 30, first, last)
    return csat.summary(session, first, last, access.tenant.time_zone)


router.include_router(api_quality.router)
