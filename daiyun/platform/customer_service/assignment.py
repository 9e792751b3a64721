"""Who answers a conversation: agents' availability and capacity, automatic assignment, the queue.

An agent is a staff member of the merchant whose role may reply. Only agents who are online and
below their capacity (unresolved conversations, across every merchant they serve) are given a
conversation: round robin (least recently assigned first) or least loaded, per the merchant's
setting. The capacity is enforced by one conditional UPDATE on the agent's row
(``repository.take_slot``), so concurrent arrivals never exceed it. When nobody has room the
conversation waits in the queue, served by priority then age when a slot frees up. An agent going
offline hands every unresolved conversation back to the queue, and the queue is served again.

An agent's conversations live in several tenants; work that spans them walks the agent's tenants
one at a time in the same session (flushed and emptied between tenants, so the ORM guard never
holds two tenants' rows at once).
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from daiyun.core.audit import service as audit
from daiyun.core.errors import Problem
from daiyun.core.ids import utcnow
from daiyun.core.tenancy import acting_as, bind_tenant, current_tenant
from daiyun.platform.customer_service import repository, rules
from daiyun.platform.customer_service.models import (
    Agent,
    AgentStatus,
    Conversation,
    Settings,
    State,
    Strategy,
)
from daiyun.platform.customer_service.schemas import AgentRead, AgentUpdate
from daiyun.tenants.auth.deps import memberships_of
from daiyun.tenants.auth.models import User
from daiyun.tenants.auth.permissions import Permission, allows
from daiyun.tenants.models import Membership, Tenant, TenantStatus

# Tenants whose buyers are answered: a suspended one is read-only, an offboarded one is gone.
WORKING = (TenantStatus.onboarding, TenantStatus.active)


def agent_ids(session: Session) -> list[uuid.UUID]:
    """The bound tenant's members whose role may answer buyers."""
    members = session.scalars(select(Membership).order_by(Membership.id))
    return [m.user_id for m in members if allows(m.role, Permission.conversations_reply)]


def strategy(session: Session) -> Strategy:
    found = repository.settings(session)
    return found.strategy if found is not None else Strategy.least_loaded


def set_strategy(session: Session, value: Strategy) -> Settings:
    found = repository.settings(session)
    if found is None:
        found = Settings(strategy=value)
        session.add(found)
    found.strategy = value
    session.flush()
    audit.record(session, "cs.settings_changed", "cs:settings", {"strategy": value.value})
    return found


def agent_row(session: Session, user_id: uuid.UUID) -> Agent | None:
    """The user's availability and load, if they ever set any."""
    return repository.agent(session, user_id)


def _agent(session: Session, user_id: uuid.UUID) -> Agent:
    found = repository.agent(session, user_id)
    if found is None:
        found = Agent(user_id=user_id, status=AgentStatus.offline, capacity=5, load=0)
        session.add(found)
        session.flush()
    return found


def auto_assign(session: Session, conv: Conversation, now: datetime | None = None) -> bool:
    """Give the conversation to an agent with room, or leave it queued; True if assigned."""
    now = now or utcnow()
    ids = agent_ids(session)
    repository.hold_agents(session, ids)  # a serving loop may take slots of several agents
    online = [a for a in repository.agents(session, ids) if a.status == AgentStatus.online]
    candidates = [
        rules.Candidate(a.user_id, a.load, a.capacity, a.last_assigned_at) for a in online
    ]
    for candidate in rules.ranked(candidates, strategy(session).value):
        if repository.take_slot(session, candidate.user_id, now):
            conv.assignee_id = candidate.user_id
            conv.queued_at = None
            session.flush()
            return True
    conv.assignee_id = None
    if conv.queued_at is None:
        conv.queued_at = now
    session.flush()
    return False


def assign(session: Session, conv: Conversation, assignee_id: uuid.UUID | None) -> Conversation:
    """Assign to a named agent of this merchant (who must be online with room: 409 otherwise),
    or by the rule with None."""
    if conv.state == State.resolved:
        raise Problem(409, "conversation-resolved", "Reopen the conversation before assigning it")
    if assignee_id is not None and assignee_id == conv.assignee_id:
        return conv
    if assignee_id is not None and assignee_id not in agent_ids(session):
        raise Problem(422, "unknown-agent", "No agent of this merchant has that id")
    previous = conv.assignee_id
    now = utcnow()
    repository.hold_agents(session, agent_ids(session))  # a slot leaves one agent for another
    if assignee_id is None:
        if previous is not None:
            repository.give_slot(session, previous)
            conv.assignee_id = None
        auto_assign(session, conv, now)
    else:
        if not repository.take_slot(session, assignee_id, now):
            raise Problem(409, "agent-unavailable", "That agent is not online or has no room")
        if previous is not None:
            repository.give_slot(session, previous)
        conv.assignee_id, conv.queued_at = assignee_id, None
    session.flush()
    audit.record(
        session,
        "cs.conversation_assigned",
        f"conversation:{conv.id}",
        {"assignee_id": str(conv.assignee_id) if conv.assignee_id else None},
    )
    return conv


def release(session: Session, conv: Conversation) -> None:
    """The conversation no longer takes its agent's time (resolved)."""
    if conv.assignee_id is not None:
        repository.give_slot(session, conv.assignee_id)


def retake(session: Session, conv: Conversation, now: datetime) -> None:
    """A reopened conversation goes back to its agent if they have room, else by the rule."""
    if conv.assignee_id is not None and repository.take_slot(session, conv.assignee_id, now):
        return
    conv.assignee_id = None
    conv.queued_at = None
    auto_assign(session, conv, now)


def serve_queue(session: Session, now: datetime | None = None) -> int:
    """Assign the bound tenant's waiting conversations while anyone has room; how many."""
    now = now or utcnow()
    served = 0
    for conv in list(session.scalars(repository.queue())):
        if not auto_assign(session, conv, now):
            break
        served += 1
    return served


# --- agents --------------------------------------------------------------------------------


def list_agents(session: Session) -> list[AgentRead]:
    ids = agent_ids(session)
    rows = {a.user_id: a for a in repository.agents(session, ids)}
    found = []
    for user_id in ids:
        user = session.get(User, user_id)
        row = rows.get(user_id)
        found.append(
            AgentRead(
                user_id=user_id,
                name=user.name if user else "",
                status=row.status if row else AgentStatus.offline,
                capacity=row.capacity if row else 5,
                load=row.load if row else 0,
            )
        )
    return found


def tenants_of(session: Session, user_id: uuid.UUID) -> list[uuid.UUID]:
    """The working tenants where the user answers buyers. Read acting as that user: row
    security shows a user's memberships to that user only, and a supervisor may be the one
    changing the agent's status."""
    with acting_as(session, user_id):
        ids = [
            m.tenant_id
            for m in memberships_of(session, user_id)
            if allows(m.role, Permission.conversations_reply)
        ]
    if not ids:
        return []
    stmt = select(Tenant.id).where(Tenant.id.in_(ids), Tenant.status.in_(WORKING))
    return sorted(session.scalars(stmt))


def each_tenant(session: Session, tenant_ids: list[uuid.UUID]) -> Iterator[uuid.UUID]:
    """Bind the session to each tenant in turn (flushed and emptied before each switch)."""
    home = current_tenant(session)
    for tenant_id in tenant_ids:
        session.flush()
        session.expunge_all()
        bind_tenant(session, tenant_id)
        yield tenant_id
    if home is not None and current_tenant(session) != home:
        session.flush()
        session.expunge_all()
        bind_tenant(session, home)


def set_status(session: Session, user_id: uuid.UUID, status: AgentStatus) -> Agent:
    """An agent's availability. Going offline hands every unresolved conversation back to the
    queue (oldest waiting first, as if it had waited since it began) and the queue is served
    again; coming online serves the queues of the agent's merchants."""
    row = _agent(session, user_id)
    previous = row.status
    row.status = status
    session.flush()
    if status == previous:
        return row
    tenants = tenants_of(session, user_id)
    if status == AgentStatus.offline:
        for _ in each_tenant(session, tenants):
            handed = repository.assigned_to(session, user_id)
            for conv in handed:
                conv.assignee_id = None
                conv.queued_at = conv.created_at
            repository.reset_load(session, user_id)
            session.flush()
            for conv in handed:
                if conv.state != State.resolved:
                    auto_assign(session, conv)
    elif status == AgentStatus.online:
        for _ in each_tenant(session, tenants):
            serve_queue(session)
    found = repository.agent(session, user_id)
    assert found is not None
    return found


def update_agent(session: Session, user_id: uuid.UUID, body: AgentUpdate) -> AgentRead:
    """A supervisor sets an agent's capacity or status (an agent of this merchant only)."""
    if user_id not in agent_ids(session):
        raise Problem(404, "not-found", "No such agent")
    row = _agent(session, user_id)
    if body.capacity is not None:
        row.capacity = body.capacity
        session.flush()
    audit.record(
        session,
        "cs.agent_updated",
        f"user:{user_id}",
        body.model_dump(mode="json", exclude_none=True),
    )
    if body.status is not None:
        set_status(session, user_id, body.status)
    elif body.capacity is not None:
        serve_queue(session)
    return next(a for a in list_agents(session) if a.user_id == user_id)
