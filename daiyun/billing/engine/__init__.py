"""The commission engine: a statement from a contract and a period's facts (pure, no I/O).

Order of application (the true-up, the cap and the credit are computed from the rounded lines
before them, as printed; VAT from their unrounded amounts):

1. **commission** (销售提成) on the period's commission base, net of refunds of the period's own
   orders: the default base at the flat rate or through the tiers (marginal: each band at its
   rate; whole-volume: the whole base at the rate of the band reached, labelled so), channel and
   category bases at their own flat rates, outside the tiered base (see ``commission``);
2. **clawbacks** (退款冲减): a refund of an order billed in an earlier period is a negative line
   at the rate that order was billed at, never more in total than its commission;
3. **minimum true-up** (保底): max(0, prorated minimum − commission after clawbacks);
4. **cap**: prorated like the minimum (so it stays above it), applied to the commission after
   clawbacks and true-up, or with ``cap_applies_to="total"`` to that plus the base fee; ad spend
   and service fees are never capped;
5. **target** (对赌), on the period's commission base against the prorated target: a bonus on
   the base above it, or the prorated fee refund as a negative line when it is missed;
6. **fees**: the base fee (基础服务费, prorated by day; computed first, printed first), ad spend
   at cost plus a separate markup line, warehousing by activity plus its monthly minimum
   true-up, one placement line per hire, one line per one-off fee;
7. **VAT**, once, from the unrounded amounts of every taxable line (all fee lines, clawbacks,
   cap and target included; not the ad spend at cost, a pass-through), rounded half-up;
8. **credit**: adjustments of closed periods are added (with their own VAT), then credit
   brought forward is applied as a negative line down to a zero total at most, and a negative
   net becomes a zero statement with a positive "credit carried forward" line.

Sales in another currency than the contract's (``ContractTerms.foreign_sales``) are converted
into it by :mod:`daiyun.billing.engine.fx` (each currency's base rounded once, half-up) and join
the commission base in step 1 (:class:`Foreign`); lines of amount 0 after the commission say how
each currency was converted, which days lack a rate, or that the contract converts none.

Every monthly amount of the contract (base fee, minimum, cap, target, missed-target refund,
warehousing minimum) is prorated by the days the contract is in force in the month. Every line
is rounded once, half-up (``ROUND_HALF_UP``, halves away from zero) to a whole minor unit; the
total is the sum of the rounded lines. Lines come in the order above, with fixed wording (a
message key and its values, :mod:`~daiyun.billing.engine.wording`, so a reader in another
language gets the same sentence; the English ``description`` is said from it), and each
names the facts behind it in ``sources`` (lines computed from other lines name none). Orders
summed by the database (``grouped``, :class:`~daiyun.billing.facts.GroupedOrders`) are named on
a commission line by its selector ``orders:<kind>`` instead of their keys, and take one share of
the line's split (``Statement.group_commissions``), which the database splits over them. A line's
``basis_minor`` is what its rate applies to (a base, a refund, a salary) or, for warehousing, the
unit price; ``quantity`` is the number of orders on a commission line and the units on a
warehousing line. Facts of kinds ad spend, placement and one-off carry their figure in
``amount_minor``; their quantity is not used. Refunds of orders neither in the period nor billed
before (an excluded channel, an order never in a base) bill nothing.
"""

from __future__ import annotations

from daiyun.billing.engine.rules import ROUNDING
from daiyun.billing.engine.statement import (
    NO_FOREIGN,
    NOTHING_BILLED,
    Foreign,
    PeriodFacts,
    Statement,
    adjustment,
    compute,
)

__all__ = [
    "NOTHING_BILLED",
    "NO_FOREIGN",
    "ROUNDING",
    "Foreign",
    "PeriodFacts",
    "Statement",
    "adjustment",
    "compute",
]
