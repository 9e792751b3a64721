"""A candidate's data on request: exported as a ZIP of their record and the files they sent
(the access audited), erased on request (name, contacts, notes and files gone, the pipeline's
counts kept; again: nothing changes), and erased by the beat task once retention ends unless a
process of theirs still runs."""

from __future__ import annotations

import io
import json
import uuid
import zipfile
from datetime import timedelta

from sqlalchemy import select

from daiyun.core import db
from daiyun.core.audit.models import AuditEntry
from daiyun.core.ids import utcnow
from daiyun.platform.recruiting import privacy, service, tasks
from daiyun.platform.recruiting.models import ApplicationStatus, RefusalReason
from daiyun.tenants.auth.permissions import Role
from tests.platform.recruiting.conftest import PDF, Hiring

API = "/api/v1"


def _applied(hiring: Hiring, email: str = "li.na@example.com") -> tuple[uuid.UUID, uuid.UUID]:
    """(candidate, application) of someone who applied with a CV, with a recruiter's note."""
    assert hiring.apply(email=email).status_code in (200, 201, 303)
    with db.unit_of_work(hiring.tenant.id) as session:
        [found], _ = service.find_candidates(session, email, None, 5)
        [application] = service.find_applications(
            session, None, found.id, None, None, None, None, 5
        )[0]
        application.note = "Lives in 西湖区, speaks Japanese"
        application.answers = {"district": "西湖区"}
        return found.id, application.id


def _audited(hiring: Hiring, action: str) -> int:
    with db.unit_of_work(hiring.tenant.id) as session:
        return len(session.scalars(select(AuditEntry).where(AuditEntry.action == action)).all())


def test_the_export_holds_the_record_and_the_cv(hiring: Hiring) -> None:
    candidate_id, application_id = _applied(hiring)
    recruiter = hiring.world.actor(Role.recruiter, hiring.tenant).headers
    url = f"{API}/tenants/{hiring.tenant.slug}/candidates/{candidate_id}/export"

    answer = hiring.world.client.get(url, headers=recruiter)

    assert answer.status_code == 200 and answer.headers["content-type"] == "application/zip"
    archive = zipfile.ZipFile(io.BytesIO(answer.content))
    record = json.loads(archive.read("candidate.json"))
    assert (record["candidate"]["name"], record["candidate"]["email"]) == (
        "李娜",
        "li.na@example.com",
    )
    [application] = record["applications"]
    assert application["id"] == str(application_id)
    assert application["note"] == "Lives in 西湖区, speaks Japanese"
    assert application["answers"] == {"district": "西湖区"}
    assert [m["to_stage"] for m in application["moves"]] == ["applied"]
    [sent] = application["files"]
    assert archive.read(sent["path"]) == PDF
    assert _audited(hiring, "recruiting.candidate_exported") == 1
    reviewer = hiring.world.actor(Role.merchant_owner, hiring.tenant).headers
    assert hiring.world.client.get(url, headers=reviewer).status_code == 403


def test_erasure_keeps_the_counts_and_nothing_of_the_person(hiring: Hiring) -> None:
    candidate_id, application_id = _applied(hiring)
    recruiter = hiring.world.actor(Role.recruiter, hiring.tenant).headers
    base = f"{API}/tenants/{hiring.tenant.slug}"
    erase = f"{base}/candidates/{candidate_id}/erase"

    assert (
        hiring.world.client.post(erase, headers=recruiter, json={"reason": ""}).status_code == 422
    )
    first = hiring.world.client.post(erase, headers=recruiter, json={"reason": "asked by e-mail"})
    again = hiring.world.client.post(erase, headers=recruiter, json={"reason": "twice"})

    assert first.status_code == again.status_code == 200, first.text
    erased = first.json()
    assert (erased["name"], erased["email"], erased["phone"]) == (privacy.ERASED_NAME, None, None)
    assert again.json()["erased_at"] == erased["erased_at"]  # the second changed nothing
    cv = hiring.world.client.get(f"{base}/applications/{application_id}/cv", headers=recruiter)
    assert cv.status_code == 404
    with db.unit_of_work(hiring.tenant.id) as session:
        application = service.get_application(session, application_id)
        assert (application.stage, application.note, application.answers) == ("applied", "", {})
    record = hiring.world.client.get(f"{base}/candidates/{candidate_id}/export", headers=recruiter)
    text = zipfile.ZipFile(io.BytesIO(record.content)).read("candidate.json").decode()
    assert "li.na@example.com" not in text and "李娜" not in text and "西湖区" not in text
    assert _audited(hiring, "recruiting.candidate_erased") == 1


def test_retention_ends_in_erasure_unless_a_process_runs(hiring: Hiring) -> None:
    done_id, done_application = _applied(hiring, "done@example.com")
    running_id, _ = _applied(hiring, "running@example.com")
    with db.unit_of_work(hiring.tenant.id) as session:
        for candidate_id in (done_id, running_id):
            service.get_candidate(session, candidate_id).retain_until = utcnow() - timedelta(days=1)
        application = service.get_application(session, done_application)
        service.refuse(session, application, RefusalReason.position_filled, "", None)
        assert application.status == ApplicationStatus.refused

    assert tasks.erase_expired.run() >= 1  # every tenant's (other tests' may be due too)
    with db.unit_of_work(hiring.tenant.id) as session:
        assert privacy.erase_expired(session) == 0  # the next run finds nothing more here

    with db.unit_of_work(hiring.tenant.id) as session:
        assert service.get_candidate(session, done_id).erased_at is not None
        kept = service.get_candidate(session, running_id)
        assert (kept.erased_at, kept.email) == (None, "running@example.com")
