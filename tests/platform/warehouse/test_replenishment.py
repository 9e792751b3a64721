"""Replenishment (补货) and stock alerts: suggestions from min/max, lead time, what is coming and
the sales velocity of the daily product rollups; low-stock, expiry and slow-mover alerts."""

from __future__ import annotations

import uuid
from datetime import date, timedelta

import pytest

from daiyun.core import db
from daiyun.core.errors import Problem
from daiyun.platform.orders import service as order_service
from daiyun.platform.reports import service as reports
from daiyun.platform.warehouse import replenishment, rules, service
from daiyun.platform.warehouse.schemas import (
    AlertKind,
    ExpectedLine,
    ReceiptCreate,
    ReplenishmentRuleIn,
    ReplenishmentRules,
    SkuRuleIn,
    StockSettingsIn,
)
from tests import factories
from tests.platform.warehouse.conftest import Stockroom

TODAY = factories.T0.date()


def _sell(room: Stockroom, code: str, quantity: int, days_ago: int) -> None:
    """A paid order of ``quantity`` units placed ``days_ago`` days before TODAY, rolled up."""
    placed = factories.T0 - timedelta(days=days_ago)
    incoming = factories.order(
        f"S-{uuid.uuid4().hex[:8]}", sku=code, quantity=quantity, placed=placed
    )
    with db.unit_of_work(room.tenant.id) as session:
        [(_, order)] = order_service.ingest(session, room.shop_id, "shopify", [incoming])
        reports.refresh(session, [order.id])


def _rule(room: Stockroom, code: str, low: int, high: int, lead: int) -> ReplenishmentRuleIn:
    return ReplenishmentRuleIn(
        sku_id=room.skus[code],
        warehouse_id=room.hz.id,
        min_quantity=low,
        max_quantity=high,
        lead_time_days=lead,
    )


def test_the_rule_orders_up_to_the_maximum_at_the_reorder_point() -> None:
    # 1 a day for 14 days of lead time is more than the minimum: reorder at 14.
    made = rules.suggest(
        available=10, incoming=0, daily_sales=1.0, min_quantity=5, max_quantity=30,
        lead_time_days=14,
    )  # fmt: skip
    assert (made.reorder_point, made.quantity, made.days_of_cover, made.urgent) == (
        14, 20, 10.0, True,
    )  # fmt: skip
    coming = rules.suggest(
        available=10, incoming=20, daily_sales=1.0, min_quantity=5, max_quantity=30,
        lead_time_days=14,
    )  # fmt: skip
    assert coming.quantity == 0
    idle = rules.suggest(
        available=2, incoming=0, daily_sales=0.0, min_quantity=5, max_quantity=30,
        lead_time_days=14,
    )  # fmt: skip
    assert (idle.quantity, idle.days_of_cover, idle.urgent) == (28, None, False)


def test_suggestions_read_velocity_from_the_rollups(room: Stockroom) -> None:
    room.receive("TEA", 10)
    room.receive("CUP", 40)
    _sell(room, "TEA", 14, days_ago=3)
    _sell(room, "SET", 7, days_ago=10)  # 14 TEA and 7 CUP as parts
    _sell(room, "TEA", 100, days_ago=40)  # outside the 28 days
    with db.unit_of_work(room.tenant.id) as session:
        replenishment.set_rules(
            session,
            ReplenishmentRules(
                rules=[_rule(room, "TEA", 5, 30, 14), _rule(room, "CUP", 5, 50, 14)]
            ),
        )
        [tea] = replenishment.suggestions(session, today=TODAY)
        assert (tea.sku, tea.daily_sales, tea.available, tea.quantity) == ("TEA", 1.0, 10, 20)
        assert (tea.days_of_cover, tea.urgent) == (10.0, True)
        everything = replenishment.suggestions(session, today=TODAY, all_rules=True)
        cup = next(s for s in everything if s.sku == "CUP")
        assert (cup.daily_sales, cup.quantity, cup.days_of_cover) == (0.25, 0, 160.0)
        asn = ReceiptCreate(
            warehouse_id=room.hz.id, expected=[ExpectedLine(sku_id=room.skus["TEA"], quantity=20)]
        )
        service.create_receipt(session, asn)
        assert replenishment.suggestions(session, today=TODAY) == []


def test_rules_are_refused_when_they_make_no_sense(room: Stockroom) -> None:
    with db.unit_of_work(room.tenant.id) as session:
        for bad in (
            [_rule(room, "TEA", 9, 3, 1)],
            [_rule(room, "TEA", 1, 3, 1), _rule(room, "TEA", 2, 4, 1)],
            [_rule(room, "SET", 1, 3, 1)],
        ):
            with pytest.raises(Problem) as refused:
                replenishment.set_rules(session, ReplenishmentRules(rules=bad))
            assert refused.value.status == 422


def test_alerts_name_low_stock_expiry_and_slow_movers(room: Stockroom) -> None:
    room.receive("TEA", 6, lot="SOON", expires=TODAY + timedelta(days=10))
    room.receive("TEA", 2, lot="GONE", expires=TODAY - timedelta(days=1))
    room.receive("TEA", 9, lot="LATER", expires=date(2030, 1, 1))
    room.receive("CUP", 3)
    _sell(room, "TEA", 1, days_ago=5)
    with db.unit_of_work(room.tenant.id) as session:
        rule = SkuRuleIn(sku_id=room.skus["CUP"], warehouse_id=room.hz.id, safety_stock=5)
        service.set_stock_settings(session, StockSettingsIn(skus=[rule]))
        found = replenishment.alerts(session, today=TODAY)
    assert [(a.kind, a.sku, a.lot, a.days) for a in found] == [
        (AlertKind.expired, "TEA", "GONE", -1),
        (AlertKind.low_stock, "CUP", None, None),
        (AlertKind.expiring, "TEA", "SOON", 10),
        (AlertKind.slow_mover, "CUP", None, 60),
    ]
    assert found[1].threshold == 5 and found[1].available == 3
