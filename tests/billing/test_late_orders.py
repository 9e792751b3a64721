"""Late orders are found from the order book's events, not by scanning closed months: which
orders become candidates, that each is billed once as an adjustment, and that a void makes
them late again (daiyun/billing/late.py)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from daiyun.billing import late
from daiyun.billing.models import LateOrder
from daiyun.core.db import unit_of_work
from daiyun.platform.orders import service as order_service
from daiyun.platform.orders.normalized import OrderStatus
from daiyun.tenants.models import Tenant
from tests import factories
from tests.billing.test_statements import (
    API,
    NOV,
    OCT,
    _contract,
    _finalize,
    _generate,
    _paid_order,
    deliver_all,
    finance,
)
from tests.conftest import Actor

__all__ = ["finance"]  # the fixture, shared with test_statements


def _candidates(tenant: Tenant) -> set[str]:
    from daiyun.platform.orders.models import Order

    with unit_of_work(tenant.id) as session:
        rows = session.execute(
            select(Order.external_id).join(LateOrder, LateOrder.order_id == Order.id)
        )
        return {external_id for (external_id,) in rows}


def _adjustments(statement: dict[str, object]) -> list[int]:
    lines = statement["lines"]
    assert isinstance(lines, list)
    return [line["amount_minor"] for line in lines if line["adjusts_period"] == "2026-10"]


def test_an_order_of_a_finalized_month_is_a_candidate_until_billed(
    finance: tuple[Tenant, Actor, uuid.UUID], client: TestClient
) -> None:
    tenant, actor, shop_id = finance
    _contract(client, tenant, actor)
    _paid_order(tenant, shop_id, "ON-TIME", 100_000, OCT)
    october = _generate(client, tenant, actor, "2026-10")
    assert _finalize(client, tenant, actor, october["id"]).status_code == 200
    _paid_order(tenant, shop_id, "LATE", 40_000, OCT)
    assert _candidates(tenant) == {"LATE"}  # ON-TIME was billed before its events mattered
    november = _generate(client, tenant, actor, "2026-11")
    assert _adjustments(november) == [2_000]
    assert _finalize(client, tenant, actor, november["id"]).status_code == 200
    assert _candidates(tenant) == set()  # billed: forgotten
    december = _generate(client, tenant, actor, "2026-12")
    assert _adjustments(december) == []  # never billed twice


def test_an_order_of_the_open_month_is_no_candidate_until_its_month_has_a_statement(
    finance: tuple[Tenant, Actor, uuid.UUID],
    client: TestClient,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    tenant, actor, shop_id = finance
    _contract(client, tenant, actor)
    monkeypatch.setattr(late, "utcnow", lambda: datetime(2026, 10, 20, tzinfo=UTC))
    _paid_order(tenant, shop_id, "EARLY", 10_000, OCT)
    assert _candidates(tenant) == set()  # October is the open month: billed in its own time
    _generate(client, tenant, actor, "2026-10")
    # A draft exists: an order arriving now may miss its finalize.
    _paid_order(tenant, shop_id, "WHILE-DRAFTED", 20_000, OCT)
    assert _candidates(tenant) == {"WHILE-DRAFTED"}
    monkeypatch.setattr(late, "utcnow", lambda: datetime(2026, 11, 20, tzinfo=UTC))
    _paid_order(tenant, shop_id, "AFTER-THE-MONTH", 30_000, OCT)
    assert _candidates(tenant) == {"WHILE-DRAFTED", "AFTER-THE-MONTH"}


def test_an_order_no_contract_bills_is_no_candidate_and_a_cancelled_one_is_forgotten(
    finance: tuple[Tenant, Actor, uuid.UUID], client: TestClient
) -> None:
    tenant, actor, shop_id = finance
    _contract(client, tenant, actor)
    october = _generate(client, tenant, actor, "2026-10")
    assert _finalize(client, tenant, actor, october["id"]).status_code == 200
    _paid_order(tenant, shop_id, "LATE", 40_000, OCT)
    assert _candidates(tenant) == {"LATE"}
    cancelled = factories.order(
        "LATE",
        updated=NOV,
        status=OrderStatus.cancelled,
        total_minor=40_000,
        placed=OCT,
        sku="LATE",
    )
    cancelled.paid_at = OCT  # the marketplace cancels it
    with unit_of_work(tenant.id) as session:
        order_service.ingest(session, shop_id, "shopify", [cancelled])
    deliver_all(tenant.id)
    assert _candidates(tenant) == set()
    dollars = factories.order("USD", updated=OCT, total_minor=5_000, placed=OCT, sku="USD")
    dollars.currency = "USD"
    dollars.paid_at = OCT
    with unit_of_work(tenant.id) as session:
        order_service.ingest(session, shop_id, "shopify", [dollars])
    deliver_all(tenant.id)
    assert _candidates(tenant) == set()  # the contract bills CNY
    november = _generate(client, tenant, actor, "2026-11")
    assert _adjustments(november) == []


def test_voiding_the_statement_that_billed_a_late_order_makes_it_late_again(
    finance: tuple[Tenant, Actor, uuid.UUID], client: TestClient
) -> None:
    tenant, actor, shop_id = finance
    _contract(client, tenant, actor)
    october = _generate(client, tenant, actor, "2026-10")
    assert _finalize(client, tenant, actor, october["id"]).status_code == 200
    _paid_order(tenant, shop_id, "LATE", 40_000, OCT)
    _paid_order(tenant, shop_id, "NOVEMBER", 60_000, NOV)
    november = _generate(client, tenant, actor, "2026-11")
    assert _finalize(client, tenant, actor, november["id"]).status_code == 200
    assert _candidates(tenant) == set()
    voided = client.post(
        f"{API}/{tenant.slug}/statements/{november['id']}/void",
        json={"reason": "wrong rate"},
        headers=actor.headers,
    )
    assert voided.status_code == 200, voided.text
    assert _candidates(tenant) == {"LATE"}
    again = _generate(client, tenant, actor, "2026-11")
    assert _adjustments(again) == [2_000]
    commission = [line for line in again["lines"] if line["kind"] == "commission"]
    assert commission[0]["basis_minor"] == 60_000  # November's own order, found by its month
