"""The follow-up queue (回访) in the console: the agent's own follow-ups, the overdue marked and
first, the buyer's name and phone for the call; completed inline with an outcome and a note (an
issue found opens a case, a refused one says why), skipped; everyone's behind a link; every
string is in Chinese too."""

from __future__ import annotations

import uuid

from daiyun.core import db
from daiyun.platform.aftersales import followups, service
from daiyun.platform.aftersales.schemas import FollowupState, Outcome, Source
from daiyun.tenants.auth.permissions import Role
from tests.conftest import World
from tests.platform.aftersales.conftest import Counter, make_counter
from tests.platform.aftersales.test_followups import deliver
from tests.portal.conftest import PortalClient, csrf_of
from tests.portal.test_zh_and_time import choose_chinese, untranslated  # noqa: F401 (fixture)

PORTAL = "/portal"
QUEUE = f"{PORTAL}/console/follow-ups"


def _queue(world: World) -> tuple[Counter, list[uuid.UUID]]:
    """Two delivered orders followed up by the counter's agent: 12 days ago (overdue) and 8."""
    counter = make_counter(world)
    order_ids = [counter.order(days_ago=days + 1) for days in (12, 8)]
    for order_id, days in zip(order_ids, (12, 8), strict=True):
        deliver(counter, order_id, days_ago=days)
    with db.unit_of_work(counter.tenant.id) as session:
        followups.generate(session)
        found = followups.queue(session, counter.agent)
        return counter, [f.id for f in found]


def test_the_queue_completes_inline(world: World, portal_as: PortalClient) -> None:
    counter, (overdue, due) = _queue(world)
    user = world.user(Role.cs_agent, counter.tenant)
    agent = portal_as(user)
    # Not this agent's: the queue of "mine" is empty, everyone's shows both.
    assert f'data-followup="{overdue}"' not in agent.get(QUEUE).text
    with db.unit_of_work(counter.tenant.id) as session:
        for followup_id in (overdue, due):
            followups.reassign(session, followup_id, user.id)
    page = agent.get(QUEUE).text
    assert f'data-followup="{overdue}" class="overdue"' in page
    assert page.index(str(overdue)) < page.index(str(due))
    assert "+8613812345678" in page  # the buyer's phone, for the call
    token = csrf_of(page)
    url = f"{PORTAL}/t/{counter.tenant.slug}/follow-ups"
    refused = agent.post(
        f"{url}/{overdue}",
        data={"csrf_token": token, "action": "complete", "outcome": "issue_found"},
        follow_redirects=False,
    )
    assert "error=bad-form" in refused.headers["location"]
    found = agent.post(
        f"{url}/{overdue}",
        data={
            "csrf_token": token,
            "action": "complete",
            "outcome": "issue_found",
            "case_type": "exchange",
            "note": "Lid cracked",
        },
        follow_redirects=False,
    )
    assert found.status_code == 303 and "done=complete" in found.headers["location"]
    skipped = agent.post(
        f"{url}/{due}", data={"csrf_token": token, "action": "skip"}, follow_redirects=False
    )
    assert "done=skip" in skipped.headers["location"]
    assert "data-followup" not in agent.get(QUEUE).text
    with db.unit_of_work(counter.tenant.id) as session:
        done = followups.get(session, overdue)
        assert (done.state, done.outcome) == (FollowupState.done, Outcome.issue_found)
        assert done.opened_case_id is not None
        case = service.get_case(session, done.opened_case_id)
        assert (case.source, case.reason) == (Source.followup, "Lid cracked")
        assert followups.get(session, due).state == FollowupState.skipped
    everyone = agent.get(f"{QUEUE}?everyone=1")
    assert everyone.status_code == 200


def test_the_queue_in_chinese(
    world: World,
    portal_as: PortalClient,
    untranslated: set[str],  # noqa: F811
) -> None:
    counter, _ = _queue(world)
    agent = portal_as(world.user(Role.cs_agent, counter.tenant))
    choose_chinese(agent)
    page = agent.get(f"{QUEUE}?everyone=1").text
    assert "回访" in page and "已超时" in page
    assert untranslated == set()
