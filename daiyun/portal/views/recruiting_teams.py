"""Part-time teams' pages (a 618 or 双11 team of hires): the team's page with its members, the
attendance sheet of a period (shifts as columns, a row per member with the hours worked) and its
CSV; for recruiters, forms to make a team, add a hire, plan shifts and mark a shift's attendance.
Reading asks for ``recruiting:review`` as the API does; the forms for ``recruiting:manage``,
staff only. The merchant's teams are listed on its recruiting page."""

from __future__ import annotations

import uuid
from datetime import date

from fastapi import APIRouter, Request
from fastapi.responses import Response

from daiyun.core import periods
from daiyun.core.errors import Problem
from daiyun.platform.recruiting import teams
from daiyun.platform.recruiting.team_schemas import Mark, ShiftCreate, TeamCreate
from daiyun.portal.console import recruiting as work
from daiyun.portal.i18n import N_
from daiyun.portal.views.console import _staff_only, _submit, _text
from daiyun.portal.views.recruiting import ManageForm, ReviewPage, _base
from daiyun.portal.web import PREFIX, Page, PortalRoute, render
from daiyun.tenants.auth.permissions import Permission

router = APIRouter(prefix=PREFIX, include_in_schema=False, route_class=PortalRoute)
P = Permission

ATTENDANCE_LABELS = {
    "scheduled": N_("Scheduled"),
    "present": N_("Present"),
    "late": N_("Late"),
    "absent": N_("Absent"),
    "excused": N_("Excused"),
}


def _day(request: Request, name: str) -> date | None:
    try:
        return date.fromisoformat(request.query_params.get(name, ""))
    except ValueError:
        return None


def _team_url(page: Page, team_id: uuid.UUID | str) -> str:
    return f"{_base(page)}/teams/{team_id}"


@router.get("/t/{tenant}/teams/{team_id}")
def team_page(request: Request, page: ReviewPage, team_id: uuid.UUID) -> Response:
    """The team: members, the attendance sheet of the period asked (its first 92 days by
    default), and for recruiters the forms; ``shift`` opens that shift's marking form."""
    team = teams.get_team(page.db, team_id)
    first, last = _day(request, "first"), _day(request, "last")
    try:
        sheet = teams.sheet(page.db, team, first, last)
    except Problem:  # a backwards or too long period typed in the address: the default one
        sheet = teams.sheet(page.db, team, None, None)
    manage = page.is_staff and page.can(P.recruiting_manage)
    chosen = request.query_params.get("shift", "")
    marking = next((s for s in sheet.shifts if str(s.id) == chosen), None) if manage else None
    workers = {}
    if marking is not None:
        [shift] = teams.read_shifts(page.db, [teams.get_shift(page.db, marking.id)])
        workers = {w.placement_id: w for w in shift.workers}
    detail = teams.detail(page.db, team)
    on_team = {m.placement_id for m in detail.members}
    hires = work.placement_rows(page.db) if manage else []
    return render(
        request,
        "merchant/team.html",
        {
            "detail": detail,
            "sheet": sheet,
            "marking": marking,
            "workers": workers,
            "joinable": [
                h for h in hires if h.placement.left_on is None and h.placement.id not in on_team
            ],
            "can_manage": manage,
            "today": periods.today(page.tenant.time_zone if page.tenant else "UTC"),
            "attendance_labels": ATTENDANCE_LABELS,
            "error": request.query_params.get("error", ""),
            "base": _base(page),
        },
        page=page,
    )


@router.get("/t/{tenant}/teams/{team_id}/attendance.csv")
def attendance_csv(request: Request, page: ReviewPage, team_id: uuid.UUID) -> Response:
    """The attendance sheet of the period as CSV, for payroll."""
    team = teams.get_team(page.db, team_id)
    sheet = teams.sheet(page.db, team, _day(request, "first"), _day(request, "last"))
    name = f"attendance-{sheet.first.isoformat()}-{sheet.last.isoformat()}.csv"
    return Response(
        teams.sheet_csv(sheet),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )


@router.post("/t/{tenant}/teams")
def make_team(submitted: ManageForm) -> Response:
    """A recruiter makes a team for a season from the recruiting page."""
    page, form = submitted
    _staff_only(page)

    def act() -> None:
        body = TeamCreate(
            name=_text(form, "name", 200),
            starts_on=_text(form, "starts_on", 10),
            ends_on=_text(form, "ends_on", 10),
            location=_text(form, "location", 200),
        )
        teams.create(page.db, body, page.user.id)

    return _submit(page, form, f"{_base(page)}/recruiting", act)


@router.post("/t/{tenant}/teams/{team_id}/members")
def add_member(submitted: ManageForm, team_id: uuid.UUID) -> Response:
    """A hire on the team, with the job they do there."""
    page, form = submitted
    _staff_only(page)
    team = teams.get_team(page.db, team_id, lock=True)

    def act() -> None:
        hire = uuid.UUID(_text(form, "placement_id", 40))
        teams.join(page.db, team, hire, _text(form, "job", 100))

    return _submit(page, form, _team_url(page, team_id), act)


@router.post("/t/{tenant}/teams/{team_id}/shifts")
def plan_shifts(submitted: ManageForm, team_id: uuid.UUID) -> Response:
    """A shift on each day from the first to the last that falls on a weekday ticked (every
    day when none is), every member on its roster when asked."""
    page, form = submitted
    _staff_only(page)
    team = teams.get_team(page.db, team_id, lock=True)

    def act() -> None:
        everyone = [m.placement_id for m in teams.members(page.db, team)]
        body = ShiftCreate.model_validate(
            {
                "name": _text(form, "name", 100),
                "first_day": _text(form, "first_day", 10),
                "last_day": _text(form, "last_day", 10) or None,
                # No day ticked is every day, as an untouched rota means.
                "weekdays": [d for d in form.getlist("weekday") if isinstance(d, str)] or None,
                "starts": _text(form, "starts", 5),
                "ends": _text(form, "ends", 5),
                "needed": _text(form, "needed", 4) or 1,
                "placement_ids": everyone if form.get("everyone") else [],
            }
        )
        teams.add_shifts(page.db, team, body)

    return _submit(page, form, _team_url(page, team_id), act)


@router.post("/t/{tenant}/shifts/{shift_id}/attendance")
def mark_attendance(submitted: ManageForm, shift_id: uuid.UUID) -> Response:
    """A shift's attendance from its form: a status per worker (blank: not marked now), with
    the clock times of those who came."""
    page, form = submitted
    _staff_only(page)
    shift = teams.get_shift(page.db, shift_id, lock=True)
    team = teams.get_team(page.db, shift.team_id)

    def act() -> None:
        marks = []
        for member in teams.members(page.db, team):
            key = member.placement_id
            status = _text(form, f"status-{key}", 10)
            if not status:
                continue
            marks.append(
                Mark.model_validate(
                    {
                        "placement_id": key,
                        "status": status,
                        "clock_in": _text(form, f"in-{key}", 5) or None,
                        "clock_out": _text(form, f"out-{key}", 5) or None,
                        "note": _text(form, f"note-{key}", 500),
                    }
                )
            )
        if not marks:
            raise Problem(422, "nothing-marked", "Choose a status for someone")
        today = periods.today(page.tenant.time_zone if page.tenant else "UTC")
        teams.mark(page.db, shift, marks, page.user.id, today)

    return _submit(page, form, _team_url(page, team.id), act)
