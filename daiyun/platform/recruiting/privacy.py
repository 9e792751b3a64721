"""A candidate's data on request and at the end of its retention (个人信息保护).

Export: everything the merchant holds on the person, as a ZIP of ``candidate.json`` (the candidate,
each application with its stage moves, interviews, scorecards and offers) and the files they sent,
under ``files/``. Erase: the person is made anonymous in place (name, e-mail, phone, the recruiter's
notes on them, their answers to the form's questions, scorecard notes, offer terms and the decline
reason emptied; their files deleted) while the rows that recruiting reports and billing count stay:
stages, dates, ratings, amounts. The stage log is append-only and keeps the messages staff wrote at
each move; those are the agency's record, written to the candidate, not about them.

Retention: a candidate whose ``retain_until`` has passed is erased by the beat task, unless an
application of theirs is still in progress (their consent runs on while it is).
"""

from __future__ import annotations

import io
import json
import uuid
import zipfile
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from daiyun.core.audit import service as audit
from daiyun.core.ids import utcnow
from daiyun.platform.recruiting import repository, service
from daiyun.platform.recruiting.models import ApplicationStatus, Candidate
from daiyun.platform.recruiting.schemas import (
    ApplicationRead,
    CandidateRead,
    InterviewRead,
    OfferRead,
    ScorecardRead,
    StageMoveRead,
)

ERASED_NAME = "Erased candidate"


def _json(model: Any) -> dict[str, Any]:
    data: dict[str, Any] = model.model_dump(mode="json")
    return data


def export(session: Session, candidate_id: uuid.UUID) -> bytes:
    """The candidate's data as a ZIP (see the module); the access is audited."""
    found = service.get_candidate(session, candidate_id)
    applications = repository.of_candidate(session, found.id)
    ids = [a.id for a in applications]
    moves = repository.moves(session, ids)
    files = repository.files_of(session, ids)
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        document: dict[str, Any] = {
            "candidate": _json(CandidateRead.model_validate(found)),
            "applications": [],
        }
        for application in applications:
            entry = _json(ApplicationRead.model_validate(application))
            entry["moves"] = [
                _json(StageMoveRead.model_validate(m))
                for m in moves
                if m.application_id == application.id
            ]
            entry["interviews"] = [
                _json(InterviewRead.model_validate(i))
                for i in repository.interviews_of(session, application.id)
            ]
            entry["scorecards"] = [
                _json(ScorecardRead.model_validate(s))
                for s in repository.scorecards_of(session, application.id)
            ]
            entry["offers"] = [
                _json(OfferRead.model_validate(o))
                for o in repository.offers_of(session, application.id)
            ]
            entry["files"] = []
            for sent in (f for f in files if f.application_id == application.id):
                path = f"files/{application.id}/{sent.id}-{sent.filename}"
                archive.writestr(path, sent.data)
                entry["files"].append({"path": path, "content_type": sent.content_type})
            document["applications"].append(entry)
        text = json.dumps(document, ensure_ascii=False, indent=2, sort_keys=True)
        archive.writestr("candidate.json", text)
    audit.record(session, "recruiting.candidate_exported", f"candidate:{found.id}")
    return buffer.getvalue()


def erase(session: Session, candidate_id: uuid.UUID, reason: str) -> Candidate:
    """Make the candidate anonymous (see the module); erasing again changes nothing."""
    found = service.get_candidate(session, candidate_id)
    if found.erased_at is not None:
        return found
    applications = repository.of_candidate(session, found.id)
    ids = [a.id for a in applications]
    for sent in repository.files_of(session, ids):
        session.delete(sent)
    for application in applications:
        application.note, application.answers = "", {}
        for card in repository.scorecards_of(session, application.id):
            card.notes = ""
        for offer in repository.offers_of(session, application.id):
            offer.terms, offer.decline_reason = "", ""
    found.name, found.email, found.email_key, found.phone = ERASED_NAME, None, None, None
    found.erased_at = utcnow()
    session.flush()
    audit.record(
        session, "recruiting.candidate_erased", f"candidate:{found.id}", {"reason": reason}
    )
    return found


def erase_expired(session: Session, now: datetime | None = None) -> int:
    """Erase the bound tenant's candidates past their retention, none in a running process."""
    erased = 0
    for candidate in repository.past_retention(session, now or utcnow()):
        running = any(
            a.status == ApplicationStatus.active
            for a in repository.of_candidate(session, candidate.id)
        )
        if running:
            continue
        erase(session, candidate.id, "retention ended")
        erased += 1
    return erased
