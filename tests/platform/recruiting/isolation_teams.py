"""Part-time teams' part of the isolation tests (the interface is described at the top of
tests/platform/warehouse/isolation.py). It follows recruiting's part and puts that part's
placement (``placement_id``) on a team beside a worker of its own."""

from __future__ import annotations

import uuid
from datetime import date
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from daiyun.core import db
from daiyun.platform.recruiting import service, teams
from daiyun.platform.recruiting.models import (
    ApplicationStatus,
    Placement,
    Shift,
    ShiftWorker,
    Team,
    TeamMember,
)
from daiyun.platform.recruiting.schemas import CandidateCreate
from daiyun.platform.recruiting.team_schemas import Mark, ShiftCreate, TeamCreate
from tests.authz import Route, rows_of
from tests.authz import rules as route_rules
from tests.platform.recruiting.isolation import MANAGE, REVIEW

TEAM = "/teams/{team_id}"
SHIFT = "/shifts/{shift_id}"
DAY = date(2026, 2, 1)  # the shifts' day: past, so attendance may be marked on it

TENANT_TABLES = (Team, TeamMember, Shift, ShiftWorker)

TENANT_RULES = route_rules(
    (
        ("GET", "/teams"),
        ("POST", "/teams"),
        ("GET", TEAM),
        ("PUT", f"{TEAM}/members/{{placement_id}}"),
        ("DELETE", f"{TEAM}/members/{{placement_id}}"),
        ("GET", f"{TEAM}/shifts"),
        ("POST", f"{TEAM}/shifts"),
        ("GET", f"{TEAM}/attendance"),
        ("GET", f"{TEAM}/attendance.csv"),
        ("PUT", f"{SHIFT}/roster"),
        ("PUT", f"{SHIFT}/attendance"),
    ),
    read=REVIEW,
    write=MANAGE,
)
OTHER_RULES: dict[Route, str | Any] = {}


def _worker(session: Session, requisition_id: uuid.UUID) -> Placement:
    """A hire of the team's own, on the requisition recruiting's part seeded."""
    requisition = service.get_requisition(session, requisition_id)
    person = service.create_candidate(
        session, CandidateCreate(name="Worker", email=f"w-{uuid.uuid4().hex[:10]}@example.com")
    )
    application, _ = service.open_application(session, requisition, person, source="t")
    application.stage, application.status = "hired", ApplicationStatus.hired
    found = Placement(
        application_id=application.id,
        requisition_id=requisition.id,
        starts_on=date(2026, 1, 5),
        salary_minor=0,
        currency="CNY",
    )
    session.add(found)
    session.flush()
    return found


def _team(session: Session, placement_ids: list[uuid.UUID]) -> tuple[Team, Shift, Shift]:
    """A team of the hires with two shifts on one day: a morning the worker was marked on, an
    afternoon with an empty roster."""
    team = teams.create(
        session,
        TeamCreate(name="双11", starts_on=date(2026, 1, 5), ends_on=date(2026, 12, 31)),
        None,
    )
    for placement_id in placement_ids:
        teams.join(session, team, placement_id, "拣货")
    made = [
        teams.add_shifts(
            session,
            team,
            ShiftCreate.model_validate({"name": name, "first_day": DAY, "starts": a, "ends": b}),
        )[0][0]
        for name, a, b in (("早班", "08:00", "12:00"), ("午班", "13:00", "17:00"))
    ]
    marked, empty = (teams.get_shift(session, s.id) for s in made)
    came = Mark.model_validate({"placement_id": placement_ids[-1], "status": "present"})
    teams.mark(session, marked, [came], None, DAY)
    return team, marked, empty


def seed(tenant_id: uuid.UUID, places: dict[str, str]) -> dict[str, str]:
    with db.unit_of_work(tenant_id) as session:
        worker = _worker(session, uuid.UUID(places["requisition_id"]))
        team, marked, empty = _team(session, [uuid.UUID(places["placement_id"]), worker.id])
    return {
        "team_id": str(team.id),
        "shift_id": str(empty.id),
        "marked_shift_id": str(marked.id),
        "team_worker_id": str(worker.id),
    }


def request(path: str, method: str, places: dict[str, str], n: int) -> dict[str, Any] | None:
    worker = places["team_worker_id"]
    bodies: dict[tuple[str, str], dict[str, Any]] = {
        ("POST", "/teams"): {
            "name": f"Team {n}",
            "starts_on": "2026-11-01",
            "ends_on": "2026-11-12",
        },
        ("PUT", f"{TEAM}/members/{{placement_id}}"): {"job": f"Job {n}"},
        ("POST", f"{TEAM}/shifts"): {
            "name": f"Shift {n}",
            "first_day": "2026-03-01",
            "starts": "06:00",
            "ends": "07:00",
        },
        ("PUT", f"{SHIFT}/roster"): {"placement_ids": [worker]},
        ("PUT", f"{SHIFT}/attendance"): {
            "marks": [{"placement_id": worker, "status": "present", "note": f"Note {n}"}]
        },
    }
    if (method, path) in bodies:
        return {"json": bodies[(method, path)]}
    return None


def restore(path: str, tenant_id: uuid.UUID, places: dict[str, str]) -> None:
    """After each caller: recruiting's hire back on the team, the shift's roster empty."""
    if not (path.startswith(TEAM) or path.startswith(SHIFT)):
        return
    with db.unit_of_work(tenant_id) as session:
        team = teams.get_team(session, uuid.UUID(places["team_id"]))
        teams.join(session, team, uuid.UUID(places["placement_id"]), "拣货")
        session.execute(
            delete(ShiftWorker).where(ShiftWorker.shift_id == uuid.UUID(places["shift_id"]))
        )


def tenant_state(session: Session) -> list[tuple[Any, ...]]:
    return rows_of(session, TENANT_TABLES)


def platform_state(session: Session) -> list[str]:
    return []


def other_request(path: str, method: str, n: int) -> dict[str, Any] | None:
    return None


BULK_UPDATES: dict[type[Any], tuple[str, Any]] = {
    Team: ("notes", "tests-bulk"),
    TeamMember: ("job", "tests-bulk"),
    Shift: ("needed", 99),
    ShiftWorker: ("note", "tests-bulk"),
}
APPEND_ONLY: frozenset[type[Any]] = frozenset()


def guard_seed(
    tenant_id: uuid.UUID, sku_id: uuid.UUID, order_ids: list[uuid.UUID]
) -> dict[type[Any], set[uuid.UUID]]:
    """A row of every team table, on the placement recruiting's guard seed made."""
    with db.unit_of_work(tenant_id) as session:
        hire = session.scalar(select(Placement.id).order_by(Placement.id).limit(1))
        assert hire is not None
        _team(session, [hire])
        return {
            model: set(session.scalars(select(model.id).where(model.tenant_id == tenant_id)))
            for model in TENANT_TABLES
        }
