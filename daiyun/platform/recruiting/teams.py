"""Part-time teams for peak season (618, 双11): hires working shifts, and their attendance.

* **Members are hires**: a team is made of placements. A hire who left before the team starts,
  or starts after it ends, cannot join it.
* **Shifts** are planned per day in the merchant's local time (an end at or before the start
  runs past midnight). A roster holds members of the shift's team only, never a hire who had
  left or not yet started on its day, and never a hire already on an overlapping shift of any
  team; the hire's placement is locked while that is checked, so two rosters written at once
  cannot both take them.
* **Attendance** is marked once the shift's day has come where the merchant is. Marking again
  replaces the mark (a correction), recording who and when; a mark for a member off the roster
  adds them (they came anyway). Minutes worked run between the clock times, the shift's own
  start or end standing in for a time not given; none for the absent or excused.
* **What was marked stays**: a marked worker is not taken off the roster, nor the member off
  the team, so the sheet payroll was paid from stays true.

Services flush, audit and never commit.
"""

from __future__ import annotations

import io
import uuid
from collections import Counter
from collections.abc import Sequence
from datetime import date, datetime, time, timedelta

from sqlalchemy.orm import Session

from daiyun.core import csv_export
from daiyun.core.audit import service as audit
from daiyun.core.errors import Problem
from daiyun.core.ids import utcnow
from daiyun.core.pagination import paginate
from daiyun.platform.recruiting import placements, repository, service
from daiyun.platform.recruiting.models import (
    Attendance,
    Placement,
    Shift,
    ShiftWorker,
    Team,
    TeamMember,
)
from daiyun.platform.recruiting.team_schemas import (
    LONGEST_SHEET,
    Mark,
    MemberRead,
    Sheet,
    SheetRow,
    SheetShift,
    ShiftCreate,
    ShiftRead,
    TeamCreate,
    TeamDetail,
    TeamRead,
    WorkerRead,
)

CAME = (Attendance.present, Attendance.late)


def get_team(session: Session, team_id: uuid.UUID, *, lock: bool = False) -> Team:
    found = repository.team(session, team_id, lock=lock)
    if found is None:
        raise Problem(404, "not-found", "No such team")
    return found


def get_shift(session: Session, shift_id: uuid.UUID, *, lock: bool = False) -> Shift:
    found = repository.shift(session, shift_id, lock=lock)
    if found is None:
        raise Problem(404, "not-found", "No such shift")
    return found


def find(session: Session, cursor: str | None, limit: int) -> tuple[list[Team], str | None]:
    return paginate(session, repository.teams(), Team.id, cursor, limit)


def create(session: Session, body: TeamCreate, actor: uuid.UUID | None) -> Team:
    if body.requisition_id is not None:
        service.get_requisition(session, body.requisition_id)
    found = Team(**body.model_dump())
    session.add(found)
    session.flush()
    audit.record(session, "recruiting.team_made", f"team:{found.id}", {"name": found.name})
    return found


def detail(session: Session, team: Team) -> TeamDetail:
    return TeamDetail(
        team=TeamRead.model_validate(team),
        members=members(session, team),
        shifts=repository.shift_count(session, team.id),
    )


def members(session: Session, team: Team) -> list[MemberRead]:
    return [
        MemberRead(
            placement_id=m.placement_id,
            name=name,
            job=m.job,
            starts_on=p.starts_on,
            left_on=p.left_on,
        )
        for m, p, name in repository.members(session, team.id)
    ]


def join(session: Session, team: Team, placement_id: uuid.UUID, job: str) -> TeamMember:
    """The hire on the team (with the job they do); saying it again changes the job only."""
    hire = placements.get(session, placement_id)
    found = repository.member(session, team.id, placement_id)
    if found is not None:
        found.job = job
        session.flush()
        return found
    if hire.left_on is not None and hire.left_on < team.starts_on:
        raise Problem(409, "hire-left", "The hire left before the team starts")
    if hire.starts_on > team.ends_on:
        raise Problem(409, "hire-not-started", "The hire starts after the team ends")
    found = TeamMember(team_id=team.id, placement_id=placement_id, job=job)
    session.add(found)
    session.flush()
    audit.record(session, "recruiting.team_joined", f"team:{team.id}", {"placement": str(hire.id)})
    return found


def remove(session: Session, team: Team, placement_id: uuid.UUID) -> None:
    """The member off the team and off its rosters, unless attendance was marked for them."""
    found = repository.member(session, team.id, placement_id)
    if found is None:
        raise Problem(404, "not-found", "The hire is not on this team")
    rows = repository.team_rows(session, team.id, placement_id)
    if _marked(rows):
        raise Problem(409, "attendance-marked", "Attendance was marked for this member: kept")
    for row in [*rows, found]:
        session.delete(row)
    session.flush()
    audit.record(
        session, "recruiting.team_left", f"team:{team.id}", {"placement": str(placement_id)}
    )


def _marked(rows: Sequence[ShiftWorker]) -> bool:
    return any(row.status != Attendance.scheduled for row in rows)


# --- shifts and rosters ------------------------------------------------------------------------


def add_shifts(session: Session, team: Team, body: ShiftCreate) -> tuple[list[ShiftRead], int]:
    """A shift of that name on each day of the batch on the weekdays given (one already there
    is kept as it is), the new ones with the roster given; returns the batch's shifts and how
    many are new."""
    last = body.last_day or body.first_day
    if body.first_day < team.starts_on or last > team.ends_on:
        raise Problem(422, "shift-outside-team", "Shifts fall within the team's days")
    made: list[Shift] = []
    new = 0
    days = (body.first_day + timedelta(days=n) for n in range((last - body.first_day).days + 1))
    for day in days:
        if body.weekdays is not None and day.isoweekday() not in body.weekdays:
            continue
        found = repository.shift_named(session, team.id, day, body.name)
        if found is None:
            found = Shift(
                team_id=team.id,
                day=day,
                name=body.name,
                starts=body.starts,
                ends=body.ends,
                needed=body.needed,
            )
            session.add(found)
            session.flush()
            _put_on(session, team, found, body.placement_ids)
            new += 1
        made.append(found)
    return read_shifts(session, made), new


def read_shifts(session: Session, shifts: Sequence[Shift]) -> list[ShiftRead]:
    by_shift: dict[uuid.UUID, list[WorkerRead]] = {s.id: [] for s in shifts}
    for row in repository.workers(session, list(by_shift)):
        by_shift[row.shift_id].append(WorkerRead.model_validate(row))
    return [
        ShiftRead.model_validate(s).model_copy(update={"workers": by_shift[s.id]}) for s in shifts
    ]


def shifts_between(
    session: Session, team: Team, first: date | None, last: date | None
) -> list[Shift]:
    first, last = _period(team, first, last)
    return repository.shifts(session, team.id, first, last)


def set_roster(session: Session, shift: Shift, placement_ids: Sequence[uuid.UUID]) -> ShiftRead:
    """The shift's roster as given: those not named come off it (a marked one refuses that)."""
    team = get_team(session, shift.team_id)
    wanted = set(placement_ids)
    gone = [
        row for row in repository.workers(session, [shift.id]) if row.placement_id not in wanted
    ]
    if _marked(gone):
        raise Problem(409, "attendance-marked", "A worker whose attendance was marked stays on")
    for row in gone:
        session.delete(row)
    session.flush()
    _put_on(session, team, shift, sorted(wanted))
    return read_shifts(session, [shift])[0]


def _put_on(
    session: Session, team: Team, shift: Shift, placement_ids: Sequence[uuid.UUID]
) -> dict[uuid.UUID, ShiftWorker]:
    """The members on the shift's roster (those already on it stay as they are)."""
    rows = {row.placement_id: row for row in repository.workers(session, [shift.id])}
    for placement_id in placement_ids:
        if placement_id in rows:
            continue
        if repository.member(session, team.id, placement_id) is None:
            raise Problem(422, "not-a-member", f"{placement_id} is not on the shift's team")
        _can_work(session, placements.get(session, placement_id, lock=True), shift)
        rows[placement_id] = ShiftWorker(shift_id=shift.id, placement_id=placement_id)
        session.add(rows[placement_id])
    session.flush()
    return rows


def _can_work(session: Session, hire: Placement, shift: Shift) -> None:
    if hire.left_on is not None and hire.left_on < shift.day:
        raise Problem(409, "hire-left", f"{hire.id} left before {shift.day.isoformat()}")
    if hire.starts_on > shift.day:
        raise Problem(409, "hire-not-started", f"{hire.id} starts after {shift.day.isoformat()}")
    day = timedelta(days=1)
    start, end = _span(shift)
    for other in repository.booked(session, hire.id, shift.day - day, shift.day + day, shift.id):
        other_start, other_end = _span(other)
        if other_start < end and start < other_end:
            raise Problem(
                409,
                "double-booked",
                f"{hire.id} works {other.name} on {other.day.isoformat()} at that time",
            )


def _span(shift: Shift) -> tuple[datetime, datetime]:
    start = datetime.combine(shift.day, shift.starts)
    overnight = shift.ends <= shift.starts
    return start, datetime.combine(shift.day + timedelta(days=overnight), shift.ends)


# --- attendance --------------------------------------------------------------------------------


def mark(
    session: Session, shift: Shift, marks: Sequence[Mark], actor: uuid.UUID | None, today: date
) -> ShiftRead:
    """The marks on the shift (``today`` is the merchant's): each replaces the worker's last."""
    if shift.day > today:
        raise Problem(422, "shift-not-started", "Mark attendance once the shift's day has come")
    team = get_team(session, shift.team_id)
    rows = _put_on(session, team, shift, [m.placement_id for m in marks])
    at = utcnow()
    for given in marks:
        row = rows[given.placement_id]
        row.status, row.note = given.status, given.note
        row.clock_in, row.clock_out = given.clock_in, given.clock_out
        row.minutes = _minutes(shift, given)
        row.marked_by, row.marked_at = actor, at
    session.flush()
    audit.record(
        session,
        "recruiting.attendance_marked",
        f"shift:{shift.id}",
        {"marks": {str(m.placement_id): m.status.value for m in marks}},
    )
    return read_shifts(session, [shift])[0]


def _minutes(shift: Shift, given: Mark) -> int:
    if given.status not in CAME:
        return 0
    return _between(given.clock_in or shift.starts, given.clock_out or shift.ends)


def _between(start: time, end: time) -> int:
    minutes = (end.hour - start.hour) * 60 + end.minute - start.minute
    return minutes if minutes > 0 else minutes + 24 * 60  # past midnight


def _period(team: Team, first: date | None, last: date | None) -> tuple[date, date]:
    first = first or team.starts_on
    last = last or min(team.ends_on, first + LONGEST_SHEET - timedelta(days=1))
    if last < first or last - first >= LONGEST_SHEET:
        raise Problem(422, "bad-period", "The period runs from first to last, 92 days at most")
    return first, last


def sheet(session: Session, team: Team, first: date | None, last: date | None) -> Sheet:
    """The attendance sheet (考勤表) of the period, the team's first 92 days unless given."""
    first, last = _period(team, first, last)
    shifts = repository.shifts(session, team.id, first, last)
    rows = repository.workers(session, [s.id for s in shifts])
    came = Counter(r.shift_id for r in rows if r.status in CAME)
    by_member: dict[uuid.UUID, list[ShiftWorker]] = {}
    for row in rows:
        by_member.setdefault(row.placement_id, []).append(row)
    lines = []
    for m in members(session, team):
        mine = by_member.get(m.placement_id, [])
        counts = Counter(r.status for r in mine)
        lines.append(
            SheetRow(
                placement_id=m.placement_id,
                name=m.name,
                job=m.job,
                cells={str(r.shift_id): r.status for r in mine},
                present=counts[Attendance.present],
                late=counts[Attendance.late],
                absent=counts[Attendance.absent],
                excused=counts[Attendance.excused],
                minutes=sum(r.minutes for r in mine),
            )
        )
    return Sheet(
        team=TeamRead.model_validate(team),
        first=first,
        last=last,
        shifts=[
            SheetShift(
                id=s.id,
                day=s.day,
                name=s.name,
                starts=s.starts,
                ends=s.ends,
                needed=s.needed,
                came=came[s.id],
            )
            for s in shifts
        ],
        rows=lines,
        minutes=sum(line.minutes for line in lines),
    )


def sheet_csv(found: Sheet) -> str:
    """The sheet for a spreadsheet: a row per member, a column per shift, the totals with the
    hours worked (cells neutralized)."""
    out = io.StringIO()
    writer = csv_export.writer(out)
    heads = [f"{s.day.isoformat()} {s.name}" for s in found.shifts]
    writer.writerow(["name", "job", *heads, "present", "late", "absent", "excused", "hours"])
    for row in found.rows:
        cells = [row.cells[str(s.id)].value if str(s.id) in row.cells else "" for s in found.shifts]
        hours = round(row.minutes / 60, 2)
        writer.writerow(
            [row.name, row.job, *cells, row.present, row.late, row.absent, row.excused, hours]
        )
    return out.getvalue()
