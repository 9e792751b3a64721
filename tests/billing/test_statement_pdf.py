"""The statement PDF a merchant hands to accounting, read back as text (pypdf): in Chinese or
English, with the agency's letterhead, the merchant billed, the statement number, issue and due
dates, rates as percentages, VAT and totals, and every state in words; from the API and from
the portal, in the reader's language."""

from __future__ import annotations

import io
import re
import uuid
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from pypdf import PdfReader

from daiyun.billing import pdf
from daiyun.billing.models import PaymentState, Statement, StatementLine, StatementStatus
from daiyun.core.config import Settings, get_settings
from daiyun.core.db import unit_of_work
from daiyun.core.events import service as events
from daiyun.platform.orders import service as order_service
from daiyun.tenants import service as tenant_service
from daiyun.tenants.auth.permissions import Role
from daiyun.tenants.models import Tenant
from daiyun.tenants.schemas import TenantCreate
from tests import factories
from tests.conftest import Actor, World
from tests.portal.conftest import sign_in_portal

API = "/api/v1/tenants"
LEGAL_NAME = "杭州茶语商贸有限公司"
BRAND = "茶语旗舰店"
PAID_IN_OCTOBER = datetime(2026, 10, 15, 4, 0, tzinfo=UTC)
# A staff-written description that a spreadsheet would run as a formula: a PDF prints it.
FORMULA = "=cmd|' /C calc'!A0 店铺装修"
CONTRACT = {
    "name": "代运营服务合同 2026",
    "effective_from": "2026-10-01",
    "terms": {
        "currency": "CNY",
        "time_zone": "Asia/Shanghai",
        "base_fee_minor": 300_000,
        "commission": {"mode": "flat", "rate": "0.05"},
        "vat_rate": "0.06",
    },
}


def text_of(document: bytes) -> str:
    assert document.startswith(b"%PDF")
    return "\n".join(page.extract_text() for page in PdfReader(io.BytesIO(document)).pages)


def zh_date(day: date) -> str:
    return f"{day.year}年{day.month}月{day.day}日"


def en_date(day: date) -> str:
    return f"{day:%B} {day.day}, {day.year}"


def _deliver_all(tenant_id: uuid.UUID) -> None:
    # What the worker does with the order events (billing records late-order candidates).
    with unit_of_work(tenant_id) as session:
        ids = [event.id for event in events.pending(session, 10_000)]
    for event_id in ids:
        with unit_of_work(tenant_id) as session:
            events.handle(session, event_id)


@pytest.fixture
def merchant(world: World) -> tuple[Tenant, Actor]:
    """A merchant known by its Chinese names, a finance user, and one order paid in October."""
    with unit_of_work() as session:
        tenant = tenant_service.create_tenant(
            session,
            TenantCreate(
                slug=f"chayu-{uuid.uuid4().hex[:6]}", display_name=BRAND, legal_name=LEGAL_NAME
            ),
        )
    actor = world.actor(Role.finance, tenant)
    shop = factories.shop(tenant.id)
    order = factories.order("A1", updated=PAID_IN_OCTOBER, total_minor=100_000, sku="A1")
    order.paid_at = PAID_IN_OCTOBER
    order.placed_at = PAID_IN_OCTOBER
    with unit_of_work(tenant.id) as session:
        order_service.ingest(session, shop.id, "shopify", [order])
    _deliver_all(tenant.id)
    return tenant, actor


def _statement(
    client: TestClient, tenant: Tenant, actor: Actor, *, finalize: bool
) -> dict[str, Any]:
    """October billed: base fee 3,000, commission 5% of 1,000, a one-off 200, VAT 6%."""
    base = f"{API}/{tenant.slug}"
    assert client.post(f"{base}/contracts", json=CONTRACT, headers=actor.headers).status_code == 201
    fact = {
        "kind": "one_off",
        "occurred_on": "2026-10-20",
        "amount_minor": 20_000,
        "currency": "CNY",
        "description": FORMULA,
    }
    recorded = client.post(
        f"{base}/service-facts", json=fact, headers={**actor.headers, "Idempotency-Key": "setup-1"}
    )
    assert recorded.status_code == 201, recorded.text
    made = client.post(f"{base}/statements", params={"period": "2026-10"}, headers=actor.headers)
    assert made.status_code == 201, made.text
    statement = dict(made.json())
    if finalize:
        done = client.post(f"{base}/statements/{statement['id']}/finalize", headers=actor.headers)
        assert done.status_code == 200, done.text
        statement = dict(done.json())
    # 3,000 + 50 + 200 = 3,250; VAT 6% = 195; total 3,445.
    assert statement["total_minor"] == 344_500
    return statement


def _issued(statement: dict[str, Any]) -> date:
    moment = datetime.fromisoformat(statement["finalized_at"] or statement["generated_at"])
    if moment.tzinfo is None:  # SQLite hands timestamps back without their (UTC) offset
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(ZoneInfo("Asia/Shanghai")).date()


def test_the_api_pdf_in_chinese_is_a_document_for_accounting(
    merchant: tuple[Tenant, Actor], client: TestClient
) -> None:
    tenant, actor = merchant
    statement = _statement(client, tenant, actor, finalize=True)
    answer = client.get(
        f"{API}/{tenant.slug}/statements/{statement['id']}/pdf",
        params={"lang": "zh"},
        headers=actor.headers,
    )
    assert answer.status_code == 200, answer.text
    assert answer.headers["content-type"] == "application/pdf"
    assert answer.headers["content-language"] == "zh"
    text = text_of(answer.content)
    settings = get_settings()
    number = pdf.statement_number(uuid.UUID(statement["id"]), "2026-10", tenant.slug)
    due = _issued(statement) + timedelta(days=settings.billing_payment_days)
    for expected in (
        "结算单",
        settings.agency_name_zh,
        settings.agency_tax_id,
        "客户",
        LEGAL_NAME,
        BRAND,
        f"结算单号 {number}",
        "2026年10月",
        f"出具日期 {zh_date(_issued(statement))}",
        f"付款截止日 {zh_date(due)}",
        "基础服务费",
        "销售提成",
        "增值税 6%",
        "已定稿",  # the status in words
        "未开票",  # the payment state in words
        "应付合计 ¥3,445.00",
        "小计（不含税） ¥3,250.00",
        FORMULA,
    ):
        assert expected in text, f"{expected!r} missing from:\n{text}"
    assert re.search(r"(?<![\d.])5%", text), text  # the commission rate as a percentage
    for raw in ("0.05", "0.06", "not_sent", "finalized", "base_fee", "?"):
        assert raw not in text, f"raw {raw!r} printed in:\n{text}"


def test_the_api_pdf_in_english_and_by_accept_language(
    merchant: tuple[Tenant, Actor], client: TestClient
) -> None:
    tenant, actor = merchant
    statement = _statement(client, tenant, actor, finalize=False)
    url = f"{API}/{tenant.slug}/statements/{statement['id']}/pdf"
    english = client.get(url, headers=actor.headers)  # no preference: English
    assert english.status_code == 200, english.text
    assert english.headers["content-language"] == "en"
    text = text_of(english.content)
    settings = get_settings()
    number = pdf.statement_number(uuid.UUID(statement["id"]), "2026-10", tenant.slug)
    due = _issued(statement) + timedelta(days=settings.billing_payment_days)
    for expected in (
        "STATEMENT",
        settings.agency_name,
        "Bill to",
        LEGAL_NAME,
        f"Statement no. {number}",
        "October 2026",
        f"Due date {en_date(due)}",
        "Draft",
        "DRAFT: not final",
        "Not yet invoiced",
        "VAT 6%",
        "Total due CN¥3,445.00",
        FORMULA,
    ):
        assert expected in text, f"{expected!r} missing from:\n{text}"
    for raw in ("0.06", "not_sent", "?"):
        assert raw not in text
    chinese = client.get(url, headers={**actor.headers, "Accept-Language": "en;q=0.5, zh-CN"})
    assert chinese.headers["content-language"] == "zh"
    assert "付款截止日" in text_of(chinese.content)
    # The query names the language over the header; an unknown one is refused, not guessed.
    named = client.get(
        url, params={"lang": "en"}, headers={**actor.headers, "Accept-Language": "zh"}
    )
    assert "Due date" in text_of(named.content)
    assert client.get(url, params={"lang": "fr"}, headers=actor.headers).status_code == 422


@pytest.fixture
def browser(app: FastAPI, client: TestClient) -> Iterator[Any]:
    """Portal clients of their own, signed in as a user (requests join the test transaction)."""
    opened: list[TestClient] = []

    def build(user: Any) -> TestClient:
        portal = TestClient(app, raise_server_exceptions=False)
        sign_in_portal(portal, user)
        opened.append(portal)
        return portal

    yield build
    for portal in opened:
        portal.close()


def test_the_portal_pdf_is_in_the_readers_language(
    world: World, merchant: tuple[Tenant, Actor], client: TestClient, browser: Any
) -> None:
    tenant, actor = merchant
    statement = _statement(client, tenant, actor, finalize=True)
    owner = world.user(Role.merchant_owner, tenant)
    with unit_of_work() as session:
        tenant_service.set_locale(session, owner.id, "zh_CN")
    path = f"/portal/t/{tenant.slug}/statements/{statement['id']}.pdf"
    in_chinese = browser(owner).get(path)
    assert in_chinese.status_code == 200, in_chinese.text
    text = text_of(in_chinese.content)
    assert "付款截止日" in text and LEGAL_NAME in text and "未开票" in text
    assert "Due date" not in text
    viewer = world.user(Role.merchant_viewer, tenant)
    in_english = browser(viewer).get(path)
    assert in_english.status_code == 200, in_english.text
    text = text_of(in_english.content)
    assert "Due date" in text and LEGAL_NAME in text and "付款截止日" not in text


# --- the document itself, without a database -------------------------------------------------


def _unsaved(status: StatementStatus, payment: PaymentState, lines: int = 2) -> Statement:
    statement = Statement(
        id=uuid.UUID("0193f3c4-0000-7000-8000-00000000abcd"),
        period="2026-10",
        contract_id=uuid.uuid4(),
        contract_version=1,
        status=status,
        currency="CNY",
        total_minor=0,
        credit_carried_forward_minor=0,
        generated_at=datetime(2026, 11, 1, 1, 0, tzinfo=UTC),
        # 17:00 UTC is already the next day in Shanghai: the issue date is the merchant's.
        finalized_at=datetime(2026, 11, 4, 17, 0, tzinfo=UTC),
        void_reason="wrong rate" if status == StatementStatus.void else None,
        payment_state=payment,
    )
    statement.lines = [
        StatementLine(
            position=n,
            kind="commission:channel:tmall",
            description=f"line {n}",
            basis_minor=100_000,
            quantity="3",
            rate="0.055",
            amount_minor=5_500,
            sources=[],
        )
        for n in range(1, lines + 1)
    ]
    statement.total_minor = 5_500 * lines
    return statement


TENANT = Tenant(slug="acme", display_name=BRAND, legal_name=LEGAL_NAME, time_zone="Asia/Shanghai")


@pytest.mark.parametrize(
    ("payment", "zh", "en"),
    [
        (PaymentState.open, "待付款", "Awaiting payment"),
        (PaymentState.paid, "已付款", "Paid"),
        (PaymentState.payment_failed, "付款失败", "Payment failed"),
        (PaymentState.uncollectible, "无法收回", "Uncollectible"),
    ],
)
def test_payment_state_in_words(payment: PaymentState, zh: str, en: str) -> None:
    statement = _unsaved(StatementStatus.finalized, payment)
    assert f"付款状态 {zh}" in text_of(pdf.to_pdf(statement, TENANT, "zh_CN"))
    assert f"Payment {en}" in text_of(pdf.to_pdf(statement, TENANT, "en"))


def test_dates_rates_and_channel_in_the_merchants_terms() -> None:
    statement = _unsaved(StatementStatus.finalized, PaymentState.open)
    settings = Settings(billing_payment_days=30, agency_name_zh="", agency_name="Acme Agency")
    text = text_of(pdf.to_pdf(statement, TENANT, "zh", settings))
    assert "出具日期 2026年11月5日" in text  # finalized 2026-11-04 17:00 UTC = 11-05 Shanghai
    assert "付款截止日 2026年12月5日" in text
    assert "请于 2026年12月5日 前支付 ¥110.00" in text
    assert "5.5%" in text and "销售提成（渠道 天猫）" in text
    assert "Acme Agency" in text  # no Chinese name set: the one name serves both
    assert "ST-202610-ACME-00ABCD" in text


def test_a_void_statement_says_so_and_asks_for_no_payment() -> None:
    statement = _unsaved(StatementStatus.void, PaymentState.void)
    text = text_of(pdf.to_pdf(statement, TENANT, "zh"))
    assert "已作废：wrong rate" in text and "发票已作废" in text and "请于" not in text
    text = text_of(pdf.to_pdf(statement, TENANT, "en"))
    assert "VOID: wrong rate" in text and "Please pay" not in text


def test_a_long_statement_numbers_every_page() -> None:
    statement = _unsaved(StatementStatus.finalized, PaymentState.open, lines=80)
    reader = PdfReader(io.BytesIO(pdf.to_pdf(statement, TENANT, "en")))
    pages = len(reader.pages)
    assert pages >= 2
    for number, page in enumerate(reader.pages, start=1):
        assert f"ST-202610-ACME-00ABCD    Page {number} of {pages}" in page.extract_text()
    # The table's headings repeat on each page.
    assert "Amount (CNY)" in reader.pages[1].extract_text()


@pytest.mark.parametrize(
    ("requested", "header", "language"),
    [
        ("zh", "en", "zh"),
        (None, "zh-CN,zh;q=0.9,en;q=0.8", "zh"),
        (None, "fr, en-GB;q=0.7, zh;q=0.5", "en"),
        (None, "zh-Hant;q=0, en;q=0.1", "en"),
        (None, None, "en"),
        ("zh_CN", None, "zh"),
    ],
)
def test_language_negotiation(requested: str | None, header: str | None, language: str) -> None:
    assert pdf.negotiate(requested, header) == language


def test_the_font_and_its_licence_ship_with_the_package() -> None:
    assert pdf.FONT_FILE.stat().st_size > 1_000_000
    assert (pdf.FONT_DIR / "LICENSE-Apache-2.0.txt").exists()
