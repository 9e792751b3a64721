"""Every amount, count and date billing accepts is bounded (daiyun/billing/limits.py): nonsense
is refused with 422 problem+json before it is stored, and a statement whose sums would not fit
is refused with 422 instead of overflowing a column (issue 13)."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient

from daiyun.billing import service
from daiyun.billing.limits import MAX_AMOUNT_MINOR, MAX_STATEMENT_MINOR
from daiyun.tenants.auth.permissions import Role
from daiyun.tenants.models import Tenant
from tests.conftest import Actor, World

API = "/api/v1/tenants"
TERMS = {"currency": "CNY", "commission": {"mode": "flat", "rate": "0.05"}}
CONTRACT = {"name": "合同", "effective_from": "2026-10-01", "terms": TERMS}
FACT = {"kind": "one_off", "occurred_on": "2026-10-03", "amount_minor": 100, "currency": "CNY"}


@pytest.fixture
def finance(world: World) -> tuple[Tenant, Actor]:
    tenant = world.tenant()
    return tenant, world.actor(Role.finance, tenant)


def _problem(answer: Any, status: int, kind: str) -> None:
    assert answer.status_code == status, answer.text
    assert answer.headers["content-type"].startswith("application/problem+json")
    assert answer.json()["type"].endswith(kind)


def _fact(client: TestClient, tenant: Tenant, actor: Actor, key: str, **changes: Any) -> Any:
    return client.post(
        f"{API}/{tenant.slug}/service-facts",
        json={**FACT, **changes},
        headers={**actor.headers, "Idempotency-Key": key},
    )


@pytest.mark.parametrize(
    "changes",
    [
        {"amount_minor": 2**63},
        {"amount_minor": 2**63 - 1},
        {"amount_minor": MAX_AMOUNT_MINOR + 1},
        {"amount_minor": -1},
        {"amount_minor": 1.5},
        {"quantity": "1000000000.0001"},
        {"quantity": "-1"},
        {"quantity": "NaN"},
        {"quantity": "Infinity"},
        {"quantity": "1e400"},
        {"currency": "€€€"},
        {"currency": "CN"},
        {"occurred_on": "1999-12-31"},
        {"occurred_on": "3000-01-01"},
        {"occurred_on": "9999-12-31"},
    ],
    ids=repr,
)
def test_a_service_fact_out_of_bounds_is_refused(
    finance: tuple[Tenant, Actor], client: TestClient, changes: dict[str, Any]
) -> None:
    tenant, actor = finance
    _problem(_fact(client, tenant, actor, "k", **changes), 422, "validation-error")
    listed = client.get(f"{API}/{tenant.slug}/service-facts", headers=actor.headers)
    assert listed.json()["items"] == []


def test_the_largest_facts_bill_without_overflow(
    finance: tuple[Tenant, Actor], client: TestClient
) -> None:
    tenant, actor = finance
    assert client.post(
        f"{API}/{tenant.slug}/contracts", json=CONTRACT, headers=actor.headers
    ).is_success
    for n in range(2):
        answer = _fact(client, tenant, actor, f"max-{n}", amount_minor=MAX_AMOUNT_MINOR)
        assert answer.status_code == 201, answer.text
    answer = client.post(
        f"{API}/{tenant.slug}/statements", params={"period": "2026-10"}, headers=actor.headers
    )
    assert answer.status_code == 201, answer.text
    assert answer.json()["total_minor"] == 2 * MAX_AMOUNT_MINOR


def test_a_month_takes_a_bounded_number_of_facts(
    finance: tuple[Tenant, Actor], client: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    tenant, actor = finance
    monkeypatch.setattr(service, "MAX_SERVICE_FACTS_PER_PERIOD", 2)
    for n in range(2):
        assert _fact(client, tenant, actor, f"f{n}").status_code == 201
    _problem(_fact(client, tenant, actor, "f2"), 409, "too-many-facts")
    assert _fact(client, tenant, actor, "f0").status_code == 200  # a retry still answers
    assert _fact(client, tenant, actor, "nov", occurred_on="2026-11-01").status_code == 201


def test_a_statement_whose_sums_would_not_fit_is_refused_not_stored(
    finance: tuple[Tenant, Actor], client: TestClient
) -> None:
    """Each input within its bound, the product beyond a statement's: 10^12 per pick, 10^9
    picks. The statement says which line, and nothing is stored."""
    tenant, actor = finance
    terms = {**TERMS, "warehousing": {"per_pick_minor": MAX_AMOUNT_MINOR}}
    contract = {**CONTRACT, "terms": terms}
    assert client.post(
        f"{API}/{tenant.slug}/contracts", json=contract, headers=actor.headers
    ).is_success
    answer = _fact(client, tenant, actor, "picks", kind="picks", quantity="1000000000")
    assert answer.status_code == 201, answer.text
    url = f"{API}/{tenant.slug}/statements"
    for answer in (
        client.post(url, params={"period": "2026-10"}, headers=actor.headers),
        client.get(f"{url}/preview", params={"period": "2026-10"}, headers=actor.headers),
    ):
        _problem(answer, 422, "amount-out-of-range")
        assert f"{MAX_STATEMENT_MINOR:,}" in answer.json()["detail"]
    assert client.get(url, headers=actor.headers).json()["items"] == []


@pytest.mark.parametrize(
    "terms",
    [
        {**TERMS, "base_fee_minor": 2**63},
        {**TERMS, "base_fee_minor": MAX_AMOUNT_MINOR + 1},
        {**TERMS, "base_fee_minor": -1},
        {**TERMS, "cap_minor": 2**63 - 1},
        {**TERMS, "minimum_minor": -5},
        {**TERMS, "commission": {"mode": "flat", "rate": "1.5"}},
        {**TERMS, "commission": {"mode": "flat", "rate": "-0.01"}},
        {**TERMS, "commission": {"mode": "flat", "rate": "NaN"}},
        {
            **TERMS,
            "commission": {
                "mode": "marginal",
                "tiers": [
                    {"up_to_minor": 10**13, "rate": "0.05"},
                    {"up_to_minor": None, "rate": "0.03"},
                ],
            },
        },
        {**TERMS, "commission": {"mode": "flat", "channel_rates": {"": "0.05"}}},
        {
            **TERMS,
            "commission": {"mode": "flat", "channel_rates": {f"c{n}": "0.01" for n in range(501)}},
        },
        {**TERMS, "base": {"excluded_skus": ["x" * 101]}},
        {**TERMS, "target": {"base_minor": 10**19}},
        {**TERMS, "warehousing": {"per_pick_minor": 2**64}},
        {**TERMS, "placement": {"salary_rate": "2"}},
        {**TERMS, "vat_rate": "-0.06"},
        {**TERMS, "ad_markup_rate": "100"},
        {**TERMS, "time_zone": "a" * 5000},
        {**TERMS, "time_zone": "/etc/passwd"},
        {**TERMS, "currency": "12$"},
    ],
    ids=lambda terms: str({k: v for k, v in terms.items() if TERMS.get(k) != v})[:70],
)
def test_contract_terms_out_of_bounds_are_refused(
    finance: tuple[Tenant, Actor], client: TestClient, terms: dict[str, Any]
) -> None:
    tenant, actor = finance
    answer = client.post(
        f"{API}/{tenant.slug}/contracts", json={**CONTRACT, "terms": terms}, headers=actor.headers
    )
    _problem(answer, 422, "validation-error")
    assert client.get(f"{API}/{tenant.slug}/contracts", headers=actor.headers).json() == []


@pytest.mark.parametrize(
    "changes",
    [{"effective_from": "0001-01-01"}, {"effective_from": "9999-12-31"}, {"ends_on": "1999-01-01"}],
    ids=repr,
)
def test_contract_dates_outside_the_billed_years_are_refused(
    finance: tuple[Tenant, Actor], client: TestClient, changes: dict[str, Any]
) -> None:
    tenant, actor = finance
    url = f"{API}/{tenant.slug}/contracts"
    _problem(
        client.post(url, json={**CONTRACT, **changes}, headers=actor.headers),
        422,
        "validation-error",
    )


@pytest.mark.parametrize("period", ["0000-01", "2026-13", "2026-00", "3000-01", "99999-01", "x"])
def test_a_period_that_is_not_a_billed_month_is_refused(
    finance: tuple[Tenant, Actor], client: TestClient, period: str
) -> None:
    tenant, actor = finance
    assert client.post(
        f"{API}/{tenant.slug}/contracts", json=CONTRACT, headers=actor.headers
    ).is_success
    url = f"{API}/{tenant.slug}/statements"
    for answer in (
        client.post(url, params={"period": period}, headers=actor.headers),
        client.get(f"{url}/preview", params={"period": period}, headers=actor.headers),
    ):
        assert answer.status_code == 422, answer.text
        assert answer.headers["content-type"].startswith("application/problem+json")
