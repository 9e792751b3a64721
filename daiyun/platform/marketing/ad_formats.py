"""Ad platforms' daily report files (广告报表), read by header: pure rules, no session.

Each channel's report names its columns in its own words; a file is read by its header, in any
column order, other columns ignored. The headers accepted per channel are the README's table
(marked UNCONFIRMED where no real export was at hand: the names follow the platforms' report
pages and are easy to extend here). A file is checked whole: every problem is reported by row
(1 is the first row after the header) and column, and the caller writes nothing when there is
any, so a file is recorded whole or not at all.
"""

from __future__ import annotations

import csv
import io
import re
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation

from daiyun.core.money import MoneyError, exponent, to_minor
from daiyun.platform.marketing.models import AdChannel

MAX_FILE_BYTES = 5 << 20
MAX_ROWS = 50_000
# The validation report lists at most this many problems (and says how many there were).
MAX_PROBLEMS = 200
MAX_NAME = 200
MAX_COUNT = 10**15

# What the channels are called where they are bought.
CHANNEL_NAMES = {
    AdChannel.ztc: "直通车/万相台",
    AdChannel.pdd_search: "多多搜索",
    AdChannel.qianchuan: "巨量千川",
    AdChannel.google_ads: "Google Ads",
    AdChannel.meta: "Meta",
}

# Field -> the headers that carry it, per channel (compared without case or spaces).
_COMMON_CN = {
    "day": ("日期", "时间", "统计日期"),
}
HEADERS: dict[AdChannel, dict[str, tuple[str, ...]]] = {
    AdChannel.ztc: {
        **_COMMON_CN,
        "ad_campaign": ("计划名称", "计划名字", "推广计划"),
        "ad_group": ("单元名称", "单元名字", "推广单元", "宝贝名称"),
        "spend": ("花费", "花费(元)", "消耗"),
        "impressions": ("展现量",),
        "clicks": ("点击量",),
        "orders": ("总成交笔数", "成交笔数"),
        "gmv": ("总成交金额", "总成交金额(元)", "成交金额"),
        "currency": ("币种",),
    },
    AdChannel.pdd_search: {
        **_COMMON_CN,
        "ad_campaign": ("推广计划", "计划名称"),
        "ad_group": ("推广单元", "单元名称", "商品名称"),
        "spend": ("花费(元)", "花费"),
        "impressions": ("曝光量", "展现量"),
        "clicks": ("点击量",),
        "orders": ("成交笔数",),
        "gmv": ("交易额(元)", "交易额", "成交金额"),
        "currency": ("币种",),
    },
    AdChannel.qianchuan: {
        **_COMMON_CN,
        "ad_campaign": ("计划名称", "广告计划"),
        "ad_group": ("广告组名称", "广告组"),
        "spend": ("消耗", "整体消耗", "消耗(元)"),
        "impressions": ("展示次数", "整体展示次数"),
        "clicks": ("点击次数", "整体点击次数"),
        "orders": ("成交订单数", "直接成交订单数", "整体成交订单数"),
        "gmv": ("成交金额", "直接成交金额", "整体成交金额"),
        "currency": ("币种",),
    },
    AdChannel.google_ads: {
        "day": ("Day", "Date"),
        "ad_campaign": ("Campaign",),
        "ad_group": ("Ad group",),
        "spend": ("Cost",),
        "impressions": ("Impr.", "Impressions"),
        "clicks": ("Clicks",),
        "orders": ("Conversions",),
        "gmv": ("Conv. value", "Conversion value", "All conv. value"),
        "currency": ("Currency code", "Currency"),
    },
    AdChannel.meta: {
        "day": ("Day", "Reporting starts", "Date"),
        "ad_campaign": ("Campaign name",),
        "ad_group": ("Ad set name",),
        "spend": ("Amount spent",),
        "impressions": ("Impressions",),
        "clicks": ("Link clicks", "Clicks (all)"),
        "orders": ("Purchases", "Website purchases"),
        "gmv": ("Purchases conversion value", "Website purchases conversion value"),
        "currency": ("Currency",),
    },
}
REQUIRED = ("day", "ad_campaign", "spend")
# The currency of a channel's amounts when the file names none (the Chinese platforms bill in
# yuan); Google and Meta name theirs, or the importer says it.
DEFAULT_CURRENCY = {
    AdChannel.ztc: "CNY",
    AdChannel.pdd_search: "CNY",
    AdChannel.qianchuan: "CNY",
}
# Cells the platforms write for "nothing": a zero count, no attributed figure.
_EMPTY = {"", "-", "--", "—", "n/a", "N/A"}
# "Amount spent (USD)": Meta writes the account's currency into the header.
_IN_HEADER = re.compile(r"^(?P<name>.*?)\s*[(（](?P<cur>[A-Za-z]{3})[)）]$")
_DATE_FORMATS = ("%Y-%m-%d", "%Y/%m/%d", "%Y%m%d", "%Y.%m.%d")


@dataclass(frozen=True)
class Problem:
    """Row 0 is the file itself (its header, its size)."""

    row: int
    column: str
    problem: str


@dataclass(frozen=True)
class SpendRow:
    row: int
    day: date
    ad_campaign: str
    ad_group: str
    currency: str
    spend_minor: int
    impressions: int
    clicks: int
    orders: int | None
    gmv_minor: int | None


@dataclass
class Parsed:
    rows: list[SpendRow] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)
    problem_count: int = 0

    def add(self, problem: Problem) -> None:
        self.problem_count += 1
        if len(self.problems) < MAX_PROBLEMS:
            self.problems.append(problem)


def _key(header: str) -> str:
    return re.sub(r"\s+", "", header).replace("（", "(").replace("）", ")").casefold()


def decode(content: bytes) -> str:
    """UTF-8 (with or without its BOM), else GB18030: the Chinese back offices export GBK."""
    try:
        return content.decode("utf-8-sig")
    except UnicodeDecodeError:
        return content.decode("gb18030")


def columns(channel: AdChannel, header: list[str]) -> tuple[dict[str, int], str | None]:
    """Which column carries each field, and a currency named in a header ("Amount spent
    (USD)"). A field two columns claim takes the first."""
    wanted = {field: {_key(name) for name in names} for field, names in HEADERS[channel].items()}
    found: dict[str, int] = {}
    named: str | None = None
    for index, raw in enumerate(header):
        name = raw.strip()
        candidates = [_key(name)]
        match = _IN_HEADER.match(name)
        if match:
            candidates.append(_key(match.group("name")))
        for field_name, keys in wanted.items():
            if field_name in found:
                continue
            if candidates[0] in keys:
                found[field_name] = index
            elif len(candidates) > 1 and candidates[1] in keys:
                found[field_name] = index
                if field_name in ("spend", "gmv") and match:
                    named = match.group("cur").upper()
    return found, named


def _date(text: str) -> date:
    value = text.strip()
    for fmt in _DATE_FORMATS:
        try:
            return datetime.strptime(value, fmt).date()
        except ValueError:
            continue
    raise ValueError(f"{value[:40]!r} is not a date (2026-03-01)")


def _decimal(text: str) -> Decimal:
    value = text.strip().replace(",", "").lstrip("¥￥$€£").strip()
    try:
        number = Decimal(value)
    except InvalidOperation as exc:
        raise ValueError(f"{text.strip()[:40]!r} is not a number") from exc
    if not number.is_finite() or number < 0:
        raise ValueError(f"{text.strip()[:40]!r} is not an amount")
    return number


def _count(text: str) -> int:
    # Attribution models credit fractions of a conversion (Google's data-driven): rounded.
    number = _decimal(text).quantize(Decimal(1), rounding=ROUND_HALF_UP)
    if number > MAX_COUNT:
        raise ValueError("too large")
    return int(number)


def _money(text: str, currency: str) -> int:
    # A platform's cost carries more decimals than its currency (Google: 12.345678): rounded
    # half up to the minor unit, once, here.
    number = _decimal(text)
    try:
        return to_minor(number, currency)
    except MoneyError:
        places = Decimal(1).scaleb(-exponent(currency))
        return to_minor(number.quantize(places, rounding=ROUND_HALF_UP), currency)


def _currency(text: str) -> str:
    code = text.strip().upper()
    if not re.fullmatch(r"[A-Z]{3}", code):
        raise ValueError(f"{text.strip()[:20]!r} is not an ISO 4217 currency code")
    return code


def parse(channel: AdChannel, text: str, currency: str | None = None) -> Parsed:
    """The file's rows, or its problems. ``currency`` is the importer's word for a file that
    names none."""
    out = Parsed()
    reader = csv.reader(io.StringIO(text))
    header = next(reader, None)
    if not header or not any(cell.strip() for cell in header):
        out.add(Problem(0, "", "the file has no header row"))
        return out
    found, named = columns(channel, header)
    missing = [f for f in REQUIRED if f not in found]
    for field_name in missing:
        names = " / ".join(HEADERS[channel][field_name])
        out.add(Problem(0, field_name, f"no column {names} in the header"))
    default = named or currency or DEFAULT_CURRENCY.get(channel)
    if "currency" not in found and default is None:
        out.add(Problem(0, "currency", "the file names no currency: say which"))
    if out.problem_count:
        return out
    seen: dict[tuple[date, str, str], int] = {}
    for number, cells in enumerate(reader, start=1):
        if not any(cell.strip() for cell in cells):
            continue
        if number > MAX_ROWS:
            out.add(Problem(number, "", f"a file holds at most {MAX_ROWS} rows"))
            break
        # Totals rows ("合计", "Total: …") close many exports: not a day, skipped.
        first = cells[found["day"]].strip() if found["day"] < len(cells) else ""
        if first.startswith(("合计", "总计", "Total", "汇总")):
            continue
        row = _row(number, cells, found, default, out)
        if row is None:
            continue
        key = (row.day, row.ad_campaign, row.ad_group)
        if key in seen:
            out.add(Problem(number, "ad_group", f"the same day and ad group as row {seen[key]}"))
            continue
        seen[key] = number
        out.rows.append(row)
    if not out.rows and not out.problem_count:
        out.add(Problem(0, "", "the file has no rows"))
    return out


def _row(
    number: int, cells: list[str], found: dict[str, int], default: str | None, out: Parsed
) -> SpendRow | None:
    def cell(name: str) -> str | None:
        index = found.get(name)
        if index is None:
            return None
        return cells[index] if index < len(cells) else ""

    before = out.problem_count
    values: dict[str, object] = {}
    for name, read in (("day", _date), ("currency", _currency)):
        text = cell(name)
        if text is None or (name == "currency" and text.strip() == ""):
            continue
        try:
            values[name] = read(text)
        except ValueError as exc:
            out.add(Problem(number, name, str(exc)))
    currency = str(values.get("currency") or default or "")
    if not currency and "currency" not in values:
        out.add(Problem(number, "currency", "the row names no currency"))
    for name in ("ad_campaign", "ad_group"):
        text = (cell(name) or "").strip()
        if name == "ad_campaign" and not text:
            out.add(Problem(number, name, "the ad campaign is empty"))
        elif len(text) > MAX_NAME or any(ord(c) < 32 for c in text):
            out.add(Problem(number, name, f"a name has at most {MAX_NAME} printable characters"))
        values[name] = text
    for name in ("spend", "gmv", "impressions", "clicks", "orders"):
        text = cell(name)
        if text is None or text.strip() in _EMPTY:
            if name == "spend":
                out.add(Problem(number, name, "the spend is empty"))
            values[name] = None if name in ("gmv", "orders") else 0
            continue
        try:
            if name in ("spend", "gmv"):
                if not currency:
                    continue  # said above
                values[name] = _money(text, currency)
                if int(str(values[name])) > MAX_COUNT:
                    raise ValueError("too large")
            else:
                values[name] = _count(text)
        except (ValueError, MoneyError) as exc:
            out.add(Problem(number, name, str(exc)))
    if out.problem_count > before:
        return None
    return SpendRow(
        row=number,
        day=values["day"],  # type: ignore[arg-type]
        ad_campaign=str(values["ad_campaign"]),
        ad_group=str(values["ad_group"]),
        currency=currency,
        spend_minor=int(values["spend"]),  # type: ignore[call-overload]
        impressions=int(values["impressions"]),  # type: ignore[call-overload]
        clicks=int(values["clicks"]),  # type: ignore[call-overload]
        orders=values["orders"],  # type: ignore[arg-type]
        gmv_minor=values["gmv"],  # type: ignore[arg-type]
    )
