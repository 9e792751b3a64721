"""Billing rules around the engine: contracts and their versions, service facts, statements.

The engine (``daiyun.billing.engine``) computes; this module gathers the facts of a period from
the order book and the service facts, keeps drafts replaceable and finalized statements immutable,
records what each finalized statement counted (so no fact is billed twice), and turns facts that
arrive after a period closed into adjustment lines of the next open period.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from daiyun.billing import engine, repository
from daiyun.billing.facts import (
    BilledOrder,
    Line,
    OrderFact,
    Period,
    RefundFact,
    ServiceFact,
    ServiceKind,
)
from daiyun.billing.models import (
    BilledFact,
    Contract,
    ContractVersion,
    ServiceFactRecord,
    Statement,
    StatementLine,
    StatementStatus,
)
from daiyun.billing.schemas import ContractCreate, ServiceFactCreate, VersionCreate
from daiyun.billing.terms import ContractTerms
from daiyun.platform.audit import service as audit
from daiyun.platform.db import new_id, utcnow
from daiyun.platform.errors import Problem
from daiyun.platform.events.service import emit
from daiyun.platform.orders import service as order_service

# How far back late facts are looked for: finalized periods older than this stay as they are.
LATE_FACT_MONTHS = 12


# --- contracts -------------------------------------------------------------------------------


def create_contract(session: Session, body: ContractCreate, user_id: uuid.UUID) -> Contract:
    """The tenant's contract with its first version (one contract per tenant)."""
    if repository.contract(session) is not None:
        raise Problem(409, "contract-exists", "The tenant has a contract: add a version to it")
    contract = Contract(id=new_id(), name=body.name)
    session.add(contract)
    session.flush()
    _add_version(session, contract, 1, body.effective_from, body.ends_on, body.terms, user_id)
    audit.record(session, "contract.created", f"contract:{contract.id}")
    session.flush()
    session.refresh(contract)
    return contract


def add_version(
    session: Session, contract_id: uuid.UUID, body: VersionCreate, user_id: uuid.UUID
) -> Contract:
    """New terms from ``effective_from``; the version before ends the day before."""
    contract = get_contract(session, lock=True)
    if contract.id != contract_id:
        raise Problem(404, "not-found", "No such contract")
    last = contract.versions[-1]
    if body.effective_from <= last.effective_from:
        raise Problem(
            422,
            "version-out-of-order",
            f"A new version starts after {last.effective_from.isoformat()}",
        )
    closed = _closed_through(session)
    if closed is not None and body.effective_from <= closed:
        raise Problem(
            409,
            "period-closed",
            f"Statements are finalized through {closed.isoformat()}: start the version later",
        )
    last.ends_on = body.effective_from - timedelta(days=1)
    _add_version(
        session, contract, last.version + 1, body.effective_from, body.ends_on, body.terms, user_id
    )
    audit.record(
        session, "contract.versioned", f"contract:{contract.id}", {"version": last.version + 1}
    )
    session.flush()
    session.refresh(contract)
    return contract


def _add_version(
    session: Session,
    contract: Contract,
    version: int,
    effective_from: date,
    ends_on: date | None,
    terms: ContractTerms,
    user_id: uuid.UUID,
) -> None:
    if ends_on is not None and ends_on < effective_from:
        raise Problem(422, "invalid-dates", "ends_on is before effective_from")
    session.add(
        ContractVersion(
            contract_id=contract.id,
            version=version,
            effective_from=effective_from,
            ends_on=ends_on,
            terms=terms.model_dump(mode="json"),
            created_by=user_id,
        )
    )


def _closed_through(session: Session) -> date | None:
    periods = repository.finalized_periods(session)
    return Period.parse(max(periods)).last_day if periods else None


def get_contract(session: Session, *, lock: bool = False) -> Contract:
    contract = repository.contract(session, lock=lock)
    if contract is None:
        raise Problem(404, "no-contract", "The tenant has no contract yet")
    return contract


@dataclass(frozen=True)
class InForce:
    version: ContractVersion
    terms: ContractTerms
    active_from: date | None
    active_until: date | None


def in_force(contract: Contract, period: Period) -> InForce:
    """The version in force for a period (the latest starting by its last day), and the days of
    the period the contract covers when it starts or ends within it."""
    versions = [v for v in contract.versions if v.effective_from <= period.last_day]
    if not versions:
        raise Problem(409, "no-contract-in-force", f"No contract version is in force in {period}")
    version = versions[-1]
    first = contract.versions[0].effective_from
    ends = contract.versions[-1].ends_on
    if ends is not None and ends < period.first_day:
        raise Problem(409, "no-contract-in-force", f"The contract ended before {period}")
    return InForce(
        version,
        ContractTerms.model_validate(version.terms),
        first if first > period.first_day else None,
        ends if ends is not None and ends < period.last_day else None,
    )


# --- service facts ---------------------------------------------------------------------------


def record_fact(
    session: Session, key: str, body: ServiceFactCreate
) -> tuple[ServiceFactRecord, bool]:
    """Record a service fact once per idempotency key; returns it and whether it is new.

    The same key with the same fact answers the stored one; with another fact it is refused.
    """
    existing = repository.service_fact_by_key(session, key)
    if existing is not None:
        if _fact_fields(existing) != _fact_fields(body):
            raise Problem(409, "idempotency-conflict", "This key was used for a different fact")
        return existing, False
    record = ServiceFactRecord(
        kind=body.kind.value,
        occurred_on=body.occurred_on,
        quantity=str(body.quantity.normalize()),
        amount_minor=body.amount_minor,
        currency=body.currency.upper(),
        description=body.description,
        idempotency_key=key,
    )
    try:
        with session.begin_nested():
            session.add(record)
            session.flush()
    except IntegrityError:  # the same key recorded concurrently
        return record_fact(session, key, body)
    audit.record(
        session, "service_fact.recorded", f"service_fact:{record.id}", {"kind": record.kind}
    )
    return record, True


def _fact_fields(fact: ServiceFactRecord | ServiceFactCreate) -> tuple[Any, ...]:
    kind = fact.kind.value if isinstance(fact.kind, ServiceKind) else fact.kind
    return (
        kind,
        fact.occurred_on,
        Decimal(str(fact.quantity)).normalize(),
        fact.amount_minor,
        fact.currency.upper(),
        fact.description,
    )


# --- gathering facts -------------------------------------------------------------------------


@dataclass
class Facts:
    orders: list[OrderFact] = field(default_factory=list)
    refunds: list[RefundFact] = field(default_factory=list)
    services: list[ServiceFact] = field(default_factory=list)
    skipped_currency: int = 0

    @property
    def keys(self) -> list[str]:
        return (
            [f.key for f in self.orders]
            + [f.key for f in self.refunds]
            + [f.key for f in self.services]
        )


def _gather(session: Session, terms: ContractTerms, period: Period) -> Facts:
    """Every fact placed in a period by the contract's rules (billed or not)."""
    start, end = period.bounds(terms.time_zone)
    facts = Facts()
    for order in order_service.orders_for_billing(
        session, start, end, by=terms.base.date, statuses=terms.base.statuses
    ):
        if order.currency != terms.currency:
            facts.skipped_currency += 1
            continue
        facts.orders.append(
            OrderFact(
                order_id=str(order.id),
                channel=order.channel,
                at=(order.paid_at if terms.base.date == "paid" else None) or order.placed_at,
                total_minor=order.total_minor,
                shipping_minor=order.shipping_minor,
                tax_minor=order.tax_minor,
                lines=tuple((line.sku, line.total_minor) for line in order.lines),
            )
        )
    for refund, channel in order_service.refunds_for_billing(session, start, end):
        facts.refunds.append(
            RefundFact(
                refund_id=str(refund.id),
                order_id=str(refund.order_id),
                channel=channel,
                at=refund.refunded_at,
                amount_minor=refund.amount_minor,
            )
        )
    for record in repository.service_facts_between(session, period.first_day, period.last_day):
        if record.currency != terms.currency:
            facts.skipped_currency += 1
            continue
        facts.services.append(
            ServiceFact(
                fact_id=str(record.id),
                kind=ServiceKind(record.kind),
                occurred_on=record.occurred_on,
                quantity=Decimal(record.quantity),
                amount_minor=record.amount_minor,
                description=record.description,
            )
        )
    return facts


def _unbilled(session: Session, facts: Facts) -> Facts:
    billed = repository.billed_keys(session, facts.keys)
    return Facts(
        [f for f in facts.orders if f.key not in billed],
        [f for f in facts.refunds if f.key not in billed],
        [f for f in facts.services if f.key not in billed],
        facts.skipped_currency,
    )


def _billed_map(session: Session, refunds: list[RefundFact]) -> dict[str, BilledOrder]:
    rows = repository.billed_orders(session, {f"order:{r.order_id}" for r in refunds})
    return {
        row.fact_key.removeprefix("order:"): BilledOrder(
            row.fact_key.removeprefix("order:"),
            row.base_minor,
            row.commission_minor,
            row.clawed_back_minor,
        )
        for row in rows
    }


@dataclass
class Computed:
    """A statement computed but not saved: what preview shows and generate stores."""

    period: Period
    version: ContractVersion
    terms: ContractTerms
    lines: list[Line]
    total_minor: int
    credit_carried_forward_minor: int
    # fact key -> (base, commission, detail) of every fact the statement counts
    counted: dict[str, tuple[int, int, dict[str, Any]]]


def compute(session: Session, period: Period) -> Computed:
    """The statement of a period from the facts as they are now, plus adjustments for facts
    that arrived after an earlier period was finalized."""
    force = in_force(get_contract(session), period)
    facts = _unbilled(session, _gather(session, force.terms, period))
    late: dict[str, tuple[int, int, dict[str, Any]]] = {}
    adjustments = _adjustments(session, period, late)
    result = engine.compute(
        force.terms,
        period,
        facts.orders,
        facts.refunds,
        facts.services,
        billed=_billed_map(session, facts.refunds),
        active_from=force.active_from,
        active_until=force.active_until,
        credit_brought_forward_minor=repository.previous_credit(session, str(period)),
        adjustments=adjustments,
    )
    counted = {**_counted(facts, result.order_commissions), **late}
    return Computed(
        period,
        force.version,
        force.terms,
        list(result.lines),
        result.total_minor,
        result.credit_carried_forward_minor,
        counted,
    )


def _counted(
    facts: Facts, commissions: dict[str, tuple[int, int]]
) -> dict[str, tuple[int, int, dict[str, Any]]]:
    counted: dict[str, tuple[int, int, dict[str, Any]]] = {}
    for order in facts.orders:
        base, commission = commissions.get(order.order_id, (0, 0))
        detail = {"channel": order.channel, "lines": [list(line) for line in order.lines]}
        counted[order.key] = (base, commission, detail)
    for key in facts.keys[len(facts.orders) :]:
        counted[key] = (0, 0, {})
    return counted


def _adjustments(
    session: Session, period: Period, counted: dict[str, tuple[int, int, dict[str, Any]]]
) -> list[Line]:
    """Late facts of finalized periods before this one, as delta lines (BILLING.md 5)."""
    lines: list[Line] = []
    contract = get_contract(session)
    for text in sorted(repository.finalized_periods(session)):
        original = Period.parse(text)
        if original >= period or _months_between(original, period) > LATE_FACT_MONTHS:
            continue
        force = in_force(contract, original)
        everything = _gather(session, force.terms, original)
        late = _unbilled(session, everything)
        if not (late.orders or late.refunds or late.services):
            continue
        late_keys = set(late.keys)
        billed = Facts(
            [f for f in everything.orders if f.key not in late_keys],
            [f for f in everything.refunds if f.key not in late_keys],
            [f for f in everything.services if f.key not in late_keys],
        )
        delta = engine.adjustment(
            force.terms,
            original,
            billed.orders,
            billed.refunds,
            billed.services,
            late.orders,
            late.refunds,
            late.services,
            billed_before=_billed_map(session, late.refunds),
            active_from=force.active_from,
            active_until=force.active_until,
        )
        lines.extend(delta)
        for key in late.keys:
            counted[key] = (0, 0, {"adjusts": text})
    return lines


def _months_between(a: Period, b: Period) -> int:
    return (b.year - a.year) * 12 + (b.month - a.month)


# --- statements ------------------------------------------------------------------------------


def generate(session: Session, period: Period) -> Statement:
    """Build (or rebuild) the draft of a period; a finalized period is never touched."""
    return _draft(session, period)[0]


def _draft(session: Session, period: Period) -> tuple[Statement, Computed]:
    existing = repository.live_statement(session, str(period), lock=True)
    if existing is not None and existing.status != StatementStatus.draft:
        raise Problem(409, "period-finalized", f"{period} is finalized; void it to bill again")
    computed = compute(session, period)
    statement = existing or Statement(
        id=new_id(), period=str(period), contract_id=get_contract(session).id
    )
    statement.contract_version = computed.version.version
    statement.currency = computed.terms.currency
    statement.total_minor = computed.total_minor
    statement.credit_carried_forward_minor = computed.credit_carried_forward_minor
    statement.generated_at = utcnow()
    statement.lines = [
        StatementLine(
            position=i,
            kind=line.kind,
            description=line.description,
            basis_minor=line.basis_minor,
            quantity=str(line.quantity),
            rate=None if line.rate is None else str(line.rate),
            amount_minor=line.amount_minor,
            sources=list(line.sources),
            adjusts_period=line.adjusts_period,
        )
        for i, line in enumerate(computed.lines)
    ]
    if existing is None:
        session.add(statement)
    session.flush()
    audit.record(
        session,
        "statement.generated",
        f"statement:{statement.id}",
        {"total": statement.total_minor},
    )
    return statement, computed


def get_statement(session: Session, statement_id: uuid.UUID, *, lock: bool = False) -> Statement:
    found = repository.statement(session, statement_id, lock=lock)
    if found is None:
        raise Problem(404, "not-found", "No such statement")
    return found


def finalize(session: Session, statement_id: uuid.UUID) -> Statement:
    """Close a draft: it is regenerated from the facts of this moment, then frozen, and every
    fact it counts is recorded as billed. Publishes ``statement.finalized``."""
    statement = get_statement(session, statement_id, lock=True)
    if statement.status != StatementStatus.draft:
        raise Problem(409, "not-a-draft", f"The statement is {statement.status.value}")
    statement, computed = _draft(session, Period.parse(statement.period))
    try:
        with session.begin_nested():
            for key, (base, commission, detail) in computed.counted.items():
                session.add(
                    BilledFact(
                        statement_id=statement.id,
                        fact_key=key,
                        period=detail.get("adjusts", statement.period),
                        base_minor=base,
                        commission_minor=commission,
                        detail=detail,
                    )
                )
            session.flush()
    except IntegrityError as exc:
        raise Problem(409, "already-billed", "A fact of this statement is billed already") from exc
    _record_clawbacks(session, computed.lines)
    statement.status = StatementStatus.finalized
    statement.finalized_at = utcnow()
    audit.record(
        session,
        "statement.finalized",
        f"statement:{statement.id}",
        {"total": statement.total_minor},
    )
    emit(
        session,
        "statement.finalized",
        {"statement_id": str(statement.id), "period": statement.period},
    )
    session.flush()
    return statement


def _record_clawbacks(session: Session, lines: list[Line]) -> None:
    """Remember what was clawed back per order, the limit of any later clawback."""
    taken: dict[str, int] = {}
    for line in lines:
        if line.kind != "clawback":
            continue
        for source in line.sources:
            if source.startswith("order:"):
                taken[source] = taken.get(source, 0) - line.amount_minor
    for row in repository.billed_orders(session, taken):
        row.clawed_back_minor += taken[row.fact_key]


def void(session: Session, statement_id: uuid.UUID, reason: str) -> Statement:
    """Void a statement with a reason; the facts it counted may be billed again."""
    statement = get_statement(session, statement_id, lock=True)
    if statement.status == StatementStatus.void:
        raise Problem(409, "already-void", "The statement is void already")
    repository.release_billed(session, statement.id)
    statement.status = StatementStatus.void
    statement.voided_at = utcnow()
    statement.void_reason = reason
    audit.record(session, "statement.voided", f"statement:{statement.id}", {"reason": reason})
    emit(
        session, "statement.voided", {"statement_id": str(statement.id), "period": statement.period}
    )
    session.flush()
    return statement
