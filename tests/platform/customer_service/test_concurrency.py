"""Assignment under concurrency, each thread over its own connection and committed for real (no
shared test transaction), on SQLite (the write lock) and PostgreSQL (row locks).

Concurrent arrivals never exceed an agent's capacity: 20 conversations race for two agents' five
slots; exactly five are assigned and the rest wait in the queue. Opposite reassignments (A's
conversation to B while B's goes to A) all succeed, with the loads still matching the owners."""

from __future__ import annotations

import threading
import uuid

from sqlalchemy import select
from sqlalchemy.engine import Engine

from daiyun.core import db
from daiyun.platform.customer_service import assignment, service
from daiyun.platform.customer_service.models import AgentStatus, Channel, Conversation
from daiyun.platform.customer_service.schemas import AgentUpdate, ContactCreate
from daiyun.tenants import service as tenant_service
from daiyun.tenants.auth.permissions import Role
from daiyun.tenants.auth.schemas import UserCreate
from daiyun.tenants.auth.users import create_user
from daiyun.tenants.models import Membership, Tenant
from daiyun.tenants.schemas import TenantCreate
from tests.conftest import PASSWORD

ARRIVALS = 20
CAPACITIES = (2, 3)
PAIRS = 4  # conversations each agent hands the other at once


def _agents(capacities: tuple[int, ...]) -> tuple[Tenant, list[uuid.UUID]]:
    """A tenant and one online agent per capacity."""
    slug = f"cs-race-{uuid.uuid4().hex[:8]}"
    with db.unit_of_work() as session:
        tenant = tenant_service.create_tenant(
            session, TenantCreate(slug=slug, display_name="Race", legal_name="Race Ltd")
        )
    agents = []
    for capacity in capacities:
        with db.unit_of_work() as session:
            user = create_user(
                session,
                UserCreate(
                    email=f"race-{uuid.uuid4().hex[:8]}@example.com",
                    name="Racer",
                    password=PASSWORD,
                    role=Role.cs_agent,
                ),
                None,
            )
        with db.unit_of_work(tenant.id) as session:
            session.add(Membership(user_id=user.id, role=Role.cs_agent))
        with db.unit_of_work(tenant.id) as session:
            update = AgentUpdate(capacity=capacity, status=AgentStatus.online)
            assignment.update_agent(session, user.id, update)
        agents.append(user.id)
    return tenant, agents


def _run(threads: list[threading.Thread]) -> None:
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()


def test_concurrent_arrivals_never_exceed_capacity(real_connections: Engine) -> None:
    tenant, agents = _agents(CAPACITIES)
    start = threading.Barrier(ARRIVALS)
    errors: list[BaseException] = []

    def arrive(n: int) -> None:
        try:
            start.wait()
            with db.unit_of_work(tenant.id) as session:
                contact = service.create_contact(session, ContactCreate(name=f"Buyer {n}"))
                conv = service.open_conversation(session, contact, Channel.phone)
                service.add_inbound(session, conv, "Hello?", external_id=None)
        except BaseException as exc:
            errors.append(exc)

    _run([threading.Thread(target=arrive, args=(n,)) for n in range(ARRIVALS)])
    assert not errors, errors
    with db.unit_of_work(tenant.id) as session:
        owners = [c.assignee_id for c in session.scalars(select(Conversation))]
        loads = {a.user_id: a.load for a in assignment.list_agents(session)}
    assert len(owners) == ARRIVALS
    for agent_id, capacity in zip(agents, CAPACITIES, strict=True):
        assert owners.count(agent_id) == capacity
        assert loads[agent_id] == capacity
    assert owners.count(None) == ARRIVALS - sum(CAPACITIES)


def test_opposite_reassignments_do_not_deadlock(real_connections: Engine) -> None:
    tenant, (first, second) = _agents((2 * PAIRS, 2 * PAIRS))  # room for any order
    with db.unit_of_work(tenant.id) as session:
        contact = service.create_contact(session, ContactCreate(name="Buyer"))
        convs = []
        for owner in [first, second] * PAIRS:
            conv = service.open_conversation(session, contact, Channel.phone)
            assignment.assign(session, conv, owner)
            convs.append((conv.id, second if owner == first else first))
    start = threading.Barrier(len(convs))
    errors: list[BaseException] = []

    def swap(conversation_id: uuid.UUID, to: uuid.UUID) -> None:
        try:
            start.wait()
            with db.unit_of_work(tenant.id) as session:
                conv = service.get_conversation(session, conversation_id, lock=True)
                assignment.assign(session, conv, to)
        except BaseException as exc:  # PostgreSQL's "deadlock detected" among them
            errors.append(exc)

    _run([threading.Thread(target=swap, args=pair) for pair in convs])
    assert not errors, errors
    with db.unit_of_work(tenant.id) as session:
        owners = {c.id: c.assignee_id for c in session.scalars(select(Conversation))}
        loads = {a.user_id: a.load for a in assignment.list_agents(session)}
    assert owners == dict(convs)  # every conversation went to the other agent
    assert loads == {first: PAIRS, second: PAIRS}
