"""Concurrent arrivals never exceed an agent's capacity: 20 conversations race for two agents'
five slots, each opened by its own thread over its own connection and committed for real (no
shared test transaction). Exactly five are assigned, none above either agent's capacity, and the
rest wait in the queue, on SQLite (the write lock) and PostgreSQL (row locks)."""

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
from daiyun.tenants.models import Membership
from daiyun.tenants.schemas import TenantCreate
from tests.conftest import PASSWORD

ARRIVALS = 20
CAPACITIES = (2, 3)


def test_concurrent_arrivals_never_exceed_capacity(real_connections: Engine) -> None:
    slug = f"cs-race-{uuid.uuid4().hex[:8]}"
    with db.unit_of_work() as session:
        tenant = tenant_service.create_tenant(
            session, TenantCreate(slug=slug, display_name="Race", legal_name="Race Ltd")
        )
    agents = []
    for capacity in CAPACITIES:
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

    threads = [threading.Thread(target=arrive, args=(n,)) for n in range(ARRIVALS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors, errors
    with db.unit_of_work(tenant.id) as session:
        owners = [c.assignee_id for c in session.scalars(select(Conversation))]
        loads = {a.user_id: a.load for a in assignment.list_agents(session)}
    assert len(owners) == ARRIVALS
    for agent_id, capacity in zip(agents, CAPACITIES, strict=True):
        assert owners.count(agent_id) == capacity
        assert loads[agent_id] == capacity
    assert owners.count(None) == ARRIVALS - sum(CAPACITIES)
