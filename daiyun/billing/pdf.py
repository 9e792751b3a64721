"""A statement (结算单) as a PDF a merchant can hand to accounting, in Chinese or English.

The document: the agency's letterhead (settings ``agency_*``), the merchant billed, a stable
statement number, the period, issue and due dates, the lines (what, basis, quantity, rate as a
percentage, amount), the subtotal, VAT and total, and the state of the statement and of its
payment in words. Every glyph comes from the WenQuanYi Micro Hei font shipped in ``fonts/``
(Latin and CJK in one face, Apache-2.0), embedded as a subset, so Chinese prints as Chinese on
any machine and the text can be copied or extracted back out.

The PDF's labels live in the small zh/en table below rather than in the portal's catalogs: the
document is billing's own, and the API renders it as well as the portal. A line's description
is what the line says in words: the portal passes its reader's (the message the engine kept with
the line, said through its catalogs); otherwise it is the stored English.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Literal, Protocol
from zoneinfo import ZoneInfo

from babel.dates import format_date
from babel.numbers import format_currency, format_percent
from fpdf import FPDF
from fpdf.fonts import FontFace

from daiyun.billing.facts import Period
from daiyun.billing.models import PaymentState, Statement, StatementLine, StatementStatus
from daiyun.core.config import Settings, get_settings
from daiyun.core.money import to_major

Language = Literal["zh", "en"]
LANGUAGES: tuple[Language, ...] = ("zh", "en")
DEFAULT_LANGUAGE: Language = "en"

FONT_DIR = Path(__file__).parent / "fonts"
FONT_FILE = FONT_DIR / "wqy-microhei.ttc"
FONT = "wqy"

# Ink: near-black text, grey for secondary text, one accent for headings and rules.
INK = (33, 37, 41)
MUTED = (108, 117, 125)
ACCENT = (31, 78, 121)
SHADE = (234, 239, 244)

LABELS: dict[str, tuple[str, str]] = {  # key: (zh, en)
    "title": ("结算单", "STATEMENT"),
    "tax_id": ("纳税人识别号", "Tax ID"),
    "bill_to": ("客户", "Bill to"),
    "number": ("结算单号", "Statement no."),
    "period": ("结算期间", "Period"),
    "issued": ("出具日期", "Issue date"),
    "due": ("付款截止日", "Due date"),
    "status": ("状态", "Status"),
    "payment": ("付款状态", "Payment"),
    "invoice": ("发票号", "Invoice no."),
    "currency": ("币种", "Currency"),
    "contract": ("合同版本", "Contract version"),
    "item": ("项目", "Item"),
    "basis": ("计费基数", "Basis"),
    "quantity": ("数量", "Qty"),
    "rate": ("费率", "Rate"),
    "amount": ("金额", "Amount"),
    "subtotal": ("小计（不含税）", "Subtotal (excl. VAT)"),
    "vat": ("增值税", "VAT"),
    "total": ("应付合计", "Total due"),
    "credit": ("结转下期的抵扣余额", "Credit carried forward"),
    "no_lines": ("本期无计费项目。", "Nothing was billed in this period."),
    "draft_note": ("草稿：尚未定稿，金额可能变化。", "DRAFT: not final, amounts may change."),
    "void_note": ("已作废", "VOID"),
    "pay_by": ("请于 {due} 前支付 {amount}。", "Please pay {amount} by {due}."),
    "paid_note": ("已付款，谢谢。", "Paid. Thank you."),
    "page": ("第 {page}/{pages} 页", "Page {page} of {pages}"),
    "adjusts": ("调整 {period}", "Adjusts {period}"),
    "channel": ("渠道", "channel"),
    "category": ("品类", "category"),
    "through": ("至", "to"),
}

STATUS: dict[StatementStatus, tuple[str, str]] = {
    StatementStatus.draft: ("草稿", "Draft"),
    StatementStatus.finalized: ("已定稿", "Final"),
    StatementStatus.void: ("已作废", "Void"),
}

PAYMENT: dict[PaymentState, tuple[str, str]] = {
    PaymentState.not_sent: ("未开票", "Not yet invoiced"),
    PaymentState.open: ("待付款", "Awaiting payment"),
    PaymentState.paid: ("已付款", "Paid"),
    PaymentState.payment_failed: ("付款失败", "Payment failed"),
    PaymentState.void: ("发票已作废", "Invoice voided"),
    PaymentState.uncollectible: ("无法收回", "Uncollectible"),
}

# Line kinds as the engine writes them (``commission:channel:tmall``, ``warehousing:picks``,
# ``adjustment:<kind>``): looked up whole first, then by their first part.
KINDS: dict[str, tuple[str, str]] = {
    "base_fee": ("基础服务费", "Base service fee"),
    "commission": ("销售提成", "Commission"),
    "fx-converted": ("外币销售折算", "Foreign sales converted"),
    "fx-missing": ("外币销售缺少汇率", "Foreign sales without a rate"),
    "fx-excluded": ("外币销售未计入", "Foreign sales left out"),
    "clawback": ("退款冲减", "Refund clawback"),
    "minimum": ("保底补差", "Minimum guarantee true-up"),
    "cap": ("封顶调整", "Cap adjustment"),
    "target": ("对赌", "Performance target"),
    "target:bonus": ("对赌奖励", "Performance bonus"),
    "target:refund": ("对赌未达标返还", "Performance target refund"),
    "ad_spend": ("广告代付（按成本）", "Ad spend at cost"),
    "ad_markup": ("广告服务费", "Ad spend markup"),
    "warehousing": ("仓储费", "Warehousing"),
    "warehousing:orders_shipped": ("仓储费：发货订单", "Warehousing: orders shipped"),
    "warehousing:picks": ("仓储费：拣货", "Warehousing: picks"),
    "warehousing:returns": ("仓储费：退货处理", "Warehousing: returns"),
    "warehousing:storage": ("仓储费：托盘存储", "Warehousing: pallet storage"),
    "warehousing:receiving": ("仓储费：入库收货", "Warehousing: receiving"),
    "warehousing:minimum": ("仓储保底补差", "Warehousing minimum true-up"),
    "placement": ("招聘服务费", "Placement fee"),
    "one_off": ("一次性费用", "One-off fee"),
    "vat": ("增值税", "VAT"),
    "credit:applied": ("抵扣上期余额", "Credit applied"),
    "credit:carried_forward": ("结转下期余额", "Credit carried forward"),
}

CHANNELS: dict[str, tuple[str, str]] = {
    "taobao": ("淘宝", "Taobao"),
    "tmall": ("天猫", "Tmall"),
    "pinduoduo": ("拼多多", "Pinduoduo"),
    "jd": ("京东", "JD.com"),
    "douyin": ("抖店", "Douyin Shop"),
    "shopify": ("Shopify", "Shopify"),
    "woocommerce": ("WooCommerce", "WooCommerce"),
    "amazon": ("亚马逊", "Amazon"),
}


def _pick(pair: tuple[str, str], language: Language) -> str:
    return pair[0] if language == "zh" else pair[1]


def label(key: str, language: Language) -> str:
    return _pick(LABELS[key], language)


def _colon(language: Language) -> str:
    # Chinese text takes the full-width colon, with no space after it.
    return "：" if language == "zh" else ": "


def language_of(value: str | None) -> Language | None:
    """``value`` ("zh", "zh-CN", "zh_Hans", "en-GB", ...) as a language of the PDF, or None."""
    if not value:
        return None
    primary = value.strip().replace("_", "-").split("-", 1)[0].lower()
    return primary if primary in LANGUAGES else None


def negotiate(requested: str | None, accept_language: str | None) -> Language:
    """The language asked for by name, else the best of an ``Accept-Language`` header."""
    if found := language_of(requested):
        return found
    ranked: list[tuple[float, int, str]] = []
    for position, part in enumerate((accept_language or "").split(",")):
        tag, _, params = part.partition(";")
        quality = 1.0
        params = params.strip()
        if params.startswith("q="):
            try:
                quality = float(params[2:])
            except ValueError:
                quality = 0.0
        ranked.append((-quality, position, tag))
    for negative_quality, _, tag in sorted(ranked):
        if negative_quality < 0 and (found := language_of(tag)):
            return found
    return DEFAULT_LANGUAGE


class Merchant(Protocol):
    """What the PDF reads of the tenant billed (a ``Tenant`` row has it all)."""

    @property
    def slug(self) -> str: ...

    @property
    def display_name(self) -> str: ...

    @property
    def legal_name(self) -> str: ...

    @property
    def time_zone(self) -> str: ...


@dataclass(frozen=True)
class Party:
    """Who issues or receives the statement, as its header prints them."""

    name: str
    other_name: str | None = None  # the brand (display name) when it differs from the legal one
    address: str | None = None
    tax_id: str | None = None


def agency(settings: Settings, language: Language) -> Party:
    if language == "zh":
        return Party(
            settings.agency_name_zh or settings.agency_name,
            address=settings.agency_address_zh or settings.agency_address or None,
            tax_id=settings.agency_tax_id or None,
        )
    return Party(
        settings.agency_name,
        address=settings.agency_address or None,
        tax_id=settings.agency_tax_id or None,
    )


def merchant(tenant: Merchant) -> Party:
    # The tenant record holds no postal address or tax id yet: the bill-to prints its names.
    other = tenant.display_name if tenant.display_name != tenant.legal_name else None
    return Party(tenant.legal_name, other_name=other)


def statement_number(statement_id: uuid.UUID, period: str, tenant_slug: str) -> str:
    """``ST-202610-ACME-3F9A1C``: the period, the tenant and the last six hex digits of the id.

    Derived, never stored, so a statement prints the same number every time (a draft rebuilt in
    place keeps it). The id's last digits are its random bits, so a month billed again after a
    void gets a number of its own."""
    return f"ST-{period.replace('-', '')}-{tenant_slug.upper()}-{statement_id.hex[-6:].upper()}"


def issue_date(statement: Statement, time_zone: str) -> date:
    """The day the statement was finalized (a draft: generated), in the tenant's time zone."""
    moment: datetime = statement.finalized_at or statement.generated_at
    if moment.tzinfo is None:  # SQLite hands back naive UTC
        moment = moment.replace(tzinfo=ZoneInfo("UTC"))
    return moment.astimezone(ZoneInfo(time_zone)).date()


def due_date(issued: date, settings: Settings) -> date:
    return issued + timedelta(days=settings.billing_payment_days)


def kind_label(kind: str, language: Language) -> str:
    """A line kind in words: ``commission:channel:tmall`` -> 销售提成（渠道 天猫）."""
    if kind in KINDS:
        return _pick(KINDS[kind], language)
    head, _, rest = kind.partition(":")
    if head == "adjustment" and rest:
        return kind_label(rest, language)
    if head == "commission" and rest:
        scope, _, name = rest.partition(":")
        scope_words = label(scope, language) if scope in ("channel", "category") else scope
        named = _pick(CHANNELS[name], language) if name in CHANNELS else name
        if language == "zh":
            return f"{_pick(KINDS['commission'], language)}（{scope_words} {named}）"
        return f"{_pick(KINDS['commission'], language)} ({scope_words} {named})"
    if head in KINDS:
        return _pick(KINDS[head], language)
    return kind


class _Formats:
    """Money, rates and dates as the reader's locale writes them (Babel)."""

    def __init__(self, language: Language, currency: str) -> None:
        self.language = language
        self.locale = "zh_CN" if language == "zh" else "en"
        self.currency = currency

    def amount(self, minor: int) -> str:
        """A table amount: digits only, to the currency's precision (the column names it)."""
        value = to_major(minor, self.currency)
        return format_currency(
            value, self.currency, format="#,##0.00", currency_digits=True, locale=self.locale
        )

    def money(self, minor: int) -> str:
        return format_currency(to_major(minor, self.currency), self.currency, locale=self.locale)

    def rate(self, text: str | None) -> str:
        """A stored fraction (``0.06``) as a percentage (``6%``; ``5.5%``)."""
        if not text:
            return ""
        return format_percent(Decimal(text), format="#,##0.####%", locale=self.locale)

    def quantity(self, text: str) -> str:
        value = Decimal(text)
        return f"{value.normalize():f}" if value == value.to_integral_value() else f"{value:f}"

    def date(self, day: date) -> str:
        return format_date(day, "long", locale=self.locale)

    def period(self, text: str) -> str:
        parsed = Period.parse(text)
        month = format_date(
            parsed.first_day, "y年M月" if self.language == "zh" else "MMMM y", locale=self.locale
        )
        through = label("through", self.language)
        return f"{month} ({parsed.first_day.isoformat()} {through} {parsed.last_day.isoformat()})"


class _Document(FPDF):
    """A4 with the statement number and page count in every page's footer."""

    def __init__(self, number: str, language: Language) -> None:
        super().__init__(format="A4")
        self.number = number
        self.language = language
        # One face for every style: the font has no bold, and table headings ask for bold.
        self.add_font(FONT, "", str(FONT_FILE))
        self.add_font(FONT, "B", str(FONT_FILE))
        self.set_margins(15, 15, 15)
        self.set_auto_page_break(auto=True, margin=18)

    def footer(self) -> None:
        self.set_y(-12)
        self.set_font(FONT, "", 8)
        self.set_text_color(*MUTED)
        page = label("page", self.language).format(page=self.page_no(), pages="{nb}")
        self.cell(0, 5, f"{self.number}    {page}", align="C")


def english(line: StatementLine) -> str:
    """A line's stored description: the engine's English."""
    return line.description


def to_pdf(
    statement: Statement,
    tenant: Merchant,
    language: str | None = None,
    settings: Settings | None = None,
    describe: Callable[[StatementLine], str] = english,
) -> bytes:
    """The statement as a PDF in ``language`` ("zh", "en", or a locale such as "zh_CN").

    ``describe`` says each line's description: a reader with a catalog for ``language`` (the
    portal's, which says a line's kept message in it) passes its own; without one, the stored
    English description is printed under the line's kind, which is named in ``language``."""
    lang = language_of(language) or DEFAULT_LANGUAGE
    settings = settings or get_settings()
    number = statement_number(statement.id, statement.period, tenant.slug)
    fmt = _Formats(lang, statement.currency)
    pdf = _Document(number, lang)
    pdf.set_title(f"{label('title', lang)} {number}")
    pdf.set_author(agency(settings, lang).name)
    pdf.add_page()
    _letterhead(pdf, agency(settings, lang), lang)
    issued = issue_date(statement, tenant.time_zone)
    due = due_date(issued, settings)
    _parties(pdf, statement, merchant(tenant), number, issued, due, fmt)
    _notice(pdf, statement, lang)
    _lines(pdf, statement.lines, fmt, describe)
    _totals(pdf, statement, fmt)
    _payment(pdf, statement, due, fmt)
    return bytes(pdf.output())


def _letterhead(pdf: FPDF, issuer: Party, lang: Language) -> None:
    top = pdf.get_y()
    pdf.set_text_color(*ACCENT)
    pdf.set_font(FONT, "", 20)
    pdf.cell(0, 10, label("title", lang), align="R")
    pdf.set_xy(pdf.l_margin, top)
    pdf.set_font(FONT, "", 14)
    pdf.multi_cell(110, 7, issuer.name, new_x="LMARGIN", new_y="NEXT")
    pdf.set_font(FONT, "", 9)
    pdf.set_text_color(*MUTED)
    if issuer.address:
        pdf.multi_cell(110, 5, issuer.address, new_x="LMARGIN", new_y="NEXT")
    if issuer.tax_id:
        pdf.cell(
            110,
            5,
            label("tax_id", lang) + _colon(lang) + issuer.tax_id,
            new_x="LMARGIN",
            new_y="NEXT",
        )
    pdf.ln(2)
    pdf.set_draw_color(*ACCENT)
    pdf.set_line_width(0.6)
    pdf.line(pdf.l_margin, pdf.get_y(), pdf.w - pdf.r_margin, pdf.get_y())
    pdf.ln(4)


def _parties(
    pdf: FPDF,
    statement: Statement,
    billed: Party,
    number: str,
    issued: date,
    due: date,
    fmt: _Formats,
) -> None:
    """Bill-to on the left; number, period, dates and states on the right."""
    lang = fmt.language
    top = pdf.get_y()
    pdf.set_text_color(*MUTED)
    pdf.set_font(FONT, "", 9)
    pdf.cell(85, 5, label("bill_to", lang), new_x="LMARGIN", new_y="NEXT")
    pdf.set_text_color(*INK)
    pdf.set_font(FONT, "", 11)
    pdf.multi_cell(85, 6, billed.name, new_x="LMARGIN", new_y="NEXT")
    pdf.set_font(FONT, "", 9)
    for extra in (
        billed.other_name,
        billed.address,
        label("tax_id", lang) + _colon(lang) + billed.tax_id if billed.tax_id else None,
    ):
        if extra:
            pdf.multi_cell(85, 5, extra, new_x="LMARGIN", new_y="NEXT")
    left_bottom = pdf.get_y()
    facts = [
        ("number", number),
        ("period", fmt.period(statement.period)),
        ("issued", fmt.date(issued)),
        ("due", fmt.date(due)),
        ("currency", statement.currency),
        ("status", _pick(STATUS[statement.status], lang)),
        ("payment", _pick(PAYMENT[statement.payment_state], lang)),
    ]
    if statement.stripe_invoice_number:
        facts.append(("invoice", statement.stripe_invoice_number))
    pdf.set_y(top)
    for key, value in facts:
        pdf.set_x(105)
        pdf.set_text_color(*MUTED)
        pdf.cell(28, 5.5, label(key, lang))
        pdf.set_text_color(*INK)
        pdf.multi_cell(0, 5.5, value, new_x="LMARGIN", new_y="NEXT")
    pdf.set_y(max(left_bottom, pdf.get_y()) + 4)


def _notice(pdf: FPDF, statement: Statement, lang: Language) -> None:
    """A draft or a void statement says so before anyone pays from it."""
    if statement.status == StatementStatus.draft:
        text = label("draft_note", lang)
    elif statement.status == StatementStatus.void:
        reason = statement.void_reason or ""
        text = label("void_note", lang) + (_colon(lang) + reason if reason else "")
    else:
        return
    pdf.set_fill_color(253, 236, 200)
    pdf.set_text_color(133, 77, 14)
    pdf.set_font(FONT, "", 10)
    pdf.multi_cell(0, 7, text, fill=True, padding=(1, 2), new_x="LMARGIN", new_y="NEXT")
    pdf.ln(3)


def _lines(
    pdf: FPDF,
    lines: Sequence[StatementLine],
    fmt: _Formats,
    describe: Callable[[StatementLine], str],
) -> None:
    lang = fmt.language
    pdf.set_text_color(*INK)
    pdf.set_font(FONT, "", 8.5)
    if not lines:
        pdf.cell(0, 8, label("no_lines", lang), new_x="LMARGIN", new_y="NEXT")
        return
    headings = (
        "#",
        label("item", lang),
        label("basis", lang),
        label("quantity", lang),
        label("rate", lang),
        f"{label('amount', lang)} ({fmt.currency})",
    )
    heading_style = FontFace(emphasis="NONE", color=ACCENT, fill_color=SHADE)
    with pdf.table(
        col_widths=(7, 85, 27, 14, 16, 31),
        text_align=("RIGHT", "LEFT", "RIGHT", "RIGHT", "RIGHT", "RIGHT"),
        headings_style=heading_style,
        borders_layout="HORIZONTAL_LINES",
        line_height=4.6,
        padding=(1.2, 1),
        v_align="TOP",
    ) as table:
        table.row(headings)
        for line in lines:
            item = kind_label(line.kind, lang)
            if line.adjusts_period:
                item += f" · {label('adjusts', lang).format(period=line.adjusts_period)}"
            # The engine's description says how the amount was reached; staff text such as a
            # one-off's description is printed as text, whatever it starts with.
            item += f"\n{describe(line)}"
            counted = line.quantity != "1" or line.kind.startswith(("commission", "warehousing"))
            table.row(
                (
                    str(line.position),
                    item,
                    fmt.amount(line.basis_minor) if line.basis_minor else "",
                    fmt.quantity(line.quantity) if counted else "",
                    fmt.rate(line.rate),
                    fmt.amount(line.amount_minor),
                )
            )
    pdf.ln(3)


def _totals(pdf: FPDF, statement: Statement, fmt: _Formats) -> None:
    lang = fmt.language
    vat_lines = [line for line in statement.lines if line.kind == "vat"]
    vat = sum(line.amount_minor for line in vat_lines)
    vat_label = label("vat", lang)
    if len(vat_lines) == 1 and vat_lines[0].rate:
        vat_label += f" {fmt.rate(vat_lines[0].rate)}"
    rows = [
        (label("subtotal", lang), fmt.money(statement.total_minor - vat), False),
        (vat_label, fmt.money(vat), False),
        (label("total", lang), fmt.money(statement.total_minor), True),
    ]
    if statement.credit_carried_forward_minor:
        rows.append(
            (label("credit", lang), fmt.money(statement.credit_carried_forward_minor), False)
        )
    for name, value, strong in rows:
        pdf.set_x(105)
        pdf.set_font(FONT, "", 11 if strong else 9.5)
        pdf.set_text_color(*(ACCENT if strong else INK))
        if strong:
            pdf.set_draw_color(*ACCENT)
            pdf.set_line_width(0.4)
            pdf.line(105, pdf.get_y(), pdf.w - pdf.r_margin, pdf.get_y())
        pdf.cell(50, 7 if strong else 6, name)
        pdf.cell(0, 7 if strong else 6, value, align="R", new_x="LMARGIN", new_y="NEXT")
    pdf.ln(4)


def _payment(pdf: FPDF, statement: Statement, due: date, fmt: _Formats) -> None:
    lang = fmt.language
    if statement.status == StatementStatus.void:
        return
    if statement.payment_state == PaymentState.paid:
        text = label("paid_note", lang)
    elif statement.total_minor > 0:
        text = label("pay_by", lang).format(
            due=fmt.date(due), amount=fmt.money(statement.total_minor)
        )
    else:
        return
    pdf.set_font(FONT, "", 10)
    pdf.set_text_color(*INK)
    pdf.multi_cell(0, 6, text, new_x="LMARGIN", new_y="NEXT")
