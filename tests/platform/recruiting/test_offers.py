"""Offers through the API: a recruiter's draft, the merchant owner's approval, sent, and the
candidate's answer; accepting is the hire (the application at the pipeline's last stage, the
move logged); pay stays exact in minor units with its currency; one offer stands at a time."""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any

import httpx
import pytest

from daiyun.core import db
from daiyun.core.ids import utcnow
from daiyun.platform.recruiting import offers, service
from daiyun.platform.recruiting import tasks as recruiting_tasks
from daiyun.platform.recruiting.schemas import CandidateCreate
from daiyun.tenants.auth.permissions import Role
from tests.conftest import Actor
from tests.platform.recruiting.conftest import Hiring, Sink

API = "/api/v1"


class Desk:
    def __init__(self, hiring: Hiring) -> None:
        world = hiring.world
        self.hiring, self.client = hiring, world.client
        self.recruiter = world.actor(Role.recruiter, hiring.tenant)
        self.owner = world.actor(Role.merchant_owner, hiring.tenant)
        self.base = f"{API}/tenants/{hiring.tenant.slug}"
        with db.unit_of_work(hiring.tenant.id) as session:
            requisition = service.get_requisition(session, hiring.requisition_id)
            candidate = service.create_candidate(
                session, CandidateCreate(name="郑丽", email="zheng.li@example.com")
            )
            application, _ = service.open_application(session, requisition, candidate, source="t")
            service.move(session, application, "offer", None)
        self.application_id = str(application.id)

    def post(self, path: str, who: Actor, body: dict[str, Any] | None = None) -> httpx.Response:
        return self.client.post(f"{self.base}{path}", headers=who.headers, json=body or {})

    def draft(self, **terms: Any) -> httpx.Response:
        body = {"salary_minor": 800_000, "currency": "CNY", "starts_on": "2027-02-01", **terms}
        return self.post(f"/applications/{self.application_id}/offers", self.recruiter, body)


@pytest.fixture
def desk(hiring: Hiring) -> Desk:
    return Desk(hiring)


def test_an_offer_goes_from_draft_to_the_hire(desk: Desk) -> None:
    made = desk.draft(terms="五险一金, 双休")
    assert made.status_code == 201, made.text
    offer = made.json()
    assert offer["status"] == "draft" and offer["salary_minor"] == 800_000
    url = f"/offers/{offer['id']}"
    # Not sent before the merchant approves; the owner approves, the recruiter sends.
    assert desk.post(f"{url}/send", desk.recruiter).status_code == 409
    approved = desk.post(f"{url}/approve", desk.owner).json()
    assert approved["status"] == "approved" and approved["approved_by"] == str(desk.owner.user.id)
    assert desk.post(f"{url}/send", desk.owner).status_code == 403  # the owner does not send
    sent = desk.post(f"{url}/send", desk.recruiter).json()
    assert sent["status"] == "sent" and sent["sent_at"] is not None
    # Sent terms stay as they were.
    changed = desk.client.patch(
        f"{desk.base}{url}", headers=desk.recruiter.headers, json={"salary_minor": 1}
    )
    assert changed.status_code == 409
    accepted = desk.post(f"{url}/accept", desk.recruiter).json()
    assert accepted["status"] == "accepted" and accepted["responded_at"] is not None
    application = desk.client.get(
        f"{desk.base}/applications/{desk.application_id}", headers=desk.owner.headers
    ).json()
    assert application["stage"] == "hired" and application["status"] == "hired"
    moves = desk.client.get(
        f"{desk.base}/applications/{desk.application_id}/moves", headers=desk.owner.headers
    ).json()
    assert moves[-1]["to_stage"] == "hired" and moves[-1]["from_stage"] == "offer"
    assert desk.post(f"{url}/decline", desk.recruiter).status_code == 409


def test_a_declined_offer_makes_room_for_the_next(desk: Desk) -> None:
    first = desk.draft().json()
    assert desk.draft().status_code == 409  # one offer stands at a time
    url = f"/offers/{first['id']}"
    desk.post(f"{url}/approve", desk.owner)
    desk.post(f"{url}/send", desk.recruiter)
    declined = desk.post(f"{url}/decline", desk.recruiter, {"reason": "另有高薪"}).json()
    assert declined["status"] == "declined" and declined["decline_reason"] == "另有高薪"
    second = desk.draft(salary_minor=950_000)
    assert second.status_code == 201
    listed = desk.client.get(
        f"{desk.base}/applications/{desk.application_id}/offers", headers=desk.owner.headers
    ).json()
    assert [o["status"] for o in listed] == ["declined", "draft"]
    waiting = desk.client.get(
        f"{desk.base}/offers", params={"status": "draft"}, headers=desk.owner.headers
    ).json()
    assert [o["id"] for o in waiting["items"]] == [second.json()["id"]]


def test_changing_an_approved_offer_sends_it_back_to_the_merchant(desk: Desk) -> None:
    offer = desk.draft().json()
    url = f"{desk.base}/offers/{offer['id']}"
    desk.post(f"/offers/{offer['id']}/approve", desk.owner)
    changed = desk.client.patch(
        url, headers=desk.recruiter.headers, json={"salary_minor": 820_050, "currency": "USD"}
    ).json()
    assert changed["status"] == "draft" and changed["approved_at"] is None
    assert (changed["salary_minor"], changed["currency"]) == (820_050, "USD")


def test_bad_offers_are_refused(desk: Desk) -> None:
    for terms in (
        {"salary_minor": 0},
        {"salary_minor": 8000.5},
        {"currency": "rmb"},
        {"starts_on": "next monday"},
        {"pay_period": "week"},
    ):
        assert desk.draft(**terms).status_code == 422, terms
    viewer = desk.hiring.world.actor(Role.merchant_viewer, desk.hiring.tenant)
    assert desk.client.get(f"{desk.base}/offers", headers=viewer.headers).status_code == 403
    # The owner approves, but drafts no offer.
    body = {"salary_minor": 1, "starts_on": "2027-02-01"}
    refused = desk.post(f"/applications/{desk.application_id}/offers", desk.owner, body)
    assert refused.status_code == 403


def test_a_sent_offer_is_mailed_to_the_candidate_once(desk: Desk, smtp: Sink) -> None:
    offer = desk.draft(terms="五险一金").json()
    url = f"/offers/{offer['id']}"
    desk.post(f"{url}/approve", desk.owner)
    assert desk.post(f"{url}/send", desk.recruiter).status_code == 200
    tenant_id, offer_id = desk.hiring.tenant.id, uuid.UUID(offer["id"])
    for _ in range(2):  # the task run twice mails once
        with db.unit_of_work(tenant_id) as session:
            assert offers.mail_letter(session, offer_id) is True
    [letter] = smtp.messages
    assert letter["To"] == "zheng.li@example.com" and "客服专员" in letter["Subject"]
    body = letter.get_body(("plain",))
    assert body is not None
    text = body.get_content()
    assert "8,000.00 CNY" in text and "2027-02-01" in text and "五险一金" in text
    # A letter whose task was lost is mailed by the sweep.
    with db.unit_of_work(tenant_id) as session:
        found = offers.get(session, offer_id)
        found.mailed_at, found.sent_at = None, utcnow() - timedelta(minutes=10)
    assert recruiting_tasks.sweep_tenant(tenant_id) == 1
    assert len(smtp.messages) == 2
    read = desk.client.get(f"{desk.base}{url}", headers=desk.owner.headers).json()
    assert read["mailed_at"] is not None
