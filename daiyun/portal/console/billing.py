"""Draft statements (结算单): which wait for review, and what regenerating one now would change."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy.orm import Session

from daiyun.billing import service as billing_service
from daiyun.billing.facts import Period
from daiyun.billing.schemas import StatementStatus
from daiyun.core.errors import Problem
from daiyun.portal.console.access import Access, tenant_unit, with_permission
from daiyun.portal.identity import TenantView
from daiyun.tenants.auth.permissions import Permission

P = Permission


@dataclass(frozen=True)
class DraftRow:
    tenant: TenantView
    id: uuid.UUID
    period: str
    total_minor: int
    currency: str
    generated_at: datetime | None
    can_manage: bool


def draft_statements(accesses: list[Access], user_id: uuid.UUID) -> list[DraftRow]:
    """Draft statements of the tenants where the user may read billing, oldest period first."""
    rows: list[DraftRow] = []
    for access in with_permission(accesses, P.billing_read):
        with tenant_unit(access.tenant.id, user_id) as session:
            for statement in billing_service.drafts(session):
                rows.append(
                    DraftRow(
                        access.tenant,
                        statement.id,
                        statement.period,
                        statement.total_minor,
                        statement.currency,
                        statement.generated_at,
                        access.can(P.billing_manage),
                    )
                )
            session.rollback()
    rows.sort(key=lambda r: (r.period, r.tenant.display_name.casefold()))
    return rows


@dataclass(frozen=True)
class LineView:
    kind: str
    description: str
    basis_minor: int
    quantity: str
    rate: str | None
    amount_minor: int
    adjusts_period: str | None
    # The line's message (billing.engine.wording), so the page says it in the reader's language.
    message: Any = None

    @property
    def key(self) -> tuple[str, str | None]:
        # Not the description: it quotes the line's basis, which is what may have changed.
        return (self.kind, self.adjusts_period)

    @classmethod
    def of(cls, line: Any) -> LineView:
        rate = line.rate
        return cls(
            kind=line.kind,
            description=line.description,
            basis_minor=int(line.basis_minor),
            quantity=_plain(line.quantity),
            rate=None if rate is None or rate == "" else _plain(rate),
            amount_minor=int(line.amount_minor),
            adjusts_period=line.adjusts_period,
            message=getattr(line, "message", None),
        )


def _plain(value: Any) -> str:
    """A quantity or rate as comparable text (``2`` and ``2.00`` are the same)."""
    try:
        number = Decimal(str(value)).normalize()
    except ArithmeticError:
        return str(value)
    return f"{number:f}"


@dataclass(frozen=True)
class LineChange:
    """One line of the comparison: added, removed, changed or same."""

    change: str
    before: LineView | None
    after: LineView | None

    @property
    def delta_minor(self) -> int:
        return (self.after.amount_minor if self.after else 0) - (
            self.before.amount_minor if self.before else 0
        )


def compare_lines(stored: list[Any], preview: list[Any]) -> list[LineChange]:
    """The stored draft's lines against a fresh preview's, matched by kind and adjusted period
    (in order, when one key appears several times); in the preview's order, removed lines
    last."""
    before = [LineView.of(line) for line in stored]
    after = [LineView.of(line) for line in preview]
    waiting: dict[tuple[str, str | None], list[LineView]] = {}
    for line in before:
        waiting.setdefault(line.key, []).append(line)
    changes: list[LineChange] = []
    for line in after:
        matches = waiting.get(line.key)
        if not matches:
            changes.append(LineChange("added", None, line))
            continue
        old = matches.pop(0)
        changes.append(LineChange("same" if old == line else "changed", old, line))
    for rest in waiting.values():
        changes.extend(LineChange("removed", line, None) for line in rest)
    return changes


@dataclass(frozen=True)
class DraftReview:
    statement: Any
    preview_total_minor: int | None
    changes: list[LineChange]
    problem: str | None

    @property
    def changed(self) -> bool:
        return any(c.change != "same" for c in self.changes) or (
            self.preview_total_minor is not None
            and self.preview_total_minor != self.statement.total_minor
        )


def review_draft(session: Session, statement_id: uuid.UUID) -> DraftReview:
    """A statement with what regenerating it now would change, line by line (nothing saved)."""
    statement = billing_service.get_statement(session, statement_id)
    if statement.status != StatementStatus.draft:
        kept = [LineChange("same", LineView.of(x), LineView.of(x)) for x in statement.lines]
        return DraftReview(statement, None, kept, None)
    try:
        computed = billing_service.compute(session, Period.parse(statement.period))
    except Problem as refused:
        if refused.status >= 500:
            raise
        changes = [LineChange("same", LineView.of(x), LineView.of(x)) for x in statement.lines]
        return DraftReview(statement, None, changes, refused.detail)
    changes = compare_lines(list(statement.lines), list(computed.lines))
    return DraftReview(statement, computed.total_minor, changes, None)


def regenerate(session: Session, statement_id: uuid.UUID) -> None:
    """Rebuild a draft in place from the facts as they are now (409 once finalized)."""
    statement = billing_service.get_statement(session, statement_id)
    if statement.status != StatementStatus.draft:
        raise Problem(409, "not-a-draft", f"The statement is {statement.status.value}")
    billing_service.generate(session, Period.parse(statement.period))


def finalize(session: Session, statement_id: uuid.UUID) -> None:
    """Finalize a draft through the billing service (which regenerates, freezes and audits)."""
    billing_service.finalize(session, statement_id)
