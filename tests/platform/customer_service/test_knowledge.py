"""The knowledge base (客服手册): supervisors write a merchant's answers, agents find them by any
words of the title or body, in any case and in Chinese; a percent sign is a character, not a
wildcard; titles are unique per merchant; another merchant's answers are never found."""

from __future__ import annotations

from typing import Any

from daiyun.tenants.auth.permissions import Role
from tests.platform.customer_service.conftest import Desk

API = "/api/v1"


def _titles(desk: Desk, headers: dict[str, str], q: str | None = None) -> list[str]:
    url = f"{API}/tenants/{desk.tenant.slug}/knowledge-base"
    answer = desk.world.client.get(url, headers=headers, params={"q": q} if q else {})
    assert answer.status_code == 200, answer.text
    return sorted(a["title"] for a in answer.json()["items"])


def test_agents_find_answers_by_any_words(desk: Desk) -> None:
    admin = desk.world.actor(Role.agency_admin)
    url = f"{API}/tenants/{desk.tenant.slug}/knowledge-base"
    articles: list[dict[str, Any]] = [
        {"title": "退货政策", "body": "签收后 7 天内可无理由退货。", "tags": ["售后"]},
        {"title": "Brewing Longjing", "body": "Water at 80 °C, three minutes.", "tags": []},
        {"title": "Discounts", "body": "Members save 10% on every order."},
    ]
    for body in articles:
        made = desk.world.client.post(url, headers=admin.headers, json=body)
        assert made.status_code == 201, made.text
    agent = desk.world.actor(Role.cs_agent, desk.tenant)
    assert _titles(desk, agent.headers) == ["Brewing Longjing", "Discounts", "退货政策"]
    assert _titles(desk, agent.headers, "7 天") == ["退货政策"]
    assert _titles(desk, agent.headers, "LONGJING") == ["Brewing Longjing"]
    assert _titles(desk, agent.headers, "10%") == ["Discounts"]
    assert _titles(desk, agent.headers, "%") == ["Discounts"]  # a character, not "anything"
    assert _titles(desk, agent.headers, "oolong") == []

    other = Desk(desk.world, desk.world.tenant(), desk.shop_id)
    assert _titles(other, admin.headers) == []

    again = desk.world.client.post(url, headers=admin.headers, json=articles[0])
    assert again.status_code == 409
    refused = desk.world.client.post(
        url, headers=agent.headers, json={"title": "Mine", "body": "Agents read, not write"}
    )
    assert refused.status_code == 403
    assert _titles(desk, agent.headers, "Mine") == []
