"""The recruiting API (人事代理): a merchant's requisitions and postings, candidates (search,
likely duplicates, merge), applications and their pipeline (stage moves, refusals, bulk), and
the recruiting settings. Recruiters manage (``recruiting:manage``); the merchant's owner
reviews (``recruiting:review``: reads, and the shortlist); viewers see nothing of it.

Offers and placements are ``api_offers``, the recruiting report ``api_reports``, part-time
teams ``api_teams``; the public
careers pages are the portal's (``portal/views/careers.py``)."""

from __future__ import annotations

import uuid
from typing import Annotated
from urllib.parse import quote

from fastapi import APIRouter, Depends, Query, Response

from daiyun.core.openapi import problems
from daiyun.core.pagination import Cursor, Limit, Page
from daiyun.platform.recruiting import (
    api_offers,
    api_reports,
    api_teams,
    interviews,
    privacy,
    rules,
    service,
)
from daiyun.platform.recruiting.models import ApplicationStatus, RequisitionStatus
from daiyun.platform.recruiting.schemas import (
    ApplicationCreate,
    ApplicationRead,
    Bulk,
    CandidateCreate,
    CandidateErase,
    CandidateMerge,
    CandidateRead,
    InterviewCreate,
    InterviewRead,
    InterviewUpdate,
    Move,
    PostingCreate,
    PostingRead,
    PostingUpdate,
    Refusal,
    RequisitionCreate,
    RequisitionRead,
    RequisitionUpdate,
    ScorecardCreate,
    ScorecardRead,
    ScorecardSummary,
    SettingsIn,
    SettingsRead,
    Shortlist,
    StageMoveRead,
    StatusIn,
)
from daiyun.tenants.auth.deps import SessionDep, TenantAccess, tenant_access
from daiyun.tenants.auth.permissions import Permission

router = APIRouter(tags=["recruiting"])
P = Permission
Reviewer = Annotated[TenantAccess, Depends(tenant_access(P.recruiting_review))]
Manager = Annotated[TenantAccess, Depends(tenant_access(P.recruiting_manage))]
T = "/tenants/{tenant}"
StageQuery = Annotated[
    str | None, Query(min_length=1, max_length=40, pattern=r"^[0-9a-z_\-\u4e00-\u9fff]+$")
]
SearchQuery = Annotated[str | None, Query(min_length=1, max_length=100, pattern=r"^[^\x00]*$")]


def _attachment(filename: str) -> str:
    # An ASCII name for every client, and the real one (Chinese included) for those that read
    # RFC 6266's filename*.
    plain = filename.encode("ascii", "replace").decode().replace("?", "_")
    return f"attachment; filename=\"{plain}\"; filename*=UTF-8''{quote(filename)}"


# --- settings ------------------------------------------------------------------------------


@router.get(f"{T}/recruiting-settings", response_model=SettingsRead)
def get_settings(session: SessionDep, access: Reviewer) -> SettingsRead:
    """The pipeline template new requisitions copy, and how long candidates' data is kept."""
    return SettingsRead.model_validate(service.get_settings(session))


@router.put(f"{T}/recruiting-settings", response_model=SettingsRead)
def put_settings(session: SessionDep, access: Manager, body: SettingsIn) -> SettingsRead:
    """Customize the pipeline (from ``applied`` to ``hired``); existing requisitions keep
    theirs."""
    return SettingsRead.model_validate(service.put_settings(session, body))


# --- requisitions --------------------------------------------------------------------------


@router.get(f"{T}/requisitions", response_model=Page[RequisitionRead])
def list_requisitions(
    session: SessionDep,
    access: Reviewer,
    status: RequisitionStatus | None = None,
    cursor: Cursor = None,
    limit: Limit = 50,
) -> Page[RequisitionRead]:
    rows, next_cursor = service.find_requisitions(session, status, cursor, limit)
    return Page(items=[RequisitionRead.model_validate(r) for r in rows], next_cursor=next_cursor)


@router.post(
    f"{T}/requisitions", response_model=RequisitionRead, status_code=201, responses=problems(422)
)
def create_requisition(
    session: SessionDep, access: Manager, body: RequisitionCreate
) -> RequisitionRead:
    """A role to fill, pending the merchant's approval (the hiring manager must be a member)."""
    return RequisitionRead.model_validate(service.create_requisition(session, body))


@router.get(f"{T}/requisitions/{{requisition_id}}", response_model=RequisitionRead)
def get_requisition(
    session: SessionDep, access: Reviewer, requisition_id: uuid.UUID
) -> RequisitionRead:
    return RequisitionRead.model_validate(service.get_requisition(session, requisition_id))


@router.patch(
    f"{T}/requisitions/{{requisition_id}}", response_model=RequisitionRead, responses=problems(422)
)
def update_requisition(
    session: SessionDep, access: Manager, requisition_id: uuid.UUID, body: RequisitionUpdate
) -> RequisitionRead:
    found = service.get_requisition(session, requisition_id, lock=True)
    return RequisitionRead.model_validate(service.update_requisition(session, found, body))


@router.post(
    f"{T}/requisitions/{{requisition_id}}/status",
    response_model=RequisitionRead,
    responses=problems(409),
)
def set_requisition_status(
    session: SessionDep, access: Manager, requisition_id: uuid.UUID, body: StatusIn
) -> RequisitionRead:
    """Approve (pending → open: the time-to-fill clock starts), hold, fill or cancel."""
    found = service.get_requisition(session, requisition_id, lock=True)
    return RequisitionRead.model_validate(service.set_status(session, found, body.status))


# --- postings ------------------------------------------------------------------------------


@router.get(f"{T}/postings", response_model=Page[PostingRead])
def list_postings(
    session: SessionDep,
    access: Reviewer,
    requisition_id: uuid.UUID | None = None,
    cursor: Cursor = None,
    limit: Limit = 50,
) -> Page[PostingRead]:
    rows, next_cursor = service.find_postings(session, requisition_id, cursor, limit)
    return Page(items=[PostingRead.model_validate(p) for p in rows], next_cursor=next_cursor)


@router.post(f"{T}/postings", response_model=PostingRead, status_code=201)
def create_posting(session: SessionDep, access: Manager, body: PostingCreate) -> PostingRead:
    """A requisition as the careers page shows it (while published and the requisition open)."""
    return PostingRead.model_validate(service.create_posting(session, body))


@router.patch(f"{T}/postings/{{posting_id}}", response_model=PostingRead)
def update_posting(
    session: SessionDep, access: Manager, posting_id: uuid.UUID, body: PostingUpdate
) -> PostingRead:
    found = service.get_posting(session, posting_id)
    return PostingRead.model_validate(service.update_posting(session, found, body))


# --- candidates ----------------------------------------------------------------------------


@router.get(f"{T}/candidates", response_model=Page[CandidateRead])
def list_candidates(
    session: SessionDep,
    access: Reviewer,
    q: SearchQuery = None,
    cursor: Cursor = None,
    limit: Limit = 50,
) -> Page[CandidateRead]:
    """Candidates (merged ones left out), searched by name, e-mail or phone."""
    rows, next_cursor = service.find_candidates(session, q, cursor, limit)
    return Page(items=[CandidateRead.model_validate(c) for c in rows], next_cursor=next_cursor)


@router.post(
    f"{T}/candidates", response_model=CandidateRead, status_code=201, responses=problems(422)
)
def create_candidate(session: SessionDep, access: Manager, body: CandidateCreate) -> CandidateRead:
    """Enter a candidate: one already known by this e-mail (or phone) is answered instead, and
    one that only looks like another is flagged as a likely duplicate."""
    return CandidateRead.model_validate(service.create_candidate(session, body))


@router.get(f"{T}/candidates/duplicates", response_model=Page[CandidateRead])
def list_duplicates(
    session: SessionDep, access: Reviewer, cursor: Cursor = None, limit: Limit = 50
) -> Page[CandidateRead]:
    """Candidates flagged as likely the same person as another (``duplicate_of_id``), to merge."""
    rows, next_cursor = service.find_duplicates(session, cursor, limit)
    return Page(items=[CandidateRead.model_validate(c) for c in rows], next_cursor=next_cursor)


@router.get(f"{T}/candidates/{{candidate_id}}", response_model=CandidateRead)
def get_candidate(session: SessionDep, access: Reviewer, candidate_id: uuid.UUID) -> CandidateRead:
    return CandidateRead.model_validate(service.get_candidate(session, candidate_id))


@router.post(
    f"{T}/candidates/{{candidate_id}}/merge",
    response_model=CandidateRead,
    responses=problems(409, 422),
)
def merge_candidate(
    session: SessionDep, access: Manager, candidate_id: uuid.UUID, body: CandidateMerge
) -> CandidateRead:
    """Merge this candidate into another: applications move, the row points at the survivor."""
    merged = service.merge(session, candidate_id, body.into_id, access.user.id)
    return CandidateRead.model_validate(merged)


@router.get(
    f"{T}/candidates/{{candidate_id}}/export",
    response_class=Response,
    responses={200: {"content": {"application/zip": {}}, "description": "The candidate's data"}},
)
def export_candidate(session: SessionDep, access: Manager, candidate_id: uuid.UUID) -> Response:
    """Everything held on the candidate, as a ZIP: ``candidate.json`` (applications with their
    moves, interviews, scorecards, offers) and the files they sent. The access is audited."""
    return Response(
        privacy.export(session, candidate_id),
        media_type="application/zip",
        headers={
            "Content-Disposition": _attachment(f"candidate-{candidate_id}.zip"),
            "Cache-Control": "no-store",
        },
    )


@router.post(f"{T}/candidates/{{candidate_id}}/erase", response_model=CandidateRead)
def erase_candidate(
    session: SessionDep, access: Manager, candidate_id: uuid.UUID, body: CandidateErase
) -> CandidateRead:
    """Erase the candidate's personal data on their request: name, contacts, notes and files
    go; stages, dates, ratings and amounts stay for the counts. Again: nothing changes."""
    return CandidateRead.model_validate(privacy.erase(session, candidate_id, body.reason))


# --- applications --------------------------------------------------------------------------


@router.get(f"{T}/applications", response_model=Page[ApplicationRead])
def list_applications(
    session: SessionDep,
    access: Reviewer,
    requisition_id: uuid.UUID | None = None,
    candidate_id: uuid.UUID | None = None,
    stage: StageQuery = None,
    status: ApplicationStatus | None = None,
    shortlisted: bool | None = None,
    cursor: Cursor = None,
    limit: Limit = 50,
) -> Page[ApplicationRead]:
    rows, next_cursor = service.find_applications(
        session, requisition_id, candidate_id, stage, status, shortlisted, cursor, limit
    )
    return Page(items=service.read_applications(session, rows), next_cursor=next_cursor)


@router.post(
    f"{T}/applications",
    response_model=ApplicationRead,
    status_code=201,
    responses=problems(409, 422),
)
def create_application(
    session: SessionDep, access: Manager, body: ApplicationCreate
) -> ApplicationRead:
    """Put a known candidate on a requisition's pipeline, at its first stage."""
    found = service.create_application(session, body, access.user.id)
    return service.read_applications(session, [found])[0]


@router.post(
    f"{T}/applications-bulk", response_model=list[ApplicationRead], responses=problems(409, 422)
)
def bulk_applications(session: SessionDep, access: Manager, body: Bulk) -> list[ApplicationRead]:
    """Move or refuse many applications at once, all or none (the first that cannot: refused
    with its id named)."""
    return service.read_applications(session, service.bulk(session, body, access.user.id))


@router.get(f"{T}/applications/{{application_id}}", response_model=ApplicationRead)
def get_application(
    session: SessionDep, access: Reviewer, application_id: uuid.UUID
) -> ApplicationRead:
    return service.read_applications(session, [service.get_application(session, application_id)])[0]


@router.get(f"{T}/applications/{{application_id}}/moves", response_model=list[StageMoveRead])
def application_moves(
    session: SessionDep, access: Reviewer, application_id: uuid.UUID
) -> list[StageMoveRead]:
    """The application's stage log, oldest first: written once, never edited."""
    found = service.get_application(session, application_id)
    return [StageMoveRead.model_validate(m) for m in service.stage_log(session, [found.id])]


@router.get(
    f"{T}/applications/{{application_id}}/cv",
    response_class=Response,
    responses={200: {"content": {rules.PDF: {}, rules.DOCX: {}}, "description": "The CV"}},
)
def application_cv(session: SessionDep, access: Reviewer, application_id: uuid.UUID) -> Response:
    """The CV as it was sent, always as an attachment (the read is audited)."""
    service.get_application(session, application_id)
    found = service.cv(session, application_id, access.user.id)
    return Response(
        found.data,
        media_type=found.content_type,
        headers={
            "Content-Disposition": _attachment(found.filename),
            "X-Content-Type-Options": "nosniff",
            "Cache-Control": "no-store",
        },
    )


@router.post(
    f"{T}/applications/{{application_id}}/move",
    response_model=ApplicationRead,
    responses=problems(409, 422),
)
def move_application(
    session: SessionDep, access: Manager, application_id: uuid.UUID, body: Move
) -> ApplicationRead:
    """Put the application at another stage of its pipeline (the last one is the hire)."""
    found = service.get_application(session, application_id, lock=True)
    return service.read_applications(
        session, [service.move(session, found, body.stage, access.user.id)]
    )[0]


@router.post(
    f"{T}/applications/{{application_id}}/refuse",
    response_model=ApplicationRead,
    responses=problems(409),
)
def refuse_application(
    session: SessionDep, access: Manager, application_id: uuid.UUID, body: Refusal
) -> ApplicationRead:
    found = service.get_application(session, application_id, lock=True)
    refused = service.refuse(session, found, body.reason, body.message, access.user.id)
    return service.read_applications(session, [refused])[0]


@router.post(
    f"{T}/applications/{{application_id}}/reopen",
    response_model=ApplicationRead,
    responses=problems(409),
)
def reopen_application(
    session: SessionDep, access: Manager, application_id: uuid.UUID
) -> ApplicationRead:
    found = service.get_application(session, application_id, lock=True)
    return service.read_applications(session, [service.reopen(session, found, access.user.id)])[0]


@router.put(f"{T}/applications/{{application_id}}/shortlist", response_model=ApplicationRead)
def shortlist_application(
    session: SessionDep, access: Reviewer, application_id: uuid.UUID, body: Shortlist
) -> ApplicationRead:
    """The merchant's shortlist: the hiring side marks the candidates it wants to meet."""
    found = service.get_application(session, application_id, lock=True)
    return service.read_applications(
        session, [service.set_shortlisted(session, found, body.shortlisted)]
    )[0]


# --- interviews and scorecards -------------------------------------------------------------

ICS = "text/calendar"


@router.get(f"{T}/applications/{{application_id}}/interviews", response_model=list[InterviewRead])
def application_interviews(
    session: SessionDep, access: Reviewer, application_id: uuid.UUID
) -> list[InterviewRead]:
    """The application's interview rounds, by start time (cancelled ones included)."""
    service.get_application(session, application_id)
    return interviews.read(session, interviews.of_application(session, application_id))


@router.post(
    f"{T}/applications/{{application_id}}/interviews",
    response_model=InterviewRead,
    status_code=201,
    responses=problems(400, 409, 422),
)
def schedule_interview(
    session: SessionDep, access: Manager, application_id: uuid.UUID, body: InterviewCreate
) -> InterviewRead:
    """Schedule an interview round (times without an offset are the merchant's wall clock);
    refused while anyone on the panel has another interview then. The candidate and the panel
    are mailed a calendar invitation."""
    found = service.get_application(session, application_id, lock=True)
    made = interviews.schedule(session, found, body, access.user.id, access.tenant.time_zone)
    return interviews.read(session, [made])[0]


@router.get(
    f"{T}/applications/{{application_id}}/scorecards",
    response_model=ScorecardSummary,
)
def application_scorecards(
    session: SessionDep, access: Reviewer, application_id: uuid.UUID
) -> ScorecardSummary:
    """The application's scorecards with their tally and mean ratings: an interviewer who
    still owes a card on one of its interviews sees only their own."""
    service.get_application(session, application_id)
    return interviews.summary(session, application_id, access.user.id)


@router.get(f"{T}/interviews", response_model=Page[InterviewRead])
def list_interviews(
    session: SessionDep,
    access: Reviewer,
    interviewer_id: uuid.UUID | None = None,
    cursor: Cursor = None,
    limit: Limit = 50,
) -> Page[InterviewRead]:
    """Interviews not over yet and not cancelled (of one interviewer if named)."""
    rows, next_cursor = interviews.find_upcoming(session, interviewer_id, cursor, limit)
    return Page(items=interviews.read(session, rows), next_cursor=next_cursor)


@router.get(
    f"{T}/interviews/{{interview_id}}/invitation.ics",
    response_class=Response,
    responses={200: {"content": {ICS: {}}, "description": "The calendar invitation"}},
)
def interview_ics(session: SessionDep, access: Reviewer, interview_id: uuid.UUID) -> Response:
    """The interview's calendar invitation (RFC 5545): the same UID for its whole life, the
    SEQUENCE bumped by each change, METHOD:CANCEL once cancelled."""
    found = interviews.get(session, interview_id)
    return Response(
        interviews.invitation(session, found),
        media_type=ICS,
        headers={
            "Content-Disposition": f'attachment; filename="interview-{found.id}.ics"',
            "Cache-Control": "no-store",
        },
    )


@router.get(f"{T}/interviews/{{interview_id}}", response_model=InterviewRead)
def get_interview(session: SessionDep, access: Reviewer, interview_id: uuid.UUID) -> InterviewRead:
    return interviews.read(session, [interviews.get(session, interview_id)])[0]


@router.patch(
    f"{T}/interviews/{{interview_id}}",
    response_model=InterviewRead,
    responses=problems(400, 409, 422),
)
def reschedule_interview(
    session: SessionDep, access: Manager, interview_id: uuid.UUID, body: InterviewUpdate
) -> InterviewRead:
    """Reschedule (or change the place, kind or panel): the invitation goes out again with a
    higher SEQUENCE, so calendars move the event they hold."""
    found = interviews.get(session, interview_id, lock=True)
    changed = interviews.reschedule(session, found, body, access.tenant.time_zone)
    return interviews.read(session, [changed])[0]


@router.post(
    f"{T}/interviews/{{interview_id}}/cancel", response_model=InterviewRead, responses=problems(409)
)
def cancel_interview(
    session: SessionDep, access: Manager, interview_id: uuid.UUID
) -> InterviewRead:
    """Cancel: the candidate and the panel are mailed a cancellation (METHOD:CANCEL)."""
    found = interviews.get(session, interview_id, lock=True)
    cancelled = interviews.cancel(session, found)
    return interviews.read(session, [cancelled])[0]


@router.get(f"{T}/interviews/{{interview_id}}/scorecards", response_model=ScorecardSummary)
def interview_scorecards(
    session: SessionDep, access: Reviewer, interview_id: uuid.UUID
) -> ScorecardSummary:
    """The interview's scorecards, under the application's rule: none of the others' while
    the caller still owes one on the application."""
    found = interviews.get(session, interview_id)
    return interviews.summary(session, found.application_id, access.user.id, found.id)


@router.post(
    f"{T}/interviews/{{interview_id}}/scorecards",
    response_model=ScorecardRead,
    status_code=201,
    responses=problems(403, 409),
)
def submit_scorecard(
    session: SessionDep, access: Reviewer, interview_id: uuid.UUID, body: ScorecardCreate
) -> ScorecardRead:
    """Submit your own scorecard of an interview you sat on: once, never replaced."""
    found = interviews.get(session, interview_id, lock=True)
    return ScorecardRead.model_validate(interviews.submit(session, found, access.user.id, body))


router.include_router(api_offers.router)
router.include_router(api_reports.router)
router.include_router(api_teams.router)
