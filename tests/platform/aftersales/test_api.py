"""The after-sales API end to end: a case from a buyer's conversation through return and refund,
filters and cursor pages, problem+json on illegal moves and bad bodies, permissions (merchants
read, agents work cases, big refunds need aftersales:approve), idempotent retries."""

from __future__ import annotations

from typing import Any

from daiyun.core import db
from daiyun.platform.customer_service import service as cs_service
from daiyun.platform.customer_service.schemas import Channel, ContactCreate
from daiyun.tenants.auth.permissions import Role
from tests.platform.aftersales.conftest import SKU, Counter

API = "/api/v1"


def _base(counter: Counter) -> str:
    return f"{API}/tenants/{counter.tenant.slug}/aftersales"


def _body(order_id: Any, kind: str = "return_refund", **more: Any) -> dict[str, Any]:
    return {
        "type": kind,
        "order_id": str(order_id),
        "reason": "Tin dented",
        "lines": [{"line": SKU, "quantity": 1}],
        **more,
    }


def test_a_case_from_a_conversation_to_refund(counter: Counter) -> None:
    client, base = counter.world.client, _base(counter)
    agent = counter.world.actor(Role.cs_agent, counter.tenant)
    order_id = counter.order()
    with db.unit_of_work(counter.tenant.id) as session:
        buyer = cs_service.create_contact(session, ContactCreate(name="Buyer"))
        conv = cs_service.open_conversation(session, buyer, Channel.phone, order_id=order_id)
        conversation_id = str(conv.id)
    body = {
        "type": "return_refund",
        "conversation_id": conversation_id,
        "reason": "Tin dented",
        "evidence": ["https://img.example/dent.jpg"],
        "lines": [{"line": SKU, "quantity": 1}],
    }
    created = client.post(base, headers=agent.headers, json=body)
    assert created.status_code == 201, created.text
    case = created.json()
    assert case["source"] == "conversation" and case["order_id"] == str(order_id)
    assert case["requested_minor"] == 5_000 and case["actions"] == ["approve", "refuse"]
    url = f"{base}/{case['id']}"
    assert client.post(f"{url}/approve", headers=agent.headers, json={}).status_code == 200
    received = client.post(
        f"{url}/receive",
        headers=agent.headers,
        json={"condition": "resellable", "location_id": str(counter.site.shelf)},
    )
    assert received.status_code == 200, received.text
    assert received.json()["receipt_id"] is not None
    retry = {"Idempotency-Key": "refund-1", **agent.headers}
    first = client.post(f"{url}/refund", headers=retry, json={})
    again = client.post(f"{url}/refund", headers=retry, json={})
    assert first.status_code == again.status_code == 200, first.text
    assert again.headers.get("Idempotent-Replayed") == "true"
    assert first.json()["state"] == "refunded" and first.json()["refunded_minor"] == 5_000
    closed = client.post(f"{url}/close", headers=agent.headers, json={}).json()
    assert [e["kind"] for e in closed["events"]] == [
        "requested",
        "approve",
        "receive",
        "refund",
        "close",
    ]
    assert counter.on_hand(counter.site.shelf) == 1


def test_illegal_moves_and_bad_bodies_are_problems(counter: Counter) -> None:
    client, base = counter.world.client, _base(counter)
    agent = counter.world.actor(Role.cs_agent, counter.tenant)
    case = client.post(base, headers=agent.headers, json=_body(counter.order())).json()
    refund = client.post(f"{base}/{case['id']}/refund", headers=agent.headers, json={})
    assert refund.status_code == 409
    assert refund.headers["content-type"].startswith("application/problem+json")
    assert refund.json()["type"].endswith("/illegal-transition")
    bad = [
        _body(counter.order(), lines=[{"line": SKU, "quantity": True}]),
        _body(counter.order(), lines=[]),
        {"type": "refund_only", "reason": "no order", "lines": [{"line": SKU, "quantity": 1}]},
        _body(counter.order(), kind="swap"),
    ]
    for body in bad:
        answer = client.post(base, headers=agent.headers, json=body)
        assert answer.status_code == 422, (body, answer.text)
        assert answer.headers["content-type"].startswith("application/problem+json")
    unknown = client.post(base, headers=agent.headers, json=_body(counter.order(), lines=[]))
    assert unknown.status_code == 422
    missing_line = _body(counter.order(), lines=[{"line": "NOPE", "quantity": 1}])
    answer = client.post(base, headers=agent.headers, json=missing_line)
    assert answer.status_code == 422 and answer.json()["type"].endswith("/unknown-line")


def test_permissions_and_the_approval_threshold(counter: Counter) -> None:
    client, base = counter.world.client, _base(counter)
    agent = counter.world.actor(Role.cs_agent, counter.tenant)
    manager = counter.world.actor(Role.account_manager, counter.tenant)
    owner = counter.world.actor(Role.merchant_owner, counter.tenant)
    rules = {"approval_threshold_minor": 1_000}
    assert client.put(f"{base}/settings", headers=agent.headers, json=rules).status_code == 403
    put = client.put(f"{base}/settings", headers=manager.headers, json=rules)
    assert put.status_code == 200 and put.json()["approval_threshold_minor"] == 1_000
    assert client.post(base, headers=owner.headers, json=_body(counter.order())).status_code == 403
    case = client.post(base, headers=agent.headers, json=_body(counter.order())).json()
    url = f"{base}/{case['id']}"
    big = client.post(f"{url}/approve", headers=agent.headers, json={})
    assert big.status_code == 403 and big.json()["type"].endswith("/approval-needed")
    assert client.post(f"{url}/approve", headers=manager.headers, json={}).status_code == 200
    listed = client.get(base, headers=owner.headers).json()["items"]
    assert [c["id"] for c in listed] == [case["id"]]
    assert client.get(url, headers=owner.headers).json()["state"] == "awaiting_return"


def test_filters_and_pages(counter: Counter) -> None:
    client, base = counter.world.client, _base(counter)
    agent = counter.world.actor(Role.cs_agent, counter.tenant)
    ids = [
        client.post(base, headers=agent.headers, json=_body(counter.order(), kind)).json()["id"]
        for kind in ("return_refund", "exchange", "exchange", "repair")
    ]
    client.post(f"{base}/{ids[0]}/refuse", headers=agent.headers, json={"reason": "Used"})
    found: list[str] = []
    cursor = None
    while True:
        params: dict[str, Any] = {"limit": 1, "type": "exchange"}
        if cursor:
            params["cursor"] = cursor
        page = client.get(base, headers=agent.headers, params=params).json()
        found += [c["id"] for c in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert found == ids[1:3]
    refused = client.get(base, headers=agent.headers, params={"state": "refused"}).json()
    assert [c["id"] for c in refused["items"]] == [ids[0]]
    assert refused["items"][0]["refusal_reason"] == "Used"
    by_shop = client.get(base, headers=agent.headers, params={"shop_id": str(counter.shop_id)})
    assert len(by_shop.json()["items"]) == 4
