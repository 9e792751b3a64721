"""Interviews and scorecards through the API: a panel never double-booked, the calendar
invitation read back field by field (its UID kept, its SEQUENCE bumped, METHOD:CANCEL at the
end) and mailed to a real SMTP server on loopback once per revision, and the blind scorecard
rule: an interviewer reads the others' cards only once their own is in."""

from __future__ import annotations

import re
import socket
import uuid
from dataclasses import dataclass
from email.message import EmailMessage as Message
from typing import Any

import httpx
import pytest

from daiyun.core import db
from daiyun.core.config import get_settings
from daiyun.platform.recruiting import interviews, service
from daiyun.platform.recruiting.schemas import CandidateCreate
from daiyun.tenants.auth.permissions import Role
from tests.conftest import Actor
from tests.platform.recruiting.conftest import Hiring, Sink, open_requisition

API = "/api/v1"


@dataclass
class Panel:
    hiring: Hiring
    recruiter: Actor
    owner: Actor
    application_id: str

    @property
    def base(self) -> str:
        return f"{API}/tenants/{self.hiring.tenant.slug}"

    def schedule(self, starts: str, ends: str, *panel: Actor, **extra: Any) -> httpx.Response:
        body = {
            "title": "First round",
            "kind": "video",
            "starts_at": starts,
            "ends_at": ends,
            "location": "https://meet.example.com/abc",
            "interviewer_ids": [str(a.user.id) for a in panel],
            **extra,
        }
        return self.hiring.world.client.post(
            f"{self.base}/applications/{self.application_id}/interviews",
            headers=self.recruiter.headers,
            json=body,
        )


@pytest.fixture
def panel(hiring: Hiring) -> Panel:
    world = hiring.world
    recruiter = world.actor(Role.recruiter)
    world.assign(recruiter.user, hiring.tenant, Role.recruiter)
    owner = world.actor(Role.merchant_owner, hiring.tenant)
    with db.unit_of_work(hiring.tenant.id) as session:
        requisition = service.get_requisition(session, hiring.requisition_id)
        candidate = service.create_candidate(
            session, CandidateCreate(name="Li, Na; 李娜", email="li.na@example.com")
        )
        application, _ = service.open_application(session, requisition, candidate, source="t")
    return Panel(hiring, recruiter, owner, str(application.id))


def _calendar(text: str) -> dict[str, list[tuple[dict[str, str], str]]]:
    """An iCalendar object read back: unfolded lines, by property name, with parameters."""
    assert text.endswith("\r\n") and "\n" not in text.replace("\r\n", "")
    lines = text.replace("\r\n ", "").split("\r\n")[:-1]
    found: dict[str, list[tuple[dict[str, str], str]]] = {}
    for line in lines:
        # A name, then ;KEY=value parameters (a quoted value may hold ; and :), then :value.
        head = re.match(r'[A-Z-]+(?:;[A-Z-]+=(?:"[^"]*"|[^;:"]*))*', line)
        assert head is not None and line[head.end()] == ":", line
        name, params = head.group().split(";", 1)[0], {}
        for key, quoted, plain in re.findall(r';([A-Z-]+)=(?:"([^"]*)"|([^;:"]*))', head.group()):
            params[key] = quoted or plain
        found.setdefault(name, []).append((params, line[head.end() + 1 :]))
    return found


def _one(cal: dict[str, list[tuple[dict[str, str], str]]], name: str) -> str:
    [(_, value)] = cal[name]
    return value


def test_an_interviewer_is_never_booked_twice(panel: Panel) -> None:
    made = panel.schedule("2027-01-11T02:00:00Z", "2027-01-11T03:00:00Z", panel.recruiter)
    assert made.status_code == 201, made.text
    # Overlapping by half an hour, for the same interviewer: refused, nothing stored.
    clash = panel.schedule(
        "2027-01-11T02:30:00Z", "2027-01-11T04:00:00Z", panel.owner, panel.recruiter
    )
    assert clash.status_code == 409 and clash.json()["type"].endswith("interviewer-busy")
    # Back to back is a normal day; another interviewer at the same hour is free.
    assert panel.schedule(
        "2027-01-11T03:00:00Z", "2027-01-11T04:00:00Z", panel.recruiter
    ).is_success
    assert panel.schedule("2027-01-11T02:00:00Z", "2027-01-11T03:00:00Z", panel.owner).is_success
    listed = panel.hiring.world.client.get(
        f"{panel.base}/applications/{panel.application_id}/interviews",
        headers=panel.owner.headers,
    ).json()
    assert len(listed) == 3
    # Moving the first onto the owner's hour is refused; cancelling frees the hour.
    [owners] = [i for i in listed if i["interviewer_ids"] == [str(panel.owner.user.id)]]
    first = made.json()["id"]
    moved = panel.hiring.world.client.patch(
        f"{panel.base}/interviews/{first}",
        headers=panel.recruiter.headers,
        json={"interviewer_ids": [str(panel.owner.user.id)]},
    )
    assert moved.status_code == 409
    cancelled = panel.hiring.world.client.post(
        f"{panel.base}/interviews/{owners['id']}/cancel", headers=panel.recruiter.headers
    )
    assert cancelled.json()["status"] == "cancelled"
    moved = panel.hiring.world.client.patch(
        f"{panel.base}/interviews/{first}",
        headers=panel.recruiter.headers,
        json={"interviewer_ids": [str(panel.owner.user.id)]},
    )
    assert moved.status_code == 200 and moved.json()["interviewer_ids"] == [
        str(panel.owner.user.id)
    ]


def test_the_panel_is_made_of_the_merchants_reviewers(panel: Panel) -> None:
    world = panel.hiring.world
    viewer = world.actor(Role.merchant_viewer, panel.hiring.tenant)
    outsider = world.actor(Role.recruiter)  # staff, but not assigned to this merchant
    for actor, kind in ((viewer, "not-a-reviewer"), (outsider, "unknown-interviewer")):
        refused = panel.schedule("2027-01-12T02:00:00Z", "2027-01-12T03:00:00Z", actor)
        assert refused.status_code == 422 and refused.json()["type"].endswith(kind)
    backwards = panel.schedule("2027-01-12T03:00:00Z", "2027-01-12T02:00:00Z", panel.owner)
    assert backwards.status_code == 422
    # A viewer may not schedule, and the merchant's owner reviews without scheduling.
    for who in (viewer, panel.owner):
        answer = world.client.post(
            f"{panel.base}/applications/{panel.application_id}/interviews",
            headers=who.headers,
            json={},
        )
        assert answer.status_code == 403


def test_times_without_an_offset_are_the_merchants_wall_clock(panel: Panel) -> None:
    made = panel.schedule("2027-01-13T10:00:00", "2027-01-13T11:00:00", panel.owner)
    assert made.status_code == 201, made.text
    assert made.json()["starts_at"].startswith("2027-01-13T02:00:00")  # Asia/Shanghai, UTC+8


def test_the_invitation_keeps_its_uid_and_bumps_its_sequence(panel: Panel) -> None:
    client = panel.hiring.world.client
    made = panel.schedule(
        "2027-01-14T02:00:00Z", "2027-01-14T03:00:00Z", panel.recruiter, panel.owner
    ).json()
    url = f"{panel.base}/interviews/{made['id']}"
    first = client.get(f"{url}/invitation.ics", headers=panel.owner.headers)
    assert first.status_code == 200
    assert first.headers["content-type"].startswith("text/calendar")
    cal = _calendar(first.text)
    assert _one(cal, "METHOD") == "REQUEST" and _one(cal, "VERSION") == "2.0"
    uid = _one(cal, "UID")
    assert uid == f"{made['id']}@daiyun"
    assert _one(cal, "SEQUENCE") == "0"
    assert _one(cal, "DTSTART") == "20270114T020000Z"
    assert _one(cal, "DTEND") == "20270114T030000Z"
    assert _one(cal, "LOCATION") == "https://meet.example.com/abc"
    assert "Li\\, Na\\; 李娜" in _one(cal, "SUMMARY")  # escaped as RFC 5545 3.3.11 says
    attendees = {value for _, value in cal["ATTENDEE"]}
    assert attendees == {
        "mailto:li.na@example.com",
        f"mailto:{panel.recruiter.user.email}",
        f"mailto:{panel.owner.user.email}",
    }
    assert {p["CN"] for p, _ in cal["ATTENDEE"]} == {"Li, Na; 李娜", "recruiter", "merchant_owner"}
    assert _one(cal, "ORGANIZER") == f"mailto:{get_settings().recruiting_mail_from}"

    moved = client.patch(
        url,
        headers=panel.recruiter.headers,
        json={"starts_at": "2027-01-15T06:00:00Z", "ends_at": "2027-01-15T07:30:00Z"},
    )
    assert moved.json()["sequence"] == 1
    cal = _calendar(client.get(f"{url}/invitation.ics", headers=panel.owner.headers).text)
    assert _one(cal, "UID") == uid and _one(cal, "SEQUENCE") == "1"
    assert _one(cal, "DTSTART") == "20270115T060000Z"
    assert _one(cal, "DTEND") == "20270115T073000Z"

    client.post(f"{url}/cancel", headers=panel.recruiter.headers)
    cal = _calendar(client.get(f"{url}/invitation.ics", headers=panel.owner.headers).text)
    assert _one(cal, "METHOD") == "CANCEL" and _one(cal, "STATUS") == "CANCELLED"
    assert _one(cal, "UID") == uid and _one(cal, "SEQUENCE") == "2"
    # A cancelled interview is neither moved nor listed as upcoming.
    assert (
        client.patch(url, headers=panel.recruiter.headers, json={"title": "X"}).status_code == 409
    )
    upcoming = client.get(f"{panel.base}/interviews", headers=panel.owner.headers).json()
    assert made["id"] not in {i["id"] for i in upcoming["items"]}


def _invite(message: Message) -> tuple[str, dict[str, list[tuple[dict[str, str], str]]]]:
    [part] = [p for p in message.walk() if p.get_content_type() == "text/calendar"]
    payload = part.get_payload(decode=True)
    assert isinstance(payload, bytes)
    return str(part.get_param("method")), _calendar(payload.decode())


def test_the_invitation_is_mailed_once_per_revision(panel: Panel, smtp: Sink) -> None:
    tenant_id = panel.hiring.tenant.id
    made = panel.schedule(
        "2027-01-16T02:00:00Z", "2027-01-16T03:00:00Z", panel.recruiter, panel.owner
    ).json()
    interview_id = uuid.UUID(made["id"])
    for _ in range(2):  # the task run twice sends once
        with db.unit_of_work(tenant_id) as session:
            assert interviews.send(session, interview_id) is True
    candidate, staff = smtp.messages
    assert candidate["To"] == "li.na@example.com"
    method, cal = _invite(candidate)
    # The candidate's copy names them alone: the panel's addresses are not theirs to have.
    assert method == "REQUEST" and [v for _, v in cal["ATTENDEE"]] == ["mailto:li.na@example.com"]
    body = candidate.get_body(("plain",))
    assert body is not None and "2027-01-16 10:00" in body.get_content()  # the merchant's zone
    assert set(staff["To"].split(", ")) == {panel.recruiter.user.email, panel.owner.user.email}
    assert len(_invite(staff)[1]["ATTENDEE"]) == 3

    panel.hiring.world.client.post(
        f"{panel.base}/interviews/{interview_id}/cancel", headers=panel.recruiter.headers
    )
    with db.unit_of_work(tenant_id) as session:
        interviews.send(session, interview_id)
    assert len(smtp.messages) == 4
    method, cal = _invite(smtp.messages[2])
    assert method == "CANCEL" and _one(cal, "SEQUENCE") == "1"
    assert smtp.messages[2]["Subject"].startswith("Cancelled")


def test_an_invitation_the_server_refuses_stays_due(
    panel: Panel, monkeypatch: pytest.MonkeyPatch
) -> None:
    made = panel.schedule("2027-01-17T02:00:00Z", "2027-01-17T03:00:00Z", panel.owner).json()
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        closed = int(probe.getsockname()[1])
    monkeypatch.setattr(get_settings(), "smtp_port", closed)  # nobody listens
    with db.unit_of_work(panel.hiring.tenant.id) as session:
        assert interviews.send(session, uuid.UUID(made["id"])) is False
        found = interviews.get(session, uuid.UUID(made["id"]))
        assert found.mailed_sequence < found.sequence  # the sweep sends it again


def _card(panel: Panel, actor: Actor, interview_id: str, rec: str = "yes") -> httpx.Response:
    return panel.hiring.world.client.post(
        f"{panel.base}/interviews/{interview_id}/scorecards",
        headers=actor.headers,
        json={
            "ratings": {"沟通": 3, "Taobao backend": 4},
            "recommendation": rec,
            "notes": "Calm with angry buyers",
        },
    )


def test_an_interviewer_reads_the_others_cards_only_after_their_own(panel: Panel) -> None:
    client = panel.hiring.world.client
    made = panel.schedule(
        "2027-01-18T02:00:00Z", "2027-01-18T03:00:00Z", panel.recruiter, panel.owner
    ).json()
    summary_url = f"{panel.base}/applications/{panel.application_id}/scorecards"
    assert _card(panel, panel.recruiter, made["id"], "strong_yes").status_code == 201
    # The owner has not scored yet: the recruiter's card is there, but not for them to read.
    blind = client.get(summary_url, headers=panel.owner.headers).json()
    assert blind["submitted"] == 1 and blind["hidden"] == 1 and blind["scorecards"] == []
    per_interview = client.get(
        f"{panel.base}/interviews/{made['id']}/scorecards", headers=panel.owner.headers
    ).json()
    assert per_interview["scorecards"] == [] and per_interview["hidden"] == 1
    # The recruiter, done, reads what there is (their own).
    assert len(client.get(summary_url, headers=panel.recruiter.headers).json()["scorecards"]) == 1
    # Someone off the panel reads every card.
    other = panel.hiring.world.actor(Role.recruiter)
    panel.hiring.world.assign(other.user, panel.hiring.tenant, Role.recruiter)
    assert len(client.get(summary_url, headers=other.headers).json()["scorecards"]) == 1
    # ... but may not score an interview they did not sit on.
    assert _card(panel, other, made["id"]).status_code == 403

    assert _card(panel, panel.owner, made["id"], "no").status_code == 201
    seen = client.get(summary_url, headers=panel.owner.headers).json()
    assert seen["hidden"] == 0 and len(seen["scorecards"]) == 2
    assert seen["recommendations"] == {"strong_no": 0, "no": 1, "yes": 0, "strong_yes": 1}
    assert seen["averages"] == {"Taobao backend": 4.0, "沟通": 3.0}
    # One card each, never replaced.
    assert _card(panel, panel.owner, made["id"]).status_code == 409


def test_a_second_round_blinds_its_panel_again(panel: Panel) -> None:
    client = panel.hiring.world.client
    first = panel.schedule("2027-01-19T02:00:00Z", "2027-01-19T03:00:00Z", panel.recruiter).json()
    assert _card(panel, panel.recruiter, first["id"]).status_code == 201
    # The owner sits on round two: until they score it they do not read round one's card.
    panel.schedule("2027-01-20T02:00:00Z", "2027-01-20T03:00:00Z", panel.owner)
    summary_url = f"{panel.base}/applications/{panel.application_id}/scorecards"
    assert client.get(summary_url, headers=panel.owner.headers).json()["hidden"] == 1


def test_bad_scorecards_are_refused(panel: Panel) -> None:
    made = panel.schedule("2027-01-21T02:00:00Z", "2027-01-21T03:00:00Z", panel.owner).json()
    url = f"{panel.base}/interviews/{made['id']}/scorecards"
    for body in (
        {"ratings": {"沟通": 5}, "recommendation": "yes"},
        {"ratings": {"沟通": 0}, "recommendation": "yes"},
        {"ratings": {}, "recommendation": "yes"},
        {"ratings": {"沟通": 3}, "recommendation": "maybe"},
        {"ratings": {"沟通": True}, "recommendation": "yes"},
    ):
        answer = panel.hiring.world.client.post(url, headers=panel.owner.headers, json=body)
        assert answer.status_code == 422, body


def test_another_merchant_sees_nothing_of_the_interviews(panel: Panel) -> None:
    world = panel.hiring.world
    made = panel.schedule("2027-01-22T02:00:00Z", "2027-01-22T03:00:00Z", panel.owner).json()
    other = world.tenant()
    owner_b = world.actor(Role.merchant_owner, other)
    base_b = f"{API}/tenants/{other.slug}"
    for path in (f"/interviews/{made['id']}", f"/interviews/{made['id']}/invitation.ics"):
        assert world.client.get(f"{base_b}{path}", headers=owner_b.headers).status_code == 404
        assert world.client.get(f"{panel.base}{path}", headers=owner_b.headers).status_code == 404
    assert world.client.get(f"{base_b}/interviews", headers=owner_b.headers).json()["items"] == []
    # B's owner cannot be put on A's panel.
    refused = panel.schedule("2027-01-23T02:00:00Z", "2027-01-23T03:00:00Z", owner_b)
    assert refused.status_code == 422


def test_a_recruiter_is_not_booked_for_two_merchants_at_once(panel: Panel) -> None:
    """The recruiter interviews for a second merchant too: an hour taken at one is refused at
    the other, saying only when (not for whom); cancelling frees it for both."""
    world = panel.hiring.world
    other = world.tenant()
    world.assign(panel.recruiter.user, other, Role.recruiter)
    requisition_id, posting_id = open_requisition(other, "美工")
    with db.unit_of_work(other.id) as session:
        candidate = service.create_candidate(
            session, CandidateCreate(name="赵雷", email="zhao.lei@example.com")
        )
        requisition = service.get_requisition(session, requisition_id)
        application, _ = service.open_application(session, requisition, candidate, source="t")
    hiring = Hiring(world, other, requisition_id, posting_id)
    elsewhere = Panel(hiring, panel.recruiter, panel.owner, str(application.id))
    made = panel.schedule("2027-02-01T02:00:00Z", "2027-02-01T03:00:00Z", panel.recruiter)
    assert made.status_code == 201, made.text
    clash = elsewhere.schedule("2027-02-01T02:30:00Z", "2027-02-01T03:30:00Z", panel.recruiter)
    assert clash.status_code == 409 and clash.json()["type"].endswith("interviewer-busy")
    assert panel.hiring.tenant.slug not in clash.text and "李娜" not in clash.text
    later = elsewhere.schedule("2027-02-01T03:00:00Z", "2027-02-01T04:00:00Z", panel.recruiter)
    assert later.status_code == 201
    # Moving the first merchant's interview onto the second's hour is refused too.
    moved = world.client.patch(
        f"{panel.base}/interviews/{made.json()['id']}",
        headers=panel.recruiter.headers,
        json={"starts_at": "2027-02-01T03:30:00Z", "ends_at": "2027-02-01T04:30:00Z"},
    )
    assert moved.status_code == 409
    cancelled = world.client.post(
        f"{elsewhere.base}/interviews/{later.json()['id']}/cancel",
        headers=panel.recruiter.headers,
    )
    assert cancelled.json()["status"] == "cancelled"
    moved = world.client.patch(
        f"{panel.base}/interviews/{made.json()['id']}",
        headers=panel.recruiter.headers,
        json={"starts_at": "2027-02-01T03:30:00Z", "ends_at": "2027-02-01T04:30:00Z"},
    )
    assert moved.status_code == 200, moved.text
