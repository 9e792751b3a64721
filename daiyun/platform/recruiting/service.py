"""Recruiting: requisitions and postings, candidates (one per person per merchant) and their
applications, and the pipeline every application walks, each step logged once.

The careers form's work (an applicant arriving with a CV) is in ``careers``. Services flush,
audit and never commit.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import timedelta
from typing import Any

from sqlalchemy import Row, select
from sqlalchemy.orm import Session

from daiyun.core.audit import service as audit
from daiyun.core.errors import Problem
from daiyun.core.ids import utcnow
from daiyun.core.pagination import paginate
from daiyun.platform.recruiting import repository, rules
from daiyun.platform.recruiting.models import (
    Application,
    ApplicationStatus,
    Candidate,
    CandidateFile,
    MoveKind,
    Posting,
    PostingStatus,
    RefusalReason,
    Requisition,
    RequisitionStatus,
    Settings,
    StageMove,
)
from daiyun.platform.recruiting.schemas import (
    ApplicationCreate,
    ApplicationRead,
    Bulk,
    CandidateCreate,
    PostingCreate,
    PostingUpdate,
    RequisitionCreate,
    RequisitionUpdate,
    SettingsIn,
)
from daiyun.tenants.models import Membership

R = RequisitionStatus
# Where a requisition may go from each status; filled and cancelled are final here (a filled one
# opens again only when a hire on it leaves owing a free replacement: ``placements``).
TRANSITIONS: dict[RequisitionStatus, frozenset[RequisitionStatus]] = {
    R.pending_approval: frozenset({R.open, R.cancelled}),
    R.open: frozenset({R.on_hold, R.filled, R.cancelled}),
    R.on_hold: frozenset({R.open, R.cancelled}),
    R.filled: frozenset(),
    R.cancelled: frozenset(),
}

# --- settings ------------------------------------------------------------------------------


def get_settings(session: Session) -> Settings:
    """The merchant's settings, or the defaults (not stored until someone changes them)."""
    found = repository.settings(session)
    return found or Settings(
        stages=list(rules.DEFAULT_STAGES), retention_days=365, agency_page=False
    )


def put_settings(session: Session, body: SettingsIn) -> Settings:
    found = repository.settings(session)
    if found is None:
        found = Settings(stages=list(body.stages))
        session.add(found)
    found.stages, found.retention_days = list(body.stages), body.retention_days
    found.agency_page = body.agency_page
    session.flush()
    audit.record(session, "recruiting.settings_changed", "rc_settings", body.model_dump())
    return found


# --- requisitions --------------------------------------------------------------------------


def _check_manager(session: Session, user_id: uuid.UUID | None) -> None:
    if user_id is None:
        return
    member = session.scalar(select(Membership.id).where(Membership.user_id == user_id))
    if member is None:
        raise Problem(422, "unknown-member", "The hiring manager must be a member of the merchant")


def create_requisition(session: Session, body: RequisitionCreate) -> Requisition:
    _check_manager(session, body.hiring_manager_id)
    found = Requisition(
        **body.model_dump(),
        status=R.pending_approval,
        stages=list(get_settings(session).stages),
    )
    session.add(found)
    session.flush()
    audit.record(session, "recruiting.requisition_created", f"requisition:{found.id}")
    return found


def get_requisition(
    session: Session, requisition_id: uuid.UUID, *, lock: bool = False
) -> Requisition:
    found = repository.requisition(session, requisition_id, lock=lock)
    if found is None:
        raise Problem(404, "not-found", "No such requisition")
    return found


def update_requisition(
    session: Session, found: Requisition, body: RequisitionUpdate
) -> Requisition:
    changes = body.model_dump(exclude_unset=True)
    if "hiring_manager_id" in changes:
        _check_manager(session, changes["hiring_manager_id"])
    low, high = changes.get("pay_min_minor"), changes.get("pay_max_minor")
    low = found.pay_min_minor if low is None else low
    high = found.pay_max_minor if high is None else high
    if high < low:
        raise Problem(422, "bad-pay-range", "The pay range's maximum is at least its minimum")
    for name, value in changes.items():
        # null leaves a field as it is; only the hiring manager may be taken away.
        if value is None and name != "hiring_manager_id":
            continue
        setattr(found, name, value)
    session.flush()
    audit.record(
        session,
        "recruiting.requisition_changed",
        f"requisition:{found.id}",
        body.model_dump(mode="json", exclude_unset=True),
    )
    return found


def set_status(session: Session, found: Requisition, status: RequisitionStatus) -> Requisition:
    """Move a requisition on: approving it (pending → open) starts the time-to-fill clock."""
    if status == found.status:
        return found
    if status not in TRANSITIONS[found.status]:
        raise Problem(
            409,
            "bad-transition",
            f"A requisition {found.status.value} cannot become {status.value}",
        )
    now = utcnow()
    if found.status == R.pending_approval and status == R.open:
        found.approved_at = now
    if status == R.filled:
        found.filled_at = now
    before, found.status = found.status, status
    session.flush()
    audit.record(
        session,
        "recruiting.requisition_status",
        f"requisition:{found.id}",
        {"from": before.value, "to": status.value},
    )
    return found


def find_requisitions(
    session: Session, status: RequisitionStatus | None, cursor: str | None, limit: int
) -> tuple[list[Requisition], str | None]:
    stmt = repository.requisitions()
    if status is not None:
        stmt = stmt.where(Requisition.status == status)
    return paginate(session, stmt, Requisition.id, cursor, limit)


def stage_counts(session: Session) -> dict[uuid.UUID, dict[str, int]]:
    return repository.stage_counts(session)


# --- postings ------------------------------------------------------------------------------


def create_posting(session: Session, body: PostingCreate) -> Posting:
    get_requisition(session, body.requisition_id)
    found = Posting(requisition_id=body.requisition_id, title=body.title, body=body.body)
    if body.publish:
        found.status, found.published_at = PostingStatus.published, utcnow()
    session.add(found)
    session.flush()
    audit.record(session, "recruiting.posting_created", f"posting:{found.id}")
    return found


def get_posting(session: Session, posting_id: uuid.UUID) -> Posting:
    found = repository.posting(session, posting_id)
    if found is None:
        raise Problem(404, "not-found", "No such posting")
    return found


def update_posting(session: Session, found: Posting, body: PostingUpdate) -> Posting:
    changes = body.model_dump(exclude_unset=True, exclude_none=True)
    if changes.get("status") == PostingStatus.published and found.published_at is None:
        found.published_at = utcnow()
    for name, value in changes.items():
        setattr(found, name, value)
    session.flush()
    audit.record(session, "recruiting.posting_changed", f"posting:{found.id}")
    return found


def find_postings(
    session: Session, requisition_id: uuid.UUID | None, cursor: str | None, limit: int
) -> tuple[list[Posting], str | None]:
    stmt = repository.postings()
    if requisition_id is not None:
        stmt = stmt.where(Posting.requisition_id == requisition_id)
    return paginate(session, stmt, Posting.id, cursor, limit)


def public_postings(session: Session) -> list[tuple[Posting, Requisition]]:
    return repository.public_postings(session)


def public_posting(session: Session, posting_id: uuid.UUID) -> tuple[Posting, Requisition] | None:
    """A posting the careers page may show: published, of an open requisition."""
    found = repository.posting(session, posting_id)
    if found is None or found.status != PostingStatus.published:
        return None
    requisition = repository.requisition(session, found.requisition_id)
    if requisition is None or requisition.status != R.open:
        return None
    return found, requisition


# --- candidates ----------------------------------------------------------------------------


def get_candidate(session: Session, candidate_id: uuid.UUID) -> Candidate:
    found = repository.candidate(session, candidate_id)
    if found is None:
        raise Problem(404, "not-found", "No such candidate")
    return found


def _live(session: Session, found: Candidate) -> Candidate:
    while found.merged_into_id is not None:
        found = get_candidate(session, found.merged_into_id)
    return found


def _survivor(session: Session, found: Row[Any] | None) -> tuple[str, str | None] | None:
    """(id, e-mail key) of the candidate a lookup's row stands for, a merged one followed."""
    if found is None:
        return None
    if found.merged_into_id is None:  # the common case: no entity to load
        return str(found.id), found.email_key
    live = _live(session, get_candidate(session, found.merged_into_id))
    return str(live.id), live.email_key


def lookup(session: Session, email: str | None, phone: str | None) -> rules.Match:
    """Who a person with this e-mail and phone is among the merchant's candidates (reads only):
    the one they are, and another they only look like."""
    key, number = rules.email_key(email), rules.phone_key(phone)
    by_email, by_phone = repository.first_known(session, key, number)
    return rules.match(key, _survivor(session, by_email), _survivor(session, by_phone))


def candidate_for(
    session: Session, name: str, email: str | None, phone: str | None, source: str
) -> Candidate:
    """The candidate this person is (matched on the e-mail key, else the phone), made on first
    contact; one that only looks like another is made and flagged, never merged by itself."""
    key, number = rules.email_key(email), rules.phone_key(phone)
    found = lookup(session, email, phone)
    if found.same is not None:
        candidate = get_candidate(session, uuid.UUID(found.same))
        # What the person gave this time fills what was missing; it never overwrites.
        candidate.email = candidate.email or (email.strip() if email else None)
        candidate.email_key = candidate.email_key or key
        candidate.phone = candidate.phone or number
    else:
        candidate = Candidate(
            name=name, email=email.strip() if email else None, email_key=key, phone=number
        )
        candidate.source = source
        session.add(candidate)
    if (
        found.likely is not None
        and candidate.duplicate_of_id is None
        and found.likely != str(candidate.id)
    ):
        candidate.duplicate_of_id = uuid.UUID(found.likely)
        candidate.duplicate_reason = found.reason
    session.flush()
    return candidate


def create_candidate(session: Session, body: CandidateCreate) -> Candidate:
    if not body.email and not body.phone:
        raise Problem(422, "no-contact", "A candidate needs an e-mail or a phone number")
    if body.phone and rules.phone_key(body.phone) is None:
        raise Problem(422, "bad-phone", "Not a phone number")
    found = candidate_for(session, body.name, body.email, body.phone, body.source)
    audit.record(session, "recruiting.candidate_entered", f"candidate:{found.id}")
    return found


def find_candidates(
    session: Session, q: str | None, cursor: str | None, limit: int
) -> tuple[list[Candidate], str | None]:
    stmt = repository.search_candidates(q) if q else repository.candidates()
    return paginate(session, stmt, Candidate.id, cursor, limit)


def find_duplicates(
    session: Session, cursor: str | None, limit: int
) -> tuple[list[Candidate], str | None]:
    return paginate(session, repository.duplicates(), Candidate.id, cursor, limit)


def merge(
    session: Session, candidate_id: uuid.UUID, into_id: uuid.UUID, actor: uuid.UUID | None
) -> Candidate:
    """Merge a candidate into another: its applications move (each move logged), its contact
    details fill the survivor's gaps, and its row stays, pointing at the survivor."""
    source, target = get_candidate(session, candidate_id), get_candidate(session, into_id)
    if source.id == target.id:
        raise Problem(422, "same-candidate", "A candidate cannot be merged into itself")
    if source.merged_into_id is not None or target.merged_into_id is not None:
        raise Problem(409, "already-merged", "That candidate was already merged")
    for application in repository.of_candidate(session, source.id):
        application.candidate_id = target.id
        _log(session, application, MoveKind.merged, application.stage, actor=actor)
    target.email = target.email or source.email
    target.email_key = target.email_key or source.email_key
    target.phone = target.phone or source.phone
    target.consent_at = target.consent_at or source.consent_at
    if source.retain_until and (
        not target.retain_until or target.retain_until < source.retain_until
    ):
        target.retain_until = source.retain_until
    if target.duplicate_of_id == source.id:
        target.duplicate_of_id = target.duplicate_reason = None
    source.merged_into_id, source.duplicate_of_id, source.duplicate_reason = target.id, None, None
    session.flush()
    audit.record(
        session, "recruiting.candidate_merged", f"candidate:{source.id}", {"into": str(target.id)}
    )
    return target


def consent(session: Session, found: Candidate) -> None:
    """The candidate agreed to their data being kept: the retention clock restarts now."""
    now = utcnow()
    found.consent_at = now
    found.retain_until = now + timedelta(days=get_settings(session).retention_days)


# --- applications and the pipeline ---------------------------------------------------------


def _log(
    session: Session,
    application: Application,
    kind: MoveKind,
    to_stage: str,
    *,
    from_stage: str | None = None,
    reason: RefusalReason | None = None,
    message: str = "",
    actor: uuid.UUID | None = None,
) -> None:
    session.add(
        StageMove(
            application_id=application.id,
            kind=kind,
            from_stage=from_stage,
            to_stage=to_stage,
            reason=reason,
            message=message,
            actor_id=actor,
        )
    )


def open_application(
    session: Session,
    requisition: Requisition,
    candidate: Candidate,
    *,
    source: str,
    posting_id: uuid.UUID | None = None,
    note: str = "",
) -> tuple[Application, bool]:
    """The candidate's application to the requisition: the one they already have, or a new one
    at the pipeline's first stage. The flag says whether it was made now."""
    if requisition.status in (R.filled, R.cancelled):
        raise Problem(409, "requisition-closed", "This requisition takes no more applications")
    existing = repository.application_for(session, requisition.id, candidate.id)
    if existing is not None:
        return existing, False
    found = Application(
        requisition_id=requisition.id,
        candidate_id=candidate.id,
        posting_id=posting_id,
        stage=requisition.stages[0],
        source=source,
        note=note,
    )
    session.add(found)
    session.flush()
    _log(session, found, MoveKind.applied, found.stage)
    session.flush()
    return found, True


def attach_cv(
    session: Session, application: Application, filename: str, data: bytes, sha256: str
) -> CandidateFile:
    """Keep a CV (already judged by its bytes) with the application."""
    content_type = rules.sniff_cv(data)
    found = CandidateFile(
        application_id=application.id,
        filename=rules.safe_filename(filename, content_type),
        content_type=content_type,
        size=len(data),
        sha256=sha256,
        data=data,
    )
    session.add(found)
    session.flush()
    return found


def create_application(session: Session, body: ApplicationCreate, actor: uuid.UUID) -> Application:
    requisition = get_requisition(session, body.requisition_id)
    candidate = _live(session, get_candidate(session, body.candidate_id))
    found, made = open_application(
        session, requisition, candidate, source=body.source, note=body.note
    )
    if not made:
        raise Problem(409, "already-applied", "The candidate already applied to this requisition")
    audit.record(session, "recruiting.application_entered", f"application:{found.id}")
    return found


def get_application(
    session: Session, application_id: uuid.UUID, *, lock: bool = False
) -> Application:
    found = repository.application(session, application_id, lock=lock)
    if found is None:
        raise Problem(404, "not-found", "No such application")
    return found


def move(session: Session, found: Application, stage: str, actor: uuid.UUID | None) -> Application:
    """Put an active application at another stage of its requisition's pipeline (back as well
    as forward: a second interview after the offer talk is real). Reaching the last stage is
    the hire."""
    if found.status != ApplicationStatus.active:
        raise Problem(409, "not-active", "Only an active application moves; reopen it first")
    requisition = get_requisition(session, found.requisition_id)
    if stage not in requisition.stages:
        raise Problem(422, "unknown-stage", f"The requisition's pipeline has no stage {stage!r}")
    if stage == found.stage:
        return found
    before, found.stage = found.stage, stage
    if stage == requisition.stages[-1]:
        found.status = ApplicationStatus.hired
    _log(session, found, MoveKind.moved, stage, from_stage=before, actor=actor)
    session.flush()
    return found


def refuse(
    session: Session,
    found: Application,
    reason: RefusalReason,
    message: str,
    actor: uuid.UUID | None,
) -> Application:
    if found.status != ApplicationStatus.active:
        raise Problem(409, "not-active", "Only an active application is refused")
    found.status, found.refusal_reason = ApplicationStatus.refused, reason
    _log(
        session,
        found,
        MoveKind.refused,
        found.stage,
        from_stage=found.stage,
        reason=reason,
        message=message,
        actor=actor,
    )
    session.flush()
    return found


def reopen(session: Session, found: Application, actor: uuid.UUID | None) -> Application:
    if found.status != ApplicationStatus.refused:
        raise Problem(409, "not-refused", "Only a refused application is reopened")
    found.status, found.refusal_reason = ApplicationStatus.active, None
    _log(session, found, MoveKind.reopened, found.stage, from_stage=found.stage, actor=actor)
    session.flush()
    return found


def bulk(session: Session, body: Bulk, actor: uuid.UUID | None) -> list[Application]:
    """One move or refusal for many applications, all or none: the first that cannot take it
    refuses the whole batch (the request rolls back), naming it."""
    ids = list(dict.fromkeys(body.application_ids))
    found = repository.applications_by_ids(session, ids)
    if len(found) != len(ids):
        raise Problem(404, "not-found", "An application in the batch does not exist")
    done = []
    for application in found:
        try:
            if body.stage is not None:
                done.append(move(session, application, body.stage, actor))
            else:
                assert body.reason is not None
                done.append(refuse(session, application, body.reason, body.message, actor))
        except Problem as refused:
            raise Problem(
                refused.status, refused.kind, f"Application {application.id}: {refused.detail}"
            ) from None
    audit.record(
        session,
        "recruiting.bulk",
        "applications",
        {"count": len(done), "stage": body.stage, "reason": body.reason},
    )
    return done


def set_shortlisted(session: Session, found: Application, shortlisted: bool) -> Application:
    found.shortlisted = shortlisted
    session.flush()
    audit.record(
        session, "recruiting.shortlist", f"application:{found.id}", {"shortlisted": shortlisted}
    )
    return found


def find_applications(
    session: Session,
    requisition_id: uuid.UUID | None,
    candidate_id: uuid.UUID | None,
    stage: str | None,
    status: ApplicationStatus | None,
    shortlisted: bool | None,
    cursor: str | None,
    limit: int,
) -> tuple[list[Application], str | None]:
    stmt = repository.applications()
    for column, value in (
        (Application.requisition_id, requisition_id),
        (Application.candidate_id, candidate_id),
        (Application.stage, stage),
        (Application.status, status),
        (Application.shortlisted, shortlisted),
    ):
        if value is not None:
            stmt = stmt.where(column == value)
    return paginate(session, stmt, Application.id, cursor, limit)


def of_requisition(session: Session, requisition_id: uuid.UUID) -> list[Application]:
    return repository.of_requisition(session, requisition_id)


def of_candidate(session: Session, candidate_id: uuid.UUID) -> list[Application]:
    return repository.of_candidate(session, candidate_id)


def read_applications(session: Session, found: Sequence[Application]) -> list[ApplicationRead]:
    with_cv = {f.application_id for f in repository.files_of(session, [a.id for a in found])}
    return [
        ApplicationRead.model_validate(a).model_copy(update={"has_cv": a.id in with_cv})
        for a in found
    ]


def stage_log(session: Session, application_ids: Sequence[uuid.UUID]) -> list[StageMove]:
    return repository.moves(session, application_ids)


def cv(session: Session, application_id: uuid.UUID, actor: uuid.UUID | None) -> Any:
    """The application's CV; every read of a candidate's file is audited."""
    found = repository.file(session, application_id)
    if found is None:
        raise Problem(404, "not-found", "This application has no CV")
    audit.record(session, "recruiting.file_read", f"file:{found.id}", {"actor": str(actor)})
    return found
