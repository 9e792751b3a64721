"""The exchange-rates API: finance records a batch, anyone signed in reads, bad input is named."""

from __future__ import annotations

from fastapi.testclient import TestClient
from sqlalchemy import func, select

from daiyun.core import db
from daiyun.platform.rates.models import ExchangeRate
from daiyun.tenants.auth.permissions import Role
from tests.conftest import World

API = "/api/v1/exchange-rates"


def _stored(quote: str) -> int:
    with db.unit_of_work() as session:
        count = select(func.count()).select_from(ExchangeRate).where(ExchangeRate.quote == quote)
        return session.scalar(count) or 0


def test_finance_records_a_batch_and_a_retry_changes_nothing(
    world: World, client: TestClient
) -> None:
    finance = world.actor(Role.finance, world.tenant())
    batch = {
        "rates": [
            {"day": "2032-01-01", "base": "USD", "quote": "HKD", "rate": "7.80", "source": "HKMA"},
            {"day": "2032-01-02", "base": "USD", "quote": "HKD", "rate": "7.81", "source": "HKMA"},
        ]
    }
    first = client.put(API, json=batch, headers=finance.headers)
    assert first.status_code == 200, first.text
    assert first.json() == {"created": 2, "changed": 0, "unchanged": 0}
    again = client.put(API, json=batch, headers=finance.headers)
    assert again.json() == {"created": 0, "changed": 0, "unchanged": 2}

    viewer = world.actor(Role.merchant_viewer, world.tenant())
    listed = client.get(API, params={"quote": "HKD", "from": "2032-01-02"}, headers=viewer.headers)
    assert listed.status_code == 200
    assert [(r["day"], r["rate"], r["source"]) for r in listed.json()["items"]] == [
        ("2032-01-02", "7.81", "HKMA")
    ]


def test_a_bad_rate_refuses_the_whole_batch_and_names_it(world: World, client: TestClient) -> None:
    finance = world.actor(Role.finance, world.tenant())
    good = {"day": "2032-02-01", "base": "USD", "quote": "SGD", "rate": "1.35"}
    tiny = client.put(
        API, json={"rates": [good, {**good, "rate": "0.0000001"}]}, headers=finance.headers
    )
    assert tiny.status_code == 422
    assert tiny.json()["errors"][0]["loc"] == ["body", "rates", 1, "rate"]
    for bad, says in [({**good, "day": "2032-02-02", "quote": "USD"}, "rates[1]"), (good, "twice")]:
        answer = client.put(API, json={"rates": [good, bad]}, headers=finance.headers)
        assert answer.status_code == 422, answer.text
        assert answer.headers["content-type"] == "application/problem+json"
        assert says in answer.json()["detail"]
    assert _stored("SGD") == 0


def test_only_admins_and_finance_record_rates(world: World, client: TestClient) -> None:
    manager = world.actor(Role.account_manager, world.tenant())
    body = {"rates": [{"day": "2032-03-01", "base": "USD", "quote": "MYR", "rate": "4.4"}]}
    refused = client.put(API, json=body, headers=manager.headers)
    assert refused.status_code == 403
    assert _stored("MYR") == 0
    admin = world.actor(Role.agency_admin)
    assert client.put(API, json=body, headers=admin.headers).status_code == 200
    assert _stored("MYR") == 1
