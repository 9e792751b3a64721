"""The chat widget: a shop's widget and its script, a visitor's token, their messages reaching
the inbox and the agent's answers reaching them (never the notes), origins checked, retries kept
once, rates limited, and one visitor never reading another's conversation."""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any

import pytest

from daiyun.core import db
from daiyun.core.config import get_settings
from daiyun.core.ids import utcnow
from daiyun.platform.customer_service import rules, service, widget
from daiyun.platform.customer_service.models import Channel, Delivery, MessageKind, State
from daiyun.platform.customer_service.schemas import MessageCreate
from daiyun.tenants.auth.permissions import Role
from tests import factories
from tests.platform.customer_service.conftest import Desk

SITE = "https://tea-shop.example"


def _widget(desk: Desk, **extra: Any) -> dict[str, Any]:
    admin = desk.world.actor(Role.agency_admin)
    body = {"shop_id": str(desk.shop_id), "allowed_origins": [SITE + "/"], **extra}
    answer = desk.world.client.post(
        f"/api/v1/tenants/{desk.tenant.slug}/widgets", json=body, headers=admin.headers
    )
    assert answer.status_code == 201, answer.text
    return dict(answer.json())


def _visitor(desk: Desk, key: str, origin: str = SITE) -> dict[str, str]:
    answer = desk.world.client.post(f"/widget/{key}/visitors", headers={"Origin": origin})
    assert answer.status_code == 201, answer.text
    assert answer.headers["access-control-allow-origin"] == origin
    return {"Origin": origin, "Authorization": f"Bearer {answer.json()['token']}"}


def _say(desk: Desk, key: str, headers: dict[str, str], text: str, client_id: str = "") -> Any:
    body = {"body": text, "client_id": client_id or uuid.uuid4().hex}
    return desk.world.client.post(f"/widget/{key}/messages", json=body, headers=headers)


def _thread(desk: Desk, key: str, headers: dict[str, str]) -> list[tuple[str, str]]:
    answer = desk.world.client.get(f"/widget/{key}/messages", headers=headers)
    assert answer.status_code == 200, answer.text
    return [(m["author"], m["body"]) for m in answer.json()["messages"]]


def test_a_visitor_chats_with_an_agent_through_the_inbox(desk: Desk) -> None:
    agent = desk.agent()
    made = _widget(desk, greeting="Hello from Tea")
    assert made["allowed_origins"] == [SITE]  # normalized: no trailing slash
    assert made["snippet"] == f'<script src="{made["script_url"]}" async></script>'
    script = desk.world.client.get(f"/widget/{made['key']}.js")
    assert script.status_code == 200 and "text/javascript" in script.headers["content-type"]
    assert "EventSource" in script.text

    visitor = _visitor(desk, made["key"])
    first = _say(desk, made["key"], visitor, "Is the oolong in stock?")
    assert first.status_code == 201, first.text
    assert first.headers["access-control-allow-origin"] == SITE
    with db.unit_of_work(desk.tenant.id) as session:
        [conv] = service.find_conversations(session, service.Filters(), None, 10)[0]
        assert (conv.channel, conv.shop_id, conv.assignee_id) == (
            Channel.widget,
            desk.shop_id,
            agent.id,
        )
        user = service.author(session, agent.id)
        answer = service.reply(
            session, conv, MessageCreate(kind=MessageKind.outbound, body="Yes, 20 tins"), user
        )
        assert answer.delivery == Delivery.sent
        service.reply(session, conv, MessageCreate(kind=MessageKind.note, body="VIP?"), user)
        service.resolve(session, conv)
    assert _thread(desk, made["key"], visitor) == [
        ("visitor", "Is the oolong in stock?"),
        ("agent", "Yes, 20 tins"),
    ]
    # Writing again reopens the same conversation.
    assert _say(desk, made["key"], visitor, "Thanks, ordering").status_code == 201
    with db.unit_of_work(desk.tenant.id) as session:
        [again] = service.find_conversations(session, service.Filters(), None, 10)[0]
        assert (again.id, again.state) == (conv.id, State.open)


def test_a_retried_message_is_kept_once(desk: Desk) -> None:
    key = _widget(desk)["key"]
    visitor = _visitor(desk, key)
    sent = [_say(desk, key, visitor, "Hello?", client_id="retry-0001") for _ in range(3)]
    assert {s.status_code for s in sent} == {201}
    assert len({s.json()["id"] for s in sent}) == 1
    assert _thread(desk, key, visitor) == [("visitor", "Hello?")]


def test_one_visitor_never_reads_another_ones_conversation(desk: Desk) -> None:
    key = _widget(desk)["key"]
    alice, bob = _visitor(desk, key), _visitor(desk, key)
    assert _say(desk, key, alice, "Alice's address is 1 Tea Road").status_code == 201
    assert _thread(desk, key, bob) == []
    assert _say(desk, key, bob, "Bob here").status_code == 201
    assert _thread(desk, key, alice) == [("visitor", "Alice's address is 1 Tea Road")]
    with db.unit_of_work(desk.tenant.id) as session:
        assert len(service.find_conversations(session, service.Filters(), None, 10)[0]) == 2


def test_tokens_are_bound_to_their_widget_and_checked(desk: Desk) -> None:
    key = _widget(desk)["key"]
    other_tenant = desk.world.tenant()
    other = Desk(desk.world, other_tenant, factories.shop(other_tenant.id).id)
    other_key = _widget(other)["key"]
    visitor = _visitor(desk, key)
    # Alice's token on another merchant's widget, a forged one, an expired one, none at all.
    secret = get_settings().secret_key
    forged = rules.visitor_token("not-our-secret", key, uuid.uuid4().hex, utcnow())
    expired = rules.visitor_token(
        secret, key, uuid.uuid4().hex, utcnow() - timedelta(days=rules.VISITOR_TOKEN_DAYS + 1)
    )
    for where, token in ((other_key, visitor["Authorization"][7:]), (key, forged), (key, expired)):
        headers = {"Origin": SITE, "Authorization": f"Bearer {token}"}
        refused = _say(desk, where, headers, "Let me in")
        assert refused.status_code == 401, refused.text
        assert refused.json()["type"].endswith("invalid-visitor-token")
        assert refused.headers["access-control-allow-origin"] == SITE
    assert _say(desk, key, {"Origin": SITE}, "No token").status_code == 401
    for tenant_id in (desk.tenant.id, other_tenant.id):
        with db.unit_of_work(tenant_id) as session:
            assert service.find_conversations(session, service.Filters(), None, 10)[0] == []


@pytest.mark.parametrize("origin", ["https://evil.example", "http://tea-shop.example", None])
def test_other_origins_get_no_answer_and_change_nothing(desk: Desk, origin: str | None) -> None:
    key = _widget(desk)["key"]
    visitor = _visitor(desk, key)
    headers = (
        {**visitor, "Origin": origin} if origin else {"Authorization": visitor["Authorization"]}
    )
    refused = _say(desk, key, headers, "From elsewhere")
    assert refused.status_code == 403 and "access-control-allow-origin" not in refused.headers
    assert refused.json()["type"].endswith("origin-not-allowed")
    preflight = desk.world.client.options(
        f"/widget/{key}/messages",
        headers={"Origin": origin or "", "Access-Control-Request-Method": "POST"},
    )
    assert preflight.status_code == 403
    with db.unit_of_work(desk.tenant.id) as session:
        assert service.find_conversations(session, service.Filters(), None, 10)[0] == []


def test_preflight_names_the_allowed_origin(desk: Desk) -> None:
    key = _widget(desk)["key"]
    answer = desk.world.client.options(
        f"/widget/{key}/messages",
        headers={"Origin": SITE, "Access-Control-Request-Method": "POST"},
    )
    assert answer.status_code == 204
    assert answer.headers["access-control-allow-origin"] == SITE
    assert "Authorization" in answer.headers["access-control-allow-headers"]


def test_unknown_and_switched_off_widgets_answer_alike(desk: Desk) -> None:
    made = _widget(desk)
    visitor = _visitor(desk, made["key"])
    admin = desk.world.actor(Role.agency_admin)
    off = desk.world.client.patch(
        f"/api/v1/tenants/{desk.tenant.slug}/widgets/{made['id']}",
        json={"enabled": False},
        headers=admin.headers,
    )
    assert off.status_code == 200 and off.json()["enabled"] is False
    for key in (made["key"], "no-such-widget-key"):
        refused = _say(desk, key, visitor, "Anyone?")
        assert refused.status_code == 404 and refused.json()["type"].endswith("unknown-widget")


def test_a_shop_has_one_widget_and_origins_must_be_origins(desk: Desk) -> None:
    _widget(desk)
    admin = desk.world.actor(Role.agency_admin)
    url = f"/api/v1/tenants/{desk.tenant.slug}/widgets"
    twice = desk.world.client.post(
        url, json={"shop_id": str(desk.shop_id), "allowed_origins": [SITE]}, headers=admin.headers
    )
    assert twice.status_code == 409 and twice.json()["type"].endswith("widget-exists")
    for bad in ("https://tea-shop.example/page", "tea-shop.example", "javascript:alert(1)"):
        answer = desk.world.client.post(
            url,
            json={"shop_id": str(desk.shop_id), "allowed_origins": [bad]},
            headers=admin.headers,
        )
        assert answer.status_code == 422, bad
    listed = desk.world.client.get(url, headers=admin.headers).json()["items"]
    assert len(listed) == 1


def test_a_flood_from_one_visitor_is_slowed_down(desk: Desk) -> None:
    key = _widget(desk)["key"]
    visitor = _visitor(desk, key)
    for n in range(widget.MESSAGES_PER_MINUTE):
        assert _say(desk, key, visitor, f"Message {n}").status_code == 201
    refused = _say(desk, key, visitor, "One more")
    assert refused.status_code == 429 and refused.headers["retry-after"] == "60"
    assert refused.json()["type"].endswith("too-many-messages")
    assert len(_thread(desk, key, visitor)) == widget.MESSAGES_PER_MINUTE


def test_origins_and_tokens_rules() -> None:
    assert rules.normal_origin("HTTPS://Shop.Example:443/") == "https://shop.example"
    assert rules.normal_origin("http://127.0.0.1:8001") == "http://127.0.0.1:8001"
    assert rules.normal_origin("https://shop.example/path") is None
    now = utcnow()
    token = rules.visitor_token("s", "key", "a" * 32, now)
    assert rules.visitor_of("s", "key", token, now) == "a" * 32
    assert rules.visitor_of("s", "other-key", token, now) is None
    assert rules.visitor_of("s", "key", token.replace("a", "b", 1), now) is None
