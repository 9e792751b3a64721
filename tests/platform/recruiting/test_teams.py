"""Part-time teams: a 双11 team of hires works shifts (one past midnight), the recruiter marks
attendance once each shift's day has come, and the attendance sheet totals what payroll pays.
A hire is never on two overlapping shifts, never on a team they cannot work, and what was
marked is never taken off."""

from __future__ import annotations

import csv
import io
import uuid
from datetime import date, timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select

from daiyun.core import db, periods
from daiyun.platform.recruiting.models import ShiftWorker
from daiyun.platform.recruiting.schemas import CandidateCreate
from daiyun.tenants.auth.permissions import Role
from tests.conftest import Actor
from tests.platform.recruiting.conftest import Hiring, hired

API = "/api/v1"
# The world's merchants keep Beijing time: their today, not UTC's, is when a shift's day has come.
TODAY = periods.today("Asia/Shanghai")


class Season:
    def __init__(self, hiring: Hiring) -> None:
        self.hiring, self.client = hiring, hiring.world.client
        self.recruiter = hiring.world.actor(Role.recruiter, hiring.tenant)
        self.owner = hiring.world.actor(Role.merchant_owner, hiring.tenant)
        self.base = f"{API}/tenants/{hiring.tenant.slug}"
        assert hiring.tenant.time_zone == "Asia/Shanghai"

    def hire(self, name: str, starts_on: date, left_on: date | None = None) -> str:
        """A hired candidate's placement (paid by the hour, recorded as such)."""
        person = CandidateCreate(name=name, email=f"{uuid.uuid4().hex[:8]}@example.com")
        hiring = self.hiring
        return str(hired(hiring.tenant.id, hiring.requisition_id, person, starts_on, left_on))

    def call(
        self, method: str, path: str, body: Any = None, who: Actor | None = None, **params: Any
    ) -> httpx.Response:
        headers = (who or self.recruiter).headers
        return self.client.request(
            method, f"{self.base}{path}", headers=headers, json=body, params=params
        )

    def team(self, first: date, last: date, name: str = "双11 仓库临时工") -> str:
        made = self.call(
            "POST",
            "/teams",
            {"name": name, "starts_on": first.isoformat(), "ends_on": last.isoformat()},
        )
        assert made.status_code == 201, made.text
        return str(made.json()["id"])

    def join(self, team_id: str, placement_id: str, job: str = "拣货") -> httpx.Response:
        return self.call("PUT", f"/teams/{team_id}/members/{placement_id}", {"job": job})

    def shifts(self, team_id: str, **body: Any) -> httpx.Response:
        return self.call("POST", f"/teams/{team_id}/shifts", body)

    def worker_rows(self) -> int:
        with db.unit_of_work(self.hiring.tenant.id) as session:
            return session.scalar(select(func.count()).select_from(ShiftWorker)) or 0


@pytest.fixture
def season(hiring: Hiring) -> Season:
    return Season(hiring)


def _by(shift: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {w["placement_id"]: w for w in shift["workers"]}


def test_a_team_works_its_shifts_and_the_sheet_totals_what_payroll_pays(season: Season) -> None:
    first, last = TODAY - timedelta(days=2), TODAY + timedelta(days=10)
    team = season.team(first, last)
    li, wang, zhao = (season.hire(n, first - timedelta(days=5)) for n in ("李雷", "王梅", "赵强"))
    for hire, job in ((li, "拣货"), (wang, "打包"), (zhao, "组长")):
        joined = season.join(team, hire, job)
        assert joined.status_code == 200 and joined.json()["job"] == job
    # Joining again changes the job only.
    again = season.join(team, wang, "复核")
    assert again.status_code == 200 and again.json()["job"] == "复核"

    day = {"first_day": first.isoformat(), "last_day": (first + timedelta(days=1)).isoformat()}
    days = season.shifts(
        team, name="白班", starts="08:00", ends="17:00", needed=2, placement_ids=[li, wang], **day
    )
    assert days.status_code == 201, days.text
    assert [s["day"] for s in days.json()] == [
        first.isoformat(),
        (first + timedelta(1)).isoformat(),
    ]
    # The same batch again (a retry) makes nothing new and answers the same shifts.
    retry = season.shifts(team, name="白班", starts="08:00", ends="17:00", needed=2, **day)
    assert retry.status_code == 200
    assert [s["id"] for s in retry.json()] == [s["id"] for s in days.json()]
    night = season.shifts(
        team, name="夜班", first_day=first.isoformat(), starts="22:00", ends="06:00",
        placement_ids=[zhao],
    )  # fmt: skip
    assert night.status_code == 201
    [day_one, day_two], [night_one] = days.json(), night.json()
    assert _by(day_one)[li]["status"] == "scheduled"

    marked = season.call(
        "PUT",
        f"/shifts/{day_one['id']}/attendance",
        {
            "marks": [
                {
                    "placement_id": li,
                    "status": "present",
                    "clock_in": "08:00",
                    "clock_out": "17:30",
                },
                {"placement_id": wang, "status": "late", "clock_in": "09:15", "note": "地铁故障"},
            ]
        },
    )
    assert marked.status_code == 200, marked.text
    workers = _by(marked.json())
    assert (workers[li]["minutes"], workers[li]["clock_out"]) == (570, "17:30")
    assert (workers[wang]["status"], workers[wang]["minutes"]) == ("late", 465)  # to 17:00
    # The night shift runs past midnight: eight hours; the next day, 李雷 was absent.
    night_marks = {"marks": [{"placement_id": zhao, "status": "present"}]}
    assert (
        season.call("PUT", f"/shifts/{night_one['id']}/attendance", night_marks).json()["workers"][
            0
        ]["minutes"]
        == 480
    )
    absent = {"marks": [{"placement_id": li, "status": "absent"}]}
    assert season.call("PUT", f"/shifts/{day_two['id']}/attendance", absent).status_code == 200

    # A correction replaces the mark: 王梅 had agreed leave after all.
    excused = {"marks": [{"placement_id": wang, "status": "excused"}]}
    fixed = season.call("PUT", f"/shifts/{day_one['id']}/attendance", excused)
    assert (_by(fixed.json())[wang]["status"], _by(fixed.json())[wang]["minutes"]) == (
        "excused",
        0,
    )

    # The merchant's owner reads the sheet: a row per member, a column per shift.
    sheet = season.call("GET", f"/teams/{team}/attendance", who=season.owner)
    assert sheet.status_code == 200, sheet.text
    body = sheet.json()
    assert (body["first"], body["last"]) == (first.isoformat(), last.isoformat())
    rows = {r["placement_id"]: r for r in body["rows"]}
    assert (rows[li]["present"], rows[li]["absent"], rows[li]["minutes"]) == (1, 1, 570)
    assert (rows[wang]["excused"], rows[wang]["minutes"]) == (1, 0)
    assert (rows[zhao]["present"], rows[zhao]["minutes"]) == (1, 480)
    assert body["minutes"] == 1050
    came = {s["id"]: s["came"] for s in body["shifts"]}
    assert came == {day_one["id"]: 1, day_two["id"]: 0, night_one["id"]: 1}

    exported = season.call("GET", f"/teams/{team}/attendance.csv", who=season.owner)
    assert exported.headers["content-type"].startswith("text/csv")
    lines = {r["name"]: r for r in csv.DictReader(io.StringIO(exported.text))}
    assert (lines["李雷"]["hours"], lines["李雷"]["job"]) == ("9.5", "拣货")
    assert lines["李雷"][f"{first.isoformat()} 白班"] == "present"
    assert lines["赵强"]["hours"] == "8.0" and lines["王梅"]["excused"] == "1"

    # The owner reads but does not mark.
    denied = season.call("PUT", f"/shifts/{day_two['id']}/attendance", excused, who=season.owner)
    assert denied.status_code == 403
    listed = {s["id"]: s for s in season.call("GET", f"/teams/{team}/shifts").json()}
    assert list(listed) == [day_one["id"], night_one["id"], day_two["id"]]  # by day and time
    assert _by(listed[day_two["id"]])[li]["status"] == "absent"


def test_a_hire_is_never_on_two_shifts_at_once_nor_on_a_team_they_cannot_work(
    season: Season,
) -> None:
    first, last = TODAY - timedelta(days=1), TODAY + timedelta(days=5)
    warehouse, packing = season.team(first, last), season.team(first, last, "打包组")
    hire = season.hire("孙悦", first - timedelta(days=3))
    for team in (warehouse, packing):
        assert season.join(team, hire).status_code == 200
    late = season.shifts(
        warehouse, name="夜班", first_day=TODAY.isoformat(), starts="22:00", ends="06:00",
        placement_ids=[hire],
    )  # fmt: skip
    assert late.status_code == 201
    # The next morning's 05:00 shift on the other team overlaps the night: refused, nothing made.
    early = season.shifts(
        packing, name="早班", first_day=(TODAY + timedelta(1)).isoformat(), starts="05:00",
        ends="13:00", placement_ids=[hire],
    )  # fmt: skip
    assert early.status_code == 409 and early.json()["type"].endswith("double-booked")
    assert season.call("GET", f"/teams/{packing}/shifts").json() == []
    # From 06:00 it fits.
    fits = season.shifts(
        packing, name="早班", first_day=(TODAY + timedelta(1)).isoformat(), starts="06:00",
        ends="14:00", placement_ids=[hire],
    )  # fmt: skip
    assert fits.status_code == 201

    # Only members go on a roster; a hire who left before the team starts never joins it.
    outsider = season.hire("周杰", first - timedelta(days=3))
    [shift] = late.json()
    roster = season.call("PUT", f"/shifts/{shift['id']}/roster", {"placement_ids": [outsider]})
    assert roster.status_code == 422 and roster.json()["type"].endswith("not-a-member")
    gone = season.hire("吴迪", first - timedelta(days=30), left_on=first - timedelta(days=2))
    refused = season.join(warehouse, gone)
    assert refused.status_code == 409 and refused.json()["type"].endswith("hire-left")
    outside = season.shifts(
        warehouse, name="白班", first_day=(last + timedelta(1)).isoformat(), starts="08:00",
        ends="17:00",
    )  # fmt: skip
    assert outside.status_code == 422 and outside.json()["type"].endswith("shift-outside-team")

    # Tomorrow's shift is not marked yet; clock times are for those who came.
    [tomorrow] = fits.json()
    future = {"marks": [{"placement_id": hire, "status": "present"}]}
    early_mark = season.call("PUT", f"/shifts/{tomorrow['id']}/attendance", future)
    assert early_mark.status_code == 422
    assert early_mark.json()["type"].endswith("shift-not-started")
    clocked = {"marks": [{"placement_id": hire, "status": "absent", "clock_in": "22:00"}]}
    assert season.call("PUT", f"/shifts/{shift['id']}/attendance", clocked).status_code == 422
    bad_clock = {"marks": [{"placement_id": hire, "status": "present", "clock_in": "25:00"}]}
    assert season.call("PUT", f"/shifts/{shift['id']}/attendance", bad_clock).status_code == 422

    # What was marked stays: the worker stays on the roster and the member on the team.
    marked = season.call("PUT", f"/shifts/{shift['id']}/attendance", future)
    assert marked.status_code == 200
    rows = season.worker_rows()
    off = season.call("PUT", f"/shifts/{shift['id']}/roster", {"placement_ids": []})
    assert off.status_code == 409 and off.json()["type"].endswith("attendance-marked")
    leave = season.call("DELETE", f"/teams/{warehouse}/members/{hire}")
    assert leave.status_code == 409 and season.worker_rows() == rows
    # A member with nothing marked leaves the team and its rosters.
    assert season.call("DELETE", f"/teams/{packing}/members/{hire}").status_code == 204
    assert season.worker_rows() == rows - 1
    assert season.call("GET", f"/teams/{packing}").json()["members"] == []


def test_a_team_keeps_its_days_in_order(season: Season) -> None:
    backwards = season.call(
        "POST", "/teams", {"name": "x", "starts_on": "2026-11-11", "ends_on": "2026-11-01"}
    )
    assert backwards.status_code == 422
    team = season.team(TODAY, TODAY + timedelta(days=3))
    sheet = season.call("GET", f"/teams/{team}/attendance", first="2026-01-01", last="2026-12-31")
    assert sheet.status_code == 422 and sheet.json()["type"].endswith("bad-period")


def test_a_rota_runs_on_the_weekdays_given(season: Season) -> None:
    """Weekends only over two weeks: four shifts, each on a Saturday or a Sunday; a retry makes
    nothing more, and a weekday that is not one is refused with nothing made."""
    monday = TODAY - timedelta(days=TODAY.weekday())
    team = season.team(monday, monday + timedelta(days=13))
    batch = {"name": "周末班", "starts": "09:00", "ends": "18:00", "weekdays": [6, 7]}
    span = {"first_day": monday.isoformat(), "last_day": (monday + timedelta(13)).isoformat()}
    made = season.shifts(team, **batch, **span)
    assert made.status_code == 201, made.text
    days = [date.fromisoformat(s["day"]) for s in made.json()]
    assert [d.isoweekday() for d in days] == [6, 7, 6, 7]
    assert days[0] == monday + timedelta(days=5)
    again = season.shifts(team, **batch, **span)
    assert again.status_code == 200 and len(again.json()) == 4
    for wrong in ([0], [8], []):
        refused = season.shifts(team, **{**batch, "weekdays": wrong}, **span)
        assert refused.status_code == 422, wrong
    assert len(season.call("GET", f"/teams/{team}/shifts").json()) == 4
