"""The case's state machine and the money rules, property-tested: no sequence of moves reaches a
state outside the drawn path, a refused move changes nothing, a refund only skips the return."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from daiyun.platform.aftersales import rules
from daiyun.platform.aftersales.rules import Action, CaseState, CaseType, IllegalMove

S, A = CaseState, Action
# The path as drawn in the issue, edge by edge: (from, action) -> to, per type.
EDGES: dict[CaseType, dict[tuple[CaseState, Action], CaseState]] = {}
for kind in CaseType:
    edges = {(S.requested, A.refuse): S.refused}
    if kind == CaseType.refund_only:
        edges |= {(S.requested, A.approve): S.approved, (S.approved, A.refund): S.refunded}
    else:
        edges |= {
            (S.requested, A.approve): S.awaiting_return,
            (S.awaiting_return, A.receive): S.received,
        }
        outcomes = {
            CaseType.return_refund: [A.refund],
            CaseType.exchange: [A.replace_, A.refund],
            CaseType.repair: [A.repair, A.replace_, A.refund],
        }[kind]
        settled = {A.refund: S.refunded, A.replace_: S.replaced, A.repair: S.repaired}
        edges |= {(S.received, o): settled[o] for o in outcomes}
    edges |= {(s, A.close): S.closed for s in (S.refunded, S.replaced, S.repaired, S.refused)}
    EDGES[kind] = edges


@given(st.sampled_from(CaseType), st.lists(st.sampled_from(Action), max_size=12))
def test_no_illegal_transition(kind: CaseType, actions: list[Action]) -> None:
    state = S.requested
    visited = [state]
    for action in actions:
        expected = EDGES[kind].get((state, action))
        try:
            after = rules.move(kind, state, action)
        except IllegalMove:
            assert expected is None, (state, action)
            continue
        assert after == expected, (state, action, after)
        state = after
        visited.append(state)
    if kind == CaseType.refund_only:
        assert S.awaiting_return not in visited and S.received not in visited
    else:
        assert S.approved not in visited
    if S.closed in visited:
        assert visited[-1] == S.closed  # closed is the end


@given(st.sampled_from(CaseType), st.sampled_from(CaseState))
def test_allowed_lists_exactly_the_legal_moves(kind: CaseType, state: CaseState) -> None:
    assert set(rules.allowed(kind, state)) == {a for (s, a) in EDGES[kind] if s == state}


def test_money_never_goes_to_a_refused_state() -> None:
    with pytest.raises(IllegalMove):
        rules.move(CaseType.return_refund, S.awaiting_return, A.refund)
    with pytest.raises(IllegalMove):
        rules.move(CaseType.refund_only, S.refused, A.refund)


@given(st.integers(0, 10**9), st.integers(1, 1000), st.integers(0, 2000), st.integers(0, 10**9))
def test_paid_for_units_never_exceeds_the_line(total: int, qty: int, asked: int, _: int) -> None:
    paid = rules.paid_for(total, qty, asked)
    assert 0 <= paid <= total
    if asked >= qty:
        assert paid == total


@given(
    st.lists(st.tuples(st.integers(0, 10**7), st.integers(0, 10**7), st.integers(0, 10**7))),
    st.integers(0, 10**8),
    st.integers(0, 10**8),
)
def test_refundable_is_bounded(
    lines: list[tuple[int, int, int]], total: int, refunded: int
) -> None:
    room = rules.refundable(lines, total, refunded)
    assert 0 <= room <= max(0, total - refunded)
    assert room <= sum(units for units, _, _ in lines)
    assert room <= sum(max(0, line_total - done) for _, line_total, done in lines)


def test_periods_per_type() -> None:
    periods = rules.Periods(return_days=7, exchange_days=15, warranty_days=365)
    placed = datetime(2026, 1, 1, tzinfo=UTC)
    day = timedelta(days=1)
    assert rules.within_period(periods, CaseType.return_refund, placed, placed + 7 * day)
    assert not rules.within_period(periods, CaseType.return_refund, placed, placed + 8 * day)
    assert rules.within_period(periods, CaseType.exchange, placed, placed + 15 * day)
    assert not rules.within_period(periods, CaseType.exchange, placed, placed + 16 * day)
    assert rules.within_period(periods, CaseType.repair, placed, placed + 300 * day)
    assert not rules.within_period(periods, CaseType.repair, placed, placed + 366 * day)


def test_auto_approval_and_threshold() -> None:
    assert rules.auto_approves(CaseType.refund_only, 999, 1000)
    assert not rules.auto_approves(CaseType.refund_only, 1000, 1000)
    assert not rules.auto_approves(CaseType.return_refund, 1, 1000)
    assert not rules.auto_approves(CaseType.refund_only, 1, 0)
    assert rules.needs_approver(1001, 1000) and not rules.needs_approver(1000, 1000)


def test_deadline_runs_only_on_staffs_turn() -> None:
    now = datetime(2026, 1, 1, tzinfo=UTC)
    assert rules.deadline(S.requested, now, 48) == now + timedelta(hours=48)
    assert rules.deadline(S.awaiting_return, now, 48) is None
    assert rules.deadline(S.closed, now, 48) is None
