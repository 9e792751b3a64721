"""The pure fulfilment rules: states, merge keys, walk order, wave planning, scans, splits."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from daiyun.platform.fulfillment import rules
from daiyun.platform.fulfillment.models import FoState

S = FoState


def test_nothing_leaves_cancelled_or_delivered_and_shipping_needs_packing() -> None:
    assert not rules.TRANSITIONS[S.cancelled] and not rules.TRANSITIONS[S.delivered]
    assert rules.may_move(S.packed, S.shipped)
    assert not rules.may_move(S.ready, S.shipped)
    assert not rules.may_move(S.shipped, S.cancelled)  # gone: a return, not an intercept


def test_merge_keys_ignore_spacing_and_case_but_not_the_address() -> None:
    address = {"city": "杭州市", "address1": "文三路 100 号"}
    same = rules.merge_key("shop", "Wang  Xiaoming", {"city": "杭州市", "address1": "文三路100号"})
    assert rules.merge_key("shop", "wang xiaoming", address) == same
    assert rules.merge_key("shop", "wang xiaoming", {**address, "address1": "莫干山路"}) != same
    assert rules.merge_key("other", "wang xiaoming", address) != same


def test_the_walk_goes_bin_by_bin_with_numbers_compared_as_numbers() -> None:
    bins = ["B-01-01-01", "A-10-01-01", "A-2-01-01", None, "A-2-01-10", "A-2-01-9"]
    ordered = sorted(bins, key=rules.walk_key)
    assert ordered == ["A-2-01-01", "A-2-01-9", "A-2-01-10", "A-10-01-01", "B-01-01-01", None]


def _candidate(key: str, units: int, zones: set[str], hours: int | None) -> rules.Candidate:
    due = datetime(2026, 1, 1, tzinfo=UTC) + timedelta(hours=hours) if hours is not None else None
    return rules.Candidate(key=key, units=units, zones=frozenset(zones), ship_by=due)


def test_waves_take_the_rules_orders_nearest_deadline_first_up_to_the_limit() -> None:
    pool = [
        _candidate("late-single", 1, {"A"}, 30),
        _candidate("soon-single", 1, {"A"}, 2),
        _candidate("multi", 3, {"A"}, 1),
        _candidate("zone-b", 1, {"B"}, 5),
        _candidate("two-zones", 1, {"A", "B"}, 6),
        _candidate("no-deadline", 1, {"A"}, None),
    ]
    single = rules.plan_wave(pool, rules.WaveRule(single_item=True, max_orders=3))
    assert single == ["soon-single", "zone-b", "two-zones"]
    zone_a = rules.plan_wave(pool, rules.WaveRule(zone="A"))
    assert zone_a == ["multi", "soon-single", "late-single", "no-deadline"]
    assert rules.plan_wave(pool, rules.WaveRule(zone="C")) == []


# No deadline: on a loaded machine a slow example is not a failure of the rule.
@settings(deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.integers(min_value=1, max_value=5), max_size=30), st.integers(1, 10))
def test_a_wave_never_exceeds_its_limit_nor_takes_what_the_rule_refuses(
    sizes: list[int], limit: int
) -> None:
    pool = [_candidate(str(n), size, {"A"}, n) for n, size in enumerate(sizes)]
    chosen = rules.plan_wave(pool, rules.WaveRule(single_item=True, max_orders=limit))
    assert len(chosen) == min(limit, sizes.count(1))
    assert all(sizes[int(k)] == 1 for k in chosen)


def test_pick_lists_follow_the_walk() -> None:
    lines = [
        rules.PickLine("B-01-01-01", "CUP", 1, "FO-2", "甲"),
        rules.PickLine("A-01-01-02", "TEA", 2, "FO-1", "乙"),
        rules.PickLine("A-01-01-02", "SET", 1, "FO-3", "甲"),
    ]
    assert [p.sku for p in rules.pick_list(lines)] == ["SET", "TEA", "CUP"]


def test_a_scan_is_checked_against_the_parcels_lines() -> None:
    wanted = {"tea": 2}
    codes = {"TEA": "tea", "6901234567890": "tea", "CUP": "cup"}
    ok = rules.ScanVerdict.ok
    assert rules.check_scan("6901234567890", wanted, {}, codes) == (ok, "tea")
    assert rules.check_scan("CUP", wanted, {}, codes) == (rules.ScanVerdict.wrong_item, None)
    assert rules.check_scan("NOPE", wanted, {}, codes) == (rules.ScanVerdict.wrong_item, None)
    assert rules.check_scan("TEA", wanted, {"tea": 2}, codes) == (rules.ScanVerdict.too_many, "tea")
    assert rules.complete(wanted, {"tea": 2}) and not rules.complete(wanted, {"tea": 1})


def test_a_split_moves_units_and_keeps_something_behind() -> None:
    lines = [
        {"order_id": "o", "sku_id": "tea", "quantity": 3, "stock_id": "s1"},
        {"order_id": "o", "sku_id": "cup", "quantity": 1, "stock_id": "s2"},
    ]
    stay, move = rules.split_lines(lines, {"tea": 2}) or ([], [])
    assert [(li["sku_id"], li["quantity"]) for li in move] == [("tea", 2)]
    assert [(li["sku_id"], li["quantity"]) for li in stay] == [("tea", 1), ("cup", 1)]
    assert rules.split_lines(lines, {"tea": 4}) is None  # not held
    assert rules.split_lines(lines, {"tea": 3, "cup": 1}) is None  # nothing would stay
    assert rules.split_lines(lines, {"mug": 1}) is None
