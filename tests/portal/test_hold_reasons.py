"""A held order's reasons read in the reader's language, in the same words as the API in English."""

from __future__ import annotations

import re
from decimal import Decimal

import pytest

from daiyun.platform.orders.rules import HoldReason, ReviewSettings, ShopNorms
from daiyun.portal.i18n import Formatter
from tests.platform.orders.test_rules import cn_address, line, order, run, us_address

EN, ZH = Formatter("en"), Formatter("zh_CN")
LATIN_WORD = re.compile(r"[A-Za-z]{3,}")


def every_reason() -> list[HoldReason]:
    """Each kind of reason the review gives, several clauses in some."""
    busy = ShopNorms(order_count=30, typical_total_minor=1000, typical_item_count=1)
    return [
        *run(order(lines=[line(quantity=0)], shipping_address=None)),
        *run(order(shipping_address=us_address(address1="", city=""), buyer_phone="12")),
        *run(order(shipping_address=cn_address(address1="xx", postal_code="12"))),
        *run(order(shipping_address=cn_address(phone=None), buyer_phone=None)),
        *run(
            order(buyer_phone="+86 138 0013 8000", total_minor=90_000, lines=[line(quantity=9)]),
            ReviewSettings(blocked_buyers=["张三"], blocked_phones=["13800138000"]),
            busy,
            duplicates=2,
        ),
    ]


def test_in_english_a_reason_reads_as_the_api_says_it() -> None:
    reasons = every_reason()
    assert len({r.code for r in reasons}) >= 7
    for reason in reasons:
        assert EN.hold_detail(reason.as_dict()) == reason.detail


def test_in_chinese_every_clause_and_word_is_translated() -> None:
    for reason in every_reason():
        said = ZH.hold_detail(reason.as_dict())
        assert said.endswith("。"), said
        # Only values stay as they are: masked phones, SKUs, region codes.
        leftovers = [w for w in LATIN_WORD.findall(said) if w not in {"SKU"}]
        assert leftovers == [], (reason.detail, said)
    incomplete = run(order(shipping_address=us_address(address1="", city="")))[0]
    assert ZH.hold_detail(incomplete.as_dict()) == "收货地址缺少城市、街道地址。"


@pytest.mark.parametrize("formatter", [EN, ZH])
def test_a_reason_stored_without_its_clauses_reads_as_stored(formatter: Formatter) -> None:
    stored = {"code": "blocklisted", "detail": "The buyer is on the blocklist."}
    assert formatter.hold_detail(stored) == stored["detail"]
    garbled = {**stored, "parts": [{"text": "%(missing)s", "values": {}}]}
    assert formatter.hold_detail(garbled) == stored["detail"]


def test_outlier_factor_is_shown_as_configured() -> None:
    settings = ReviewSettings(outlier_factor=Decimal("2.5"))
    busy = ShopNorms(order_count=25, typical_total_minor=1000, typical_item_count=1)
    (reason,) = [r for r in run(order(total_minor=5000), settings, busy) if "total" in r.detail]
    assert "2.5x" in EN.hold_detail(reason.as_dict())
    assert "2.5 倍" in ZH.hold_detail(reason.as_dict())
