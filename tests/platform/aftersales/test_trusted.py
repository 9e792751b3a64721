"""Small refund-only requests are approved at once only for trusted buyers (极速退款): enough
earlier orders at this merchant and few after-sales cases in the past year, as the merchant set
them; a buyer the order does not identify (no e-mail) waits for an agent."""

from __future__ import annotations

import uuid

from daiyun.core import db
from daiyun.platform.aftersales import service
from daiyun.platform.aftersales.rules import CaseState, CaseType
from daiyun.platform.aftersales.schemas import CaseCreate, CaseLineIn, SettingsIn
from daiyun.platform.orders import service as order_service
from tests import factories
from tests.platform.aftersales.conftest import SKU, Counter


def _refund_only(counter: Counter, order_id: uuid.UUID) -> CaseState:
    body = CaseCreate(
        type=CaseType.refund_only,
        order_id=order_id,
        reason="Arrived broken",
        lines=[CaseLineIn(line=SKU, quantity=1)],
    )
    with db.unit_of_work(counter.tenant.id) as session:
        return service.create_case(session, body, counter.agent).state


def _trust(counter: Counter, min_orders: int, max_cases: int | None) -> None:
    body = SettingsIn(
        return_days=90,
        auto_approve_below_minor=10_000,
        trusted_min_orders=min_orders,
        trusted_max_cases=max_cases,
    )
    with db.unit_of_work(counter.tenant.id) as session:
        service.put_settings(session, body)


def test_only_buyers_with_history_and_few_cases_are_approved_at_once(counter: Counter) -> None:
    first, _, third, fourth, fifth = (counter.order(days_ago=d) for d in (40, 30, 20, 10, 1))
    _trust(counter, min_orders=2, max_cases=0)
    assert _refund_only(counter, first) == CaseState.requested  # no order before it
    # Two orders before it, but the case on the first order is within the year.
    assert _refund_only(counter, third) == CaseState.requested
    _trust(counter, min_orders=2, max_cases=2)
    assert _refund_only(counter, fourth) == CaseState.approved
    # Three cases in the year now: past the limit again.
    assert _refund_only(counter, fifth) == CaseState.requested


def test_every_buyer_is_trusted_by_default_but_an_unknown_one_never_when_rules_are_set(
    counter: Counter,
) -> None:
    _trust(counter, min_orders=0, max_cases=None)
    assert _refund_only(counter, counter.order()) == CaseState.approved
    anonymous = factories.order(f"anon-{uuid.uuid4().hex[:8]}", sku=SKU, email=None)
    with db.unit_of_work(counter.tenant.id) as session:
        [(_, order)] = order_service.ingest(session, counter.shop_id, "shopify", [anonymous])
    _trust(counter, min_orders=1, max_cases=None)
    assert _refund_only(counter, order.id) == CaseState.requested
