"""The statement PDF says each line in the reader's language when the reader passes how (the
portal's catalog, through ``Formatter.statement_line``), read back as text (pypdf): Chinese
lines with the right figures for a Chinese reader, the engine's English for an English one, and
the stored English for a line kept without its message."""

from __future__ import annotations

import re
import uuid
from datetime import UTC, datetime

from daiyun.billing import pdf
from daiyun.billing.models import PaymentState, Statement, StatementLine, StatementStatus
from daiyun.portal.i18n import Formatter
from tests.billing.test_statement_pdf import TENANT, text_of
from tests.portal.test_statement_line_language import _october

ZH = Formatter("zh_CN", "Asia/Shanghai")
EN = Formatter("en", "Asia/Shanghai")


def _flat(text: str) -> str:
    """Text without the breaks and spaces a table cell wraps it with."""
    return re.sub(r"\s+", "", text)


def _stored(*, with_messages: bool) -> Statement:
    computed = _october()
    statement = Statement(
        id=uuid.UUID("0193f3c4-0000-7000-8000-00000000abce"),
        period="2026-10",
        contract_id=uuid.uuid4(),
        contract_version=1,
        status=StatementStatus.finalized,
        currency="CNY",
        total_minor=computed.total_minor,
        credit_carried_forward_minor=0,
        generated_at=datetime(2026, 11, 1, 1, 0, tzinfo=UTC),
        finalized_at=datetime(2026, 11, 2, 1, 0, tzinfo=UTC),
        payment_state=PaymentState.open,
    )
    statement.lines = []
    for position, line in enumerate(computed.lines):
        row = StatementLine(
            position=position,
            kind=line.kind,
            description=line.description,
            basis_minor=line.basis_minor,
            quantity=str(line.quantity),
            rate=None if line.rate is None else str(line.rate),
            amount_minor=line.amount_minor,
            sources=list(line.sources),
        )
        if with_messages:
            # The message as a row keeps it beside its description (JSON, as the engine made it).
            row.message = line.message  # type: ignore[attr-defined]
        statement.lines.append(row)
    return statement


def test_a_chinese_pdf_says_each_line_in_chinese_with_its_figures() -> None:
    statement = _stored(with_messages=True)
    text = _flat(text_of(pdf.to_pdf(statement, TENANT, "zh_CN", describe=ZH.statement_line)))
    for line in statement.lines:
        assert _flat(ZH.statement_line(line)) in text, line.kind
        assert _flat(line.description) not in text, line.kind
    assert _flat("佣金（销售提成），渠道 抖店：计费基数 ¥500.00 × 4%") in text
    assert _flat("基础服务费 ¥3,000.00，2026年10月（按 17/31 天折算") in text


def test_an_english_pdf_prints_the_descriptions_unchanged() -> None:
    statement = _stored(with_messages=True)
    plain = _flat(text_of(pdf.to_pdf(statement, TENANT, "en")))
    read = _flat(text_of(pdf.to_pdf(statement, TENANT, "en", describe=EN.statement_line)))
    for line in statement.lines:
        assert _flat(line.description) in plain and _flat(line.description) in read


def test_a_line_kept_without_its_message_prints_its_english_in_a_chinese_pdf() -> None:
    statement = _stored(with_messages=False)
    text = _flat(text_of(pdf.to_pdf(statement, TENANT, "zh_CN", describe=ZH.statement_line)))
    assert "基础服务费" in text  # the kind, named by the PDF's own table
    for line in statement.lines:
        assert _flat(line.description) in text, line.kind
