"""Macros: an agent runs saved actions on a conversation in one go, always in the same order
(labels added, priority, taken by the agent, a private note, a reply with its variables filled
in, then pending or resolved); one refused step refuses the whole macro and nothing of it stays;
a macro that does nothing, ends open or names an unknown variable is refused."""

from __future__ import annotations

from typing import Any

from daiyun.tenants.auth.permissions import Role
from tests.authz import problem_kind
from tests.platform.customer_service.conftest import Desk

API = "/api/v1"


def _macro(desk: Desk, headers: dict[str, str], **body: Any) -> dict[str, Any]:
    made = desk.world.client.post(
        f"{API}/tenants/{desk.tenant.slug}/macros", headers=headers, json=body
    )
    assert made.status_code == 201, made.text
    return made.json()  # type: ignore[no-any-return]


def test_a_macro_runs_every_step_in_order(desk: Desk) -> None:
    admin = desk.world.actor(Role.agency_admin)
    agent = desk.agent(capacity=3)
    headers = desk.world.sign_in(agent)
    macro = _macro(
        desk,
        admin.headers,
        name="Refund sent",
        add_labels=["refund", "vip"],
        priority="high",
        assign_to_me=True,
        note="Refund issued in the seller centre",
        reply="Hi {{buyer_name}}, your refund is on its way.",
        then="resolved",
    )
    conv = desk.ask(labels=["vip"])
    base = f"{API}/tenants/{desk.tenant.slug}/conversations/{conv}"
    ran = desk.world.client.post(f"{base}/macros/{macro['id']}", headers=headers)
    assert ran.status_code == 200, ran.text
    after = ran.json()
    assert after["labels"] == ["vip", "refund"]  # added once, in order
    assert after["priority"] == "high"
    assert after["assignee_id"] == str(agent.id)
    assert after["state"] == "resolved"
    assert after["first_response_at"] is not None
    messages = desk.world.client.get(f"{base}/messages", headers=headers).json()["items"]
    written = [(m["kind"], m["body"]) for m in messages if m["kind"] in ("note", "outbound")]
    assert written == [
        ("note", "Refund issued in the seller centre"),
        ("outbound", "Hi Buyer, your refund is on its way."),
    ]


def test_a_refused_step_leaves_nothing_of_the_macro(desk: Desk) -> None:
    admin = desk.world.actor(Role.agency_admin)
    agent = desk.agent()
    headers = desk.world.sign_in(agent)
    macro = _macro(desk, admin.headers, name="Chase", add_labels=["chase"], reply="Any news?")
    conv = desk.ask()
    base = f"{API}/tenants/{desk.tenant.slug}/conversations/{conv}"
    assert desk.world.client.post(f"{base}/resolve", headers=headers).status_code == 200
    before = desk.world.client.get(f"{base}/messages", headers=headers).json()["items"]

    refused = desk.world.client.post(f"{base}/macros/{macro['id']}", headers=headers)
    assert (refused.status_code, problem_kind(refused)) == (409, "conversation-resolved")
    state = desk.world.client.get(base, headers=headers).json()
    assert state["labels"] == [] and state["state"] == "resolved"
    assert desk.world.client.get(f"{base}/messages", headers=headers).json()["items"] == before


def test_bad_macros_are_refused_with_the_reason(desk: Desk) -> None:
    admin = desk.world.actor(Role.agency_admin)
    url = f"{API}/tenants/{desk.tenant.slug}/macros"
    cases = [
        {"name": "Nothing"},
        {"name": "Reopen", "then": "open"},
        {"name": "Typo", "reply": "Hi {{buyer_nam}}"},
    ]
    for body in cases:
        answer = desk.world.client.post(url, headers=admin.headers, json=body)
        assert answer.status_code == 422, (body, answer.text)
        assert answer.headers["content-type"].startswith("application/problem+json")
    _macro(desk, admin.headers, name="Once", then="pending")
    again = desk.world.client.post(
        url, headers=admin.headers, json={"name": "Once", "then": "pending"}
    )
    assert again.status_code == 409
    listed = desk.world.client.get(url, headers=admin.headers).json()["items"]
    assert [m["name"] for m in listed] == ["Once"]
    # Agents run macros; they do not write them.
    agent = desk.world.actor(Role.cs_agent, desk.tenant)
    assert (
        desk.world.client.post(
            url, headers=agent.headers, json={"name": "Mine", "then": "pending"}
        ).status_code
        == 403
    )
