"""Two recruiters put the same hire on two overlapping shifts of two teams at the same moment,
each over its own connection, committed for real: the hire ends up on one shift only and every
other attempt is refused as double-booked, on SQLite (the write lock) and PostgreSQL (the row
lock on the hire's placement)."""

from __future__ import annotations

import threading
import uuid
from datetime import date, time, timedelta

from sqlalchemy import select
from sqlalchemy.engine import Engine

from daiyun.core import db
from daiyun.core.errors import Problem
from daiyun.platform.recruiting import teams
from daiyun.platform.recruiting.models import ShiftWorker
from daiyun.platform.recruiting.schemas import CandidateCreate
from daiyun.platform.recruiting.team_schemas import ShiftCreate, TeamCreate
from daiyun.tenants import service as tenant_service
from daiyun.tenants.models import Tenant
from daiyun.tenants.schemas import TenantCreate
from tests.platform.recruiting.conftest import hired, open_requisition

DAY = date(2026, 11, 11)
ATTEMPTS = 12


def _team_with_shift(tenant: Tenant, hire: uuid.UUID, name: str, starts: time) -> uuid.UUID:
    """A team the hire is on, with one shift on the day (nobody on it yet)."""
    with db.unit_of_work(tenant.id) as session:
        team = teams.create(session, TeamCreate(name=name, starts_on=DAY, ends_on=DAY), None)
        teams.join(session, team, hire, "拣货")
        body = ShiftCreate(name="白班", first_day=DAY, starts=starts, ends=time(18, 0))
        [shift], _ = teams.add_shifts(session, team, body)
        return shift.id


def test_a_hire_put_on_two_overlapping_shifts_at_once_works_one(real_connections: Engine) -> None:
    with db.unit_of_work() as session:
        slug = f"team-race-{uuid.uuid4().hex[:8]}"
        tenant = tenant_service.create_tenant(
            session, TenantCreate(slug=slug, display_name="Race", legal_name="Race Ltd")
        )
    requisition_id, _ = open_requisition(tenant, "仓库临时工")
    person = CandidateCreate(name="孙悦", phone="13900000001")
    hire = hired(tenant.id, requisition_id, person, DAY - timedelta(days=10))
    # 08:00-18:00 on one team, 09:00-18:00 on the other: either rules the other out.
    shifts = [
        _team_with_shift(tenant, hire, "双11 拣货组", time(8, 0)),
        _team_with_shift(tenant, hire, "双11 打包组", time(9, 0)),
    ]
    start = threading.Barrier(ATTEMPTS)
    outcomes: list[tuple[uuid.UUID, str]] = []
    lock = threading.Lock()

    def attempt(n: int) -> None:
        shift_id = shifts[n % 2]
        start.wait()
        try:
            # As the roster route does it: the shift locked, then the roster set.
            with db.unit_of_work(tenant.id) as session:
                teams.set_roster(session, teams.get_shift(session, shift_id, lock=True), [hire])
            outcome = "on"
        except Problem as exc:
            outcome = exc.kind
        with lock:
            outcomes.append((shift_id, outcome))

    threads = [threading.Thread(target=attempt, args=(n,)) for n in range(ATTEMPTS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert len(outcomes) == ATTEMPTS  # no attempt died of anything but a refusal
    won = {shift for shift, outcome in outcomes if outcome == "on"}
    assert len(won) == 1
    # Every attempt on the winning shift holds (the same roster said again); every one on the
    # other is refused.
    assert sorted(o for s, o in outcomes if s in won) == ["on"] * (ATTEMPTS // 2)
    assert sorted(o for s, o in outcomes if s not in won) == ["double-booked"] * (ATTEMPTS // 2)
    with db.unit_of_work(tenant.id) as session:
        rows = session.scalars(select(ShiftWorker)).all()
    assert [(row.shift_id, row.placement_id) for row in rows] == [(won.pop(), hire)]
