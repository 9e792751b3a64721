"""The recruiting API end to end: a recruiter's requisition through its pipeline, the merchant
owner's review (reads and the shortlist, nothing else), viewers kept out, the CV served as an
attachment and its read audited, and bad input answered as problem+json."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from daiyun.core import db
from daiyun.core.audit.models import AuditEntry
from daiyun.tenants.auth.permissions import Role
from tests.platform.recruiting.conftest import PDF, Hiring

API = "/api/v1"
PROBLEM = "application/problem+json"


def _base(hiring: Hiring) -> str:
    return f"{API}/tenants/{hiring.tenant.slug}"


def test_a_recruiter_runs_a_requisition_through_its_pipeline(hiring: Hiring) -> None:
    client, base = hiring.world.client, _base(hiring)
    recruiter = hiring.world.actor(Role.recruiter, hiring.tenant).headers
    made = client.post(
        f"{base}/requisitions",
        headers=recruiter,
        json={
            "role": "双11 仓库临时工",
            "headcount": 30,
            "pay_min_minor": 2500,
            "pay_max_minor": 3000,
            "pay_period": "hour",
            "location": "嘉兴",
            "employment_type": "seasonal",
            "season_starts_on": "2026-10-25",
            "season_ends_on": "2026-11-15",
        },
    )
    assert made.status_code == 201, made.text
    requisition = made.json()["id"]
    assert made.json()["status"] == "pending_approval"
    opened = client.post(
        f"{base}/requisitions/{requisition}/status", headers=recruiter, json={"status": "open"}
    )
    assert opened.json()["approved_at"] is not None
    posting = client.post(
        f"{base}/postings",
        headers=recruiter,
        json={"requisition_id": requisition, "title": "双11 打包员", "publish": True},
    )
    assert posting.status_code == 201
    people = [
        client.post(
            f"{base}/candidates",
            headers=recruiter,
            json={"name": f"工人{n}", "phone": f"1390000000{n}"},
        ).json()["id"]
        for n in range(3)
    ]
    apps = [
        client.post(
            f"{base}/applications",
            headers=recruiter,
            json={"requisition_id": requisition, "candidate_id": person},
        ).json()["id"]
        for person in people
    ]
    again = client.post(
        f"{base}/applications",
        headers=recruiter,
        json={"requisition_id": requisition, "candidate_id": people[0]},
    )
    assert again.status_code == 409 and again.headers["content-type"] == PROBLEM
    moved = client.post(
        f"{base}/applications-bulk",
        headers=recruiter,
        json={"application_ids": apps, "stage": "interview"},
    )
    assert [a["stage"] for a in moved.json()] == ["interview"] * 3
    refused = client.post(
        f"{base}/applications/{apps[2]}/refuse",
        headers=recruiter,
        json={"reason": "no_show", "message": "未到场"},
    )
    assert refused.json()["status"] == "refused"
    hired = client.post(
        f"{base}/applications/{apps[0]}/move", headers=recruiter, json={"stage": "hired"}
    )
    assert hired.json()["status"] == "hired"
    log = client.get(f"{base}/applications/{apps[0]}/moves", headers=recruiter).json()
    assert [(m["kind"], m["to_stage"]) for m in log] == [
        ("applied", "applied"),
        ("moved", "interview"),
        ("moved", "hired"),
    ]
    at_interview = client.get(
        f"{base}/applications",
        headers=recruiter,
        params={"requisition_id": requisition, "stage": "interview", "status": "active"},
    ).json()["items"]
    assert [a["id"] for a in at_interview] == [apps[1]]


def test_the_owner_reviews_and_shortlists_but_does_not_manage(hiring: Hiring) -> None:
    client, base = hiring.world.client, _base(hiring)
    assert hiring.apply().status_code == 200
    owner = hiring.world.actor(Role.merchant_owner, hiring.tenant).headers
    [application] = client.get(f"{base}/applications", headers=owner).json()["items"]
    marked = client.put(
        f"{base}/applications/{application['id']}/shortlist",
        headers=owner,
        json={"shortlisted": True},
    )
    assert marked.status_code == 200 and marked.json()["shortlisted"] is True
    move = client.post(
        f"{base}/applications/{application['id']}/move", headers=owner, json={"stage": "offer"}
    )
    assert move.status_code == 403 and move.headers["content-type"] == PROBLEM
    viewer = hiring.world.actor(Role.merchant_viewer, hiring.tenant).headers
    for url in (f"{base}/applications", f"{base}/candidates", f"{base}/requisitions"):
        assert client.get(url, headers=viewer).status_code == 403


def test_the_cv_is_an_attachment_and_its_read_is_audited(hiring: Hiring) -> None:
    client, base = hiring.world.client, _base(hiring)
    assert hiring.apply(file=("../李娜 简历.pdf", PDF, "text/html")).status_code == 200
    recruiter = hiring.world.actor(Role.recruiter, hiring.tenant)
    [application] = client.get(f"{base}/applications", headers=recruiter.headers).json()["items"]
    assert application["has_cv"] is True
    answer = client.get(f"{base}/applications/{application['id']}/cv", headers=recruiter.headers)
    assert answer.status_code == 200 and answer.content == PDF
    assert answer.headers["content-type"] == "application/pdf"
    assert answer.headers["content-disposition"].startswith('attachment; filename="')
    assert answer.headers["x-content-type-options"] == "nosniff"
    with db.unit_of_work(hiring.tenant.id) as session:
        reads = list(
            session.scalars(select(AuditEntry).where(AuditEntry.action == "recruiting.file_read"))
        )
    assert [r.actor_id for r in reads] == [recruiter.user.id]


def test_duplicates_and_merge_over_the_api(hiring: Hiring) -> None:
    client, base = hiring.world.client, _base(hiring)
    recruiter = hiring.world.actor(Role.recruiter, hiring.tenant).headers

    def enter(**body: Any) -> dict[str, Any]:
        answer = client.post(f"{base}/candidates", headers=recruiter, json={"name": "周杰", **body})
        assert answer.status_code == 201, answer.text
        return dict(answer.json())

    first = enter(email="zhou@example.com", phone="13700001111")
    second = enter(email="jie@example.com", phone="+86 137 0000 1111")
    [flagged] = client.get(f"{base}/candidates/duplicates", headers=recruiter).json()["items"]
    assert (flagged["id"], flagged["duplicate_of_id"]) == (second["id"], first["id"])
    merged = client.post(
        f"{base}/candidates/{second['id']}/merge", headers=recruiter, json={"into_id": first["id"]}
    )
    assert merged.status_code == 200 and merged.json()["id"] == first["id"]
    assert client.get(f"{base}/candidates/duplicates", headers=recruiter).json()["items"] == []
    found = client.get(f"{base}/candidates", headers=recruiter, params={"q": "1370000"}).json()
    assert [c["id"] for c in found["items"]] == [first["id"]]
    into_itself = client.post(
        f"{base}/candidates/{first['id']}/merge", headers=recruiter, json={"into_id": first["id"]}
    )
    assert into_itself.status_code == 422 and into_itself.headers["content-type"] == PROBLEM


def test_bad_input_is_problem_json(hiring: Hiring) -> None:
    client, base = hiring.world.client, _base(hiring)
    recruiter = hiring.world.actor(Role.recruiter, hiring.tenant).headers
    bad_bodies = [
        # seasonal without its dates; a pay range upside down; headcount true
        {
            "role": "x",
            "pay_min_minor": 1,
            "pay_max_minor": 2,
            "location": "x",
            "employment_type": "seasonal",
        },
        {
            "role": "x",
            "pay_min_minor": 9,
            "pay_max_minor": 2,
            "location": "x",
            "employment_type": "full_time",
        },
        {
            "role": "x",
            "headcount": True,
            "pay_min_minor": 1,
            "pay_max_minor": 2,
            "location": "x",
            "employment_type": "full_time",
        },
    ]
    for body in bad_bodies:
        answer = client.post(f"{base}/requisitions", headers=recruiter, json=body)
        assert answer.status_code == 422, body
        assert answer.headers["content-type"] == PROBLEM
    no_contact = client.post(f"{base}/candidates", headers=recruiter, json={"name": "x"})
    assert no_contact.status_code == 422 and no_contact.json()["type"].endswith("/no-contact")
    bad_stage = client.post(
        f"{base}/applications-bulk",
        headers=recruiter,
        json={"application_ids": [], "stage": "x"},
    )
    assert bad_stage.status_code == 422
    pipeline = client.put(
        f"{base}/recruiting-settings", headers=recruiter, json={"stages": ["screened", "hired"]}
    )
    assert pipeline.status_code == 422 and pipeline.headers["content-type"] == PROBLEM
    # null leaves a field as it was (a requisition always has a headcount and a pay range).
    kept = client.patch(
        f"{base}/requisitions/{hiring.requisition_id}",
        headers=recruiter,
        json={"headcount": None, "pay_min_minor": None, "location": "宁波"},
    )
    assert kept.status_code == 200, kept.text
    assert (kept.json()["headcount"], kept.json()["location"]) == (2, "宁波")
    missing = client.get(
        f"{base}/requisitions/00000000-0000-0000-0000-000000000000", headers=recruiter
    )
    assert missing.status_code == 404 and missing.headers["content-type"] == PROBLEM
