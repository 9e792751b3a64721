"""Service-quality reviews (稽核) through the API: a supervisor's rubric and reviews with their
weighted score worked out by hand, the refusals (not resolved, a criterion missing, twice, an
inactive rubric), agents reading only their own reviews, a rubric change leaving old reviews
as scored, the sample (per agent, deterministic, low CSAT always in) and the summary."""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any

import httpx
import pytest

from daiyun.core import db
from daiyun.core.ids import utcnow
from daiyun.platform.aftersales.models import Survey
from daiyun.platform.customer_service import service as cs_service
from daiyun.platform.customer_service.models import Channel
from daiyun.tenants.auth.models import User
from daiyun.tenants.auth.permissions import Role
from tests import factories
from tests.conftest import Actor, World
from tests.platform.customer_service.conftest import Desk

API = "/api/v1"
RUBRIC = {
    "name": "售后服务稽核",
    "criteria": [
        {"key": "greeting", "label": "Greeting and name", "weight": 50},
        {"key": "solution", "label": "Solved the problem", "weight": 30},
        {"key": "tone", "label": "Tone", "weight": 20},
    ],
}


class Floor:
    def __init__(self, world: World) -> None:
        tenant = world.tenant()
        self.world, self.tenant = world, tenant
        self.room = Desk(world, tenant, factories.shop(tenant.id).id)
        self.supervisor = world.actor(Role.account_manager, tenant)
        self.base = f"{API}/tenants/{tenant.slug}/qa"

    def agent(self) -> tuple[User, Actor]:
        user = self.room.agent(capacity=20)
        return user, Actor(user, self.world.sign_in(user))

    def resolved(self, agent: User, *, resolve: bool = True) -> uuid.UUID:
        conversation_id = self.room.ask(channel=Channel.email)
        with db.unit_of_work(self.tenant.id) as session:
            conv = cs_service.get_conversation(session, conversation_id, lock=True)
            conv.assignee_id = agent.id
            if resolve:
                cs_service.resolve(session, conv)
        return conversation_id

    def post(self, path: str, who: Actor, body: dict[str, Any]) -> httpx.Response:
        return self.world.client.post(f"{self.base}{path}", headers=who.headers, json=body)

    def get(self, path: str, who: Actor, **params: Any) -> httpx.Response:
        return self.world.client.get(f"{self.base}{path}", headers=who.headers, params=params)

    def rubric(self) -> str:
        made = self.post("/rubrics", self.supervisor, RUBRIC)
        assert made.status_code == 201, made.text
        return str(made.json()["id"])

    def review(self, rubric_id: str, conversation_id: uuid.UUID, **scores: int) -> httpx.Response:
        body = {
            "conversation_id": str(conversation_id),
            "rubric_id": rubric_id,
            "scores": scores or {"greeting": 5, "solution": 4, "tone": 3},
            "comment": "开场白很好，结尾可以再确认一次。",
        }
        return self.post("/reviews", self.supervisor, body)


@pytest.fixture
def floor(world: World) -> Floor:
    return Floor(world)


def test_a_review_is_weighted_and_refused_when_it_cannot_stand(floor: Floor) -> None:
    agent, agent_actor = floor.agent()
    rubric_id = floor.rubric()
    assert [r["name"] for r in floor.get("/rubrics", agent_actor).json()] == [RUBRIC["name"]]
    assert floor.post("/rubrics", agent_actor, {**RUBRIC, "name": "x"}).status_code == 403
    assert floor.post("/rubrics", floor.supervisor, RUBRIC).status_code == 409  # name taken
    done = floor.resolved(agent)
    made = floor.review(rubric_id, done)
    assert made.status_code == 201, made.text
    # (50 x 5 + 30 x 4 + 20 x 3) / (100 x 5) = 86 %.
    assert made.json()["score_bp"] == 8600 and made.json()["agent_id"] == str(agent.id)
    assert floor.review(rubric_id, done).status_code == 409  # once per reviewer
    still_open = floor.resolved(agent, resolve=False)
    refused = floor.review(rubric_id, still_open)
    assert refused.status_code == 409 and refused.json()["type"].endswith("not-resolved")
    other = floor.resolved(agent)
    short = floor.review(rubric_id, other, greeting=5, solution=4)
    assert short.status_code == 422 and "tone" in short.json()["detail"]
    changed = {**RUBRIC, "criteria": RUBRIC["criteria"][:1], "active": False}
    assert (
        floor.world.client.put(
            f"{floor.base}/rubrics/{rubric_id}", headers=floor.supervisor.headers, json=changed
        ).status_code
        == 200
    )
    assert floor.review(rubric_id, other, greeting=5).json()["type"].endswith("rubric-inactive")
    # The review made before keeps the three criteria it was scored on.
    [kept] = floor.get("/reviews", floor.supervisor).json()["items"]
    assert len(kept["criteria"]) == 3 and kept["score_bp"] == 8600


def test_agents_read_only_their_own_reviews(floor: Floor) -> None:
    first, first_actor = floor.agent()
    second, _ = floor.agent()
    rubric_id = floor.rubric()
    mine = floor.review(rubric_id, floor.resolved(first)).json()
    theirs = floor.review(rubric_id, floor.resolved(second), greeting=2, solution=2, tone=2)
    listed = floor.get("/reviews", first_actor, agent_id=str(second.id)).json()["items"]
    assert [r["id"] for r in listed] == [mine["id"]]  # asking for another's gives one's own
    assert floor.get(f"/reviews/{theirs.json()['id']}", first_actor).status_code == 404
    assert floor.get(f"/reviews/{mine['id']}", first_actor).json()["comment"]
    assert len(floor.get("/reviews", floor.supervisor).json()["items"]) == 2
    owner = floor.world.actor(Role.merchant_owner, floor.tenant)
    assert floor.get("/reviews", owner).status_code == 403
    summary = floor.get("/summary", owner).json()
    by_agent = {r["agent_id"]: r for r in summary["rows"]}
    assert by_agent[str(first.id)] == {"agent_id": str(first.id), "reviews": 1, "average_bp": 8600}
    assert by_agent[str(second.id)]["average_bp"] == 4000


def test_the_sample_draws_per_agent_and_takes_every_low_rating(floor: Floor) -> None:
    busy, _ = floor.agent()
    quiet, _ = floor.agent()
    rubric_id = floor.rubric()
    busy_done = [floor.resolved(busy) for _ in range(5)]
    quiet_done = [floor.resolved(quiet) for _ in range(2)]
    floor.review(rubric_id, busy_done[0])  # reviewed: out of the draw
    now = utcnow()
    with db.unit_of_work(floor.tenant.id) as session:
        for conversation_id, rating in ((busy_done[1], 1), (busy_done[2], 5)):
            session.add(
                Survey(
                    conversation_id=conversation_id,
                    agent_id=busy.id,
                    channel="email",
                    sent_at=now,
                    expires_at=now + timedelta(days=7),
                    rating=rating,
                    answered_at=now,
                )
            )
    drawn = floor.get("/sample", floor.supervisor, per_agent=2)
    assert drawn.status_code == 200, drawn.text
    rows = drawn.json()
    assert floor.get("/sample", floor.supervisor, per_agent=2).json() == rows  # the same draw
    picked = {r["conversation_id"]: r for r in rows}
    assert str(busy_done[0]) not in picked
    assert picked[str(busy_done[1])]["reason"] == "low_csat"
    assert picked[str(busy_done[1])]["rating"] == 1
    sampled = [r for r in rows if r["reason"] == "sample"]
    assert sum(r["agent_id"] == str(busy.id) for r in sampled) == 2
    assert {r["conversation_id"] for r in rows if r["agent_id"] == str(quiet.id)} == {
        str(c) for c in quiet_done
    }


def test_a_rubric_name_fits_its_column(floor: Floor) -> None:
    long_name = {**RUBRIC, "name": "稽" * 100}
    assert floor.post("/rubrics", floor.supervisor, long_name).status_code == 201
    too_long = floor.post("/rubrics", floor.supervisor, {**RUBRIC, "name": "稽" * 101})
    assert too_long.status_code == 422
    assert [r["name"] for r in floor.get("/rubrics", floor.supervisor).json()] == ["稽" * 100]
