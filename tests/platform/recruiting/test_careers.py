"""The public careers pages end to end: the list and the form, an application reaching the
pipeline with its CV, and every refusal: consent, a renamed executable, a stale or forged token,
the trap field, the rate limit per address, and pages that reveal nothing about what is not
shown; the requisition's own questions asked, checked and kept."""

from __future__ import annotations

from sqlalchemy import func, select

from daiyun.core import db
from daiyun.platform.recruiting import careers, service
from daiyun.platform.recruiting.models import (
    Application,
    Candidate,
    CandidateFile,
    PostingStatus,
    StageMove,
)
from daiyun.platform.recruiting.schemas import PostingUpdate
from daiyun.tenants.auth.permissions import Role
from tests.platform.recruiting.conftest import PDF, Hiring, docx, executable, open_requisition


def _count(hiring: Hiring, model: type) -> int:
    with db.unit_of_work(hiring.tenant.id) as session:
        return session.scalar(select(func.count()).select_from(model)) or 0


def test_the_careers_page_lists_open_postings_and_shows_the_form(hiring: Hiring) -> None:
    client = hiring.world.client
    listed = client.get(f"/careers/{hiring.tenant.slug}")
    assert listed.status_code == 200
    assert hiring.form_url in listed.text
    form = client.get(hiring.form_url)
    assert form.status_code == 200
    assert 'name="token"' in form.text and 'name="website"' in form.text
    assert 'name="consent"' in form.text and "365 days" in form.text


def test_an_application_reaches_the_pipeline_with_its_cv(hiring: Hiring) -> None:
    answer = hiring.apply(phone="138 0013 8000")
    assert answer.status_code == 200, answer.text
    assert "Thank you" in answer.text
    with db.unit_of_work(hiring.tenant.id) as session:
        [application] = session.scalars(select(Application))
        candidate = service.get_candidate(session, application.candidate_id)
        [stored] = session.scalars(select(CandidateFile))
        [move] = session.scalars(select(StageMove))
    assert (application.stage, application.source) == ("applied", "careers")
    assert application.posting_id == hiring.posting_id
    assert (candidate.email_key, candidate.phone) == ("li.na@example.com", "+8613800138000")
    assert candidate.consent_at is not None and candidate.retain_until is not None
    assert (stored.content_type, stored.data, stored.filename) == ("application/pdf", PDF, "cv.pdf")
    assert (move.kind.value, move.to_stage) == ("applied", "applied")


def test_a_docx_is_taken_and_named_for_its_content(hiring: Hiring) -> None:
    doc = ("简历.docx", docx(), "application/octet-stream")
    assert hiring.apply(file=doc).status_code == 200
    with db.unit_of_work(hiring.tenant.id) as session:
        [stored] = session.scalars(select(CandidateFile))
    assert stored.filename == "简历.docx" and stored.content_type.endswith("document")


def test_consent_is_required(hiring: Hiring) -> None:
    answer = hiring.apply(consent=False)
    assert answer.status_code == 422
    assert "agree to the processing" in answer.text
    assert 'value="li.na@example.com"' in answer.text  # what was typed is kept
    assert _count(hiring, Candidate) == _count(hiring, Application) == 0


def test_a_renamed_executable_is_refused(hiring: Hiring) -> None:
    answer = hiring.apply(file=("cv.pdf", executable(), "application/pdf"))
    assert answer.status_code == 422
    assert "PDF or a Word" in answer.text
    assert hiring.apply(file=None).status_code == 422
    assert _count(hiring, Candidate) == _count(hiring, CandidateFile) == 0


def test_a_forged_or_missing_token_is_refused(hiring: Hiring) -> None:
    assert hiring.apply(token="1700000000.deadbeef").status_code == 403
    with_other_posting = hiring.world.client.post(
        hiring.form_url,
        data={"name": "x", "email": "x@example.com", "consent": "yes"},
        files={"cv": ("cv.pdf", PDF, "application/pdf")},
    )
    assert with_other_posting.status_code == 403
    assert _count(hiring, Application) == 0


def test_the_trap_field_is_answered_as_taken_and_keeps_nothing(hiring: Hiring) -> None:
    answer = hiring.apply(website="http://spam.example")
    assert answer.status_code == 200 and "Thank you" in answer.text
    assert _count(hiring, Candidate) == _count(hiring, Application) == 0


def test_an_address_may_send_a_few_applications_per_window(hiring: Hiring) -> None:
    for n in range(careers.MAX_ATTEMPTS):
        assert hiring.apply(email=f"person{n}@example.com").status_code == 200
    refused = hiring.apply(email="one-more@example.com")
    assert refused.status_code == 429
    assert refused.headers["Retry-After"] == str(int(careers.WINDOW.total_seconds()))
    assert "Too many applications" in refused.text
    assert _count(hiring, Application) == careers.MAX_ATTEMPTS
    # Refused forms count too: a script cannot probe for free.
    assert hiring.apply(consent=False).status_code == 429


def test_pages_reveal_nothing_about_what_is_not_shown(hiring: Hiring) -> None:
    client = hiring.world.client
    unknown = client.get("/careers/no-such-merchant")
    other = client.get(f"/careers/{hiring.tenant.slug}/00000000-0000-0000-0000-000000000000")
    garbage = client.get(f"/careers/{hiring.tenant.slug}/not-an-id")
    with db.unit_of_work(hiring.tenant.id) as session:
        posting = service.get_posting(session, hiring.posting_id)
        service.update_posting(session, posting, PostingUpdate(status=PostingStatus.closed))
    closed = client.get(hiring.form_url)
    sent = hiring.apply()
    assert {r.status_code for r in (unknown, other, garbage, closed, sent)} == {404}
    assert len({r.text for r in (unknown, other, garbage, closed, sent)}) == 1
    assert hiring.form_url not in client.get(f"/careers/{hiring.tenant.slug}").text


QUESTIONS = [
    {"key": "years", "label": "客服经验（年）", "kind": "number", "required": True},
    {"key": "nights", "label": "能否上晚班", "kind": "yes_no", "required": True},
    {
        "key": "platform",
        "label": "熟悉的平台",
        "kind": "choice",
        "options": ["淘宝/天猫", "抖音", "京东"],
    },
]


def test_the_requisitions_own_questions_are_asked_checked_and_kept(hiring: Hiring) -> None:
    recruiter = hiring.world.actor(Role.recruiter, hiring.tenant)
    url = f"/api/v1/tenants/{hiring.tenant.slug}/requisitions/{hiring.requisition_id}"
    client = hiring.world.client
    twice = [QUESTIONS[0], {**QUESTIONS[0], "label": "again"}]
    for bad in (twice, [{"key": "x", "label": "x", "kind": "choice"}]):
        refused = client.patch(url, headers=recruiter.headers, json={"form_fields": bad})
        assert refused.status_code == 422
    changed = client.patch(url, headers=recruiter.headers, json={"form_fields": QUESTIONS})
    assert changed.status_code == 200 and changed.json()["form_fields"][2]["options"][1] == "抖音"
    form = client.get(hiring.form_url).text
    assert 'data-question="years"' in form and 'name="q-nights" value="yes" required' in form

    # A required question unanswered, or a number that is not one: refused, nothing kept, the
    # answers typed shown again.
    missing = hiring.apply(**{"q-years": "3"})
    assert missing.status_code == 422 and "every question marked as required" in missing.text
    assert 'name="q-years" inputmode="decimal"' in missing.text and 'value="3"' in missing.text
    wrong = hiring.apply(**{"q-years": "three", "q-nights": "yes"})
    assert wrong.status_code == 422 and "not of the kind asked" in wrong.text
    outside = hiring.apply(**{"q-years": "3", "q-nights": "yes", "q-platform": "拼多多"})
    assert outside.status_code == 422
    assert _count(hiring, Candidate) == _count(hiring, Application) == 0

    sent = hiring.apply(**{"q-years": "2.5", "q-nights": "no", "q-platform": "抖音", "q-x": "?"})
    assert sent.status_code == 200, sent.text
    with db.unit_of_work(hiring.tenant.id) as session:
        [application] = session.scalars(select(Application))
    assert application.answers == {"years": "2.5", "nights": False, "platform": "抖音"}
    read = client.get(
        f"/api/v1/tenants/{hiring.tenant.slug}/applications/{application.id}",
        headers=recruiter.headers,
    )
    assert read.json()["answers"] == {"years": "2.5", "nights": False, "platform": "抖音"}


def test_the_agency_page_lists_only_the_merchants_who_chose_to_be_on_it(hiring: Hiring) -> None:
    client = hiring.world.client
    admin = hiring.world.actor(Role.agency_admin)
    quiet = hiring.world.tenant()
    _, hidden = open_requisition(quiet, "设计师")
    # The merchant of ``hiring`` opts in; the quiet one keeps the default (off).
    settings = client.put(
        f"/api/v1/tenants/{hiring.tenant.slug}/recruiting-settings",
        headers=admin.headers,
        json={"stages": ["applied", "screened", "hired"], "agency_page": True},
    )
    assert settings.status_code == 200 and settings.json()["agency_page"] is True
    page = client.get("/careers")
    assert page.status_code == 200
    assert f'data-merchant="{hiring.tenant.slug}"' in page.text
    assert f"{hiring.form_url}" in page.text
    assert quiet.slug not in page.text and str(hidden) not in page.text
    # A closed posting leaves the page with its merchant's section.
    with db.unit_of_work(hiring.tenant.id) as session:
        posting = service.get_posting(session, hiring.posting_id)
        service.update_posting(session, posting, PostingUpdate(status=PostingStatus.closed))
    assert hiring.tenant.slug not in client.get("/careers").text
