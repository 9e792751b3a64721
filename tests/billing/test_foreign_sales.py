"""Sales in another currency than the contract's (issue 14): a merchant selling in CNY on Tmall
and in USD on Shopify under a USD contract. Converted at the day's rate or the rate of the 1st,
left out (and said so) when the contract converts none, never at a guessed rate, billed once."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from daiyun.billing import base
from daiyun.billing.models import BilledFact
from daiyun.core.db import unit_of_work
from daiyun.platform.orders import service as order_service
from daiyun.platform.orders.normalized import NormalizedRefund, OrderStatus
from daiyun.platform.rates import service as rates
from daiyun.platform.rates.rules import Quote
from daiyun.tenants.models import Tenant
from tests import factories
from tests.billing.test_statements import (
    API,
    _drill_down,
    _finalize,
    _generate,
    deliver_all,
    finance,
)
from tests.conftest import Actor

__all__ = ["finance"]  # the fixture, shared with test_statements

# Noon in Shanghai on 1, 2 and 15 December 2026.
DEC1 = datetime(2026, 12, 1, 4, 0, tzinfo=UTC)
DEC2 = datetime(2026, 12, 2, 4, 0, tzinfo=UTC)
DEC15 = datetime(2026, 12, 15, 4, 0, tzinfo=UTC)
JAN = datetime(2027, 1, 10, 4, 0, tzinfo=UTC)


def _contract(client: TestClient, tenant: Tenant, actor: Actor, **terms: Any) -> None:
    body = {
        "name": "Cross-border operations 2026",
        "effective_from": "2026-12-01",
        "terms": {
            "currency": "USD",
            "time_zone": "Asia/Shanghai",
            "commission": {"mode": "flat", "rate": "0.1"},
            **terms,
        },
    }
    answer = client.post(f"{API}/{tenant.slug}/contracts", json=body, headers=actor.headers)
    assert answer.status_code == 201, answer.text


def _order(
    tenant: Tenant,
    shop_id: uuid.UUID,
    external_id: str,
    total: int,
    paid: datetime,
    currency: str,
    channel: str,
) -> None:
    order = factories.order(
        external_id, updated=paid, total_minor=total, placed=paid, sku=external_id
    )
    order.paid_at = paid
    order.currency = currency
    with unit_of_work(tenant.id) as session:
        order_service.ingest(session, shop_id, channel, [order])
    deliver_all(tenant.id)


def _sales(tenant: Tenant, shop_id: uuid.UUID) -> None:
    """$1,000.00 on Shopify; ¥10,000.00 and ¥5,000.04 on Tmall on 1 and 2 December."""
    _order(tenant, shop_id, "US1", 100_000, DEC1, "USD", "shopify")
    _order(tenant, shop_id, "CN1", 1_000_000, DEC1, "CNY", "tmall")
    _order(tenant, shop_id, "CN2", 500_004, DEC2, "CNY", "tmall")


def _rate(day: date, rate: str, pair: tuple[str, str] = ("CNY", "USD")) -> None:
    with unit_of_work() as session:
        rates.record(session, [Quote(pair[0], pair[1], day, Decimal(rate), "PBOC")], "test")


def _order_id(tenant: Tenant, external_id: str) -> str:
    with unit_of_work(tenant.id) as session:
        [found], _ = order_service.find_orders(session, text=external_id)
        return str(found.id)


def _lines(statement: dict[str, Any], kind: str) -> list[dict[str, Any]]:
    return [line for line in statement["lines"] if line["kind"] == kind]


def test_daily_conversion_bills_the_converted_base_and_shows_each_rate(
    finance: tuple[Tenant, Actor, uuid.UUID], client: TestClient
) -> None:
    tenant, actor, shop_id = finance
    _contract(client, tenant, actor, foreign_sales="daily")
    _sales(tenant, shop_id)
    _rate(date(2026, 12, 1), "0.1404")
    _rate(date(2026, 12, 2), "0.1402")
    draft = _generate(client, tenant, actor, "2026-12")
    # Hand-computed: 1,000,000 × 0.1404 + 500,004 × 0.1402 = 140,400 + 70,100.5608 cents,
    # rounded once: 210,501 ($2,105.01). Base $1,000.00 + $2,105.01; 10% of 310,501 = 31,050.1.
    [converted] = _lines(draft, "fx-converted")
    assert converted["basis_minor"] == 210_501
    assert converted["amount_minor"] == 0
    assert converted["quantity"] == "2"
    assert converted["sources"] == [
        "rate:CNY/USD:2026-12-01:0.1404",
        "rate:CNY/USD:2026-12-02:0.1402",
    ]
    assert "CNY 15,000.04 = USD 2,105.01" in converted["description"]
    assert "2026-12-01: 0.1404, 2026-12-02: 0.1402" in converted["description"]
    assert "PBOC" in converted["description"]
    [commission] = _lines(draft, "commission")
    assert (commission["basis_minor"], commission["amount_minor"]) == (310_501, 31_050)
    assert commission["quantity"] == "3"
    assert draft["total_minor"] == 31_050
    assert not _lines(draft, "fx-missing")
    # The drill-down of the conversion names the rates it used.
    rates_used = _drill_down(client, tenant, actor, draft["id"], converted["position"])
    assert rates_used == converted["sources"]


def test_a_missing_rate_is_named_and_refuses_finalize_until_recorded(
    finance: tuple[Tenant, Actor, uuid.UUID], client: TestClient
) -> None:
    tenant, actor, shop_id = finance
    _contract(client, tenant, actor, foreign_sales="daily")
    _sales(tenant, shop_id)
    _rate(date(2026, 12, 1), "0.1404")
    draft = _generate(client, tenant, actor, "2026-12")
    [missing] = _lines(draft, "fx-missing")
    assert "2026-12-02" in missing["description"] and "CNY/USD" in missing["description"]
    assert "2026-12-01" not in missing["description"]
    assert missing["amount_minor"] == 0
    # The day without a rate is left out, never guessed: $1,000.00 + ¥10,000.00 × 0.1404.
    [commission] = _lines(draft, "commission")
    assert commission["basis_minor"] == 100_000 + 140_400
    refused = _finalize(client, tenant, actor, draft["id"])
    assert refused.status_code == 409, refused.text
    assert refused.json()["type"].endswith("missing-exchange-rates")
    assert refused.json()["missing_days"] == {"CNY": ["2026-12-02"]}
    with unit_of_work(tenant.id) as session:
        assert session.scalar(select(func.count()).select_from(BilledFact)) == 0
    shown = client.get(f"{API}/{tenant.slug}/statements/{draft['id']}", headers=actor.headers)
    assert shown.json()["status"] == "draft"

    _rate(date(2026, 12, 2), "0.1402")
    again = _generate(client, tenant, actor, "2026-12")
    assert not _lines(again, "fx-missing")
    assert _lines(again, "commission")[0]["basis_minor"] == 310_501
    final = _finalize(client, tenant, actor, draft["id"])
    assert final.status_code == 200, final.text
    assert final.json()["lines"] == again["lines"]


def test_a_day_without_a_rate_takes_the_latest_within_the_carry_days(
    finance: tuple[Tenant, Actor, uuid.UUID], client: TestClient
) -> None:
    tenant, actor, shop_id = finance
    _contract(client, tenant, actor, foreign_sales="daily", rate_carry_days=1)
    _sales(tenant, shop_id)
    _order(tenant, shop_id, "CN3", 200_000, datetime(2026, 12, 4, 4, 0, tzinfo=UTC), "CNY", "tmall")
    _rate(date(2026, 12, 1), "0.1404")  # none recorded for 2 to 4 December
    draft = _generate(client, tenant, actor, "2026-12")
    # 2 December is one day after the 1st: it converts at the 1st's rate, named by its own date.
    # 1,000,000 × 0.1404 + 500,004 × 0.1404 = 140,400 + 70,200.5616, rounded once: 210,601.
    [converted] = _lines(draft, "fx-converted")
    assert converted["basis_minor"] == 210_601
    assert converted["sources"] == ["rate:CNY/USD:2026-12-01:0.1404"]
    # 4 December is three days after the last rate: beyond the carry, so it is missing.
    [missing] = _lines(draft, "fx-missing")
    assert "2026-12-04" in missing["description"] and "2026-12-02" not in missing["description"]
    refused = _finalize(client, tenant, actor, draft["id"])
    assert refused.status_code == 409
    assert refused.json()["missing_days"] == {"CNY": ["2026-12-04"]}
    _rate(date(2026, 12, 3), "0.1400")
    again = _generate(client, tenant, actor, "2026-12")
    [converted] = _lines(again, "fx-converted")
    assert converted["basis_minor"] == 210_601 + 28_000
    assert converted["sources"][-1] == "rate:CNY/USD:2026-12-03:0.14"
    assert _finalize(client, tenant, actor, again["id"]).status_code == 200


def test_monthly_conversion_uses_the_rate_of_the_first(
    finance: tuple[Tenant, Actor, uuid.UUID], client: TestClient
) -> None:
    tenant, actor, shop_id = finance
    _contract(client, tenant, actor, foreign_sales="monthly")
    _order(tenant, shop_id, "CN15", 100_000, DEC15, "CNY", "tmall")  # ¥1,000.00
    _rate(date(2026, 12, 15), "0.15")  # the day's own rate: not the contract's
    draft = _generate(client, tenant, actor, "2026-12")
    [missing] = _lines(draft, "fx-missing")
    assert "2026-12-01" in missing["description"]
    assert not _lines(draft, "commission") or _lines(draft, "commission")[0]["basis_minor"] == 0
    _rate(date(2026, 12, 1), "0.14")  # stored the other way round would do as well
    draft = _generate(client, tenant, actor, "2026-12")
    [converted] = _lines(draft, "fx-converted")
    assert converted["sources"] == ["rate:CNY/USD:2026-12-01:0.14"]
    assert "CNY/USD 2026-12-01: 0.14;" in converted["description"]
    assert "fixed monthly rate (the rate of 2026-12-01)" in converted["description"]
    [commission] = _lines(draft, "commission")
    assert (commission["basis_minor"], commission["amount_minor"]) == (14_000, 1_400)


def test_a_rate_stored_the_other_way_round_converts(
    finance: tuple[Tenant, Actor, uuid.UUID], client: TestClient
) -> None:
    tenant, actor, shop_id = finance
    _contract(client, tenant, actor, foreign_sales="monthly")
    _order(tenant, shop_id, "CN15", 100_000, DEC15, "CNY", "tmall")
    _rate(date(2026, 12, 1), "8", ("USD", "CNY"))  # 1 USD = 8 CNY: 1 CNY = 0.125 USD
    draft = _generate(client, tenant, actor, "2026-12")
    assert _lines(draft, "commission")[0]["basis_minor"] == 12_500


def test_a_contract_that_converts_nothing_says_what_it_left_out(
    finance: tuple[Tenant, Actor, uuid.UUID], client: TestClient
) -> None:
    tenant, actor, shop_id = finance
    _contract(client, tenant, actor)  # no foreign_sales: exclude, as versions stored before
    _sales(tenant, shop_id)
    _rate(date(2026, 12, 1), "0.1404")
    draft = _generate(client, tenant, actor, "2026-12")
    [excluded] = _lines(draft, "fx-excluded")
    assert excluded["description"] == (
        "Sales in CNY left out of the commission base (the contract converts no foreign"
        " sales): 2 orders, CNY 15,000.04"
    )
    assert excluded["amount_minor"] == 0
    [commission] = _lines(draft, "commission")
    assert (commission["basis_minor"], commission["amount_minor"]) == (100_000, 10_000)
    assert _finalize(client, tenant, actor, draft["id"]).status_code == 200
    with unit_of_work(tenant.id) as session:
        keys = session.scalars(select(BilledFact.fact_key)).all()
    assert len(keys) == 1  # the CNY orders were not billed, so nothing records them


def test_converted_orders_are_billed_once_and_a_later_refund_takes_back_their_share(
    finance: tuple[Tenant, Actor, uuid.UUID], client: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    tenant, actor, shop_id = finance
    _contract(client, tenant, actor, foreign_sales="daily")
    _sales(tenant, shop_id)
    _rate(date(2026, 12, 1), "0.1404")
    _rate(date(2026, 12, 2), "0.1402")
    december = _generate(client, tenant, actor, "2026-12")
    [commission] = _lines(december, "commission")
    # The commission line's drill-down lists the converted orders with the dollar one, in the
    # draft as once finalized.
    drafted = _drill_down(client, tenant, actor, december["id"], commission["position"])
    assert len(drafted) == 3 and drafted == sorted(drafted)
    with monkeypatch.context() as patch:
        patch.setattr(base, "PAGE", 1)  # each currency's ids read one at a time, merged
        assert _drill_down(client, tenant, actor, december["id"], commission["position"]) == (
            drafted
        )
    assert _finalize(client, tenant, actor, december["id"]).status_code == 200
    assert _drill_down(client, tenant, actor, december["id"], commission["position"]) == drafted
    with unit_of_work(tenant.id) as session:
        rows = session.scalars(select(BilledFact).where(BilledFact.fact_key.like("order:%")))
        billed = {row.fact_key: row for row in rows}
    assert len(billed) == 3
    # What each order carries adds up to the commission line, converted orders included.
    assert sum(row.commission_minor for row in billed.values()) == 31_050
    assert sorted((row.detail or {}).get("currency", "USD") for row in billed.values()) == [
        "CNY",
        "CNY",
        "USD",
    ]
    # Finalized: the month cannot be billed again, and the next month has none of its orders.
    again = client.post(
        f"{API}/{tenant.slug}/statements", params={"period": "2026-12"}, headers=actor.headers
    )
    assert again.status_code == 409
    refund = NormalizedRefund("r-cn1", 1_000_000, JAN, "returned")
    refunded = factories.order(
        "CN1",
        updated=JAN,
        total_minor=1_000_000,
        status=OrderStatus.refunded,
        refunds=[refund],
        placed=DEC1,
        sku="CN1",
    )
    refunded.paid_at = DEC1
    refunded.currency = "CNY"
    with unit_of_work(tenant.id) as session:
        order_service.ingest(session, shop_id, "tmall", [refunded])
    deliver_all(tenant.id)
    _order(tenant, shop_id, "US2", 50_000, JAN, "USD", "shopify")
    january = _generate(client, tenant, actor, "2027-01")
    # The whole CNY order was refunded: all the commission billed on it comes back, in dollars,
    # without a rate (its refund and base are both in yuan); no basis or rate in dollars shown.
    cn1 = billed[f"order:{_order_id(tenant, 'CN1')}"]
    assert cn1.base_minor == 1_000_000 and 0 < cn1.commission_minor < 31_050
    [clawback] = _lines(january, "clawback")
    assert clawback["amount_minor"] == -cn1.commission_minor
    assert (clawback["basis_minor"], clawback["rate"]) == (0, None)
    assert "CNY 10,000.00 of the CNY 10,000.00 billed on it" in clawback["description"]
    # More taken back than January's commission: the rest is a credit carried forward.
    assert [line["kind"] for line in january["lines"]] == [
        "commission",
        "clawback",
        "credit:carried_forward",
    ]
    assert _lines(january, "commission")[0]["basis_minor"] == 50_000
    assert _finalize(client, tenant, actor, january["id"]).status_code == 200
    with unit_of_work(tenant.id) as session:
        count = session.scalar(
            select(func.count()).select_from(BilledFact).where(BilledFact.fact_key.like("order:%"))
        )
    assert count == 4  # each order billed once


def test_a_late_converted_order_is_billed_as_an_adjustment_once_its_day_has_a_rate(
    finance: tuple[Tenant, Actor, uuid.UUID], client: TestClient
) -> None:
    tenant, actor, shop_id = finance
    _contract(client, tenant, actor, foreign_sales="daily")
    _sales(tenant, shop_id)
    _rate(date(2026, 12, 1), "0.1404")
    _rate(date(2026, 12, 2), "0.1402")
    december = _generate(client, tenant, actor, "2026-12")
    assert _finalize(client, tenant, actor, december["id"]).status_code == 200
    # A yuan order of 15 December reaches the book after December was finalized.
    _order(tenant, shop_id, "CN4", 200_000, DEC15, "CNY", "tmall")
    january = _generate(client, tenant, actor, "2027-01")
    # No rate for its day: it is named, nothing is guessed, and January cannot be finalized.
    [missing] = _lines(january, "adjustment:fx-missing")
    assert "2026-12-15" in missing["description"] and missing["amount_minor"] == 0
    assert missing["adjusts_period"] == "2026-12"
    assert not _lines(january, "adjustment:commission")
    refused = _finalize(client, tenant, actor, january["id"])
    assert refused.status_code == 409
    assert refused.json()["missing_days"] == {"CNY": ["2026-12-15"]}
    cn4 = f"order:{_order_id(tenant, 'CN4')}"
    with unit_of_work(tenant.id) as session:
        assert session.scalar(select(BilledFact).where(BilledFact.fact_key == cn4)) is None

    _rate(date(2026, 12, 15), "0.14")
    january = _generate(client, tenant, actor, "2027-01")
    assert not _lines(january, "adjustment:fx-missing")
    # 200,000 fen × 0.14 = 28,000 cents more base for December; 10 % of it = 2,800.
    [adjusted] = _lines(january, "adjustment:commission")
    assert adjusted["amount_minor"] == 2_800 and adjusted["adjusts_period"] == "2026-12"
    assert adjusted["sources"] == [cn4]
    assert _finalize(client, tenant, actor, january["id"]).status_code == 200
    with unit_of_work(tenant.id) as session:
        [row] = session.scalars(select(BilledFact).where(BilledFact.fact_key == cn4))
    assert (row.detail or {}).get("adjusts") == "2026-12"
    # Billed once: February has nothing more to adjust for it.
    february = _generate(client, tenant, actor, "2027-02")
    assert not [line for line in february["lines"] if line["kind"].startswith("adjustment:")]
