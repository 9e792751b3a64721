"""The after-sales service against a real order book and warehouse: refund bounds, one refund
however many times the marketplace reports it, returns into stock or quarantine, exchanges,
periods, auto-approval and the approval threshold."""

from __future__ import annotations

import uuid
from datetime import timedelta

import pytest

from daiyun.core import db
from daiyun.core.errors import Problem
from daiyun.core.ids import utcnow
from daiyun.platform.aftersales import service
from daiyun.platform.aftersales.schemas import (
    CaseCreate,
    CaseLineIn,
    CaseState,
    CaseType,
    Condition,
    Receive,
    SettingsIn,
)
from daiyun.platform.orders import service as order_service
from daiyun.platform.orders.normalized import NormalizedRefund, OrderStatus
from tests import factories
from tests.platform.aftersales.conftest import SKU, Counter

USER = None


def _open(
    counter: Counter,
    order_id: uuid.UUID,
    kind: CaseType = CaseType.return_refund,
    quantity: int = 1,
    asked: int | None = None,
) -> uuid.UUID:
    with db.unit_of_work(counter.tenant.id) as session:
        body = CaseCreate(
            type=kind,
            order_id=order_id,
            reason="Leaves were broken",
            evidence=["https://img.example/1.jpg"],
            lines=[CaseLineIn(line=SKU, quantity=quantity, requested_minor=asked)],
        )
        return service.create_case(session, body, USER).id


def _refused(counter: Counter, act: object) -> Problem:
    with pytest.raises(Problem) as caught, db.unit_of_work(counter.tenant.id) as session:
        act(session)  # type: ignore[operator]
    return caught.value


def _state(counter: Counter, case_id: uuid.UUID) -> tuple[CaseState, list[str]]:
    with db.unit_of_work(counter.tenant.id) as session:
        found = service.detail(session, service.get_case(session, case_id))
        return found.state, [e.kind for e in found.events]


def _refunds(counter: Counter, order_id: uuid.UUID) -> tuple[int, list[tuple[str, int]]]:
    with db.unit_of_work(counter.tenant.id) as session:
        order = order_service.get_order(session, order_id)
        assert order is not None
        return order.refunded_minor, [(r.external_id, r.amount_minor) for r in order.refunds]


def test_refund_never_above_what_was_paid_for_the_lines(counter: Counter) -> None:
    order_id = counter.order(quantity=2, total_minor=10_000)
    tid = counter.tenant.id
    asked_too_much = _refused(
        counter,
        lambda s: service.create_case(
            s,
            CaseCreate(
                type=CaseType.refund_only,
                order_id=order_id,
                reason="x",
                lines=[CaseLineIn(line=SKU, quantity=1, requested_minor=5_001)],
            ),
            USER,
        ),
    )
    assert (asked_too_much.status, asked_too_much.kind) == (422, "above-paid")
    first = _open(counter, order_id, CaseType.refund_only)
    with db.unit_of_work(tid) as session:
        service.approve(session, first, counter.agent, True, None)
    over = _refused(counter, lambda s: service.refund(s, first, None, True, 5_001))
    assert (over.status, over.kind) == (422, "above-refundable")
    with db.unit_of_work(tid) as session:
        service.refund(session, first, None, True, 5_000)
    assert _refunds(counter, order_id) == (5_000, [(f"aftersales:{first.hex}", 5_000)])
    # The second unit is still refundable; a third case on the same units finds nothing left.
    second = _open(counter, order_id, CaseType.refund_only)
    with db.unit_of_work(tid) as session:
        service.approve(session, second, counter.agent, True, None)
        service.refund(session, second, None, True, None)
    assert _refunds(counter, order_id)[0] == 10_000
    none_left = _refused(
        counter,
        lambda s: service.create_case(
            s,
            CaseCreate(
                type=CaseType.refund_only,
                order_id=order_id,
                reason="again",
                lines=[CaseLineIn(line=SKU, quantity=1)],
            ),
            USER,
        ),
    )
    assert none_left.kind == "above-refundable"


def _marketplace_case(counter: Counter, order_id: uuid.UUID, key: str) -> tuple[uuid.UUID, bool]:
    with db.unit_of_work(counter.tenant.id) as session:
        case, created = service.from_marketplace(
            session,
            order_id,
            key,
            CaseType.refund_only,
            [CaseLineIn(line=SKU, quantity=1)],
            "Not as described",
        )
        return case.id, created


def _marketplace_reports_refund(counter: Counter, external_id: str, key: str) -> None:
    """The marketplace sends the order again, carrying the refund under the request's key."""
    refund = NormalizedRefund(
        external_id=key,
        amount_minor=5_000,
        refunded_at=utcnow(),
        lines=[{"sku": SKU, "quantity": 1, "amount_minor": 5_000}],
    )
    incoming = factories.order(
        external_id,
        sku=SKU,
        quantity=2,
        total_minor=10_000,
        refunds=[refund],
        updated=utcnow(),
        status=OrderStatus.partially_refunded,
    )
    with db.unit_of_work(counter.tenant.id) as session:
        order_service.ingest(session, counter.shop_id, "shopify", [incoming])


def test_duplicate_marketplace_reports_refund_once(counter: Counter) -> None:
    external = f"mp-{uuid.uuid4().hex[:8]}"
    order_id = counter.order(external_id=external)
    case_id, created = _marketplace_case(counter, order_id, "RF-1001")
    again, created_again = _marketplace_case(counter, order_id, "RF-1001")
    assert created and not created_again and again == case_id
    with db.unit_of_work(counter.tenant.id) as session:
        service.approve(session, case_id, counter.agent, True, None)
        service.refund(session, case_id, None, True, None)
        # A retry of the refund is refused as a move, and adds no money.
        with pytest.raises(Problem):
            service.refund(session, case_id, None, True, None)
    _marketplace_reports_refund(counter, external, "RF-1001")
    _marketplace_reports_refund(counter, external, "RF-1001")
    assert _refunds(counter, order_id) == (5_000, [("RF-1001", 5_000)])


def test_marketplace_refund_first_then_the_case_records_nothing(counter: Counter) -> None:
    external = f"mp-{uuid.uuid4().hex[:8]}"
    order_id = counter.order(external_id=external)
    case_id, _ = _marketplace_case(counter, order_id, "RF-2002")
    _marketplace_reports_refund(counter, external, "RF-2002")
    with db.unit_of_work(counter.tenant.id) as session:
        service.approve(session, case_id, counter.agent, True, None)
        case = service.refund(session, case_id, None, True, None)
        assert case.refunded_minor == 5_000
    assert _refunds(counter, order_id) == (5_000, [("RF-2002", 5_000)])
    state, events = _state(counter, case_id)
    assert state == CaseState.refunded and events == ["requested", "approve", "refund"]


def test_return_goes_back_into_stock_or_quarantine(counter: Counter) -> None:
    tid, site = counter.tenant.id, counter.site
    good = _open(counter, counter.order())
    broken = _open(counter, counter.order())
    with db.unit_of_work(tid) as session:
        service.approve(session, good, counter.agent, True, None)
        service.approve(session, broken, counter.agent, True, None)
    # Damaged goods never go to a pickable shelf.
    refused = _refused(
        counter,
        lambda s: service.receive(
            s, broken, counter.agent, Receive(condition=Condition.damaged, location_id=site.shelf)
        ),
    )
    assert (refused.status, refused.kind) == (422, "quarantine-needed")
    assert _state(counter, broken)[0] == CaseState.awaiting_return
    with db.unit_of_work(tid) as session:
        service.receive(
            session,
            good,
            counter.agent,
            Receive(condition=Condition.resellable, location_id=site.shelf),
        )
        service.receive(
            session,
            broken,
            counter.agent,
            Receive(condition=Condition.damaged, location_id=site.cage),
        )
    assert counter.on_hand(site.shelf) == 1
    assert counter.on_hand(site.cage) == 1
    with db.unit_of_work(tid) as session:
        case = service.get_case(session, good)
        assert case.receipt_id is not None and case.condition == Condition.resellable
        service.refund(session, good, None, True, None)
        service.close(session, good, counter.agent, None)
    state, events = _state(counter, good)
    assert state == CaseState.closed
    assert events == ["requested", "approve", "receive", "refund", "close"]


def test_exchange_records_the_replacement(counter: Counter) -> None:
    case_id = _open(counter, counter.order(), CaseType.exchange)
    with db.unit_of_work(counter.tenant.id) as session:
        service.approve(session, case_id, counter.agent, True, None)
        service.receive(session, case_id, counter.agent, Receive(condition=Condition.damaged))
        service.replace(session, case_id, counter.agent, "Sent a new tin")
        found = service.detail(session, service.get_case(session, case_id))
    assert found.state == CaseState.replaced
    assert found.events[-1].detail["replacement"] == [{"sku": SKU, "quantity": 1}]
    # No bin named: the condition is recorded and no stock moves.
    assert counter.on_hand(counter.site.shelf) == 0 and counter.on_hand(counter.site.cage) == 0


def test_illegal_moves_are_409_and_leave_no_trace(counter: Counter) -> None:
    case_id = _open(counter, counter.order())
    for act in (
        lambda s: service.refund(s, case_id, None, True, None),
        lambda s: service.receive(s, case_id, None, Receive(condition=Condition.resellable)),
        lambda s: service.close(s, case_id, counter.agent, None),
    ):
        refused = _refused(counter, act)
        assert (refused.status, refused.kind) == (409, "illegal-transition")
    assert _state(counter, case_id) == (CaseState.requested, ["requested"])
    assert _refunds(counter, counter.order())[1] == []


def test_periods_auto_approval_and_threshold(counter: Counter) -> None:
    tid = counter.tenant.id
    with db.unit_of_work(tid) as session:
        service.put_settings(
            session,
            SettingsIn(
                return_days=7,
                auto_approve_below_minor=3_000,
                approval_threshold_minor=4_000,
            ),
        )
    late = counter.order(days_ago=10)
    refused = _refused(
        counter,
        lambda s: service.create_case(
            s,
            CaseCreate(
                type=CaseType.return_refund,
                order_id=late,
                reason="late",
                lines=[CaseLineIn(line=SKU, quantity=1)],
            ),
            USER,
        ),
    )
    assert (refused.status, refused.kind) == (422, "out-of-period")
    small = _open(counter, counter.order(), CaseType.refund_only, asked=2_000)
    state, events = _state(counter, small)
    assert state == CaseState.approved and events == ["requested", "approve"]
    big = _open(counter, counter.order(), CaseType.refund_only)  # asks 5,000
    needs = _refused(counter, lambda s: service.approve(s, big, counter.agent, False, None))
    assert (needs.status, needs.kind) == (403, "approval-needed")
    with db.unit_of_work(tid) as session:
        service.approve(session, big, counter.agent, True, None)
    cut = _refused(counter, lambda s: service.refund(s, big, None, False, 4_500))
    assert cut.kind == "approval-needed"
    with db.unit_of_work(tid) as session:
        case = service.refund(session, big, None, False, 4_000)
        assert case.refunded_minor == 4_000
        assert case.deadline is not None and case.deadline > utcnow() + timedelta(hours=1)
