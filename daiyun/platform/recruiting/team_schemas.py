"""The part-time teams API's shapes: teams, their members, shifts with their rosters, attendance
marks and the attendance sheet. Clock times are the merchant's local ``HH:MM``."""

from __future__ import annotations

import uuid
from datetime import date, datetime, time, timedelta
from typing import Annotated

from pydantic import (
    BaseModel,
    BeforeValidator,
    Field,
    PlainSerializer,
    StringConstraints,
    WithJsonSchema,
    model_validator,
)

from daiyun.core.ids import Day
from daiyun.platform.recruiting.models import Attendance
from daiyun.platform.recruiting.schemas import Count, Line, Text, _Input, _Read

__all__ = ["Attendance"]

CLOCK = r"^([01][0-9]|2[0-3]):[0-5][0-9]$"
LONGEST_TEAM = timedelta(days=366)
LONGEST_BATCH = timedelta(days=92)  # shifts made at once: a season's worth
LONGEST_SHEET = timedelta(days=92)


def _clock(value: object) -> object:
    # A wall-clock time where the merchant is: "HH:MM" and nothing else (no seconds, no offset:
    # an offset would say a different place from the merchant's time zone).
    if isinstance(value, time):
        return value
    if not isinstance(value, str) or len(value) != 5 or not value[:2].isdigit():
        raise ValueError("a time of day is HH:MM")
    hours, minutes = value[:2], value[3:]
    if value[2] != ":" or not minutes.isdigit() or int(hours) > 23 or int(minutes) > 59:
        raise ValueError("a time of day is HH:MM")
    return time(int(hours), int(minutes))


Clock = Annotated[
    time,
    BeforeValidator(_clock),
    PlainSerializer(lambda t: t.strftime("%H:%M"), return_type=str),
    WithJsonSchema({"type": "string", "pattern": CLOCK, "examples": ["08:30"]}),
]
Job = Annotated[str, StringConstraints(max_length=100, pattern=r"^[^\x00-\x1F\x7F]*$")]
ShiftName = Annotated[
    str,
    StringConstraints(
        min_length=1, max_length=100, pattern=r"^[^\s\x00-\x1F\x7F][^\x00-\x1F\x7F]*$"
    ),
]
Note = Annotated[str, StringConstraints(max_length=500, pattern=r"^[^\x00]*$")]
Needed = Annotated[Count, Field(ge=1, le=1000)]
Weekday = Annotated[int, Field(ge=1, le=7)]


class TeamCreate(_Input):
    """A team for a season: its days, where it works, and the seasonal requisition it was hired
    on (if any)."""

    name: Line
    requisition_id: uuid.UUID | None = None
    starts_on: Day
    ends_on: Day
    location: Annotated[str, StringConstraints(max_length=200, pattern=r"^[^\x00-\x1F]*$")] = ""
    notes: Text = ""

    @model_validator(mode="after")
    def _days(self) -> TeamCreate:
        if self.ends_on < self.starts_on or self.ends_on - self.starts_on >= LONGEST_TEAM:
            raise ValueError("a team ends on or after the day it starts, within a year")
        return self


class TeamRead(_Read):
    id: uuid.UUID
    name: str
    requisition_id: uuid.UUID | None
    starts_on: date
    ends_on: date
    location: str
    notes: str
    created_at: datetime


class MemberIn(_Input):
    job: Job = ""


class MemberRead(BaseModel):
    placement_id: uuid.UUID
    name: str = Field(description="The hire's name (erased candidates show as erased)")
    job: str
    starts_on: date
    left_on: date | None


class TeamDetail(BaseModel):
    team: TeamRead
    members: list[MemberRead]
    shifts: int = Field(description="Shifts planned for the team")


class ShiftCreate(_Input):
    """A shift on each day from ``first_day`` to ``last_day`` (the first alone when not given)
    that falls on one of ``weekdays`` (all of them when not given), with the members on its
    roster. A day that already has a shift of this name keeps it, so a retry makes nothing
    twice."""

    name: ShiftName
    first_day: Day
    last_day: Day | None = None
    weekdays: list[Weekday] | None = Field(
        default=None,
        min_length=1,
        max_length=7,
        description="ISO weekdays the shift runs on (1 Monday ... 7 Sunday): a rota such as "
        "weekends only, or Monday to Friday",
    )
    starts: Clock
    ends: Clock = Field(description="At or before the start: the shift runs past midnight")
    needed: Needed = 1
    placement_ids: list[uuid.UUID] = Field(default_factory=list, max_length=500)

    @model_validator(mode="after")
    def _days(self) -> ShiftCreate:
        last = self.last_day or self.first_day
        if last < self.first_day or last - self.first_day >= LONGEST_BATCH:
            raise ValueError("shifts run from first_day to last_day, 92 days at most at once")
        return self


class WorkerRead(_Read):
    placement_id: uuid.UUID
    status: Attendance
    clock_in: Clock | None
    clock_out: Clock | None
    minutes: int
    note: str
    marked_at: datetime | None


class ShiftRead(_Read):
    id: uuid.UUID
    team_id: uuid.UUID
    day: date
    name: str
    starts: Clock
    ends: Clock
    needed: int
    workers: list[WorkerRead] = Field(default_factory=list)


class Roster(_Input):
    """Who works the shift: members of its team (one already marked stays on it)."""

    placement_ids: list[uuid.UUID] = Field(max_length=500)


class Mark(_Input):
    placement_id: uuid.UUID
    status: Attendance
    clock_in: Clock | None = None
    clock_out: Clock | None = None
    note: Note = ""

    @model_validator(mode="after")
    def _marked(self) -> Mark:
        if self.status == Attendance.scheduled:
            raise ValueError("a mark says present, late, absent or excused")
        came = self.status in (Attendance.present, Attendance.late)
        if not came and (self.clock_in or self.clock_out):
            raise ValueError("clock times are for those who came")
        return self


class Marks(_Input):
    """Attendance on a shift: a mark per worker (a member off the roster who came is added)."""

    marks: list[Mark] = Field(min_length=1, max_length=500)

    @model_validator(mode="after")
    def _once(self) -> Marks:
        if len({m.placement_id for m in self.marks}) != len(self.marks):
            raise ValueError("one mark per worker")
        return self


class SheetShift(BaseModel):
    id: uuid.UUID
    day: date
    name: str
    starts: Clock
    ends: Clock
    needed: int
    came: int = Field(description="Workers marked present or late")


class SheetRow(BaseModel):
    placement_id: uuid.UUID
    name: str
    job: str
    cells: dict[str, Attendance] = Field(description="Attendance by shift id, where rostered")
    present: int
    late: int
    absent: int
    excused: int
    minutes: int


class Sheet(BaseModel):
    """The team's attendance for a period: the shifts as columns, a row per member with its
    totals (what payroll pays)."""

    team: TeamRead
    first: date
    last: date
    shifts: list[SheetShift]
    rows: list[SheetRow]
    minutes: int
