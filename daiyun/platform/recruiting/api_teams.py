"""The part-time teams API (``teams``): a peak season's teams of hires, their shifts and
rosters, attendance marked per shift, and the attendance sheet (JSON, or CSV for payroll).
Recruiters run them (``recruiting:manage``); the merchant's owner reads them."""

from __future__ import annotations

import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Response
from fastapi.responses import JSONResponse

from daiyun.core import periods
from daiyun.core.ids import Day
from daiyun.core.openapi import problems
from daiyun.core.pagination import Cursor, Limit, Page
from daiyun.platform.recruiting import teams
from daiyun.platform.recruiting.team_schemas import (
    Marks,
    MemberIn,
    MemberRead,
    Roster,
    Sheet,
    ShiftCreate,
    ShiftRead,
    TeamCreate,
    TeamDetail,
    TeamRead,
)
from daiyun.tenants.auth.deps import SessionDep, TenantAccess, tenant_access
from daiyun.tenants.auth.permissions import Permission

router = APIRouter(tags=["recruiting"])
Reviewer = Annotated[TenantAccess, Depends(tenant_access(Permission.recruiting_review))]
Manager = Annotated[TenantAccess, Depends(tenant_access(Permission.recruiting_manage))]
TEAM = "/tenants/{tenant}/teams/{team_id}"
SHIFT = "/tenants/{tenant}/shifts/{shift_id}"
CSV: dict[int | str, dict[str, Any]] = {
    200: {"content": {"text/csv": {}}, "description": "A CSV file"}
}


@router.get("/tenants/{tenant}/teams", response_model=Page[TeamRead])
def list_teams(
    session: SessionDep, access: Reviewer, cursor: Cursor = None, limit: Limit = 50
) -> Page[TeamRead]:
    rows, next_cursor = teams.find(session, cursor, limit)
    return Page(items=[TeamRead.model_validate(t) for t in rows], next_cursor=next_cursor)


@router.post(
    "/tenants/{tenant}/teams", response_model=TeamRead, status_code=201, responses=problems(422)
)
def make_team(session: SessionDep, access: Manager, body: TeamCreate) -> TeamRead:
    """A team for a season (618, 双11): its days, where it works, its seasonal requisition."""
    return TeamRead.model_validate(teams.create(session, body, access.user.id))


@router.get(TEAM, response_model=TeamDetail)
def get_team(session: SessionDep, access: Reviewer, team_id: uuid.UUID) -> TeamDetail:
    """The team with its members (their job, start and departure) and how many shifts."""
    return teams.detail(session, teams.get_team(session, team_id))


@router.put(f"{TEAM}/members/{{placement_id}}", response_model=MemberRead, responses=problems(409))
def join_team(
    session: SessionDep,
    access: Manager,
    team_id: uuid.UUID,
    placement_id: uuid.UUID,
    body: MemberIn,
) -> MemberRead:
    """The hire (a placement) on the team with their job; again, the job changes. A hire who
    left before the team starts or starts after it ends: 409."""
    team = teams.get_team(session, team_id, lock=True)
    teams.join(session, team, placement_id, body.job)
    return next(m for m in teams.members(session, team) if m.placement_id == placement_id)


@router.delete(f"{TEAM}/members/{{placement_id}}", status_code=204, responses=problems(409))
def leave_team(
    session: SessionDep, access: Manager, team_id: uuid.UUID, placement_id: uuid.UUID
) -> Response:
    """The member off the team and its rosters; refused once attendance was marked for them."""
    teams.remove(session, teams.get_team(session, team_id, lock=True), placement_id)
    return Response(status_code=204)


@router.get(f"{TEAM}/shifts", response_model=list[ShiftRead], responses=problems(422))
def list_shifts(
    session: SessionDep,
    access: Reviewer,
    team_id: uuid.UUID,
    first: Day | None = None,
    last: Day | None = None,
) -> list[ShiftRead]:
    """The team's shifts from ``first`` to ``last`` (92 days at most; by default its first 92),
    each with its roster and attendance."""
    team = teams.get_team(session, team_id)
    return teams.read_shifts(session, teams.shifts_between(session, team, first, last))


@router.post(
    f"{TEAM}/shifts",
    response_model=list[ShiftRead],
    status_code=201,
    responses={200: {"model": list[ShiftRead]}, **problems(409, 422)},
)
def plan_shifts(
    session: SessionDep, access: Manager, team_id: uuid.UUID, body: ShiftCreate
) -> JSONResponse:
    """A shift on each day of the batch with its roster: 201 when any is new, 200 when every
    day had it already (a retry)."""
    team = teams.get_team(session, team_id, lock=True)
    made, new = teams.add_shifts(session, team, body)
    content = [s.model_dump(mode="json") for s in made]
    return JSONResponse(content, status_code=201 if new else 200)


@router.put(f"{SHIFT}/roster", response_model=ShiftRead, responses=problems(409, 422))
def set_roster(
    session: SessionDep, access: Manager, shift_id: uuid.UUID, body: Roster
) -> ShiftRead:
    """Who works the shift: members of its team, free at that time (409 double-booked)."""
    found = teams.get_shift(session, shift_id, lock=True)
    return teams.set_roster(session, found, body.placement_ids)


@router.put(f"{SHIFT}/attendance", response_model=ShiftRead, responses=problems(409, 422))
def mark_attendance(
    session: SessionDep, access: Manager, shift_id: uuid.UUID, body: Marks
) -> ShiftRead:
    """Attendance on a shift whose day has come (the merchant's day): present, late, absent or
    excused, with the clock times; marking again corrects the mark."""
    found = teams.get_shift(session, shift_id, lock=True)
    today = periods.today(access.tenant.time_zone)
    return teams.mark(session, found, body.marks, access.user.id, today)


@router.get(f"{TEAM}/attendance", response_model=Sheet, responses=problems(422))
def attendance_sheet(
    session: SessionDep,
    access: Reviewer,
    team_id: uuid.UUID,
    first: Day | None = None,
    last: Day | None = None,
) -> Sheet:
    """The attendance sheet (考勤表): shifts as columns, a row per member with its totals."""
    return teams.sheet(session, teams.get_team(session, team_id), first, last)


@router.get(f"{TEAM}/attendance.csv", response_class=Response, responses={**CSV, **problems(422)})
def attendance_csv(
    session: SessionDep,
    access: Reviewer,
    team_id: uuid.UUID,
    first: Day | None = None,
    last: Day | None = None,
) -> Response:
    """The attendance sheet as CSV, hours worked per member last (for payroll)."""
    found = teams.sheet(session, teams.get_team(session, team_id), first, last)
    name = f"attendance-{found.first.isoformat()}-{found.last.isoformat()}.csv"
    return Response(
        teams.sheet_csv(found),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )
