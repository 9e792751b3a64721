"""After-sales rules without a session: the case's states and the moves between them, the 三包
periods, what may be refunded, and which refunds approve themselves or need a supervisor.

The path of a case::

    requested ─approve─▶ approved ─refund─▶ refunded ─close─▶ closed      (refund only)
        │          └─(goods must come back)─▶ awaiting_return ─receive─▶ received
        └─refuse─▶ refused ─close─▶ closed          received ─refund/replace/repair─▶ ...
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum


class CaseType(StrEnum):
    refund_only = "refund_only"  # 仅退款
    return_refund = "return_refund"  # 退货退款
    exchange = "exchange"  # 换货
    repair = "repair"  # 维修 (三包)


class Source(StrEnum):
    conversation = "conversation"
    marketplace = "marketplace"
    manual = "manual"


class CaseState(StrEnum):
    requested = "requested"
    approved = "approved"
    refused = "refused"
    awaiting_return = "awaiting_return"
    received = "received"
    refunded = "refunded"
    replaced = "replaced"
    repaired = "repaired"
    closed = "closed"


class Condition(StrEnum):
    resellable = "resellable"  # back into sellable stock
    damaged = "damaged"  # into quarantine, never sold again as new


class Action(StrEnum):
    approve = "approve"
    refuse = "refuse"
    receive = "receive"
    refund = "refund"
    replace_ = "replace"  # (str.replace keeps the bare name)
    repair = "repair"
    close = "close"


S = CaseState
A = Action
# What settles each type of case once the goods are back (or at once, for a refund only).
OUTCOMES: dict[CaseType, frozenset[Action]] = {
    CaseType.refund_only: frozenset({A.refund}),
    CaseType.return_refund: frozenset({A.refund}),
    CaseType.exchange: frozenset({A.replace_, A.refund}),
    CaseType.repair: frozenset({A.repair, A.replace_, A.refund}),
}
SETTLED = {A.refund: S.refunded, A.replace_: S.replaced, A.repair: S.repaired}
FINAL = frozenset({S.refunded, S.replaced, S.repaired, S.refused})
# States in which the next move is staff's: the case's respond-by timer runs only there.
STAFF_TURN = frozenset({S.requested, S.approved, S.received, *FINAL})


class IllegalMove(ValueError):
    """A move the case's state does not allow."""

    def __init__(self, state: CaseState, action: Action, case_type: CaseType) -> None:
        super().__init__(f"A {case_type.value} case that is {state.value} cannot {action.value}")
        self.state, self.action, self.case_type = state, action, case_type


def needs_return(case_type: CaseType) -> bool:
    return case_type != CaseType.refund_only


# A refund only is settled once approved; the others once the goods are back.
_SETTLES_FROM = {False: S.approved, True: S.received}


def move(case_type: CaseType, state: CaseState, action: Action) -> CaseState:
    """The state after ``action``, or IllegalMove."""
    if state == S.requested:
        if action == A.approve:
            return S.awaiting_return if needs_return(case_type) else S.approved
        if action == A.refuse:
            return S.refused
    elif state == S.awaiting_return and action == A.receive and needs_return(case_type):
        return S.received
    elif state == _SETTLES_FROM[needs_return(case_type)] and action in OUTCOMES[case_type]:
        return SETTLED[action]
    elif state in FINAL and action == A.close:
        return S.closed
    raise IllegalMove(state, action, case_type)


def allowed(case_type: CaseType, state: CaseState) -> list[Action]:
    """The moves a page offers for a case."""
    found = []
    for action in Action:
        try:
            move(case_type, state, action)
        except IllegalMove:
            continue
        found.append(action)
    return found


def deadline(state: CaseState, now: datetime, hours: int) -> datetime | None:
    return now + timedelta(hours=hours) if state in STAFF_TURN else None


# --- 三包 periods ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Periods:
    return_days: int = 7
    exchange_days: int = 15
    warranty_days: int = 365

    def days(self, case_type: CaseType) -> int:
        if case_type in (CaseType.refund_only, CaseType.return_refund):
            return self.return_days
        if case_type == CaseType.exchange:
            return self.exchange_days
        return self.warranty_days


def within_period(periods: Periods, case_type: CaseType, since: datetime, now: datetime) -> bool:
    """Whether a request made ``now`` on an order of ``since`` is within its statutory period."""
    return now <= since + timedelta(days=periods.days(case_type))


# --- money -----------------------------------------------------------------------------------


def paid_for(line_total_minor: int, line_quantity: int, quantity: int) -> int:
    """What the buyer paid for ``quantity`` units of a line, rounded down (never above)."""
    if line_quantity <= 0 or quantity <= 0:
        return 0
    return line_total_minor * min(quantity, line_quantity) // line_quantity


def refundable(
    lines: Iterable[tuple[int, int, int]], order_total_minor: int, order_refunded_minor: int
) -> int:
    """The most a case may still refund. ``lines`` holds, per case line: what was paid for its
    units, the order line's total, and what was refunded on that order line already. Each line
    gives at most its units' price and never more than its line has left; the sum never more
    than the order has left."""
    on_lines = sum(max(0, min(units, total - done)) for units, total, done in lines)
    return max(0, min(on_lines, order_total_minor - order_refunded_minor))


def auto_approves(case_type: CaseType, requested_minor: int, below_minor: int) -> bool:
    return case_type == CaseType.refund_only and 0 < requested_minor < below_minor


def needs_approver(amount_minor: int, threshold_minor: int) -> bool:
    return amount_minor > threshold_minor
