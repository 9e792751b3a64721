"""A seasonal team in the portal: a recruiter makes the team on the recruiting page, adds a
hire, plans the shifts with everyone on the roster and marks a shift's attendance; the sheet
shows each mark and the hours. The merchant's owner reads the sheet and its CSV, with no form."""

from __future__ import annotations

import csv
import io
from datetime import timedelta

from daiyun.core import db, periods
from daiyun.platform.recruiting import teams
from daiyun.platform.recruiting.schemas import CandidateCreate
from daiyun.tenants.auth.permissions import Role
from tests.conftest import World
from tests.platform.recruiting.conftest import Hiring, hired, hiring  # noqa: F401
from tests.portal.conftest import PortalClient, csrf_of

PORTAL = "/portal"


def test_a_recruiter_runs_a_team_and_the_merchant_reads_its_sheet(
    hiring: Hiring,  # noqa: F811
    world: World,
    portal_as: PortalClient,
) -> None:
    today = periods.today(hiring.tenant.time_zone)
    person = CandidateCreate(name="钱多多", email="qian@example.com")
    hire_id = hired(hiring.tenant.id, hiring.requisition_id, person, today - timedelta(days=3))
    base = f"{PORTAL}/t/{hiring.tenant.slug}"
    recruiter = portal_as(world.user(Role.recruiter, hiring.tenant))
    page = recruiter.get(f"{base}/recruiting")
    made = recruiter.post(
        f"{base}/teams",
        data={
            "csrf_token": csrf_of(page.text),
            "name": "双11 仓库临时工",
            "starts_on": (today - timedelta(days=1)).isoformat(),
            "ends_on": (today + timedelta(days=10)).isoformat(),
            "next": f"{base}/recruiting",
        },
        follow_redirects=False,
    )
    assert made.status_code == 303 and "error" not in made.headers["location"]
    with db.unit_of_work(hiring.tenant.id) as session:
        [team] = teams.find(session, None, 10)[0]
        team_id = team.id
    assert f'data-team="{team_id}"' in recruiter.get(f"{base}/recruiting").text

    url = f"{base}/teams/{team_id}"
    page = recruiter.get(url)
    assert f'<option value="{hire_id}">钱多多' in page.text
    form = {"csrf_token": csrf_of(page.text), "next": url}
    joined = recruiter.post(
        f"{url}/members", data={**form, "placement_id": str(hire_id), "job": "打包"}
    )
    assert f'data-member="{hire_id}"' in joined.text
    planned = recruiter.post(
        f"{url}/shifts",
        data={
            **form,
            "name": "白班",
            "first_day": today.isoformat(),
            "last_day": (today + timedelta(days=1)).isoformat(),
            "starts": "09:00",
            "ends": "18:00",
            "needed": "2",
            "everyone": "1",
        },
        follow_redirects=False,
    )
    assert planned.status_code == 303 and "error" not in planned.headers["location"]
    with db.unit_of_work(hiring.tenant.id) as session:
        shifts = teams.read_shifts(session, teams.shifts_between(session, team, None, None))
    assert [len(s.workers) for s in shifts] == [1, 1]  # everyone on both rosters
    now, tomorrow = shifts

    # Tomorrow's shift cannot be marked yet: refused, and said so.
    mark = {**form, f"status-{hire_id}": "late", f"in-{hire_id}": "09:30"}
    early = recruiter.post(f"{base}/shifts/{tomorrow.id}/attendance", data=mark)
    assert "error=shift-not-started" in str(early.url)
    page = recruiter.get(f"{url}?shift={now.id}")
    assert f'data-marking="{now.id}"' in page.text
    marked = recruiter.post(f"{base}/shifts/{now.id}/attendance", data=mark)
    assert "error" not in str(marked.url)
    cell = f'<td data-cell="{now.id}"><span class="badge warn">'
    assert cell in marked.text and f'data-hours="{hire_id}">8.5<' in marked.text

    # A rota on one weekday: the form's ticked day alone, over the team's days left.
    assert 'name="weekday" value="7"' in page.text
    weekly = {**form, "name": "周会", "starts": "19:00", "ends": "20:00", "weekday": "3"}
    span = {"first_day": today.isoformat(), "last_day": (today + timedelta(days=10)).isoformat()}
    rota = recruiter.post(f"{url}/shifts", data={**weekly, **span}, follow_redirects=False)
    assert rota.status_code == 303 and "error" not in rota.headers["location"]
    with db.unit_of_work(hiring.tenant.id) as session:
        every = teams.shifts_between(session, team, None, None)
    wednesdays = sorted(s.day for s in every if s.name == "周会")
    span_days = (today + timedelta(days=n) for n in range(11))
    assert wednesdays == [d for d in span_days if d.isoweekday() == 3]

    owner = portal_as(world.user(Role.merchant_owner, hiring.tenant))
    seen = owner.get(url).text
    assert cell in seen and "/attendance" in seen  # the CSV link
    assert 'name="status-' not in seen and f"{url}/shifts" not in seen
    assert owner.get(f"{url}?shift={now.id}").text.count("data-marking") == 0
    exported = owner.get(f"{url}/attendance.csv")
    [row] = list(csv.DictReader(io.StringIO(exported.text)))
    assert (row["name"], row["job"], row["late"], row["hours"]) == ("钱多多", "打包", "1", "8.5")
