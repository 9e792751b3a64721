"""The customer-service API end to end: conversations with filters and cursor pages, replies and
actions, an agent's inbox across merchants and their status, supervisors' settings."""

from __future__ import annotations

from typing import Any

from daiyun.platform.customer_service.models import AgentStatus, Priority
from daiyun.tenants.auth.permissions import Role
from tests.conftest import World
from tests.platform.customer_service.conftest import Desk

API = "/api/v1"


def _items(world: World, url: str, headers: dict[str, str], **params: Any) -> list[dict[str, Any]]:
    """Every page of a cursor-paged list."""
    found: list[dict[str, Any]] = []
    cursor = None
    while True:
        query = {**params, **({"cursor": cursor} if cursor else {})}
        page = world.client.get(url, headers=headers, params=query)
        assert page.status_code == 200, page.text
        found += page.json()["items"]
        cursor = page.json()["next_cursor"]
        if cursor is None:
            return found


def test_conversation_filters_and_pages(desk: Desk) -> None:
    admin = desk.world.actor(Role.agency_admin)
    base = f"{API}/tenants/{desk.tenant.slug}/conversations"
    vip = [desk.ask(labels=["vip"]) for _ in range(3)]
    plain = [desk.ask(priority=Priority.high) for _ in range(2)]
    every = _items(desk.world, base, admin.headers, limit=2)
    assert [c["id"] for c in every] == [str(c) for c in vip + plain]
    labelled = _items(desk.world, base, admin.headers, label="vip", limit=1)
    assert [c["id"] for c in labelled] == [str(c) for c in vip]
    queued = _items(desk.world, base, admin.headers, unassigned="true", state="open")
    assert len(queued) == 5
    assert _items(desk.world, base, admin.headers, channel="email") == []


def test_reply_actions_and_idempotent_retry(desk: Desk) -> None:
    agent = desk.world.actor(Role.cs_agent, desk.tenant)
    conv = desk.ask()
    base = f"{API}/tenants/{desk.tenant.slug}/conversations/{conv}"
    retry = {"Idempotency-Key": "reply-1", **agent.headers}
    body = {"body": "On its way", "then": "pending"}
    first = desk.world.client.post(f"{base}/messages", headers=retry, json=body)
    again = desk.world.client.post(f"{base}/messages", headers=retry, json=body)
    assert first.status_code == again.status_code == 201
    assert first.json()["id"] == again.json()["id"]
    messages = desk.world.client.get(f"{base}/messages", headers=agent.headers).json()["items"]
    assert [m["kind"] for m in messages] == ["inbound", "outbound"]
    state = desk.world.client.get(base, headers=agent.headers).json()
    assert state["state"] == "pending" and state["first_response_at"] is not None
    snoozed = desk.world.client.post(
        f"{base}/snooze", headers=agent.headers, json={"until": "2030-01-01T00:00:00Z"}
    )
    assert snoozed.json()["state"] == "snoozed"
    past = desk.world.client.post(
        f"{base}/snooze", headers=agent.headers, json={"until": "2020-01-01T00:00:00Z"}
    )
    assert past.status_code == 422
    assert desk.world.client.post(f"{base}/resolve", headers=agent.headers).json()["state"] == (
        "resolved"
    )
    refused = desk.world.client.post(f"{base}/messages", headers=agent.headers, json={"body": "x"})
    assert refused.status_code == 409
    assert desk.world.client.post(f"{base}/reopen", headers=agent.headers).json()["state"] == "open"


def test_inbox_spans_merchants_and_status_hands_back(world: World) -> None:
    from tests import factories

    a, b = world.tenant(), world.tenant()
    agent = world.actor(Role.cs_agent, a)
    world.assign(agent.user, b, Role.cs_agent)
    desks = [Desk(world, t, factories.shop(t.id).id) for t in (a, b)]
    online = world.client.put(
        f"{API}/inbox/status", headers=agent.headers, json={"status": "online"}
    )
    assert online.status_code == 200 and online.json()["status"] == AgentStatus.online.value
    mine = [desks[0].ask(), desks[1].ask()]
    inbox = _items(world, f"{API}/inbox", agent.headers, limit=1)
    assert [(i["id"], i["tenant"]) for i in inbox] == [
        (str(mine[0]), a.slug),
        (str(mine[1]), b.slug),
    ]
    offline = world.client.put(
        f"{API}/inbox/status", headers=agent.headers, json={"status": "offline"}
    )
    assert offline.json()["load"] == 0
    assert _items(world, f"{API}/inbox", agent.headers) == []
    queue = _items(world, f"{API}/inbox", agent.headers, queue="true")
    assert {i["id"] for i in queue} == {str(c) for c in mine}
    merchant = world.actor(Role.merchant_owner, a)
    assert world.client.get(f"{API}/inbox", headers=merchant.headers).status_code == 403


def test_supervisor_sets_capacity_strategy_and_policies(desk: Desk) -> None:
    admin = desk.world.actor(Role.agency_admin)
    agent = desk.agent(capacity=1)
    base = f"{API}/tenants/{desk.tenant.slug}"
    put = desk.world.client.put(
        f"{base}/agents/{agent.id}", headers=admin.headers, json={"capacity": 4}
    )
    assert put.status_code == 200 and put.json()["capacity"] == 4
    agents = desk.world.client.get(f"{base}/agents", headers=admin.headers).json()
    assert [(a["user_id"], a["capacity"]) for a in agents] == [(str(agent.id), 4)]
    strategy = desk.world.client.put(
        f"{base}/cs-settings", headers=admin.headers, json={"strategy": "round_robin"}
    )
    assert strategy.json() == {"strategy": "round_robin"}
    bad_hours = {"name": "Bad", "business_hours": {"mon": [["18:00", "09:00"]]}}
    assert (
        desk.world.client.post(
            f"{base}/sla-policies", headers=admin.headers, json=bad_hours
        ).status_code
        == 422
    )
    policy = {
        "name": "Office",
        "first_response_minutes": 30,
        "business_hours": {"mon": [["09:00", "18:00"]]},
        "holidays": ["2026-10-01"],
    }
    created = desk.world.client.post(f"{base}/sla-policies", headers=admin.headers, json=policy)
    assert created.status_code == 201, created.text
    unknown = {"shortcut": "x", "title": "X", "body": "{{password}}"}
    assert (
        desk.world.client.post(
            f"{base}/canned-replies", headers=admin.headers, json=unknown
        ).status_code
        == 422
    )
    canned = {"shortcut": "hi", "title": "Hi", "body": "Hi {{buyer_name}}"}
    assert (
        desk.world.client.post(
            f"{base}/canned-replies", headers=admin.headers, json=canned
        ).status_code
        == 201
    )
    twice = desk.world.client.post(f"{base}/canned-replies", headers=admin.headers, json=canned)
    assert twice.status_code == 409
