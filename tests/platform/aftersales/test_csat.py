"""Satisfaction surveys (CSAT): a resolved e-mail conversation asks its buyer once, through a
signed link that takes one answer (or a skip) while it is open; a forged or closed link gets
nothing in; the summary's figures match a hand count per agent and in all."""

from __future__ import annotations

import re
import uuid
from datetime import timedelta

import pytest

from daiyun.core import db
from daiyun.core.events import service as events
from daiyun.core.ids import utcnow
from daiyun.platform.aftersales import csat
from daiyun.platform.aftersales import service as as_service
from daiyun.platform.aftersales.models import Survey
from daiyun.platform.aftersales.schemas import SettingsIn
from daiyun.platform.customer_service import service as cs_service
from daiyun.platform.customer_service.models import Channel, MessageKind
from daiyun.tenants.auth.permissions import Role
from tests import factories
from tests.conftest import World
from tests.platform.customer_service.conftest import Desk

API = "/api/v1"


@pytest.fixture
def room(world: World) -> Desk:
    """A service desk: a merchant with a shop, and agents added by each test."""
    tenant = world.tenant()
    return Desk(world, tenant, factories.shop(tenant.id).id)


def _deliver(room: Desk) -> None:
    """What the worker does: every pending event's handlers, once each."""
    with db.unit_of_work(room.tenant.id) as session:
        ids = [e.id for e in events.pending(session, 1000)]
    for event_id in ids:
        with db.unit_of_work(room.tenant.id) as session:
            events.handle(session, event_id)


def _resolve(room: Desk, conversation_id: uuid.UUID) -> None:
    with db.unit_of_work(room.tenant.id) as session:
        conv = cs_service.get_conversation(session, conversation_id, lock=True)
        cs_service.reopen(session, conv)
        cs_service.resolve(session, conv)
    _deliver(room)


def _surveys(room: Desk) -> list[Survey]:
    with db.unit_of_work(room.tenant.id) as session:
        return csat.find(session, None, None, None, None, 50)[0]


def _link(room: Desk, conversation_id: uuid.UUID) -> str:
    with db.unit_of_work(room.tenant.id) as session:
        conv = cs_service.get_conversation(session, conversation_id)
        messages = cs_service.find_messages(session, conv, None, 50)[0]
    asked = [m.body for m in messages if m.kind == MessageKind.outbound]
    assert len(asked) == 1, asked
    found = re.search(r"/survey/[0-9a-f.]+", asked[0])
    assert found is not None
    return found.group(0)


def test_a_resolved_conversation_asks_once_and_takes_one_answer(room: Desk) -> None:
    agent = room.agent()
    conversation_id = room.ask(channel=Channel.email)
    _resolve(room, conversation_id)
    _resolve(room, conversation_id)  # reopened and resolved again: no second survey
    [survey] = _surveys(room)
    assert (survey.conversation_id, survey.agent_id) == (conversation_id, agent.id)
    assert survey.expires_at - survey.sent_at == timedelta(days=7)
    link = _link(room, conversation_id)
    client = room.world.client
    page = client.get(link)
    assert page.status_code == 200 and 'name="rating"' in page.text
    bad = client.post(link, data={"rating": "9"})
    assert bad.status_code == 422 and _surveys(room)[0].rating is None
    sent = client.post(link, data={"rating": "4", "comment": "回复很快 quick"})
    assert sent.status_code == 200 and "Thank you" in sent.text
    [answered] = _surveys(room)
    assert (answered.rating, answered.comment) == (4, "回复很快 quick")
    again = client.post(link, data={"rating": "1"})
    assert again.status_code == 409 and _surveys(room)[0].rating == 4
    # A link whose signature is not the server's opens nothing.
    forged = link[:-1] + ("0" if link[-1] != "0" else "1")
    assert client.get(forged).status_code == 404
    assert client.post(forged, data={"rating": "1"}).status_code == 404
    assert client.get("/survey/not-a-token").status_code == 404


def test_a_closed_link_takes_nothing_and_a_skip_closes_it(room: Desk) -> None:
    room.agent()
    late, skipped = room.ask(channel=Channel.email), room.ask(channel=Channel.email)
    _resolve(room, late)
    _resolve(room, skipped)
    with db.unit_of_work(room.tenant.id) as session:
        for survey in csat.find(session, None, None, None, None, 10)[0]:
            if survey.conversation_id == late:
                survey.expires_at = utcnow() - timedelta(minutes=1)
    client = room.world.client
    assert client.get(_link(room, late)).status_code == 410
    assert client.post(_link(room, late), data={"rating": "5"}).status_code == 410
    assert client.post(_link(room, skipped), data={"action": "skip"}).status_code == 200
    by_conversation = {s.conversation_id: s for s in _surveys(room)}
    assert by_conversation[late].rating is None and not by_conversation[late].skipped
    assert by_conversation[skipped].skipped and by_conversation[skipped].rating is None
    assert client.post(_link(room, skipped), data={"rating": "5"}).status_code == 409


def test_no_survey_where_it_cannot_reach_the_buyer_or_the_merchant_said_no(
    room: Desk,
) -> None:
    room.agent(capacity=5)
    _resolve(room, room.ask(channel=Channel.phone))  # no way to hand a phone caller a link
    with db.unit_of_work(room.tenant.id) as session:
        as_service.put_settings(session, SettingsIn(csat_enabled=False))
    _resolve(room, room.ask(channel=Channel.email))
    assert _surveys(room) == []


def test_the_summary_matches_a_hand_count(room: Desk) -> None:
    first, second = room.agent(capacity=5), room.agent(capacity=5)
    now = utcnow()
    rows = [
        (first.id, 5, False),
        (first.id, 3, False),
        (first.id, None, True),
        (second.id, 4, False),
    ]
    conversations = [room.ask(channel=Channel.phone) for _ in rows]
    with db.unit_of_work(room.tenant.id) as session:
        for conversation_id, (agent_id, rating, skipped) in zip(conversations, rows, strict=True):
            session.add(
                Survey(
                    conversation_id=conversation_id,
                    agent_id=agent_id,
                    channel="email",
                    sent_at=now - timedelta(hours=1),
                    expires_at=now + timedelta(days=6),
                    rating=rating,
                    answered_at=now if rating else None,
                    skipped=skipped,
                )
            )
    owner = room.world.actor(Role.merchant_owner, room.tenant)
    answer = room.world.client.get(
        f"{API}/tenants/{room.tenant.slug}/csat/summary", headers=owner.headers
    )
    assert answer.status_code == 200, answer.text
    summary = answer.json()
    by_agent = {r["agent_id"]: r for r in summary["rows"]}
    assert by_agent[str(first.id)] == {
        "agent_id": str(first.id),
        "sent": 3,
        "answered": 2,
        "skipped": 1,
        "average": 4.0,
        "satisfied": 0.5,
        "response_rate": 0.6667,
    }
    assert by_agent[str(second.id)]["satisfied"] == 1.0
    total = summary["total"]
    assert (total["sent"], total["answered"], total["average"]) == (4, 3, 4.0)
    assert (total["satisfied"], total["response_rate"]) == (0.6667, 0.75)
    low = room.world.client.get(
        f"{API}/tenants/{room.tenant.slug}/csat", headers=owner.headers, params={"rating": 3}
    )
    assert [s["rating"] for s in low.json()["items"]] == [3]
