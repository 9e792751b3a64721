"""Billing rules around the engine: contracts and their versions, service facts, statements.

The engine (``daiyun.billing.engine``) computes; this module gathers the facts of a period from
the order book and the service facts, keeps drafts replaceable and finalized statements immutable,
records what each finalized statement counted (so no fact is billed twice), and turns facts that
arrive after a period closed into adjustment lines of the next open period.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, replace
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from daiyun.billing import conversion, engine, late, repository
from daiyun.billing.base import (
    OtherFacts,
    PeriodBase,
    bill,
    billed_map,
    gather,
    late_orders,
    other_facts,
    split_billed,
)
from daiyun.billing.base import line_sources as drill_down
from daiyun.billing.facts import (
    Line,
    OrderFact,
    Period,
    ServiceKind,
)
from daiyun.billing.limits import MAX_SERVICE_FACTS_PER_PERIOD, check_statement
from daiyun.billing.models import (
    BilledFact,
    Contract,
    ContractVersion,
    ServiceFactRecord,
    Statement,
    StatementLine,
    StatementStatus,
)
from daiyun.billing.schemas import (
    ContractCreate,
    ServiceFactCreate,
    ServiceFactRead,
    VersionCreate,
)
from daiyun.billing.terms import ContractTerms
from daiyun.core.audit import service as audit
from daiyun.core.errors import Problem
from daiyun.core.events.service import emit
from daiyun.core.ids import new_id, utcnow
from daiyun.core.pagination import paginate

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


def terms_on(session: Session, on: date) -> ContractTerms | None:
    """The terms of the version in force in ``on``'s month; None when the merchant has no
    contract in force then (recruiting records a hire unpriced, say)."""
    contract = repository.contract(session)
    if contract is None:
        return None
    try:
        return in_force(contract, Period(on.year, on.month)).terms
    except Problem:
        return None


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
    month = Period(body.occurred_on.year, body.occurred_on.month)
    if repository.service_fact_count(session, month.first_day, month.last_day) >= (
        MAX_SERVICE_FACTS_PER_PERIOD
    ):
        # The bound that keeps a month's sum of facts far inside BIGINT (limits.py).
        raise Problem(
            409,
            "too-many-facts",
            f"{month} has {MAX_SERVICE_FACTS_PER_PERIOD:,} service facts, the most a month takes",
        )
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


def fact_by_key(session: Session, key: str) -> ServiceFactRead | None:
    """The fact recorded under this idempotency key, if any (a daily count asks before it counts
    again, since its figure may have moved since)."""
    found = repository.service_fact_by_key(session, key)
    return None if found is None else ServiceFactRead.model_validate(found)


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


Counted = dict[str, tuple[int, int, dict[str, Any]]]


@dataclass
class Computed:
    """A statement computed but not saved: what preview shows and generate stores."""

    period: Period
    version: ContractVersion
    terms: ContractTerms
    lines: list[Line]
    total_minor: int
    credit_carried_forward_minor: int
    # fact key -> (base, commission, detail) of the facts the statement counts one by one
    counted: Counted
    # the period's orders summed by the database, and their share of each commission line
    base: PeriodBase
    group_commissions: dict[str, int]
    # order id -> commission clawed back on it
    clawbacks: dict[str, int]
    # the period's sales in other currencies, and each one's share of the commission lines
    foreign: conversion.ForeignBase
    foreign_commissions: dict[str, dict[str, int]]


def compute(session: Session, period: Period) -> Computed:
    """The statement of a period from the facts as they are now, plus adjustments for facts
    that arrived after an earlier period was finalized."""
    force = in_force(get_contract(session), period)
    base = gather(session, force.terms, period)
    others, _ = split_billed(session, other_facts(session, force.terms, period))
    foreign = conversion.gather(session, force.terms, period, base.selection, others.refunds)
    adjusted: Counted = {}
    late_missing: dict[str, list[str]] = {}
    adjustments = _adjustments(session, period, adjusted, late_missing)
    foreign = replace(foreign, late_missing=late_missing)
    result = engine.compute(
        force.terms,
        period,
        base.orders,
        others.refunds,
        others.services,
        billed=billed_map(session, others.refunds),
        active_from=force.active_from,
        active_until=force.active_until,
        credit_brought_forward_minor=repository.previous_credit(session, str(period)),
        adjustments=adjustments,
        grouped=base.grouped,
        foreign=foreign.engine,
    )
    check_statement(period, result.lines, result.total_minor, result.credit_carried_forward_minor)
    counted = {
        **_counted(base.orders, others, result.order_commissions),
        **foreign.counted(),
        **adjusted,
    }
    return Computed(
        period,
        force.version,
        force.terms,
        list(result.lines),
        result.total_minor,
        result.credit_carried_forward_minor,
        counted,
        base,
        dict(result.group_commissions),
        dict(result.clawbacks),
        foreign,
        {currency: dict(shares) for currency, shares in result.foreign_commissions.items()},
    )


def _counted(
    orders: list[OrderFact], others: OtherFacts, commissions: dict[str, tuple[int, int]]
) -> Counted:
    counted: Counted = {}
    for order in orders:
        base, commission = commissions.get(order.order_id, (0, 0))
        detail = {"channel": order.channel, "lines": [list(line) for line in order.lines]}
        counted[order.key] = (base, commission, detail)
    for key in others.keys:
        counted[key] = (0, 0, {})
    return counted


def _adjustments(
    session: Session, period: Period, counted: Counted, missing: dict[str, list[str]]
) -> list[Line]:
    """Late facts of finalized periods before this one, as delta lines (BILLING.md 5).

    The closed period's billed orders are summed by the database, as when it was billed; the
    late ones (recorded as candidates when they arrived, :mod:`daiyun.billing.late`; normally
    few) are taken one by one and named on the adjustment lines. Late orders in other
    currencies convert as the contract says; days of theirs lacking a rate go to ``missing``.
    """
    lines: list[Line] = []
    contract = get_contract(session)
    for text in sorted(repository.finalized_periods(session)):
        original = Period.parse(text)
        if original >= period or _months_between(original, period) > late.LATE_FACT_MONTHS:
            continue
        force = in_force(contract, original)
        arrived, billed = split_billed(session, other_facts(session, force.terms, original))
        orders = late_orders(session, force.terms, original)
        late_foreign = conversion.late_orders(session, force.terms, original)
        if not (orders or late_foreign or arrived.refunds or arrived.services):
            continue
        before = gather(session, force.terms, original, billed=True)
        # The closed period's converted sales, at the rates recorded now (those it was billed
        # at, unless one was corrected since): part of the cumulative base tiers are placed on.
        foreign = conversion.gather(
            session, force.terms, original, before.selection, billed.refunds
        )
        with_late = foreign
        if late_foreign:
            with_late = conversion.gather(
                session, force.terms, original, before.selection, billed.refunds, late_foreign
            )
            for currency, days in with_late.missing.items():
                missing.setdefault(currency, []).extend(days)
        foreign_keys = [order.key for found in late_foreign.values() for order in found]
        delta = engine.adjustment(
            force.terms,
            original,
            before.orders,
            billed.refunds,
            billed.services,
            orders,
            arrived.refunds,
            arrived.services,
            billed_before=billed_map(session, arrived.refunds),
            active_from=force.active_from,
            active_until=force.active_until,
            grouped=before.grouped,
            foreign=foreign.engine,
            late_foreign=with_late.engine if late_foreign else None,
            late_foreign_keys=frozenset(foreign_keys),
        )
        lines.extend(delta)
        for key in [order.key for order in orders] + arrived.keys + foreign_keys:
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
            message=None if line.message is None else dict(line.message),
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


def list_statements(
    session: Session, cursor: str | None, limit: int
) -> tuple[list[Statement], str | None]:
    """A page of the bound tenant's statements in id order (oldest first), and the cursor of the
    next page (as the statements API lists them)."""
    return paginate(session, repository.statements(), Statement.id, cursor, limit)


def line_sources(
    session: Session, statement_id: uuid.UUID, position: int, after: str | None, limit: int
) -> tuple[list[str], str | None]:
    """A page of the fact keys behind one line of a statement (its drill-down), in key order,
    with the cursor of the next page: the keys the line lists, and the orders its selector
    stands for (for a finalized statement, those it billed; for a draft, those it would)."""
    statement = get_statement(session, statement_id)
    contract = get_contract(session)
    version = next(v for v in contract.versions if v.version == statement.contract_version)
    terms = ContractTerms.model_validate(version.terms)
    return drill_down(session, statement, terms, position, after, limit)


def _order_of(key: str) -> uuid.UUID | None:
    """The order an ``order:<id>`` fact key names (None for other facts)."""
    return uuid.UUID(key.removeprefix("order:")) if key.startswith("order:") else None


def finalize(session: Session, statement_id: uuid.UUID) -> Statement:
    """Close a draft: it is regenerated from the facts of this moment, then frozen, and every
    fact it counts is recorded as billed. Publishes ``statement.finalized``."""
    statement = get_statement(session, statement_id, lock=True)
    if statement.status != StatementStatus.draft:
        raise Problem(409, "not-a-draft", f"The statement is {statement.status.value}")
    statement, computed = _draft(session, Period.parse(statement.period))
    conversion.refuse_missing(computed.foreign)
    try:
        with session.begin_nested():
            bill(
                session,
                computed.base,
                statement.id,
                statement.period,
                computed.group_commissions,
            )
            conversion.bill(
                session,
                computed.foreign,
                statement.id,
                statement.period,
                computed.foreign_commissions,
            )
            for key, (base, commission, detail) in computed.counted.items():
                session.add(
                    BilledFact(
                        statement_id=statement.id,
                        fact_key=key,
                        order_id=_order_of(key),
                        period=detail.get("adjusts", statement.period),
                        base_minor=base,
                        commission_minor=commission,
                        detail=detail,
                    )
                )
            session.flush()
    except IntegrityError as exc:
        raise Problem(409, "already-billed", "A fact of this statement is billed already") from exc
    _record_clawbacks(session, computed.clawbacks)
    late.billed(session, statement)
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


def _record_clawbacks(session: Session, clawbacks: dict[str, int]) -> None:
    """Remember what was clawed back per order, the limit of any later clawback."""
    taken = {f"order:{order_id}": amount for order_id, amount in clawbacks.items() if amount}
    for row in repository.billed_orders(session, taken):
        row.clawed_back_minor += taken[row.fact_key]


def void(session: Session, statement_id: uuid.UUID, reason: str) -> Statement:
    """Void a statement with a reason; the facts it counted may be billed again."""
    statement = get_statement(session, statement_id, lock=True)
    if statement.status == StatementStatus.void:
        raise Problem(409, "already-void", "The statement is void already")
    late.released(session, statement)
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


# --- reads for the agency console ------------------------------------------------------------


def drafts(session: Session) -> list[Statement]:
    """The bound tenant's draft statements waiting for review, oldest period first."""
    return sorted(repository.drafts(session), key=lambda s: s.period)


def unpaid(session: Session) -> list[Statement]:
    """The bound tenant's finalized statements not paid yet, oldest period first."""
    return repository.unpaid_statements(session)
