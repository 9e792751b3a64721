"""Interviews and scorecards: an application's interview rounds with their panel, the calendar
invitation each round sends (and sends again when it moves or is cancelled), and the panel's
scorecards, which an interviewer reads only once their own is in.

An interviewer is a user who reviews the merchant's candidates: an agency admin, a recruiter
assigned to the merchant, or the merchant's owner. Nobody on a panel sits two interviews at
once within the merchant (their rows are locked while the panel is checked, so two schedulers
cannot both take the same hour). Services flush, audit and never commit; the invitation is
mailed by a task after the commit (``tasks.send_invitation``).
"""

from __future__ import annotations

import smtplib
import uuid
from collections.abc import Sequence
from datetime import datetime
from email.message import EmailMessage
from zoneinfo import ZoneInfo

import structlog
from sqlalchemy import select
from sqlalchemy.orm import Session

from daiyun.core import mail as outbox
from daiyun.core.audit import service as audit
from daiyun.core.config import get_settings
from daiyun.core.db import take_write_lock
from daiyun.core.errors import Problem
from daiyun.core.ids import instant, utcnow
from daiyun.core.pagination import paginate
from daiyun.core.tasks import celery_app, enqueue_after_commit
from daiyun.platform.recruiting import repository, rules, service
from daiyun.platform.recruiting.models import (
    Application,
    ApplicationStatus,
    BusySlot,
    Interview,
    Interviewer,
    InterviewStatus,
    Scorecard,
)
from daiyun.platform.recruiting.schemas import (
    InterviewCreate,
    InterviewRead,
    InterviewUpdate,
    ScorecardCreate,
    ScorecardRead,
    ScorecardSummary,
)
from daiyun.tenants.auth.models import User
from daiyun.tenants.auth.permissions import Permission, Role, allows
from daiyun.tenants.models import Membership, Tenant

log = structlog.get_logger()
# The task that mails an invitation (``tasks.send_invitation``), named: tasks imports this module.
INVITE_TASK = "daiyun.rc.send_invitation"
KIND_WORDS = {"phone": "Phone / 电话", "video": "Video / 视频", "onsite": "On site / 现场"}


def _invite(session: Session, found: Interview) -> None:
    # Mailed after the commit; a message lost on the way is sent by the sweep.
    enqueue_after_commit(
        session, celery_app.signature(INVITE_TASK), str(found.tenant_id), str(found.id)
    )


def _when(name: str, value: datetime, zone: str) -> datetime:
    # A time without an offset is the merchant's wall clock (see schemas).
    if value.tzinfo is None:
        value = value.replace(tzinfo=ZoneInfo(zone))
    found = instant(name, value)
    assert found is not None
    return found


def _panel(session: Session, user_ids: Sequence[uuid.UUID]) -> list[User]:
    """The panel's users, locked in id order (so concurrent schedulers queue on them), each
    one who may review this merchant's candidates; anyone else is refused by id."""
    ids = sorted(set(user_ids))
    take_write_lock(session)  # SQLite has no row locks: the write lock stands in for them
    stmt = select(User).where(User.id.in_(ids)).order_by(User.id).with_for_update()
    users = {u.id: u for u in session.scalars(stmt)}
    members = select(Membership.user_id, Membership.role).where(Membership.user_id.in_(ids))
    roles = {user_id: role for user_id, role in session.execute(members)}
    for user_id in ids:
        user = users.get(user_id)
        role = Role.agency_admin if user and user.role == Role.agency_admin else roles.get(user_id)
        if user is None or not user.is_active or role is None:
            raise Problem(422, "unknown-interviewer", f"User {user_id} is not on this merchant")
        if not allows(role, Permission.recruiting_review):
            raise Problem(
                422, "not-a-reviewer", f"User {user_id} may not review this merchant's candidates"
            )
    return [users[i] for i in ids]


def _check_free(
    session: Session,
    user_ids: Sequence[uuid.UUID],
    starts: datetime,
    ends: datetime,
    exclude: uuid.UUID | None = None,
) -> None:
    if problem := rules.check_slot(starts, ends):
        raise Problem(422, "bad-slot", problem)
    for user_id, other in repository.clashes(session, user_ids, starts, ends, exclude):
        raise Problem(
            409,
            "interviewer-busy",
            f"Interviewer {user_id} has another interview from {other.starts_at:%Y-%m-%d %H:%M}"
            f" to {other.ends_at:%H:%M} UTC",
        )
    # Another merchant's interview: only its time is known here, and only its time is said.
    slot = repository.busy(session, user_ids, starts, ends, exclude)
    if slot is not None:
        raise Problem(
            409,
            "interviewer-busy",
            f"Interviewer {slot.user_id} has another interview from"
            f" {slot.starts_at:%Y-%m-%d %H:%M} to {slot.ends_at:%H:%M} UTC",
        )


def _book(session: Session, found: Interview, user_ids: Sequence[uuid.UUID]) -> None:
    """The interview's busy slots, one per panel member, as it now stands."""
    repository.free(session, found.id)
    session.add_all(
        BusySlot(user_id=u, interview_id=found.id, starts_at=found.starts_at, ends_at=found.ends_at)
        for u in user_ids
    )
    session.flush()


def schedule(
    session: Session,
    application: Application,
    body: InterviewCreate,
    actor: uuid.UUID | None,
    zone: str,
) -> Interview:
    """Schedule an interview round for an active application; the panel must be free then."""
    if application.status != ApplicationStatus.active:
        raise Problem(409, "not-active", "Only an active application is interviewed")
    starts, ends = _when("starts_at", body.starts_at, zone), _when("ends_at", body.ends_at, zone)
    panel = _panel(session, body.interviewer_ids)
    _check_free(session, [u.id for u in panel], starts, ends)
    found = Interview(
        application_id=application.id,
        title=body.title,
        kind=body.kind,
        starts_at=starts,
        ends_at=ends,
        location=body.location,
        organizer_id=actor,
    )
    session.add(found)
    session.flush()
    session.add_all(Interviewer(interview_id=found.id, user_id=u.id) for u in panel)
    session.flush()
    _book(session, found, [u.id for u in panel])
    audit.record(session, "recruiting.interview_scheduled", f"interview:{found.id}")
    _invite(session, found)
    return found


def get(session: Session, interview_id: uuid.UUID, *, lock: bool = False) -> Interview:
    found = repository.interview(session, interview_id, lock=lock)
    if found is None:
        raise Problem(404, "not-found", "No such interview")
    return found


def reschedule(session: Session, found: Interview, body: InterviewUpdate, zone: str) -> Interview:
    """Move an interview, change its place or panel: the invitation's sequence goes up, so
    calendars replace the event they hold."""
    if found.status != InterviewStatus.scheduled:
        raise Problem(409, "cancelled", "A cancelled interview is not rescheduled")
    changes = body.model_dump(exclude_unset=True, exclude_none=True)
    if not changes:
        return found
    starts = _when("starts_at", body.starts_at, zone) if body.starts_at else found.starts_at
    ends = _when("ends_at", body.ends_at, zone) if body.ends_at else found.ends_at
    rows = repository.panel_rows(session, found.id)
    ids = body.interviewer_ids or [r.user_id for r in rows]
    panel = _panel(session, ids)
    _check_free(session, [u.id for u in panel], starts, ends, exclude=found.id)
    if body.interviewer_ids is not None:
        keep = {u.id for u in panel}
        for row in rows:
            if row.user_id not in keep:
                session.delete(row)
        had = {r.user_id for r in rows}
        session.add_all(
            Interviewer(interview_id=found.id, user_id=u.id) for u in panel if u.id not in had
        )
    found.starts_at, found.ends_at = starts, ends
    for name in ("title", "kind", "location"):
        if name in changes:
            setattr(found, name, changes[name])
    found.sequence += 1
    session.flush()
    _book(session, found, [u.id for u in panel])
    audit.record(
        session,
        "recruiting.interview_rescheduled",
        f"interview:{found.id}",
        {"sequence": found.sequence, "starts_at": starts.isoformat()},
    )
    _invite(session, found)
    return found


def cancel(session: Session, found: Interview) -> Interview:
    """Cancel an interview: its invitation goes out once more, as a cancellation."""
    if found.status == InterviewStatus.cancelled:
        return found
    found.status = InterviewStatus.cancelled
    found.sequence += 1
    repository.free(session, found.id)
    session.flush()
    audit.record(session, "recruiting.interview_cancelled", f"interview:{found.id}")
    _invite(session, found)
    return found


def read(session: Session, found: Sequence[Interview]) -> list[InterviewRead]:
    panels = repository.panels(session, [i.id for i in found])
    return [
        InterviewRead.model_validate(i).model_copy(update={"interviewer_ids": panels[i.id]})
        for i in found
    ]


def of_application(session: Session, application_id: uuid.UUID) -> list[Interview]:
    return repository.interviews_of(session, application_id)


def find_upcoming(
    session: Session, user_id: uuid.UUID | None, cursor: str | None, limit: int
) -> tuple[list[Interview], str | None]:
    """Interviews not over yet (of one interviewer if named), in id order for the cursor."""
    return paginate(session, repository.upcoming(utcnow(), user_id), Interview.id, cursor, limit)


def reviewers(session: Session) -> list[tuple[uuid.UUID, str]]:
    """Who may sit on this merchant's panels, by name: its members whose role reviews
    candidates, and the agency admins."""
    members = session.execute(select(Membership.user_id, Membership.role))
    ids = {u for u, role in members if allows(role, Permission.recruiting_review)}
    stmt = select(User).where(User.is_active, (User.id.in_(ids)) | (User.role == Role.agency_admin))
    return [(u.id, u.name) for u in session.scalars(stmt.order_by(User.name, User.id))]


def names(session: Session, user_ids: Sequence[uuid.UUID]) -> dict[uuid.UUID, str]:
    stmt = select(User.id, User.name).where(User.id.in_(set(user_ids)))
    return {user_id: name for user_id, name in session.execute(stmt)}


def upcoming(session: Session, limit: int = 200) -> list[Interview]:
    """The next interviews by start time, for the pages."""
    stmt = repository.upcoming(utcnow(), None).order_by(Interview.starts_at, Interview.id)
    return list(session.scalars(stmt.limit(limit)))


# --- the invitation ------------------------------------------------------------------------


def _context(session: Session, found: Interview) -> tuple[str, str, str | None, list[User]]:
    """The requisition's role, the candidate's name and address, and the panel's users."""
    application = service.get_application(session, found.application_id)
    requisition = service.get_requisition(session, application.requisition_id)
    candidate = service.get_candidate(session, application.candidate_id)
    ids = repository.panels(session, [found.id])[found.id]
    users = list(session.scalars(select(User).where(User.id.in_(ids)).order_by(User.id)))
    return requisition.role, candidate.name, candidate.email, users


def invitation(session: Session, found: Interview, *, for_candidate: bool = False) -> str:
    """The interview as an iCalendar object (RFC 5545). The candidate's copy names only them
    as attendee: the panel's addresses are the agency's and the merchant's, not theirs."""
    role, name, email, panel = _context(session, found)
    tenant = session.get(Tenant, found.tenant_id)
    attendees = [] if for_candidate else [(u.name, u.email) for u in panel]
    if email:
        attendees.insert(0, (name, email))
    return rules.ics(
        rules.Invitation(
            uid=f"{found.id}@daiyun",
            sequence=found.sequence,
            cancelled=found.status == InterviewStatus.cancelled,
            starts=found.starts_at,
            ends=found.ends_at,
            summary=f"{found.title}: {role} · {name}",
            description=f"{tenant.display_name if tenant else ''} · {KIND_WORDS[found.kind.value]}",
            location=found.location,
            organizer=get_settings().recruiting_mail_from,
            attendees=tuple(attendees),
            stamp=found.updated_at or utcnow(),
        )
    )


def _message(
    session: Session, found: Interview, to: list[str], for_candidate: bool, zone: str
) -> EmailMessage:
    role, name, _, _ = _context(session, found)
    local = ZoneInfo(zone)
    cancelled = found.status == InterviewStatus.cancelled
    method = "CANCEL" if cancelled else "REQUEST"
    mail = EmailMessage()
    mail["From"] = get_settings().recruiting_mail_from
    mail["To"] = ", ".join(to)
    word = "Cancelled" if cancelled else ("Updated" if found.sequence else "Invitation")
    mail["Subject"] = f"{word}: {found.title} · {role} · {name}"
    starts, ends = found.starts_at.astimezone(local), found.ends_at.astimezone(local)
    mail.set_content(
        f"{found.title} · {role} · {name}\n"
        f"{starts:%Y-%m-%d %H:%M}–{ends:%H:%M} ({zone})\n"
        f"{KIND_WORDS[found.kind.value]} {found.location}\n"
        + ("\nThis interview is cancelled. 面试已取消。\n" if cancelled else "")
    )
    mail.add_attachment(
        invitation(session, found, for_candidate=for_candidate),
        subtype="calendar",
        filename="invite.ics",
        params={"method": method},
    )
    return mail


def send(session: Session, interview_id: uuid.UUID) -> bool | None:
    """Mail the interview's latest invitation to the candidate and to the panel, once per
    sequence: sending again after it went out is a no-op. False when the SMTP server refused
    (the sweep tries again); None when there is no such interview."""
    found = repository.interview(session, interview_id, lock=True)
    if found is None:
        return None
    if found.mailed_sequence >= found.sequence:
        return True
    _, _, email, panel = _context(session, found)
    tenant = session.get(Tenant, found.tenant_id)
    zone = tenant.time_zone if tenant else "UTC"
    messages = [_message(session, found, [u.email for u in panel], False, zone)]
    if email:
        messages.insert(0, _message(session, found, [email], True, zone))
    try:
        outbox.send(*messages)
    except (OSError, smtplib.SMTPException) as exc:
        log.warning("invitation not sent", interview_id=str(found.id), error=str(exc)[:200])
        return False
    found.mailed_sequence = found.sequence
    session.flush()
    return True


# --- scorecards ----------------------------------------------------------------------------


def submit(
    session: Session, found: Interview, interviewer: uuid.UUID, body: ScorecardCreate
) -> Scorecard:
    """The caller's scorecard of an interview they sat on: one each, never replaced."""
    if interviewer not in repository.panels(session, [found.id])[found.id]:
        raise Problem(403, "not-on-panel", "Only the interview's panel scores it")
    if found.status == InterviewStatus.cancelled:
        raise Problem(409, "cancelled", "A cancelled interview is not scored")
    if repository.scorecard_by(session, found.id, interviewer) is not None:
        raise Problem(409, "already-scored", "You already scored this interview")
    card = Scorecard(
        interview_id=found.id,
        application_id=found.application_id,
        interviewer_id=interviewer,
        ratings=dict(body.ratings),
        recommendation=body.recommendation,
        notes=body.notes,
    )
    session.add(card)
    session.flush()
    audit.record(session, "recruiting.scorecard_submitted", f"interview:{found.id}")
    return card


def summary(
    session: Session,
    application_id: uuid.UUID,
    viewer: uuid.UUID,
    interview_id: uuid.UUID | None = None,
) -> ScorecardSummary:
    """The application's scorecards (of one interview if named) as ``viewer`` may read them:
    all of them, unless the viewer sits on a panel of the application they have not scored
    yet; then only their own."""
    interviews = [
        i for i in repository.interviews_of(session, application_id) if i.status != "cancelled"
    ]
    panels = repository.panels(session, [i.id for i in interviews])
    cards = repository.scorecards_of(session, application_id)
    mine = frozenset(str(c.interview_id) for c in cards if c.interviewer_id == viewer)
    open_panels = [(str(i), frozenset(str(u) for u in who)) for i, who in panels.items()]
    sees_all = rules.may_see_others(str(viewer), open_panels, mine)
    if interview_id is not None:
        cards = [c for c in cards if c.interview_id == interview_id]
    shown = [c for c in cards if sees_all or c.interviewer_id == viewer]
    return ScorecardSummary(
        application_id=application_id,
        submitted=len(cards),
        hidden=len(cards) - len(shown),
        recommendations=rules.tally([c.recommendation.value for c in shown]),
        averages=rules.averages([c.ratings for c in shown]),
        scorecards=[ScorecardRead.model_validate(c) for c in shown],
    )
