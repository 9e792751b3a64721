"""The commission engine: worked examples computed by hand, and the BILLING.md invariants.

Every figure in the worked examples is worked out in the comments from the written contract, not
taken from the code under test. Amounts in comments are in major units (yuan, dollars).
"""

from __future__ import annotations

import dataclasses
from collections import Counter
from collections.abc import Sequence
from datetime import date, datetime
from decimal import Decimal
from itertools import pairwise
from random import Random
from typing import Any, TypeVar
from zoneinfo import ZoneInfo

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from daiyun.billing.engine import PeriodFacts, Statement, adjustment, compute
from daiyun.billing.engine.commission import share_orders
from daiyun.billing.facts import (
    BilledOrder,
    GroupedOrders,
    Line,
    OrderFact,
    Period,
    RefundFact,
    ServiceFact,
    ServiceKind,
)
from daiyun.billing.terms import (
    Commission,
    CommissionBase,
    ContractTerms,
    Placement,
    Target,
    Tier,
    TierMode,
    Warehousing,
)
from daiyun.core.money import to_minor

T = TypeVar("T")
SHANGHAI = ZoneInfo("Asia/Shanghai")
OCT = Period(2026, 10)  # 31 days
NOV = Period(2026, 11)
DEC = Period(2026, 12)
FEB = Period(2026, 2)  # 28 days
SEP = Period(2026, 9)
PROPERTY = settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def cny(text: str) -> int:
    return to_minor(text.replace(",", ""), "CNY")


def moment(period: Period, day: int, hour: int = 12) -> datetime:
    return datetime(period.year, period.month, day, hour, tzinfo=SHANGHAI)


def order(
    order_id: str,
    total: str,
    *,
    period: Period = OCT,
    day: int = 10,
    channel: str = "tmall",
    shipping: str = "0",
    tax: str = "0",
    lines: Sequence[tuple[str, str]] = (),
) -> OrderFact:
    return OrderFact(
        order_id=order_id,
        channel=channel,
        at=moment(period, day),
        total_minor=cny(total),
        shipping_minor=cny(shipping),
        tax_minor=cny(tax),
        lines=tuple((sku, cny(amount)) for sku, amount in lines),
    )


def refund(refund_id: str, order_id: str, amount: str, *, period: Period = OCT) -> RefundFact:
    return RefundFact(refund_id, order_id, "tmall", moment(period, 20), cny(amount))


def service(
    fact_id: str,
    kind: ServiceKind,
    *,
    period: Period = OCT,
    quantity: int = 1,
    amount: str = "0",
    description: str = "",
) -> ServiceFact:
    return ServiceFact(
        fact_id,
        kind,
        date(period.year, period.month, 3),
        quantity=Decimal(quantity),
        amount_minor=cny(amount),
        description=description,
    )


def only(statement: Statement | Sequence[Line], kind: str) -> Line:
    lines = statement.lines if isinstance(statement, Statement) else statement
    found = [line for line in lines if line.kind == kind]
    assert len(found) == 1, [line.kind for line in lines]
    return found[0]


def amounts(statement: Statement) -> dict[str, int]:
    """Kind -> amount, for statements whose kinds are all distinct."""
    kinds = [line.kind for line in statement.lines]
    assert len(kinds) == len(set(kinds)), kinds
    return {line.kind: line.amount_minor for line in statement.lines}


def adjust(
    terms: ContractTerms, original: Period, counted: PeriodFacts, late: PeriodFacts, **options: Any
) -> tuple[Line, ...]:
    return adjustment(
        terms,
        original,
        counted.orders,
        counted.refunds,
        counted.services,
        late.orders,
        late.refunds,
        late.services,
        **options,
    )


def fields(line: Line) -> tuple[object, ...]:
    """Every field of a line, ``exact`` included (it is left out of ``==``)."""
    return tuple(getattr(line, f.name) for f in dataclasses.fields(line))


# --- Contract A -----------------------------------------------------------------------------------

AGENCY = ContractTerms(
    currency="CNY",
    base_fee_minor=cny("8,000.00"),
    commission=Commission(
        mode=TierMode.marginal,
        tiers=(
            Tier(up_to_minor=cny("100,000.00"), rate=Decimal("0.05")),
            Tier(up_to_minor=None, rate=Decimal("0.03")),
        ),
    ),
    minimum_minor=cny("6,000.00"),
    cap_minor=cny("20,000.00"),
    vat_rate=Decimal("0.06"),
)


class TestContractA:
    """CNY. Base fee 8,000.00 a month, prorated by day. Commission marginal: 5% of the base up to
    100,000.00, 3% of the base above. Minimum guarantee 6,000.00 a month on the commission, cap
    20,000.00 a month on the commission, both prorated like the base fee. VAT 6%. The base is
    the order total less shipping and tax."""

    def test_a_full_month(self) -> None:
        statement = compute(
            AGENCY,
            OCT,
            [
                order("o1", "80,000.00", shipping="500.00"),  # base 79,500.00
                order("o2", "71,000.00", tax="500.00", channel="douyin"),  # base 70,500.00
            ],
            [],
            [],
        )
        # base 150,000.00: 5% x 100,000.00 = 5,000.00, plus 3% x 50,000.00 = 1,500.00
        # commission 6,500.00 >= minimum 6,000.00, <= cap 20,000.00: no true-up, no cap
        # VAT 6% x (8,000.00 + 6,500.00) = 870.00; total 8,000 + 6,500 + 870 = 15,370.00
        assert amounts(statement) == {
            "base_fee": cny("8,000.00"),
            "commission": cny("6,500.00"),
            "vat": cny("870.00"),
        }
        assert statement.total_minor == cny("15,370.00")
        assert statement.credit_carried_forward_minor == 0
        commission = only(statement, "commission")
        assert commission.basis_minor == cny("150,000.00")
        assert commission.sources == ("order:o1", "order:o2")
        assert "marginal" in commission.description
        # split by base: o1 6,500 x 79,500/150,000 = 3,445.00; o2 6,500 x 70,500/150,000 = 3,055.00
        assert statement.order_commissions == {
            "o1": (cny("79,500.00"), cny("3,445.00")),
            "o2": (cny("70,500.00"), cny("3,055.00")),
        }

    def test_a_partial_first_month(self) -> None:
        # In force from 15 October: 17 of 31 days.
        statement = compute(
            AGENCY, OCT, [order("o1", "60,000.00", day=20)], [], [], active_from=date(2026, 10, 15)
        )
        # base fee 8,000.00 x 17/31 = 4,387.0967... -> 4,387.10
        # commission 5% x 60,000.00 = 3,000.00
        # minimum 6,000.00 x 17/31 = 3,290.3225...; true-up 3,290.3225... - 3,000.00 -> 290.32
        # VAT base (unrounded) 4,387.0967 + 3,000.00 + 290.3225 = 7,677.4193...
        #   x 6% = 460.6451... -> 460.65
        # total 4,387.10 + 3,000.00 + 290.32 + 460.65 = 8,138.07
        assert amounts(statement) == {
            "base_fee": cny("4,387.10"),
            "commission": cny("3,000.00"),
            "minimum": cny("290.32"),
            "vat": cny("460.65"),
        }
        assert statement.total_minor == cny("8,138.07")
        assert "17/31 days" in only(statement, "base_fee").description

    def test_a_partial_last_month_with_no_sales_bills_the_prorated_minimum(self) -> None:
        # In force until 10 October inclusive: 10 of 31 days, and nothing sold.
        statement = compute(AGENCY, OCT, [], [], [], active_until=date(2026, 10, 10))
        # base fee 8,000.00 x 10/31 = 2,580.6451... -> 2,580.65
        # minimum 6,000.00 x 10/31 = 1,935.4838... -> 1,935.48 (commission 0)
        # VAT 6% x (2,580.6451... + 1,935.4838...) = 6% x 4,516.1290... = 270.9677... -> 270.97
        assert amounts(statement) == {
            "base_fee": cny("2,580.65"),
            "minimum": cny("1,935.48"),
            "vat": cny("270.97"),
        }
        assert statement.total_minor == cny("4,787.10")

    def test_a_month_under_the_minimum(self) -> None:
        statement = compute(AGENCY, OCT, [order("o1", "40,000.00")], [], [])
        # commission 5% x 40,000.00 = 2,000.00; true-up 6,000.00 - 2,000.00 = 4,000.00
        # VAT 6% x (8,000 + 2,000 + 4,000) = 840.00; total 14,840.00
        assert amounts(statement) == {
            "base_fee": cny("8,000.00"),
            "commission": cny("2,000.00"),
            "minimum": cny("4,000.00"),
            "vat": cny("840.00"),
        }
        assert statement.total_minor == cny("14,840.00")

    def test_a_month_over_the_cap(self) -> None:
        statement = compute(AGENCY, OCT, [order("o1", "700,000.00")], [], [])
        # commission 5% x 100,000 = 5,000.00 + 3% x 600,000 = 18,000.00 -> 23,000.00
        # cap 20,000.00: a cap line of -3,000.00
        # VAT 6% x (8,000 + 23,000 - 3,000) = 1,680.00; total 8,000 + 20,000 + 1,680 = 29,680.00
        assert amounts(statement) == {
            "base_fee": cny("8,000.00"),
            "commission": cny("23,000.00"),
            "cap": cny("-3,000.00"),
            "vat": cny("1,680.00"),
        }
        assert statement.total_minor == cny("29,680.00")

    def test_a_cap_on_the_total_includes_the_base_fee(self) -> None:
        terms = AGENCY.model_copy(update={"cap_applies_to": "total"})
        statement = compute(terms, OCT, [order("o1", "300,000.00")], [], [])
        # commission 5,000.00 + 3% x 200,000 = 11,000.00; with the base fee 19,000.00: under 20,000
        assert "cap" not in amounts(statement)
        statement = compute(terms, OCT, [order("o1", "400,000.00")], [], [])
        # commission 5,000.00 + 9,000.00 = 14,000.00; with the base fee 22,000.00: cap -2,000.00
        # VAT 6% x 20,000.00 = 1,200.00
        assert amounts(statement)["cap"] == cny("-2,000.00")
        assert statement.total_minor == cny("21,200.00")

    def test_a_late_order_becomes_adjustment_lines_placed_on_the_original_tiers(self) -> None:
        counted = PeriodFacts(orders=(order("o1", "95,000.00"),))
        billed_oct = compute(AGENCY, OCT, counted.orders, [], [])
        # October as billed: commission 5% x 95,000 = 4,750.00, true-up 1,250.00, VAT 840.00
        assert amounts(billed_oct)["minimum"] == cny("1,250.00")
        late = PeriodFacts(orders=(order("late", "50,000.00", day=31),))
        lines = adjust(AGENCY, OCT, counted, late)
        # October with the late order: base 145,000.00 -> 5,000.00 + 3% x 45,000 = 6,350.00
        #   (the late 50,000.00 alone at 5% would be 2,500.00: its tier is the cumulative one)
        # commission +1,600.00; the 1,250.00 true-up goes; VAT 6% x (8,000 + 6,350) = 861.00: +21.00
        assert [(line.kind, line.amount_minor) for line in lines] == [
            ("adjustment:commission", cny("1,600.00")),
            ("adjustment:minimum", cny("-1,250.00")),
            ("adjustment:vat", cny("21.00")),
        ]
        assert {line.adjusts_period for line in lines} == {"2026-10"}
        assert {line.sources for line in lines} == {("order:late",)}
        # The lines are posted in November, after November's own VAT.
        november = compute(
            AGENCY, NOV, [order("n1", "100,000.00", period=NOV)], [], [], adjustments=lines
        )
        # November: 8,000 + 5,000 + 1,000 minimum + VAT 840 = 14,840.00; plus 371.00 of adjustments
        assert november.total_minor == cny("14,840.00") + cny("371.00")
        assert november.lines[-3:] == lines

    def test_a_late_order_absorbed_by_the_minimum_nets_to_zero(self) -> None:
        counted = PeriodFacts(orders=(order("o1", "95,000.00"),))
        late = PeriodFacts(orders=(order("late", "10,000.00"),))
        # base 105,000.00: 5,000.00 + 3% x 5,000 = 5,150.00 (+400.00); true-up 850.00 (-400.00)
        lines = adjust(AGENCY, OCT, counted, late)
        assert [(line.kind, line.amount_minor) for line in lines] == [
            ("adjustment:commission", cny("400.00")),
            ("adjustment:minimum", cny("-400.00")),
        ]


# --- Whole-volume tiers -------------------------------------------------------------------------

WHOLE_VOLUME = ContractTerms(
    currency="USD",
    commission=Commission(
        mode=TierMode.whole_volume,
        tiers=(
            Tier(up_to_minor=1_000_000, rate=Decimal("0.02")),  # up to 10,000.00
            Tier(up_to_minor=5_000_000, rate=Decimal("0.04")),  # up to 50,000.00
            Tier(up_to_minor=None, rate=Decimal("0.06")),
        ),
    ),
)


def test_whole_volume_month_at_a_band_edge() -> None:
    """USD. Whole-volume: the whole base at 2% if it is at most 10,000.00, at 4% if at most
    50,000.00, at 6% above; an edge belongs to the band it closes."""

    def commission(total_minor: int) -> Line:
        fact = OrderFact("o1", "shopify", moment(OCT, 5), total_minor)
        return only(compute(WHOLE_VOLUME, OCT, [fact], [], []), "commission")

    at_edge, past_edge = commission(1_000_000), commission(1_000_001)
    # 2% x 10,000.00 = 200.00; 4% x 10,000.01 = 400.0004 -> 400.00: a jump of 200.00 for one cent
    assert at_edge.amount_minor == 20_000
    assert past_edge.amount_minor == 40_000
    assert "whole-volume" in at_edge.description and "band 1 of 3" in at_edge.description
    assert "band 2 of 3" in past_edge.description and "jump" in past_edge.description
    # 4% x 50,000.00 = 2,000.00; 6% x 50,000.01 = 3,000.0006 -> 3,000.00
    assert commission(5_000_000).amount_minor == 200_000
    assert commission(5_000_001).amount_minor == 300_000
    assert commission(5_000_001).rate == Decimal("0.06")


# --- Channel and category rates -----------------------------------------------------------------

OVERRIDES = ContractTerms(
    currency="CNY",
    base=CommissionBase(excluded_skus=frozenset({"SAMPLE"})),
    commission=Commission(
        rate=Decimal("0.05"),
        channel_rates={"douyin": Decimal("0.08")},
        categories={"TEA-": "tea", "TEA-GIFT-": "gift"},
        category_rates={"tea": Decimal("0.10"), "gift": Decimal("0.02")},
    ),
)
OVERRIDE_ORDERS = [
    order(
        "t1",
        "1,000.00",
        lines=[("TEA-001", "400.00"), ("TEA-GIFT-01", "300.00"), ("MUG-1", "300.00")],
    ),
    order("d1", "2,000.00", channel="douyin", lines=[("TEA-002", "2,000.00")]),
    order("t2", "520.00", shipping="20.00", lines=[("MUG-2", "450.00"), ("SAMPLE", "50.00")]),
]


def test_channel_and_category_rates() -> None:
    """CNY. Default 5%; Douyin orders 8%; category tea (SKU prefix TEA-) 10%, category gift
    (prefix TEA-GIFT-, longer, so it wins) 2%; SKU SAMPLE is not in the base."""
    statement = compute(OVERRIDES, OCT, OVERRIDE_ORDERS, [], [])
    # t1: TEA-001 400.00 tea -> 40.00; TEA-GIFT-01 300.00 gift -> 6.00; MUG-1 300.00 default
    # d1: Douyin, the channel wins over the tea category: 8% x 2,000.00 = 160.00
    # t2: 520.00 - shipping 20.00 - SAMPLE 50.00 = 450.00 default
    # default base 300.00 + 450.00 = 750.00 x 5% = 37.50
    assert amounts(statement) == {
        "commission": cny("37.50"),
        "commission:category:gift": cny("6.00"),
        "commission:category:tea": cny("40.00"),
        "commission:channel:douyin": cny("160.00"),
    }
    assert statement.total_minor == cny("243.50")
    assert only(statement, "commission").sources == ("order:t1", "order:t2")
    assert only(statement, "commission:channel:douyin").sources == ("order:d1",)
    # t1: 37.50 x 300/750 = 15.00 + 40.00 + 6.00 = 61.00
    assert statement.order_commissions == {
        "d1": (cny("2,000.00"), cny("160.00")),
        "t1": (cny("1,000.00"), cny("61.00")),
        "t2": (cny("450.00"), cny("22.50")),
    }


def test_overrides_are_outside_the_tiered_base() -> None:
    """As above, but the default is marginal: 5% up to 500.00, 3% above."""
    terms = OVERRIDES.model_copy(
        update={
            "commission": OVERRIDES.commission.model_copy(
                update={
                    "mode": TierMode.marginal,
                    "rate": Decimal("0"),
                    "tiers": (
                        Tier(up_to_minor=cny("500.00"), rate=Decimal("0.05")),
                        Tier(up_to_minor=None, rate=Decimal("0.03")),
                    ),
                }
            )
        }
    )
    statement = compute(terms, OCT, OVERRIDE_ORDERS, [], [])
    # tiers see only the default base 750.00 (not Douyin's 2,000.00 nor the categories'):
    # 5% x 500.00 = 25.00 + 3% x 250.00 = 7.50 -> 32.50
    assert only(statement, "commission").amount_minor == cny("32.50")
    assert only(statement, "commission:channel:douyin").amount_minor == cny("160.00")


def test_excluded_channel_is_dropped_with_its_refunds() -> None:
    terms = OVERRIDES.model_copy(
        update={"base": OVERRIDES.base.model_copy(update={"excluded_channels": frozenset({"jd"})})}
    )
    statement = compute(
        terms,
        OCT,
        [order("j1", "1,000.00", channel="jd"), order("t9", "100.00")],
        [refund("r1", "j1", "1,000.00")],
        [],
    )
    # only t9: 5% x 100.00 = 5.00
    assert amounts(statement) == {"commission": cny("5.00")}
    assert "j1" not in statement.order_commissions


# --- Refunds and clawbacks ------------------------------------------------------------------------

FLAT_5 = ContractTerms(currency="CNY", commission=Commission(rate=Decimal("0.05")))


class TestClawback:
    """CNY. Flat 5%, refunds clawed back, no base fee. In September order O was billed with a
    base of 1,000.00 and a commission of 50.00."""

    billed = {"O": BilledOrder("O", cny("1,000.00"), cny("50.00"))}

    def test_same_period_refund_reduces_the_base(self) -> None:
        statement = compute(
            FLAT_5, OCT, [order("o1", "1,000.00")], [refund("r1", "o1", "300.00")], []
        )
        # base 1,000.00 - 300.00 = 700.00 x 5% = 35.00, no clawback line
        assert amounts(statement) == {"commission": cny("35.00")}
        assert only(statement, "commission").sources == ("order:o1", "refund:r1")
        assert statement.order_commissions == {"o1": (cny("700.00"), cny("35.00"))}

    def test_refund_of_last_months_order_is_clawed_back(self) -> None:
        statement = compute(
            FLAT_5,
            OCT,
            [order("o1", "2,000.00")],
            [refund("r1", "O", "400.00")],
            [],
            billed=self.billed,
        )
        # October's own order: 5% x 2,000.00 = 100.00
        # clawback 400.00 x (50.00 / 1,000.00) = -20.00
        assert amounts(statement) == {"commission": cny("100.00"), "clawback": cny("-20.00")}
        assert only(statement, "clawback").sources == ("refund:r1",)
        assert statement.clawbacks == {"O": cny("20.00")}
        assert statement.total_minor == cny("80.00")

    def test_clawback_stops_at_the_commission_billed(self) -> None:
        # November: 20.00 was clawed back in October, 30.00 is left; a refund of 700.00 would
        # take 35.00 at 5%, but only 30.00 goes back.
        billed = {"O": BilledOrder("O", cny("1,000.00"), cny("50.00"), cny("20.00"))}
        statement = compute(
            FLAT_5,
            NOV,
            [order("n1", "1,000.00", period=NOV)],
            [refund("r2", "O", "700.00", period=NOV)],
            [],
            billed=billed,
        )
        claw = only(statement, "clawback")
        assert claw.amount_minor == cny("-30.00")
        assert "limited" in claw.description
        assert statement.clawbacks == {"O": cny("30.00")}

    def test_two_refunds_in_one_month_share_the_limit(self) -> None:
        statement = compute(
            FLAT_5,
            OCT,
            [order("o1", "1,000.00")],
            [refund("r1", "O", "400.00"), refund("r2", "O", "700.00")],
            [],
            billed=self.billed,
        )
        # r1 (earlier) -20.00; r2 would be -35.00 but only 30.00 is left: -30.00; never > 50.00
        claws = [line.amount_minor for line in statement.lines if line.kind == "clawback"]
        assert claws == [cny("-20.00"), cny("-30.00")]

    def test_the_rate_is_the_rate_the_order_was_billed_at(self) -> None:
        # Billed under tiers at an effective 4.2%: base 1,000.00, commission 42.00.
        billed = {"O": BilledOrder("O", cny("1,000.00"), cny("42.00"))}
        statement = compute(FLAT_5, OCT, [], [refund("r1", "O", "250.00")], [], billed=billed)
        # 250.00 x 4.2% = 10.50
        assert amounts(statement)["clawback"] == cny("-10.50")

    def test_no_clawback_when_the_contract_says_so(self) -> None:
        terms = FLAT_5.model_copy(update={"clawback": False})
        statement = compute(
            terms,
            OCT,
            [order("o1", "100.00")],
            [refund("r1", "O", "400.00")],
            [],
            billed=self.billed,
        )
        assert amounts(statement) == {"commission": cny("5.00")}


# --- Credit --------------------------------------------------------------------------------------


def test_negative_month_carries_credit_forward_and_the_next_months_use_it() -> None:
    """CNY. Flat 10%, VAT 6%, no base fee. In September order O was billed on a base of
    10,000.00 with a commission of 1,000.00; it is refunded in full in October."""
    terms = ContractTerms(
        currency="CNY", commission=Commission(rate=Decimal("0.10")), vat_rate=Decimal("0.06")
    )
    billed = {"O": BilledOrder("O", cny("10,000.00"), cny("1,000.00"))}
    october = compute(terms, OCT, [], [refund("r1", "O", "10,000.00")], [], billed=billed)
    # clawback -1,000.00; VAT 6% x -1,000.00 = -60.00; net -1,060.00
    # -> a credit carried forward line of +1,060.00 and a zero total
    assert amounts(october) == {
        "clawback": cny("-1,000.00"),
        "vat": cny("-60.00"),
        "credit:carried_forward": cny("1,060.00"),
    }
    assert october.total_minor == 0
    assert october.credit_carried_forward_minor == cny("1,060.00")

    november = compute(
        terms,
        NOV,
        [order("n1", "5,000.00", period=NOV)],
        [],
        [],
        credit_brought_forward_minor=october.credit_carried_forward_minor,
    )
    # 10% x 5,000.00 = 500.00 + VAT 30.00 = 530.00; credit applied -530.00; 530.00 left
    assert amounts(november) == {
        "commission": cny("500.00"),
        "vat": cny("30.00"),
        "credit:applied": cny("-530.00"),
    }
    assert november.total_minor == 0
    assert november.credit_carried_forward_minor == cny("530.00")

    december = compute(
        terms,
        DEC,
        [order("d1", "20,000.00", period=DEC)],
        [],
        [],
        credit_brought_forward_minor=november.credit_carried_forward_minor,
    )
    # 2,000.00 + VAT 120.00 = 2,120.00 - 530.00 = 1,590.00; nothing left
    assert december.total_minor == cny("1,590.00")
    assert december.credit_carried_forward_minor == 0


# --- Services ------------------------------------------------------------------------------------


def test_ad_spend_at_cost_plus_markup() -> None:
    """CNY. Ad spend passed through at cost plus a 10% markup; VAT 6% on the markup only."""
    terms = ContractTerms(currency="CNY", ad_markup_rate=Decimal("0.10"), vat_rate=Decimal("0.06"))
    statement = compute(
        terms,
        OCT,
        [],
        [],
        [
            service("ad1", ServiceKind.ad_spend, amount="1,000.00"),
            service("ad2", ServiceKind.ad_spend, amount="234.55"),
        ],
    )
    # cost 1,234.55 (no VAT); markup 10% = 123.455 -> 123.46;
    # VAT 6% x 123.455 (unrounded) = 7.4073 -> 7.41; total 1,234.55 + 123.46 + 7.41 = 1,365.42
    assert amounts(statement) == {
        "ad_spend": cny("1,234.55"),
        "ad_markup": cny("123.46"),
        "vat": cny("7.41"),
    }
    assert statement.total_minor == cny("1,365.42")
    assert only(statement, "ad_spend").sources == ("service:ad1", "service:ad2")


WAREHOUSE = ContractTerms(
    currency="CNY",
    warehousing=Warehousing(
        per_order_shipped_minor=cny("3.00"),
        per_pick_minor=cny("0.50"),
        per_return_minor=cny("5.00"),
        per_pallet_month_minor=cny("300.00"),
        per_receiving_pallet_minor=cny("20.00"),
        monthly_minimum_minor=cny("2,000.00"),
    ),
)


def test_warehousing_with_a_monthly_minimum() -> None:
    """CNY. 3.00 per order shipped, 0.50 per pick, 5.00 per return, storage 300.00 per pallet
    a month (billed by pallet-days over the days of the month), 20.00 per pallet received,
    monthly minimum 2,000.00."""
    february = compute(
        WAREHOUSE,
        FEB,
        [],
        [],
        [
            service("s1", ServiceKind.orders_shipped, period=FEB, quantity=200),
            service("s2", ServiceKind.picks, period=FEB, quantity=450),
            service("s3", ServiceKind.returns, period=FEB, quantity=12),
            service("s4", ServiceKind.pallet_days, period=FEB, quantity=140),  # 5 pallets
            service("s5", ServiceKind.receiving_pallets, period=FEB, quantity=5),
        ],
    )
    # 200 x 3.00 = 600.00; 450 x 0.50 = 225.00; 12 x 5.00 = 60.00;
    # 300.00 x 140 / 28 = 1,500.00; 5 x 20.00 = 100.00 -> 2,485.00, over the minimum
    assert amounts(february) == {
        "warehousing:orders_shipped": cny("600.00"),
        "warehousing:picks": cny("225.00"),
        "warehousing:returns": cny("60.00"),
        "warehousing:storage": cny("1,500.00"),
        "warehousing:receiving": cny("100.00"),
    }
    october = compute(
        WAREHOUSE,
        OCT,
        [],
        [],
        [
            service("s6", ServiceKind.orders_shipped, quantity=100),
            service("s7", ServiceKind.picks, quantity=150),
            service("s8", ServiceKind.pallet_days, quantity=40),
        ],
    )
    # 300.00; 75.00; 300.00 x 40 / 31 = 387.0967... -> 387.10; fees 762.10
    # minimum true-up 2,000.00 - 762.10 = 1,237.90; total 2,000.00
    assert amounts(october) == {
        "warehousing:orders_shipped": cny("300.00"),
        "warehousing:picks": cny("75.00"),
        "warehousing:storage": cny("387.10"),
        "warehousing:minimum": cny("1,237.90"),
    }
    assert october.total_minor == cny("2,000.00")


def test_placement_fixed_and_percent() -> None:
    """CNY. Per hire: 5,000.00 fixed plus 18% of the first-year salary; and a second contract
    at 20% of the first-year salary only."""
    terms = ContractTerms(
        currency="CNY",
        placement=Placement(fixed_minor=cny("5,000.00"), salary_rate=Decimal("0.18")),
    )
    statement = compute(
        terms,
        OCT,
        [],
        [],
        [
            service("h1", ServiceKind.placement, amount="240,000.00", description="store manager"),
            service("h2", ServiceKind.placement, amount="0", description="intern"),
        ],
    )
    # h1: 5,000.00 + 18% x 240,000.00 = 5,000.00 + 43,200.00 = 48,200.00; h2: 5,000.00
    assert [(line.sources, line.amount_minor) for line in statement.lines] == [
        (("service:h1",), cny("48,200.00")),
        (("service:h2",), cny("5,000.00")),
    ]
    percent_only = ContractTerms(currency="CNY", placement=Placement(salary_rate=Decimal("0.20")))
    statement = compute(
        percent_only, OCT, [], [], [service("h3", ServiceKind.placement, amount="123,456.78")]
    )
    # 20% x 123,456.78 = 24,691.356 -> 24,691.36
    assert statement.total_minor == cny("24,691.36")


def test_one_off_fees() -> None:
    """CNY. VAT 6%. A shop setup fee of 3,000.00 and a photography session of 1,500.00."""
    terms = ContractTerms(currency="CNY", vat_rate=Decimal("0.06"))
    statement = compute(
        terms,
        OCT,
        [],
        [],
        [
            service("f1", ServiceKind.one_off, amount="3,000.00", description="Shop setup"),
            service("f2", ServiceKind.one_off, amount="1,500.00", description="Photography"),
        ],
    )
    # 3,000.00 + 1,500.00 + VAT 6% x 4,500.00 = 270.00 -> 4,770.00
    assert [line.amount_minor for line in statement.lines] == [
        cny("3,000.00"),
        cny("1,500.00"),
        cny("270.00"),
    ]
    assert statement.lines[0].description == "Shop setup (f1)"
    assert statement.total_minor == cny("4,770.00")


def test_performance_target_bonus_and_missed_refund() -> None:
    """CNY. Flat 5%. Target 100,000.00 a month: 1% bonus on the base above it, or a fee refund
    of 500.00 when it is missed."""
    terms = FLAT_5.model_copy(
        update={
            "target": Target(
                base_minor=cny("100,000.00"),
                bonus_rate=Decimal("0.01"),
                missed_refund_minor=cny("500.00"),
            )
        }
    )
    over = compute(terms, OCT, [order("o1", "130,000.00")], [], [])
    # 5% x 130,000.00 = 6,500.00; bonus 1% x 30,000.00 = 300.00
    assert amounts(over) == {"commission": cny("6,500.00"), "target:bonus": cny("300.00")}
    under = compute(terms, OCT, [order("o1", "90,000.00")], [], [])
    # 5% x 90,000.00 = 4,500.00; missed: -500.00
    assert amounts(under) == {"commission": cny("4,500.00"), "target:refund": cny("-500.00")}


# --- Refusals ------------------------------------------------------------------------------------


def test_facts_outside_the_period_or_twice_are_refused() -> None:
    with pytest.raises(ValueError, match="not in 2026-10"):
        compute(FLAT_5, OCT, [order("o1", "1.00", period=NOV)], [], [])
    with pytest.raises(ValueError, match="given twice"):
        compute(FLAT_5, OCT, [order("o1", "1.00"), order("o1", "2.00")], [], [])
    with pytest.raises(ValueError, match="billed before"):
        compute(
            FLAT_5,
            OCT,
            [order("o1", "1.00")],
            [],
            [],
            billed={"o1": BilledOrder("o1", 100, 5)},
        )
    with pytest.raises(ValueError, match="not in force"):
        compute(FLAT_5, OCT, [], [], [], active_from=date(2026, 11, 1))
    with pytest.raises(TypeError):
        bad = dataclasses.replace(order("o1", "1.00"), total_minor=1.5)  # type: ignore[arg-type]
        compute(FLAT_5, OCT, [bad], [], [])
    with pytest.raises(TypeError):
        compute(FLAT_5, OCT, [], [], [ServiceFact("s", ServiceKind.picks, date(2026, 10, 1), 2.0)])  # type: ignore[arg-type]
    with pytest.raises(ValueError):
        compute(FLAT_5, OCT, [], [], [], credit_brought_forward_minor=-1)


# --- Properties ----------------------------------------------------------------------------------

# Strategies are built once here: building them inside the composites costs most of the run time.
PERIODS = st.sampled_from([FEB, OCT, Period(2024, 2), DEC])
rates = st.integers(0, 200_000).map(lambda n: Decimal(n).scaleb(-6))
money_minor = st.integers(0, 3_000_000)
maybe_money = st.none() | money_minor
percents = st.integers(0, 20)
SKUS = ["TEA-1", "TEA-G1", "MUG-1", "SAMPLE", "CUP-9"]
CHANNELS = ["tmall", "douyin", "jd"]
channels = st.sampled_from(CHANNELS)
sku_lines = st.lists(st.tuples(st.sampled_from(SKUS), money_minor), max_size=3).map(tuple)
modes = st.sampled_from(list(TierMode))
channel_rates = st.dictionaries(channels, rates, max_size=1)
category_rates = st.dictionaries(st.sampled_from(["tea", "gift"]), rates, max_size=2)
targets = st.none() | st.builds(
    Target, base_minor=money_minor, bonus_rate=rates, missed_refund_minor=money_minor
)
bases = st.fixed_dictionaries(
    {
        "include_shipping": st.booleans(),
        "include_tax": st.booleans(),
        "excluded_channels": st.frozensets(channels, max_size=1),
        "excluded_skus": st.frozensets(st.sampled_from(SKUS), max_size=1),
    }
)
warehousings = st.builds(
    Warehousing,
    per_order_shipped_minor=st.integers(0, 1_000),
    per_pick_minor=st.integers(0, 1_000),
    per_return_minor=st.integers(0, 1_000),
    per_pallet_month_minor=st.integers(0, 50_000),
    per_receiving_pallet_minor=st.integers(0, 5_000),
    monthly_minimum_minor=st.integers(0, 500_000),
)
placements = st.builds(Placement, fixed_minor=st.integers(0, 1_000_000), salary_rate=rates)
currencies = st.sampled_from(["CNY", "USD", "JPY"])
vat_rates = st.sampled_from([Decimal("0"), Decimal("0.06"), Decimal("0.13")])
cap_subjects = st.sampled_from(["commission", "total"])
days_of_month = st.integers(1, 31)
hours = st.integers(0, 23)
counts = st.integers(0, 6)
service_kinds = st.sampled_from(list(ServiceKind))
half_units = st.integers(0, 600).map(lambda n: Decimal(n) / 2)
edge_sets = st.sets(st.integers(1, 5_000_000), min_size=1, max_size=3)


@st.composite
def tier_sets(draw: st.DrawFn) -> tuple[Tier, ...]:
    edges = sorted(draw(edge_sets))
    band_rates = [draw(rates) for _ in range(len(edges) + 1)]
    ups: list[int | None] = [*edges, None]
    return tuple(Tier(up_to_minor=up, rate=rate) for up, rate in zip(ups, band_rates, strict=True))


@st.composite
def contracts(draw: st.DrawFn) -> ContractTerms:
    mode = draw(modes)
    commission = Commission(
        mode=mode,
        rate=draw(rates) if mode == TierMode.flat else Decimal("0"),
        tiers=() if mode == TierMode.flat else draw(tier_sets()),
        channel_rates=draw(channel_rates),
        categories={"TEA-": "tea", "TEA-G": "gift", "CUP-": "cups"},
        category_rates=draw(category_rates),
    )
    minimum, cap = draw(maybe_money), draw(maybe_money)
    if minimum is not None and cap is not None and cap < minimum:
        minimum, cap = cap, minimum
    return ContractTerms(
        currency=draw(currencies),
        base=draw(bases),
        base_fee_minor=draw(money_minor),
        commission=commission,
        minimum_minor=minimum,
        cap_minor=cap,
        cap_applies_to=draw(cap_subjects),
        target=draw(targets),
        clawback=draw(st.booleans()),
        ad_markup_rate=draw(rates),
        warehousing=draw(warehousings),
        placement=draw(placements),
        vat_rate=draw(vat_rates),
    )


@dataclasses.dataclass(frozen=True)
class Case:
    terms: ContractTerms
    period: Period
    facts: PeriodFacts
    billed: dict[str, BilledOrder]
    active_from: date | None
    active_until: date | None
    credit: int

    def run(self, facts: PeriodFacts | None = None, **changes: object) -> Statement:
        facts = self.facts if facts is None else facts
        options: dict[str, object] = {
            "billed": self.billed,
            "active_from": self.active_from,
            "active_until": self.active_until,
            "credit_brought_forward_minor": self.credit,
            **changes,
        }
        return compute(
            self.terms,
            self.period,
            facts.orders,
            facts.refunds,
            facts.services,
            **options,  # type: ignore[arg-type]
        )


@st.composite
def cases(draw: st.DrawFn) -> Case:
    period = draw(PERIODS)

    def day() -> int:
        return min(draw(days_of_month), period.days)

    def when() -> datetime:
        return moment(period, day(), draw(hours))

    orders = []
    for index in range(draw(counts)):
        total = draw(money_minor)
        orders.append(
            OrderFact(
                f"o{index}",
                draw(channels),
                when(),
                total,
                shipping_minor=total * draw(percents) // 200,
                tax_minor=total * draw(percents) // 200,
                lines=draw(sku_lines),
            )
        )
    billed = {}
    for index in range(draw(st.integers(0, 3))):
        base = draw(money_minor)
        commission = base * draw(percents) // 100
        # sometimes more was clawed back already than the commission: nothing is left
        clawed = commission * draw(st.integers(0, 120)) // 100
        billed[f"b{index}"] = BilledOrder(f"b{index}", base, commission, clawed)
    refund_targets = [o.order_id for o in orders] + list(billed) + ["unknown"]
    refunds = [
        RefundFact(
            f"r{index}",
            refund_targets[draw(st.integers(0, 9)) % len(refund_targets)],
            "tmall",
            when(),
            draw(money_minor),
        )
        for index in range(draw(counts))
    ]
    services = [
        ServiceFact(
            f"s{index}",
            draw(service_kinds),
            date(period.year, period.month, day()),
            quantity=draw(half_units),
            amount_minor=draw(money_minor),
        )
        for index in range(draw(counts))
    ]
    start, end = (None if draw(st.booleans()) else day() for _ in range(2))
    if start is not None and end is not None and end < start:
        start, end = end, start
    return Case(
        terms=draw(contracts()),
        period=period,
        facts=PeriodFacts(tuple(orders), tuple(refunds), tuple(services)),
        billed=billed,
        active_from=None if start is None else date(period.year, period.month, start),
        active_until=None if end is None else date(period.year, period.month, end),
        credit=draw(st.integers(0, 1_000_000)),
    )


def _assert_no_float(statement: Statement) -> None:
    assert type(statement.total_minor) is int
    assert type(statement.credit_carried_forward_minor) is int
    for line in statement.lines:
        assert type(line.amount_minor) is int and type(line.basis_minor) is int
        assert type(line.quantity) is Decimal and type(line.exact) is Decimal
        assert line.rate is None or type(line.rate) is Decimal
    for base, commission in statement.order_commissions.values():
        assert type(base) is int and type(commission) is int
    assert all(type(amount) is int for amount in statement.clawbacks.values())


def _assert_total(case: Case, statement: Statement) -> None:
    """Invariant 1: the total is the sum of the rounded lines; never a negative invoice."""
    assert statement.total_minor == sum(line.amount_minor for line in statement.lines)
    assert statement.total_minor >= 0
    assert statement.credit_carried_forward_minor >= 0
    # Credit is conserved: what came in, less what was used, plus the new credit, goes on.
    used = -sum(line.amount_minor for line in statement.lines if line.kind == "credit:applied")
    new = sum(
        line.amount_minor for line in statement.lines if line.kind == "credit:carried_forward"
    )
    assert statement.credit_carried_forward_minor == case.credit - used + new
    # Each line is its exact amount rounded once (derived lines: the rounded floor or ceiling
    # less printed lines, so within half a minor unit of their exact difference too).
    for line in statement.lines:
        assert abs(Decimal(line.amount_minor) - line.exact) <= Decimal("0.5")


def _assert_sources(case: Case, statement: Statement) -> None:
    """Invariant 3: a fact is behind at most one line of a kind, and only known facts are."""
    counts = Counter((line.kind, key) for line in statement.lines for key in line.sources)
    assert all(count == 1 for count in counts.values()), counts.most_common(3)
    known = case.facts.keys
    assert all(key in known for line in statement.lines for key in line.sources)


def _assert_clawbacks(case: Case, statement: Statement) -> None:
    """Clawback never exceeds the commission billed on the order, less what went back before."""
    for order_id, taken in statement.clawbacks.items():
        record = case.billed[order_id]
        assert 0 <= taken <= max(0, record.commission_minor - record.clawed_back_minor)
    claws = [line for line in statement.lines if line.kind == "clawback"]
    assert all(line.amount_minor <= 0 for line in claws)
    assert -sum(line.amount_minor for line in claws) == sum(statement.clawbacks.values())
    # What the statement bills per order adds up to its commission lines.
    commission = sum(
        line.amount_minor for line in statement.lines if line.kind.startswith("commission")
    )
    assert sum(c for _, c in statement.order_commissions.values()) == commission


@PROPERTY
@given(cases())
def test_statement_invariants(case: Case) -> None:
    """Total = sum of lines, never negative; no float; sources once per kind; clawback limit.

    One generated statement is checked against all four (generating cases is what costs time).
    """
    statement = case.run()
    _assert_total(case, statement)
    _assert_no_float(statement)
    _assert_sources(case, statement)
    _assert_clawbacks(case, statement)


@PROPERTY
@given(cases(), st.randoms(use_true_random=False))
def test_same_inputs_give_identical_lines_whatever_their_order(case: Case, rnd: Random) -> None:
    first = case.run()
    again = case.run()
    assert [fields(line) for line in first.lines] == [fields(line) for line in again.lines]
    assert first == again

    def shuffled(items: Sequence[T]) -> tuple[T, ...]:
        copy = list(items)
        rnd.shuffle(copy)
        return tuple(copy)

    facts = PeriodFacts(
        shuffled(case.facts.orders), shuffled(case.facts.refunds), shuffled(case.facts.services)
    )
    billed = dict(shuffled(list(case.billed.items())))
    other = case.run(facts, billed=billed)
    assert [fields(line) for line in other.lines] == [fields(line) for line in first.lines]
    assert other == first


def _single_order_commission(terms: ContractTerms, base: int) -> Line:
    fact = OrderFact("o1", "tmall", moment(OCT, 1), base)
    return only(compute(terms, OCT, [fact], [], []), "commission")


@PROPERTY
@given(tier_sets(), st.integers(0, 6_000_000))
def test_marginal_tiers_are_continuous_at_band_edges_and_monotonic(
    tiers: tuple[Tier, ...], probe: int
) -> None:
    terms = ContractTerms(
        currency="CNY", commission=Commission(mode=TierMode.marginal, tiers=tiers)
    )
    for lower, upper in pairwise(tiers):
        edge = lower.up_to_minor
        assert edge is not None
        below, at, above = (_single_order_commission(terms, edge + d) for d in (-1, 0, 1))
        # the unit just below the edge is billed at the lower band's rate, the next one above
        assert at.exact - below.exact == lower.rate
        assert above.exact - at.exact == upper.rate
        assert abs(at.amount_minor - below.amount_minor - lower.rate) <= 1
        assert abs(above.amount_minor - at.amount_minor - upper.rate) <= 1
    here, next_one = (_single_order_commission(terms, probe + d) for d in (0, 1))
    assert here.exact <= next_one.exact and here.amount_minor <= next_one.amount_minor


@PROPERTY
@given(tier_sets())
def test_whole_volume_jumps_are_labelled(tiers: tuple[Tier, ...]) -> None:
    terms = ContractTerms(
        currency="CNY", commission=Commission(mode=TierMode.whole_volume, tiers=tiers)
    )
    for index, (lower, upper) in enumerate(pairwise(tiers)):
        edge = lower.up_to_minor
        assert edge is not None
        at, above = (_single_order_commission(terms, edge + d) for d in (0, 1))
        # the whole base changes rate past the edge: a jump, said so on the line
        assert above.exact - at.exact == (edge + 1) * upper.rate - edge * lower.rate
        assert f"whole-volume tiers: band {index + 1} of {len(tiers)}" in at.description
        assert f"band {index + 2} of {len(tiers)}" in above.description
        assert "jump" in above.description
        assert (at.rate, above.rate) == (lower.rate, upper.rate)


CREDIT_KINDS = ("credit:applied", "credit:carried_forward")


@PROPERTY
@given(cases(), st.data())
def test_adjustment_lines_are_the_difference_with_and_without_the_late_facts(
    case: Case, data: st.DataObject
) -> None:
    everything = case.facts.all()
    late_flags = data.draw(
        st.lists(st.booleans(), min_size=len(everything), max_size=len(everything))
    )
    late_keys = {fact.key for fact, flag in zip(everything, late_flags, strict=True) if flag}

    def part(late: bool) -> PeriodFacts:
        def keep(fact: OrderFact | RefundFact | ServiceFact) -> bool:
            return (fact.key in late_keys) == late

        return PeriodFacts(
            tuple(f for f in case.facts.orders if keep(f)),
            tuple(f for f in case.facts.refunds if keep(f)),
            tuple(f for f in case.facts.services if keep(f)),
        )

    counted, late = part(False), part(True)
    lines = adjust(
        case.terms,
        case.period,
        counted,
        late,
        billed_before=case.billed,
        active_from=case.active_from,
        active_until=case.active_until,
    )

    def by_kind(statement: Statement) -> Counter[str]:
        totals: Counter[str] = Counter()
        for line in statement.lines:
            if line.kind not in CREDIT_KINDS:
                totals[line.kind] += line.amount_minor
        return totals

    with_late = by_kind(case.run(counted + late, credit_brought_forward_minor=0))
    without = by_kind(case.run(counted, credit_brought_forward_minor=0))
    expected = {
        kind: with_late[kind] - without[kind]
        for kind in with_late.keys() | without.keys()
        if with_late[kind] != without[kind]
    }
    assert {line.kind.removeprefix("adjustment:"): line.amount_minor for line in lines} == expected
    assert len({line.kind for line in lines}) == len(lines)
    for line in lines:
        assert line.kind.startswith("adjustment:")
        assert line.adjusts_period == str(case.period)
        assert line.sources and set(line.sources) <= late_keys
        assert type(line.amount_minor) is int and type(line.exact) is Decimal
    # Posted in the next period, they count once and still never make a negative invoice.
    posted = compute(case.terms, case.period.next(), [], [], [], adjustments=lines)
    assert posted.total_minor >= 0
    assert posted.total_minor == sum(line.amount_minor for line in posted.lines)


def _group(case: Case) -> tuple[PeriodFacts, GroupedOrders]:
    """Sum the orders whose split is in whole minor units, as the database does; keep the rest."""
    refunded = {refund.order_id for refund in case.facts.refunds}
    excluded = case.terms.base.excluded_channels
    buckets: dict[str, tuple[int, int]] = {}
    net = 0
    kept = []
    for order in case.facts.orders:
        if order.channel in excluded:
            continue  # never in a base: the database leaves them out of the sums
        [share] = share_orders(case.terms, [order], {})
        whole = all(part == part.to_integral_value() for part in share.parts.values())
        if order.order_id in refunded or not whole:
            kept.append(order)
            continue
        for kind in share.buckets:
            was = buckets.get(kind, (0, 0))
            buckets[kind] = (was[0] + int(share.parts.get(kind, 0)), was[1] + 1)
        net += share.net
    return (
        dataclasses.replace(case.facts, orders=tuple(kept)),
        GroupedOrders(buckets, net),
    )


def _printed(statement: Statement) -> list[tuple[object, ...]]:
    return [
        (line.kind, line.amount_minor, line.basis_minor, line.quantity, line.rate)
        for line in statement.lines
    ]


@PROPERTY
@given(cases())
def test_orders_summed_by_the_database_bill_the_same_lines(case: Case) -> None:
    """Orders given as sums per bucket (GroupedOrders) print the same lines as one by one; the
    commission split over orders and the group still adds up to the commission lines."""
    individual = case.run()
    facts, grouped = _group(case)
    summed = case.run(facts, grouped=grouped)
    assert _printed(summed) == _printed(individual)
    assert summed.total_minor == individual.total_minor
    commission = sum(
        line.amount_minor for line in summed.lines if line.kind.startswith("commission")
    )
    split = sum(c for _, c in summed.order_commissions.values())
    assert split + sum(summed.group_commissions.values()) == commission
    for line in summed.lines:
        if line.kind.startswith("commission"):
            assert f"orders:{line.kind}" in line.sources


def test_grouped_orders_in_a_bucket_the_contract_lacks_are_refused() -> None:
    terms = ContractTerms(currency="CNY", commission=Commission(rate=Decimal("0.05")))
    with pytest.raises(ValueError, match="bucket"):
        compute(
            terms, OCT, [], [], [], grouped=GroupedOrders({"commission:channel:x": (100, 1)}, 100)
        )
    with pytest.raises(ValueError, match="without orders"):
        compute(terms, OCT, [], [], [], grouped=GroupedOrders({"commission": (100, 0)}, 100))
