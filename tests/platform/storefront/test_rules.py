"""The catalog's pure rules: the margin floor in each mode, its resolution order, bundle costs,
cycles and category moves."""

from __future__ import annotations

import uuid
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from daiyun.platform.storefront import rules
from daiyun.platform.storefront.rules import BundleError, Floor, FloorMode, Node

amounts = st.integers(min_value=0, max_value=rules.MAX_AMOUNT_MINOR)
margins = st.decimals(min_value=0, max_value=10, places=4, allow_nan=False, allow_infinity=False)
modes = st.sampled_from(list(FloorMode))


def test_a_price_at_the_floor_passes_and_one_unit_under_is_blocked() -> None:
    floor = Floor(FloorMode.block, Decimal("0.15"))
    at = rules.check_price(11500, 10000, floor)
    under = rules.check_price(11499, 10000, floor)
    assert (at.floor_minor, at.allowed, at.flagged) == (11500, True, False)
    assert (under.allowed, under.below_floor, under.flagged) == (False, True, False)
    # A floor that falls between minor units rounds up: 333 × 1.15 = 382.95.
    assert rules.check_price(382, 333, floor).allowed is False
    assert rules.check_price(383, 333, floor).allowed is True


def test_warn_accepts_and_flags_off_accepts_silently() -> None:
    warn = rules.check_price(9000, 10000, Floor(FloorMode.warn, Decimal("0")))
    off = rules.check_price(1, 10000, Floor(FloorMode.off, Decimal("0.5")))
    assert (warn.allowed, warn.flagged) == (True, True)
    assert (off.allowed, off.flagged, off.below_floor) == (True, False, False)


@given(price=amounts, cost=amounts, margin=margins, mode=modes)
def test_the_verdict_follows_the_exact_floor(
    price: int, cost: int, margin: Decimal, mode: FloorMode
) -> None:
    verdict = rules.check_price(price, cost, Floor(mode, margin))
    exact_floor = Decimal(cost) * (1 + margin)
    under = Decimal(price) < exact_floor
    assert verdict.floor_minor - 1 < exact_floor <= verdict.floor_minor
    assert verdict.below_floor == (under and mode is not FloorMode.off)
    assert verdict.allowed == (not under or mode is not FloorMode.block)
    assert verdict.flagged == (under and mode is FloorMode.warn)


@given(price=st.integers(0, rules.MAX_AMOUNT_MINOR - 1), cost=amounts, margin=margins)
def test_a_higher_price_is_never_worse(price: int, cost: int, margin: Decimal) -> None:
    floor = Floor(FloorMode.block, margin)
    if rules.check_price(price, cost, floor).allowed:
        assert rules.check_price(price + 1, cost, floor).allowed


def test_the_floor_resolves_sku_then_nearest_category_then_tenant() -> None:
    sku, leaf, root, tenant = (Floor(FloorMode.block, Decimal(n)) for n in ("1", "2", "3", "4"))
    assert rules.resolve_floor([("sku", sku), ("c:leaf", leaf), ("tenant", tenant)]) == (
        "sku",
        sku,
    )
    chain = [("sku", None), ("c:leaf", None), ("c:root", root), ("tenant", tenant)]
    assert rules.resolve_floor(chain) == ("c:root", root)
    assert rules.resolve_floor([("sku", None), ("tenant", tenant)]) == ("tenant", tenant)
    assert rules.resolve_floor([("sku", None)]) == ("default", rules.DEFAULT_FLOOR)


@pytest.mark.parametrize("bad", ["-0.01", "10.0001", "0.12345", "NaN", "x"])
def test_an_impossible_minimum_margin_is_refused(bad: str) -> None:
    with pytest.raises(ValueError):
        rules.margin(bad)


def test_a_margin_is_kept_canonical() -> None:
    assert str(rules.margin("0.1500")) == "0.15"
    assert str(rules.margin("2.0")) == "2"


# --------------------------------------------------------------------------------------------
# Bundles
# --------------------------------------------------------------------------------------------


def _plain(code: str, cost: int, currency: str = "CNY") -> Node:
    return Node(code, currency, cost)


@given(
    parts=st.lists(
        st.tuples(st.integers(0, 10**6), st.integers(1, rules.MAX_PART_QUANTITY)),
        min_size=1,
        max_size=10,
    ),
    outer=st.integers(1, 100),
)
def test_a_bundle_costs_the_sum_of_its_parts_expanded(
    parts: list[tuple[int, int]], outer: int
) -> None:
    nodes: dict[uuid.UUID, Node] = {}
    inner_parts = []
    for n, (cost, quantity) in enumerate(parts):
        part = uuid.uuid4()
        nodes[part] = _plain(f"P{n}", cost)
        inner_parts.append((part, quantity))
    inner, top = uuid.uuid4(), uuid.uuid4()
    nodes[inner] = Node("INNER", "CNY", None, tuple(inner_parts))
    nodes[top] = Node("TOP", "CNY", None, ((inner, outer),))
    expected = sum(cost * quantity for cost, quantity in parts)
    if outer * expected > rules.MAX_AMOUNT_MINOR:
        with pytest.raises(BundleError) as refused:
            rules.bundle_cost(top, nodes)
        assert refused.value.kind == "amount-out-of-range"
    else:
        assert rules.bundle_cost(inner, nodes) == expected
        assert rules.bundle_cost(top, nodes) == outer * expected


def test_parts_in_another_currency_are_named() -> None:
    cup, tin, mug = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    gift = uuid.uuid4()
    nodes = {
        cup: _plain("CUP", 100),
        tin: _plain("TIN", 100, "USD"),
        mug: _plain("MUG", 100, "EUR"),
        gift: Node("GIFT", "CNY", None, ((cup, 1), (tin, 1), (mug, 2))),
    }
    with pytest.raises(BundleError) as refused:
        rules.bundle_cost(gift, nodes)
    assert (refused.value.kind, set(refused.value.codes)) == ("currency-mismatch", {"TIN", "MUG"})


@given(length=st.integers(1, 4))
def test_a_bundle_containing_itself_through_any_chain_is_refused(length: int) -> None:
    ids = [uuid.uuid4() for _ in range(length)]
    leaf = uuid.uuid4()
    nodes = {leaf: _plain("LEAF", 10)}
    for n, node_id in enumerate(ids):
        following = ids[(n + 1) % length]
        nodes[node_id] = Node(f"B{n}", "CNY", None, ((leaf, 1), (following, 1)))
    with pytest.raises(BundleError) as refused:
        rules.bundle_cost(ids[0], nodes)
    assert refused.value.kind == "bundle-cycle"
    assert refused.value.codes[0] == refused.value.codes[-1] == "B0"


def test_bundles_nest_only_so_deep() -> None:
    leaf = uuid.uuid4()
    nodes = {leaf: _plain("LEAF", 1)}
    below = leaf
    chain = []
    for n in range(rules.MAX_BUNDLE_DEPTH + 1):
        node_id = uuid.uuid4()
        nodes[node_id] = Node(f"L{n}", "CNY", None, ((below, 2),))
        chain.append(node_id)
        below = node_id
    assert rules.bundle_cost(chain[rules.MAX_BUNDLE_DEPTH - 1], nodes) == 2**rules.MAX_BUNDLE_DEPTH
    with pytest.raises(BundleError) as refused:
        rules.bundle_cost(chain[-1], nodes)
    assert refused.value.kind == "bundle-too-deep"


# --------------------------------------------------------------------------------------------
# Category trees
# --------------------------------------------------------------------------------------------


def test_a_category_never_moves_under_itself() -> None:
    root, child, grandchild, other = (uuid.uuid4() for _ in range(4))
    root_path = rules.path_of(None, root)
    child_path = rules.path_of(root_path, child)
    grand_path = rules.path_of(child_path, grandchild)
    assert rules.ancestors(grand_path) == [grandchild, child, root]
    assert rules.moves_under_itself(root_path, grand_path)
    assert rules.moves_under_itself(child_path, child_path)
    assert not rules.moves_under_itself(child_path, rules.path_of(None, other))
    assert not rules.moves_under_itself(grand_path, root_path)
