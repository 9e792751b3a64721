"""The pricing engine's rules: its properties over any cart and promotions (allocations sum to
the discount, no line below its floor or zero, never above the order, the same answer whatever
order the promotions come in), and worked examples of 满减 with a cap, buy X get Y, flash
prices, stacking, budgets and shipping."""

from __future__ import annotations

import uuid

from hypothesis import given, settings
from hypothesis import strategies as st

from daiyun.platform.marketing import rules
from daiyun.platform.marketing.rules import Kind, Line, Offer, Stacking, Tier, ValueType

SKUS = [uuid.UUID(int=n) for n in range(1, 5)]
CATEGORY = uuid.UUID(int=99)


def _id(n: int) -> uuid.UUID:
    return uuid.UUID(int=1000 + n)


@st.composite
def carts(draw: st.DrawFn) -> list[Line]:
    count = draw(st.integers(min_value=1, max_value=5))
    lines = []
    for n in range(count):
        unit = draw(st.integers(min_value=0, max_value=50_000))
        lines.append(
            Line(
                key=str(n),
                sku_id=draw(st.sampled_from(SKUS)),
                quantity=draw(st.integers(min_value=1, max_value=6)),
                unit_price_minor=unit,
                categories=frozenset({CATEGORY}) if draw(st.booleans()) else frozenset(),
                floor_unit_minor=draw(st.integers(min_value=0, max_value=60_000)),
            )
        )
    return lines


@st.composite
def offers(draw: st.DrawFn, n: int) -> Offer:
    kind = draw(st.sampled_from(list(Kind)))
    value_type = draw(st.sampled_from(list(ValueType)))
    value = draw(
        st.integers(0, rules.BASIS_POINTS)
        if value_type is ValueType.percent
        else st.integers(0, 80_000)
    )
    thresholds = sorted(draw(st.sets(st.integers(1, 200_000), min_size=1, max_size=3)))
    tiers = tuple(Tier(t, t // (4 - i)) for i, t in enumerate(thresholds))
    return Offer(
        id=_id(n),
        name=f"offer {n}",
        kind=kind,
        value_type=ValueType.percent if kind is Kind.bxgy else value_type,
        value=rules.BASIS_POINTS if kind is Kind.bxgy else value,
        tiers=tiers,
        cap_minor=draw(st.none() | st.integers(0, 100_000)),
        sku_ids=frozenset(draw(st.sets(st.sampled_from(SKUS), max_size=2))),
        category_ids=frozenset({CATEGORY}) if draw(st.booleans()) else frozenset(),
        min_order_minor=draw(st.integers(0, 100_000)),
        buy_quantity=draw(st.integers(1, 3)),
        get_quantity=draw(st.integers(1, 2)),
        flash_price_minor=draw(st.integers(0, 40_000)),
        flash_units=draw(st.integers(0, 10)),
        stacking=draw(st.sampled_from(list(Stacking))),
        priority=draw(st.integers(0, 3)),
        campaign_id=draw(st.sampled_from([None, uuid.UUID(int=7)])),
    )


@st.composite
def offer_lists(draw: st.DrawFn) -> list[Offer]:
    count = draw(st.integers(min_value=0, max_value=6))
    return [draw(offers(n)) for n in range(count)]


@settings(max_examples=300, deadline=None)
@given(
    lines=carts(),
    given_offers=offer_lists(),
    shipping=st.integers(0, 5_000),
    budget=st.integers(0, 50_000),
)
def test_every_quote_keeps_the_engines_promises(
    lines: list[Line], given_offers: list[Offer], shipping: int, budget: int
) -> None:
    quote = rules.price(lines, given_offers, shipping, {uuid.UUID(int=7): budget})
    line_parts = sum(
        part for a in quote.applied for key, part in a.allocations.items() if key != rules.SHIPPING
    )
    ship_parts = sum(a.allocations.get(rules.SHIPPING, 0) for a in quote.applied)
    # The allocations of each discount sum to it; together they are the order's discount.
    for applied in quote.applied:
        assert sum(applied.allocations.values()) == applied.amount_minor > 0
    assert line_parts == quote.discount_minor
    assert ship_parts == quote.shipping_discount_minor <= shipping
    assert 0 <= quote.discount_minor <= quote.subtotal_minor
    for line, priced in zip(lines, quote.lines, strict=True):
        assert priced.total_minor >= 0
        # Never under the floor, unless the list price already was (then untouched).
        assert priced.total_minor >= min(line.subtotal_minor, line.quantity * line.floor_unit_minor)
        assert priced.subtotal_minor - priced.discount_minor == priced.total_minor
    assert quote.total_minor == quote.subtotal_minor - quote.discount_minor + (
        shipping - quote.shipping_discount_minor
    )
    # A campaign's discounts never pass its budget; an offer never passes its cap.
    by_id = {o.id: o for o in given_offers}
    spent = sum(a.amount_minor for a in quote.applied if a.campaign_id == uuid.UUID(int=7))
    assert spent <= budget
    for applied in quote.applied:
        cap = by_id[applied.offer_id].cap_minor
        assert cap is None or applied.amount_minor <= cap
    # At most one exclusive offer applies, and then alone.
    exclusive = [a for a in quote.applied if by_id[a.offer_id].stacking is Stacking.exclusive]
    assert not exclusive or len(quote.applied) == 1


@settings(max_examples=150, deadline=None)
@given(lines=carts(), given_offers=offer_lists(), seed=st.randoms(use_true_random=False))
def test_the_order_offers_arrive_in_changes_nothing(
    lines: list[Line], given_offers: list[Offer], seed: object
) -> None:
    shuffled = list(given_offers)
    seed.shuffle(shuffled)  # type: ignore[attr-defined]
    assert rules.price(lines, given_offers, 800) == rules.price(lines, shuffled, 800)


@given(
    amount=st.integers(0, 10_000),
    weights=st.dictionaries(st.text(min_size=1, max_size=3), st.integers(0, 5_000), min_size=1),
)
def test_allocation_sums_and_stays_within_each_weight(amount: int, weights: dict[str, int]) -> None:
    amount = min(amount, sum(weights.values()))
    parts = rules.allocate(amount, weights)
    assert sum(parts.values()) == amount
    assert all(0 < parts[k] <= weights[k] for k in parts)


def _line(key: str, unit: int, quantity: int = 1, floor: int = 0, sku: int = 1) -> Line:
    return Line(key, uuid.UUID(int=sku), quantity, unit, frozenset(), floor)


def test_manjian_takes_the_highest_tier_reached_and_its_cap() -> None:
    ladder = (Tier(20_000, 2_000), Tier(40_000, 5_000), Tier(60_000, 9_000))
    offer = Offer(_id(1), "满减", Kind.tiered, tiers=ladder)
    assert rules.price([_line("a", 19_999)], [offer]).discount_minor == 0
    assert rules.price([_line("a", 45_000)], [offer]).discount_minor == 5_000
    capped = Offer(_id(1), "满减", Kind.tiered, tiers=ladder, cap_minor=6_000)
    quote = rules.price([_line("a", 30_000), _line("b", 40_000)], [capped])
    [applied] = quote.applied
    assert (applied.amount_minor, applied.capped_by) == (6_000, "cap")
    # Spread over the lines in proportion to what each may still give (30 000 : 40 000).
    assert applied.allocations == {"a": 2_571, "b": 3_429}
    assert "满减" in applied.explanation and "cap" in applied.explanation


def test_a_discount_stops_at_the_margin_floor_and_says_so() -> None:
    offer = Offer(_id(1), "half off", Kind.order, ValueType.percent, 5_000)
    quote = rules.price([_line("a", 10_000, floor=8_000), _line("b", 10_000)], [offer])
    # Spread by what each line may still give (2 000 : 10 000), neither under its floor.
    assert [p.total_minor for p in quote.lines] == [8_333, 1_667]
    assert quote.discount_minor == 10_000
    [applied] = quote.applied
    assert applied.capped_by is None
    tight = rules.price([_line("a", 10_000, floor=9_500)], [offer])
    assert (tight.discount_minor, tight.applied[0].capped_by) == (500, "margin-floor")


def test_buy_two_get_one_gives_the_cheapest_unit_of_each_group() -> None:
    offer = Offer(
        _id(1),
        "买二送一",
        Kind.bxgy,
        ValueType.percent,
        rules.BASIS_POINTS,
        buy_quantity=2,
        get_quantity=1,
    )
    quote = rules.price([_line("a", 3_000, 2), _line("b", 1_000, 2)], [offer])
    # Units by price: 3000 3000 1000 | 1000: one full group, its cheapest unit free.
    assert quote.discount_minor == 1_000
    assert quote.applied[0].allocations == {"b": 1_000}


def test_a_flash_price_applies_to_the_allowed_units_only() -> None:
    offer = Offer(
        _id(1),
        "秒杀",
        Kind.flash,
        sku_ids=frozenset({uuid.UUID(int=1)}),
        flash_price_minor=6_000,
        flash_units=2,
    )
    quote = rules.price([_line("a", 10_000, 3)], [offer])
    assert quote.discount_minor == 8_000
    assert quote.applied[0].units == {"a": 2}


def test_exclusive_and_stackable_in_the_one_order() -> None:
    first = Offer(_id(2), "10 off", Kind.order, value=1_000, priority=1)
    exclusive = Offer(
        _id(1), "VIP", Kind.order, value=3_000, priority=5, stacking=Stacking.exclusive
    )
    later = Offer(_id(3), "free shipping", Kind.shipping, ValueType.percent, 10_000, priority=9)
    quote = rules.price([_line("a", 10_000)], [later, exclusive, first], shipping_minor=800)
    assert [a.name for a in quote.applied] == ["10 off", "free shipping"]
    assert [s.name for s in quote.skipped] == ["VIP"]
    assert (quote.shipping_discount_minor, quote.total_minor) == (800, 9_000)
    alone = Offer(_id(1), "VIP", Kind.order, value=3_000, priority=0, stacking=Stacking.exclusive)
    quote = rules.price([_line("a", 10_000)], [later, alone, first], shipping_minor=800)
    assert [a.name for a in quote.applied] == ["VIP"]
    assert quote.total_minor == 7_800


def test_a_campaign_budget_caps_what_its_promotions_give() -> None:
    campaign = uuid.UUID(int=7)
    offers_ = [
        Offer(_id(1), "a", Kind.order, value=3_000, campaign_id=campaign),
        Offer(_id(2), "b", Kind.order, value=3_000, campaign_id=campaign),
    ]
    quote = rules.price([_line("a", 10_000)], offers_, budgets={campaign: 4_000})
    assert [(a.amount_minor, a.capped_by) for a in quote.applied] == [
        (3_000, None),
        (1_000, "budget"),
    ]


def test_codes_a_marketplace_reports() -> None:
    raw = {
        "discount_codes": [{"code": "spring10", "amount": "10.00"}, {"code": "SPRING10"}],
        "coupon_lines": [{"code": " vip "}, "junk"],
    }
    assert rules.codes_reported(raw) == ["SPRING10", "VIP"]
    assert rules.codes_reported({"discount_codes": "none"}) == []


def test_tier_ladders_rise() -> None:
    assert rules.tiers_valid([Tier(100, 10), Tier(200, 30)]) is None
    assert rules.tiers_valid([Tier(200, 10), Tier(100, 30)]) is not None
    assert rules.tiers_valid([Tier(100, 101)]) is not None
    assert rules.tiers_valid([]) is not None


def test_generated_codes_use_the_unambiguous_alphabet() -> None:
    codes = rules.generate_codes("SPRING", 3, bytes(range(24)))
    assert len(set(codes)) == 3
    assert all(c.startswith("SPRING-") and len(c) == 15 for c in codes)
    assert not any(ch in c[7:] for c in codes for ch in "01IO")
