"""After-sales rules without a session: the case's states and the moves between them, the 三包
periods, what may be refunded, and which refunds approve themselves or need a supervisor.

The path of a case::

    requested ─approve─▶ approved ─refund─▶ refunded ─close─▶ closed      (refund only)
        │          └─(goods must come back)─▶ awaiting_return ─receive─▶ received
        └─refuse─▶ refused ─close─▶ closed          received ─refund/replace/repair─▶ ...
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
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
    followup = "followup"  # a follow-up call found the issue (回访)
    dock = "dock"  # goods came back to the warehouse without a request (无主退件)


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


TRUST_WINDOW = timedelta(days=365)  # the cases a trusted buyer may have had: in this year
TRUST_HISTORY = 10_000  # a buyer's latest orders looked at (the bound of trusted_min_orders)


def trusted(earlier_orders: int, recent_cases: int, min_orders: int, max_cases: int | None) -> bool:
    """A buyer the merchant lets have small refunds at once (极速退款): enough orders before this
    one, and not too many after-sales cases in the year before."""
    return earlier_orders >= min_orders and (max_cases is None or recent_cases <= max_cases)


def needs_approver(amount_minor: int, threshold_minor: int) -> bool:
    return amount_minor > threshold_minor


# --- follow-ups (回访) ------------------------------------------------------------------------


class FollowupRule(StrEnum):
    after_delivery = "after_delivery"
    after_close = "after_close"
    high_value = "high_value"


class FollowupChannel(StrEnum):
    message = "message"
    phone = "phone"


class FollowupState(StrEnum):
    open = "open"
    done = "done"
    skipped = "skipped"


class Outcome(StrEnum):
    satisfied = "satisfied"
    repurchase_intent = "repurchase_intent"  # 有复购意向: what the repurchase reports count
    dissatisfied = "dissatisfied"
    issue_found = "issue_found"  # opens an after-sales case
    no_answer = "no_answer"


@dataclass(frozen=True)
class FollowupRules:
    """A merchant's follow-up rules: each on or off, with its delay in days."""

    delivery_enabled: bool = True
    delivery_days: int = 7
    close_enabled: bool = True
    close_days: int = 3
    high_value_enabled: bool = True
    # In minor units of the order's own currency (an order at or above it is high value).
    high_value_minor: int = 100_000
    high_value_days: int = 2
    # How long after it comes due a follow-up may be made before it is overdue.
    window_hours: int = 48


def delivery_rule(rules: FollowupRules, order_total_minor: int) -> FollowupRule | None:
    """Which rule follows up a delivered order: a high-value buyer is called (one follow-up per
    order, so the high-value rule takes the place of the ordinary one), others get a message."""
    if rules.high_value_enabled and order_total_minor >= rules.high_value_minor > 0:
        return FollowupRule.high_value
    if rules.delivery_enabled:
        return FollowupRule.after_delivery
    return None


def delay(rules: FollowupRules, rule: FollowupRule) -> timedelta:
    days = {
        FollowupRule.after_delivery: rules.delivery_days,
        FollowupRule.after_close: rules.close_days,
        FollowupRule.high_value: rules.high_value_days,
    }[rule]
    return timedelta(days=days)


def channel_for(rule: FollowupRule) -> FollowupChannel:
    """High-value buyers get a call; the others a message they may answer when they like."""
    return FollowupChannel.phone if rule == FollowupRule.high_value else FollowupChannel.message


def comes_due(rules: FollowupRules, rule: FollowupRule, since: datetime, now: datetime) -> bool:
    """Whether the follow-up of an event at ``since`` is due to be made by ``now``."""
    return since + delay(rules, rule) <= now


def due_by(rules: FollowupRules, rule: FollowupRule, since: datetime) -> datetime:
    """The moment after which the follow-up is overdue."""
    return since + delay(rules, rule) + timedelta(hours=rules.window_hours)


def least_loaded(loads: dict[str, int], order: list[str]) -> str | None:
    """The agent with the fewest open follow-ups (the first in ``order`` among equals)."""
    if not order:
        return None
    return min(order, key=lambda agent: (loads.get(agent, 0), order.index(agent)))


# What the buyer is told in their conversation when their case moves: Chinese first (most
# buyers write in it), then English. ``{reason}`` and ``{amount}`` come from the step.
BUYER_NOTICES: dict[Action, str] = {
    A.approve: "您的售后申请已通过。Your after-sales request was approved.",
    A.refuse: "很抱歉，您的售后申请未通过：{reason} Sorry, your request was refused: {reason}",
    A.receive: "我们已收到您寄回的商品。We have received the goods you sent back.",
    A.refund: "已为您退款 {amount}，将原路退回。A refund of {amount} is on its way to you.",
    A.replace_: "换货商品已安排发出。Your replacement is on its way.",
    A.repair: "您的商品已维修完毕。Your item has been repaired.",
}
SEND_IT_BACK = "请将商品寄回。Please send the goods back to us."


def buyer_notice(
    action: Action, state: CaseState, reason: str = "", amount: str = ""
) -> str | None:
    """The message for the buyer after ``action`` left the case in ``state`` (None: nothing
    to tell, as on closing, which follows what they were already told)."""
    text = BUYER_NOTICES.get(action)
    if text is None:
        return None
    text = text.format(reason=reason, amount=amount)
    if action is A.approve and state is S.awaiting_return:
        text = f"{text} {SEND_IT_BACK}"
    return text


# --- repurchase (复购) ------------------------------------------------------------------------


@dataclass(frozen=True)
class Repurchase:
    """Follow-ups of one outcome: how many, how many buyers the order identifies (by e-mail),
    and how many of those ordered again within the window after the follow-up."""

    outcome: Outcome | None  # None: every outcome together
    followed: int
    identified: int
    repurchased: int


def repurchases(
    done: Iterable[tuple[Outcome, str | None, datetime]],
    orders_of: Mapping[str, Sequence[datetime]],
    within: timedelta,
) -> list[Repurchase]:
    """Per outcome (in the outcomes' order), then all together: a follow-up done at ``at`` for
    buyer ``email`` counts as repurchased when the buyer placed an order in (at, at + within]."""
    counts: dict[Outcome | None, list[int]] = {}
    for outcome, email, at in done:
        again = email is not None and any(at < t <= at + within for t in orders_of.get(email, ()))
        for key in (outcome, None):
            row = counts.setdefault(key, [0, 0, 0])
            row[0] += 1
            row[1] += email is not None
            row[2] += again
    order = [*Outcome, None]
    return [Repurchase(key, *counts[key]) for key in order if key in counts]
