"""Statement lines in the reader's language: the portal says the message the engine kept with a
line through its catalog, with figures as Babel writes them; an English reader, a line stored
without a message and a message this version cannot read all get the stored English."""

from __future__ import annotations

import re
from dataclasses import replace
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

from daiyun.billing.engine import Statement, compute, fx
from daiyun.billing.engine.wording import MESSAGES, WORDS
from daiyun.billing.facts import (
    BilledOrder,
    OrderFact,
    Period,
    RefundFact,
    ServiceFact,
    ServiceKind,
)
from daiyun.billing.schemas import LineRead
from daiyun.billing.terms import ContractTerms
from daiyun.portal import i18n
from daiyun.portal.i18n import Formatter
from daiyun.tenants.auth.permissions import Role
from tests.billing.test_statement_pdf import text_of
from tests.conftest import World
from tests.portal.conftest import PortalClient
from tests.portal.test_merchant_pages import Book, book, statement  # noqa: F401 (fixtures)
from tests.portal.test_zh_and_time import choose_chinese

API = "/api/v1/tenants"
OCT = Period(2026, 10)
ZH = Formatter("zh_CN", "Asia/Shanghai")
EN = Formatter("en", "Asia/Shanghai")
TERMS = ContractTerms.model_validate(
    {
        "currency": "CNY",
        "time_zone": "Asia/Shanghai",
        "base_fee_minor": 300_000,
        "minimum_minor": 2_000_000,
        "vat_rate": "0.06",
        "ad_markup_rate": "0.1",
        "commission": {"mode": "flat", "rate": "0.05", "channel_rates": {"douyin": "0.04"}},
        "warehousing": {"per_pick_minor": 150},
    }
)
NAMED = re.compile(r"%\((\w+)\)s")


def _october() -> Statement:
    """A merchant that joined on the 15th: prorated fees, a clawback, services and credit."""
    at = datetime(2026, 10, 20, 4, tzinfo=UTC)
    return compute(
        TERMS,
        OCT,
        [OrderFact("o1", "taobao", at, 1_234_567), OrderFact("o2", "douyin", at, 50_000)],
        [RefundFact("r1", "s1", "taobao", at, 50_000)],
        [
            ServiceFact("ad1", ServiceKind.ad_spend, date(2026, 10, 20), amount_minor=100_000),
            ServiceFact("p1", ServiceKind.picks, date(2026, 10, 20), quantity=Decimal(12)),
        ],
        billed={"s1": BilledOrder("s1", 100_000, 5_000)},
        active_from=date(2026, 10, 15),
        credit_brought_forward_minor=5_000,
    )


def test_a_chinese_reader_gets_each_line_in_chinese_with_babel_figures() -> None:
    said = {line.kind: ZH.statement_line(line) for line in _october().lines}
    prorated = "（按 17/31 天折算：2026年10月15日至2026年10月31日）"
    assert said == {
        "base_fee": f"基础服务费 ¥3,000.00，2026年10月{prorated}",
        "commission": "佣金（销售提成）：计费基数 ¥12,345.67 × 5%",
        "commission:channel:douyin": "佣金（销售提成），渠道 抖店：计费基数 ¥500.00 × 4%",
        "clawback": "退款冲回：订单 s1 的退款 r1，金额 ¥500.00，按该订单计费时的费率 5% 冲回",
        "minimum": f"保底补差：保底金额 ¥20,000.00{prorated}，减去冲回后的佣金 ¥612.28",
        "ad_spend": "为商家代付的广告费，按成本计（1 笔）",
        "ad_markup": "广告服务费：广告费 ¥1,000.00 × 10%",
        "warehousing:picks": "仓储费：拣货 12 次，每次 ¥1.50",
        "vat": "增值税：计税基数 ¥12,730.91 × 6%",
        "credit:applied": "上期结转抵扣余额 ¥50.00：本期抵扣 ¥50.00",
    }


def test_an_english_reader_gets_the_description_unchanged() -> None:
    lines = _october().lines
    assert [EN.statement_line(line) for line in lines] == [line.description for line in lines]
    assert lines[0].description == (
        "Base service fee (基础服务费) 3,000.00 for 2026-10 × 17/31 days (2026-10-15 to 2026-10-31)"
    )


def test_foreign_sales_lines_name_days_and_rates_in_chinese() -> None:
    usd = ContractTerms.model_validate(
        {"currency": "USD", "foreign_sales": "daily", "commission": {"rate": "0.1"}}
    )
    dec = Period(2026, 12)
    sold = {
        date(2026, 12, day): fx.DaySales({"commission": (Decimal(100_000), 1)}, Decimal(100_000), 1)
        for day in (1, 2, 3, 5)
    }
    rate = fx.Rate(date(2026, 12, 1), Decimal("0.1401"), "ECB")
    converted, missing = fx.convert(usd, dec, fx.CurrencySales("CNY", sold), {rate.day: rate}).notes
    assert ZH.statement_line(converted) == (
        "CNY 销售汇率换算为 USD，采用各订单付款当日的汇率：1 笔订单，CNY ¥1,000.00 = USD US$140.10"
        "（CNY/USD 2026年12月1日：0.1401；来源：ECB）"
    )
    assert ZH.statement_line(missing) == (
        "未记录 CNY/USD 汇率：2026年12月2日至2026年12月3日、2026年12月5日。这些日期的 CNY 销售"
        "（3 笔订单，CNY ¥3,000.00）未计入本草稿；记录汇率并重新生成草稿前不能定稿"
    )


def test_a_line_without_a_message_or_with_one_unknown_says_the_stored_english() -> None:
    line = _october().lines[0]
    assert ZH.statement_line(replace(line, message=None)) == line.description
    later = replace(line, message={"key": "base_fee.v9", "values": {}})
    assert ZH.statement_line(later) == line.description
    broken = replace(line, message={"key": "base_fee", "values": {"fee": {"money": "3000"}}})
    assert ZH.statement_line(broken) == line.description
    # As the API's schema reads a line: the same sentence.
    read = LineRead.model_validate({**line.__dict__, "position": 0, "sources": list(line.sources)})
    assert ZH.statement_line(read).startswith("基础服务费 ¥3,000.00")


def test_every_line_message_has_a_chinese_translation_with_its_values() -> None:
    catalog = i18n.catalog("zh_CN")
    for english in [*MESSAGES.values(), *WORDS.values()]:
        chinese = catalog.get(english)
        assert chinese, english
        if re.search(r"[A-Za-z]", NAMED.sub("", english)):  # words, not only values
            assert re.search(r"[\u4e00-\u9fff]", chinese), english
        # The translation says every value the message has, as often.
        assert sorted(NAMED.findall(chinese)) == sorted(NAMED.findall(english)), english


def test_a_stored_statement_reads_in_chinese_on_its_page_and_in_its_pdf(
    world: World,
    book: Book,  # noqa: F811
    statement: dict[str, Any],  # noqa: F811
    portal_as: PortalClient,
) -> None:
    base = f"/portal/t/{book.a.slug}/statements/{statement['id']}"
    english = portal_as(book.owner).get(base).text
    chinese_reader = portal_as(book.owner)
    choose_chinese(chinese_reader)
    chinese = chinese_reader.get(base).text
    assert 'lang="zh-CN"' in chinese
    document = chinese_reader.get(f"{base}.pdf")
    assert document.status_code == 200
    printed = re.sub(r"\s+", "", text_of(document.content))
    assert "结算单" in printed
    for line in statement["lines"]:
        # Each stored line keeps its message: the English reader gets the stored description,
        # the Chinese one the same sentence from the catalog, on the page and in the PDF.
        assert line["message"] is not None
        zh_text = ZH.statement_line(LineRead.model_validate(line))
        assert zh_text != line["description"]
        assert line["description"] in english
        assert zh_text in chinese and line["description"] not in chinese
        assert re.sub(r"\s+", "", zh_text) in printed
    assert "基础服务费" in chinese
    # The API's preview carries each line's message for a client to say in its language.
    finance = world.actor(Role.finance, book.a)
    preview = world.client.get(
        f"{API}/{book.a.slug}/statements/preview",
        params={"period": "2026-10"},
        headers=finance.headers,
    )
    assert preview.status_code == 200, preview.text
    said = {line["kind"]: line["message"] for line in preview.json()["lines"]}
    assert said["base_fee"] == {
        "key": "base_fee",
        "values": {
            "fee": {"money": 300_000, "currency": "CNY"},
            "period": {"month": "2026-10"},
            "prorated": None,
        },
    }
