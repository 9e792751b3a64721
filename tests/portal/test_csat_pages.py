"""Buyer satisfaction on the merchant's After-sales page: per agent (by name) and in all, the
surveys sent in the last 30 days, the answers, the mean rating and the CSAT score; and the
buyer's survey page in Chinese."""

from __future__ import annotations

import re
from datetime import timedelta

from sqlalchemy import select

from daiyun.core import db
from daiyun.core.ids import utcnow
from daiyun.platform.aftersales import csat
from daiyun.platform.aftersales.models import Survey
from daiyun.platform.customer_service.models import Channel
from daiyun.tenants.auth.permissions import Role
from tests import factories
from tests.conftest import World
from tests.platform.customer_service.conftest import Desk
from tests.portal.conftest import PortalClient

PORTAL = "/portal"


def test_the_owner_reads_satisfaction_per_agent(world: World, portal_as: PortalClient) -> None:
    tenant = world.tenant()
    room = Desk(world, tenant, factories.shop(tenant.id).id)
    agent = room.agent(capacity=5)
    conversations = [room.ask(channel=Channel.email) for _ in range(3)]
    now = utcnow()
    with db.unit_of_work(tenant.id) as session:
        for conversation_id, rating in zip(conversations, (5, 4, 2), strict=True):
            session.add(
                Survey(
                    conversation_id=conversation_id,
                    agent_id=agent.id,
                    channel="email",
                    sent_at=now - timedelta(days=1),
                    expires_at=now + timedelta(days=6),
                    rating=rating,
                    answered_at=now,
                )
            )
        session.flush()
        survey_id = session.scalars(select(Survey.id).order_by(Survey.id).limit(1)).one()
    owner = portal_as(world.user(Role.merchant_owner, tenant))
    page = owner.get(f"{PORTAL}/t/{tenant.slug}/aftersales").text
    row = re.search(rf'<tr data-agent="{agent.id}">.*?</tr>', page, re.S)
    assert row is not None and agent.name in row.group(0)
    assert "3.67" in row.group(0) and "66.7%" in row.group(0)  # (5+4+2)/3; two of three 4-5
    assert '<tr data-agent="all">' in page

    # The buyer's page speaks the reader's language: here Chinese.
    link = f"/survey/{csat.token(tenant.id, survey_id)}"
    answered = world.client.get(link, headers={"Accept-Language": "zh-CN"})
    assert answered.status_code == 200 and "谢谢" in answered.text
