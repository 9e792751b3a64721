"""Order review (订单审核) rules: each one holds what it should and passes what it should not."""

from __future__ import annotations

import dataclasses
import re
import uuid
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest
from pydantic import ValidationError

from daiyun.platform.orders.normalized import (
    Address,
    NormalizedLine,
    NormalizedOrder,
    OrderStatus,
)
from daiyun.platform.orders.rules import (
    HoldCode,
    HoldReason,
    ReviewSettings,
    ShopNorms,
    duplicate_fingerprint,
    evaluate,
)

SHOP = uuid.UUID("00000000-0000-0000-0000-00000000a001")
NOW = datetime(2025, 3, 1, 8, 0, tzinfo=UTC)
NO_HISTORY = ShopNorms(order_count=0, typical_total_minor=0, typical_item_count=0)
DEFAULTS = ReviewSettings()


def cn_address(**changes: Any) -> Address:
    address = Address(
        name="张三",
        phone="+86 138 0013 8000",
        country="CN",
        province="广东省",
        city="深圳市",
        district="南山区",
        address1="科技园南路 18 号",
        postal_code="518057",
    )
    return dataclasses.replace(address, **changes)


def us_address(**changes: Any) -> Address:
    address = Address(
        name="Jane Doe",
        phone="(650) 253-0000",
        country="US",
        province="CA",
        city="Mountain View",
        address1="1600 Amphitheatre Pkwy",
        postal_code="94043",
    )
    return dataclasses.replace(address, **changes)


def line(sku: str = "SKU-1", quantity: int = 1, price: int = 10_000) -> NormalizedLine:
    return NormalizedLine(
        external_id=f"l-{sku}-{quantity}",
        sku=sku,
        title=sku,
        quantity=quantity,
        unit_price_minor=price,
    )


def order(**changes: Any) -> NormalizedOrder:
    base = NormalizedOrder(
        external_id="1001",
        status=OrderStatus.paid,
        channel_status="paid",
        currency="CNY",
        total_minor=10_000,
        placed_at=NOW,
        source_updated_at=NOW,
        buyer_name="张三",
        buyer_email="zhang@example.com",
        buyer_phone=None,
        shipping_address=cn_address(),
        lines=[line()],
    )
    return dataclasses.replace(base, **changes)


def run(
    o: NormalizedOrder,
    settings: ReviewSettings = DEFAULTS,
    norms: ShopNorms = NO_HISTORY,
    duplicates: int = 0,
    shop_id: uuid.UUID = SHOP,
) -> list[HoldReason]:
    return evaluate(o, shop_id, settings, norms, duplicates)


def codes(reasons: list[HoldReason]) -> list[str]:
    return [r.code for r in reasons]


def test_a_clean_order_passes() -> None:
    assert run(order()) == []
    assert run(order(shipping_address=us_address(), currency="USD")) == []


def test_hold_reason_as_dict() -> None:
    reason = HoldReason(HoldCode.blocklisted, "The buyer is on the blocklist.")
    assert reason.as_dict() == {"code": "blocklisted", "detail": "The buyer is on the blocklist."}


# --- required information -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("changes", "words"),
    [
        ({"lines": []}, "no lines"),
        ({"lines": [line(), line("SKU-2", 0)]}, "SKU-2"),
        ({"lines": [line("SKU-3", -1)]}, "quantity -1"),
        ({"shipping_address": None}, "no shipping address"),
        ({"shipping_address": cn_address(name="  ")}, "recipient"),
        ({"total_minor": -1}, "negative"),
    ],
)
def test_missing_information_holds(changes: dict[str, Any], words: str) -> None:
    reasons = run(order(**changes))
    assert HoldCode.missing_information in codes(reasons)
    [reason] = [r for r in reasons if r.code == HoldCode.missing_information]
    assert words in reason.detail


def test_missing_information_passes_a_free_order() -> None:
    assert run(order(total_minor=0)) == []


def test_no_address_is_only_missing_information() -> None:
    # Address and phone rules have nothing to judge; they do not pile on.
    assert codes(run(order(shipping_address=None))) == [HoldCode.missing_information]


def test_required_check_can_be_turned_off() -> None:
    settings = ReviewSettings(check_required=False)
    assert run(order(lines=[], total_minor=-5), settings) == []


# --- address ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("address", "missing"),
    [
        (cn_address(province=None), "province"),
        (cn_address(province=" "), "province"),
        (cn_address(city=None), "city"),
        (cn_address(address1=None), "street"),
        (cn_address(country=None), "country"),
        (cn_address(country="China"), "two-letter country code"),
        (us_address(address1="", city=""), "city, street"),
    ],
)
def test_incomplete_address_holds(address: Address, missing: str) -> None:
    reasons = run(order(shipping_address=address), ReviewSettings(check_phone=False))
    assert codes(reasons) == [HoldCode.address_incomplete]
    assert missing in reasons[0].detail


def test_province_is_only_required_in_china() -> None:
    assert run(order(shipping_address=us_address(province=None))) == []


def test_lowercase_country_code_is_accepted() -> None:
    assert run(order(shipping_address=cn_address(country="cn"))) == []


@pytest.mark.parametrize(
    "street",
    [
        "TBD",
        "tbd 5",
        "N/A",
        "n/a road",
        "?",
        "街道？",
        "xxx路xxx号",
        "XXXX",
        "不详",
        "待定地址",
        "Unknown",
    ],
)
def test_placeholder_street_is_unclear(street: str) -> None:
    reasons = run(order(shipping_address=cn_address(address1=street)))
    assert codes(reasons) == [HoldCode.address_unclear]


@pytest.mark.parametrize("street", ["1号", "  ab  ", "A1"])
def test_too_short_street_is_unclear(street: str) -> None:
    reasons = run(order(shipping_address=cn_address(address1=street)))
    assert codes(reasons) == [HoldCode.address_unclear]
    assert "too short" in reasons[0].detail


@pytest.mark.parametrize(
    "street", ["Foxxx Lane 12", "Unknownville Road 4", "12 Nash Ave", "中山路1号"]
)
def test_ordinary_streets_are_clear(street: str) -> None:
    assert run(order(shipping_address=cn_address(address1=street))) == []


@pytest.mark.parametrize(
    ("country", "postal"),
    [
        ("CN", "51805"),
        ("CN", "5180570"),
        ("CN", "51805A"),
        ("US", "9404"),
        ("US", "94043-12"),
        ("US", "94043 1234"),
        ("GB", "12345"),
        ("GB", "SW1A"),
    ],
)
def test_bad_postcode_is_unclear(country: str, postal: str) -> None:
    address = cn_address(country=country, postal_code=postal)
    reasons = run(order(shipping_address=address), ReviewSettings(check_phone=False))
    assert codes(reasons) == [HoldCode.address_unclear]
    assert "postal code" in reasons[0].detail
    assert postal not in reasons[0].detail


@pytest.mark.parametrize(
    ("country", "postal"),
    [
        ("CN", "518057"),
        ("US", "94043"),
        ("US", "94043-1351"),
        ("GB", "SW1A 1AA"),
        ("GB", "sw1a1aa"),
        ("GB", "M1 1AE"),
        ("GB", "EC1A 1BB"),
        ("DE", "10115"),
        ("FR", "anything goes"),
    ],
)
def test_good_or_unchecked_postcode_passes(country: str, postal: str) -> None:
    address = cn_address(country=country, postal_code=postal)
    assert run(order(shipping_address=address), ReviewSettings(check_phone=False)) == []


def test_missing_postcode_is_not_judged() -> None:
    assert run(order(shipping_address=cn_address(postal_code=None))) == []


def test_address_check_can_be_turned_off() -> None:
    settings = ReviewSettings(check_address=False)
    assert run(order(shipping_address=cn_address(province=None, address1="TBD")), settings) == []


# --- phone --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("address", "buyer_phone"),
    [
        (cn_address(phone="+86 138 0013 8000"), None),
        (cn_address(phone="13800138000"), None),
        (cn_address(phone="0086-138-0013-8000"), None),
        (cn_address(phone=None), "138 0013 8000"),
        (us_address(phone="(650) 253-0000"), None),
        (us_address(phone="+1 650 253 0000"), None),
        (us_address(phone=None), None),
    ],
)
def test_valid_phone_passes(address: Address, buyer_phone: str | None) -> None:
    assert run(order(shipping_address=address, buyer_phone=buyer_phone)) == []


@pytest.mark.parametrize(
    "address",
    [
        cn_address(phone="138001380"),
        cn_address(phone="12345"),
        cn_address(phone="not a phone"),
        us_address(phone="555-1234"),
        us_address(phone="13800138000"),
    ],
)
def test_malformed_phone_holds(address: Address) -> None:
    reasons = run(order(shipping_address=address))
    assert codes(reasons) == [HoldCode.phone_invalid]


def test_address_phone_wins_over_buyer_phone() -> None:
    o = order(shipping_address=cn_address(phone="12345"), buyer_phone="13800138000")
    assert codes(run(o)) == [HoldCode.phone_invalid]


def test_missing_phone_holds_only_for_china() -> None:
    reasons = run(order(shipping_address=cn_address(phone=None), buyer_phone=" "))
    assert codes(reasons) == [HoldCode.phone_invalid]
    assert "China" in reasons[0].detail
    assert run(order(shipping_address=us_address(phone=None), buyer_phone=None)) == []


def test_phone_detail_masks_the_number() -> None:
    [reason] = run(order(shipping_address=cn_address(phone="1380013800")))
    assert "3800" in reason.detail
    assert "1380013800" not in reason.detail
    assert not re.search(r"\d{5,}", reason.detail)


def test_phone_without_destination_country() -> None:
    address = cn_address(country=None, phone="13800138000")
    reasons = run(order(shipping_address=address))
    assert codes(reasons) == [HoldCode.address_incomplete, HoldCode.phone_invalid]
    # With a country code the number can still be judged.
    address = cn_address(country=None, phone="+8613800138000")
    assert codes(run(order(shipping_address=address))) == [HoldCode.address_incomplete]


def test_phone_check_can_be_turned_off() -> None:
    settings = ReviewSettings(check_phone=False)
    assert run(order(shipping_address=cn_address(phone="12")), settings) == []


# --- blocklist ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("entry", "changes"),
    [
        ("ZHANG@Example.com ", {}),
        ("  zhang@example.COM", {}),
        ("张三", {}),
        ("jane  doe", {"buyer_name": "JANE DOE", "buyer_email": None}),
        ("Jane Doe", {"buyer_name": None, "shipping_address": us_address()}),
    ],
)
def test_blocked_buyer_holds_whatever_the_case(entry: str, changes: dict[str, Any]) -> None:
    settings = ReviewSettings(blocked_buyers=[entry])
    reasons = run(order(**changes), settings)
    assert codes(reasons) == [HoldCode.blocklisted]
    assert "buyer" in reasons[0].detail


@pytest.mark.parametrize(
    "entry",
    ["+86 138 0013 8000", "13800138000", "138-0013-8000", "0086 13800138000", "+8613800138000"],
)
def test_blocked_phone_holds_whatever_the_format(entry: str) -> None:
    settings = ReviewSettings(blocked_phones=[entry])
    for phone in ("+86 138 0013 8000", "13800138000", "(138) 0013-8000"):
        reasons = run(order(shipping_address=cn_address(phone=phone)), settings)
        assert codes(reasons) == [HoldCode.blocklisted], (entry, phone)
        assert "ending 8000" in reasons[0].detail
        assert "13800138000" not in reasons[0].detail


def test_blocked_phone_without_country_code_matches_a_foreign_number() -> None:
    # A Chinese buyer's phone on a US-bound parcel, blocked by its Chinese national number.
    settings = ReviewSettings(blocked_phones=["138 0013 8000"], check_phone=False)
    address = us_address(phone="+86 138 0013 8000")
    assert codes(run(order(shipping_address=address), settings)) == [HoldCode.blocklisted]


def test_blocked_buyer_phone_holds() -> None:
    settings = ReviewSettings(blocked_phones=["+1 650 253 0000"])
    o = order(shipping_address=us_address(phone=None), buyer_phone="650.253.0000")
    assert codes(run(o, settings)) == [HoldCode.blocklisted]


def test_blocked_unparseable_phone_matches_by_digits() -> None:
    settings = ReviewSettings(blocked_phones=["00-11-22-33"], check_phone=False)
    o = order(shipping_address=cn_address(phone="00 11 22 33"))
    assert codes(run(o, settings)) == [HoldCode.blocklisted]


@pytest.mark.parametrize(
    "entry",
    ["科技园南路18号", "科技园南路 18 号", "深圳市南山区科技园", "广东省深圳市", "KEJIYUAN"],
)
def test_blocked_address_substring_holds(entry: str) -> None:
    address = cn_address(address2="Kejiyuan block B")
    settings = ReviewSettings(blocked_addresses=[entry])
    reasons = run(order(shipping_address=address), settings)
    assert codes(reasons) == [HoldCode.blocklisted]
    assert "address" in reasons[0].detail
    assert "科技园" not in reasons[0].detail


def test_blocked_address_western_order() -> None:
    settings = ReviewSettings(blocked_addresses=["1600 amphitheatre pkwy, mountain view"])
    reasons = run(order(shipping_address=us_address()), settings)
    assert codes(reasons) == [HoldCode.blocklisted]


def test_blocklists_pass_other_buyers() -> None:
    settings = ReviewSettings(
        blocked_buyers=["li@example.com", "李四"],
        blocked_phones=["+86 139 0000 0000", "13800138001"],
        blocked_addresses=["中山路"],
    )
    assert run(order(), settings) == []


def test_blocklist_check_can_be_turned_off() -> None:
    settings = ReviewSettings(blocked_buyers=["张三"], check_blocklist=False)
    assert run(order(), settings) == []


def test_blocklist_lists_each_hit_once() -> None:
    settings = ReviewSettings(blocked_phones=["13800138000"])
    o = order(buyer_phone="+86 13800138000", shipping_address=cn_address(phone="138 0013 8000"))
    [reason] = run(o, settings)
    assert reason.detail.count("ending 8000") == 1


# --- duplicates ---------------------------------------------------------------------------


def test_duplicates_hold_with_count_and_window() -> None:
    reasons = run(order(), ReviewSettings(duplicate_window_hours=48), duplicates=2)
    assert codes(reasons) == [HoldCode.duplicate_suspected]
    assert "2 other orders" in reasons[0].detail
    assert "48 hours" in reasons[0].detail
    assert "1 other order " in run(order(), duplicates=1)[0].detail


def test_no_duplicates_pass() -> None:
    assert run(order(), duplicates=0) == []
    assert run(order(), ReviewSettings(check_duplicates=False), duplicates=3) == []


# --- outliers -----------------------------------------------------------------------------


def norms(count: int = 40, total: int = 10_000, items: int = 2) -> ShopNorms:
    return ShopNorms(order_count=count, typical_total_minor=total, typical_item_count=items)


def test_amount_at_factor_passes_and_above_holds() -> None:
    assert run(order(total_minor=50_000), norms=norms()) == []
    reasons = run(order(total_minor=50_001), norms=norms())
    assert codes(reasons) == [HoldCode.amount_outlier]
    assert "5x" in reasons[0].detail


def test_fractional_factor_is_exact() -> None:
    settings = ReviewSettings(outlier_factor=Decimal("2.5"))
    assert run(order(total_minor=25_000), settings, norms()) == []
    assert codes(run(order(total_minor=25_001), settings, norms())) == [HoldCode.amount_outlier]
    # A factor no binary float can hold exactly: 1.1 x 10 is 11, and 11 passes.
    settings = ReviewSettings(outlier_factor=Decimal("1.1"))
    assert run(order(total_minor=11), settings, norms(total=10, items=10)) == []
    assert codes(run(order(total_minor=12), settings, norms(total=10, items=10))) == [
        HoldCode.amount_outlier
    ]


def test_quantity_at_factor_passes_and_above_holds() -> None:
    at = order(lines=[line("A", 6), line("B", 4)], total_minor=10_000)
    assert run(at, norms=norms()) == []
    above = order(lines=[line("A", 6), line("B", 5)], total_minor=10_000)
    reasons = run(above, norms=norms())
    assert codes(reasons) == [HoldCode.quantity_outlier]
    assert "11" in reasons[0].detail


def test_quantity_norm_is_at_least_one() -> None:
    assert run(order(lines=[line("A", 5)]), norms=norms(items=0)) == []
    assert codes(run(order(lines=[line("A", 6)]), norms=norms(items=0))) == [
        HoldCode.quantity_outlier
    ]


def test_both_outliers_hold_together() -> None:
    o = order(lines=[line("A", 11)], total_minor=60_000)
    assert codes(run(o, norms=norms())) == [HoldCode.amount_outlier, HoldCode.quantity_outlier]


def test_outliers_need_minimum_history() -> None:
    big = order(lines=[line("A", 100)], total_minor=10_000_000)
    assert run(big, norms=norms(count=19)) == []
    assert len(run(big, norms=norms(count=20))) == 2
    settings = ReviewSettings(outlier_min_history=5)
    assert len(run(big, settings, norms(count=5))) == 2
    assert run(big, settings, norms(count=4)) == []


def test_free_shop_has_no_amount_norm() -> None:
    assert run(order(total_minor=10_000), norms=norms(total=0)) == []


def test_outlier_check_can_be_turned_off() -> None:
    big = order(lines=[line("A", 100)], total_minor=10_000_000)
    assert run(big, ReviewSettings(check_outliers=False), norms()) == []


# --- auto-approve -------------------------------------------------------------------------


def troubled_order(**changes: Any) -> NormalizedOrder:
    """An order that breaks every rule."""
    return order(
        lines=[line("A", 100), line("B", 0)],
        total_minor=10_000_000,
        shipping_address=cn_address(province=None, address1="TBD", phone="123"),
        **changes,
    )


def blocking_settings(**changes: Any) -> ReviewSettings:
    return ReviewSettings(
        blocked_buyers=["zhang@example.com"],
        blocked_phones=["123456"],
        blocked_addresses=["科技园"],
        **changes,
    )


def test_troubled_order_breaks_every_rule() -> None:
    reasons = run(troubled_order(), blocking_settings(), norms(), duplicates=1)
    assert set(codes(reasons)) == {
        HoldCode.missing_information,
        HoldCode.address_incomplete,
        HoldCode.address_unclear,
        HoldCode.phone_invalid,
        HoldCode.blocklisted,
        HoldCode.duplicate_suspected,
        HoldCode.amount_outlier,
        HoldCode.quantity_outlier,
    }


@pytest.mark.parametrize("entry", ["Zhang@Example.com", " 张三 "])
def test_auto_approved_buyer_skips_everything(entry: str) -> None:
    settings = blocking_settings(auto_approve_buyers=[entry])
    assert run(troubled_order(), settings, norms(), duplicates=3) == []


def test_auto_approved_shop_skips_everything() -> None:
    settings = blocking_settings(auto_approve_shops=[str(SHOP)])
    assert settings.auto_approve_shops == [SHOP]
    assert run(troubled_order(), settings, norms(), duplicates=3) == []
    other_shop = uuid.UUID("00000000-0000-0000-0000-00000000a002")
    assert run(troubled_order(), settings, norms(), duplicates=3, shop_id=other_shop) != []


def test_auto_approve_does_not_trust_the_recipient_name() -> None:
    # Only the buyer's own account is trusted; anyone can type a recipient name.
    settings = ReviewSettings(auto_approve_buyers=["张三"])
    o = order(buyer_name="李四", buyer_email="li@example.com", lines=[])
    assert codes(run(o, settings)) == [HoldCode.missing_information]


# --- settings -----------------------------------------------------------------------------


def test_settings_defaults_from_empty_store() -> None:
    settings = ReviewSettings.from_stored({})
    assert settings == ReviewSettings()
    assert settings.duplicate_window_hours == 24
    assert settings.outlier_factor == Decimal("5")
    assert settings.outlier_min_history == 20
    assert all(
        [
            settings.check_address,
            settings.check_phone,
            settings.check_required,
            settings.check_duplicates,
            settings.check_blocklist,
            settings.check_outliers,
        ]
    )


def test_settings_from_stored_json() -> None:
    shop = uuid.uuid4()
    settings = ReviewSettings.from_stored(
        {
            "check_phone": False,
            "duplicate_window_hours": 72,
            "outlier_factor": "3.5",
            "blocked_buyers": ["  bad@example.com "],
            "auto_approve_shops": [str(shop)],
        }
    )
    assert settings.check_phone is False
    assert settings.outlier_factor == Decimal("3.5")
    assert settings.blocked_buyers == ["bad@example.com"]
    assert settings.auto_approve_shops == [shop]
    # It goes back into the JSON column as it came.
    again = ReviewSettings.from_stored(settings.model_dump(mode="json"))
    assert again == settings


@pytest.mark.parametrize(
    ("stored", "message"),
    [
        ({"duplicate_window_hours": 0}, "between 1 and 720"),
        ({"duplicate_window_hours": 721}, "between 1 and 720"),
        ({"duplicate_window_hours": True}, "whole number"),
        ({"outlier_factor": "1"}, "greater than 1"),
        ({"outlier_factor": "0.5"}, "greater than 1"),
        ({"outlier_factor": "NaN"}, "outlier_factor"),
        ({"outlier_factor": "abc"}, "outlier_factor"),
        ({"outlier_min_history": 0}, "at least 1"),
        ({"blocked_buyers": ["ok@example.com", "  "]}, "blocked buyer entry 2 is blank"),
        ({"auto_approve_buyers": [""]}, "auto-approve buyer entry 1 is blank"),
        ({"blocked_phones": ["12-34"]}, "at least 5 digits"),
        ({"blocked_addresses": ["路"]}, "at least 3 letters"),
        ({"auto_approve_shops": ["not-a-uuid"]}, "auto_approve_shops"),
        ({"check_phones": False}, "check_phones"),
    ],
)
def test_settings_reject_bad_values(stored: dict[str, Any], message: str) -> None:
    with pytest.raises(ValidationError) as caught:
        ReviewSettings.from_stored(stored)
    assert message in str(caught.value)


def test_settings_validate_on_assignment() -> None:
    settings = ReviewSettings()
    with pytest.raises(ValidationError):
        settings.duplicate_window_hours = 0


# --- fingerprint --------------------------------------------------------------------------


def test_fingerprint_ignores_line_order_and_email_case() -> None:
    one = order(lines=[line("A", 2), line("B", 1)])
    two = order(
        external_id="1002",
        buyer_email=" Zhang@EXAMPLE.com",
        lines=[line("B", 1), line("A", 2)],
        total_minor=99,
    )
    fingerprint = duplicate_fingerprint(one)
    assert fingerprint == duplicate_fingerprint(two)
    assert re.fullmatch(r"[0-9a-f]{64}", fingerprint)


def test_fingerprint_sums_lines_of_one_sku() -> None:
    one = order(lines=[line("A", 2)])
    two = order(lines=[line("A", 1), line("A", 1)])
    assert duplicate_fingerprint(one) == duplicate_fingerprint(two)


def test_fingerprint_differs_for_different_items_or_buyer() -> None:
    base = duplicate_fingerprint(order(lines=[line("A", 2), line("B", 1)]))
    assert base != duplicate_fingerprint(order(lines=[line("A", 2), line("C", 1)]))
    assert base != duplicate_fingerprint(order(lines=[line("A", 3), line("B", 1)]))
    assert base != duplicate_fingerprint(order(lines=[line("A", 2)]))
    other_buyer = order(buyer_email="li@example.com", lines=[line("A", 2), line("B", 1)])
    assert base != duplicate_fingerprint(other_buyer)


def test_fingerprint_falls_back_to_phone_then_name() -> None:
    by_phone = [
        order(buyer_email=None, buyer_phone="+86 138 0013 8000", lines=[line("A")]),
        order(buyer_email=None, buyer_phone="13800138000", buyer_name="Other", lines=[line("A")]),
    ]
    assert duplicate_fingerprint(by_phone[0]) == duplicate_fingerprint(by_phone[1])

    no_contact = cn_address(phone=None)
    by_name = [
        order(buyer_email=None, buyer_name="Jane  DOE", shipping_address=no_contact),
        order(buyer_email=None, buyer_name="jane doe", shipping_address=no_contact),
    ]
    assert duplicate_fingerprint(by_name[0]) == duplicate_fingerprint(by_name[1])


def test_fingerprint_without_buyer_matches_only_itself() -> None:
    anonymous = cn_address(name=None, phone=None)
    one = order(external_id="1", buyer_email=None, buyer_name=None, shipping_address=anonymous)
    two = order(external_id="2", buyer_email=None, buyer_name=None, shipping_address=anonymous)
    assert duplicate_fingerprint(one) == duplicate_fingerprint(one)
    assert duplicate_fingerprint(one) != duplicate_fingerprint(two)


def test_an_encrypted_receiver_is_not_judged_on_phone_or_street() -> None:
    """Chinese marketplaces send the receiver encrypted: only the marketplace can read it."""
    encrypted = "~AgAAAAEBfT0J6x8rYw==~1~~"
    order = NormalizedOrder(
        external_id="3141592653589793238",
        status=OrderStatus.paid,
        channel_status="WAIT_SELLER_SEND_GOODS",
        currency="CNY",
        total_minor=9900,
        placed_at=datetime(2026, 10, 1, tzinfo=UTC),
        source_updated_at=datetime(2026, 10, 1, tzinfo=UTC),
        shipping_address=Address(
            name=encrypted,
            phone=encrypted,
            country="CN",
            province="浙江省",
            city="杭州市",
            address1=encrypted,
        ),
        receiver_encrypted=True,
        lines=[NormalizedLine("1", "TEA-1", "龙井", 1, 9900)],
    )
    assert evaluate(order, uuid.uuid4(), ReviewSettings(), ShopNorms(0, 0, 0), 0) == []
    order.receiver_encrypted = False
    codes = {r.code for r in evaluate(order, uuid.uuid4(), ReviewSettings(), ShopNorms(0, 0, 0), 0)}
    assert "phone_invalid" in codes
