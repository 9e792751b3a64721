"""A service desk to test in: a merchant with a shop, agents who answer for it, and helpers to
open conversations, set agents' availability and read what the desk holds."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field

import pytest

from daiyun.core import db
from daiyun.platform.customer_service import assignment, service
from daiyun.platform.customer_service.models import AgentStatus, Channel, Priority
from daiyun.platform.customer_service.schemas import AgentUpdate, ContactCreate
from daiyun.tenants.auth.models import User
from daiyun.tenants.auth.permissions import Role
from daiyun.tenants.models import Tenant
from tests import factories
from tests.conftest import World


@dataclass
class Desk:
    world: World
    tenant: Tenant
    shop_id: uuid.UUID
    agents: list[User] = field(default_factory=list)

    def agent(self, capacity: int = 2, status: AgentStatus = AgentStatus.online) -> User:
        user = self.world.user(Role.cs_agent, self.tenant)
        self.agents.append(user)
        self.set_agent(user, capacity=capacity, status=status)
        return user

    def set_agent(
        self, user: User, capacity: int | None = None, status: AgentStatus | None = None
    ) -> None:
        with db.unit_of_work(self.tenant.id) as session:
            assignment.update_agent(session, user.id, AgentUpdate(capacity=capacity, status=status))

    def status(self, user: User, status: AgentStatus) -> None:
        with db.unit_of_work() as session:
            assignment.set_status(session, user.id, status)

    def ask(
        self,
        text: str = "Where is my parcel?",
        priority: Priority = Priority.normal,
        email: str | None = None,
        channel: Channel = Channel.phone,
        labels: list[str] | None = None,
    ) -> uuid.UUID:
        """A buyer's new question; returns the conversation id."""
        with db.unit_of_work(self.tenant.id) as session:
            contact = service.create_contact(
                session,
                ContactCreate(name="Buyer", email=email or f"b-{uuid.uuid4().hex[:8]}@example.com"),
            )
            conv = service.open_conversation(
                session, contact, channel, priority=priority, shop_id=self.shop_id, labels=labels
            )
            service.add_inbound(session, conv, text, external_id=None)
            return conv.id

    def assignee(self, conversation_id: uuid.UUID) -> uuid.UUID | None:
        with db.unit_of_work(self.tenant.id) as session:
            return service.get_conversation(session, conversation_id).assignee_id

    def load(self, user: User) -> int:
        with db.unit_of_work(self.tenant.id) as session:
            return next(a.load for a in assignment.list_agents(session) if a.user_id == user.id)


@pytest.fixture
def desk(world: World) -> Desk:
    tenant = world.tenant()
    return Desk(world, tenant, factories.shop(tenant.id).id)
