"""Service quality in the console: the supervisor finds a resolved conversation in the week's
sample, scores it against the merchant's rubric on its review page, and the agent reads the
score and the comment under "My scores"; the agent cannot open a review page."""

from __future__ import annotations

import re

from daiyun.core import db
from daiyun.platform.aftersales import quality
from daiyun.platform.aftersales.schemas import Criterion, RubricIn
from daiyun.platform.customer_service import service as cs_service
from daiyun.platform.customer_service.models import Channel
from daiyun.tenants.auth.permissions import Role
from tests import factories
from tests.conftest import World
from tests.platform.customer_service.conftest import Desk
from tests.portal.conftest import PortalClient, csrf_of

PORTAL = "/portal"


def test_a_supervisor_reviews_and_the_agent_reads_the_score(
    world: World, portal_as: PortalClient
) -> None:
    tenant = world.tenant()
    room = Desk(world, tenant, factories.shop(tenant.id).id)
    agent = room.agent(capacity=5)
    conversation_id = room.ask("包裹还没到", channel=Channel.email)
    with db.unit_of_work(tenant.id) as session:
        conv = cs_service.get_conversation(session, conversation_id, lock=True)
        conv.assignee_id = agent.id
        cs_service.resolve(session, conv)
        rubric = quality.create_rubric(
            session,
            RubricIn(
                name="稽核",
                criteria=[
                    Criterion(key="greeting", label="Greeting", weight=1),
                    Criterion(key="solution", label="Solution", weight=3),
                ],
            ),
        )
        rubric_id = rubric.id
    supervisor = portal_as(world.user(Role.account_manager, tenant))
    console = supervisor.get(f"{PORTAL}/console/quality").text
    assert f'data-sample="{conversation_id}"' in console
    url = f"{PORTAL}/t/{tenant.slug}/qa-reviews/{conversation_id}"
    page = supervisor.get(url)
    assert page.status_code == 200 and "包裹还没到" in page.text
    form = {
        "csrf_token": csrf_of(page.text),
        "rubric_id": str(rubric_id),
        "score-greeting": "5",
        "score-solution": "3",
        "comment": "Confirm the address next time.",
        "next": f"{PORTAL}/console/quality",
    }
    saved = supervisor.post(url, data=form, follow_redirects=False)
    assert saved.status_code == 303 and "done=reviewed" in saved.headers["location"]
    again = supervisor.post(url, data=form, follow_redirects=False)
    assert "error=reviewed" in again.headers["location"]  # once per reviewer
    # Reviewed: out of the sample.
    assert (
        f'data-sample="{conversation_id}"' not in supervisor.get(f"{PORTAL}/console/quality").text
    )

    agent_page = portal_as(agent)
    mine = agent_page.get(f"{PORTAL}/console/quality").text
    row = re.search(r'<tr data-review="[^"]+">.*?</tr>', mine, re.S)
    # (1 x 5 + 3 x 3) / (4 x 5) = 70 %.
    assert row is not None and "70.0%" in row.group(0)
    assert "Confirm the address next time." in row.group(0)
    assert agent_page.get(url).status_code == 403
