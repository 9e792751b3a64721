"""Placements: a hire as billing sees it (BILLING.md, recruiting placement fee).

* **Made once per hired application**: by the offer's acceptance when its pay is a month's or a
  year's (the first-year salary is then 12 months of it, or the year), in the contract's
  currency; otherwise the recruiter records it with the first-year salary. A second request for
  the same application answers the first placement.
* **Billed once**: a ``placement`` service fact keyed on the application, dated the start day
  (the month the hire starts work is the month the fee is billed in); the engine prices it with
  the contract version in force then.
* **Guarantee**: the contract's days and remedy in force at the start are written on the
  placement, so a later contract change does not move a promise already made. A hire who leaves
  within it brings back the fee (a ``placement_refund`` fact carrying the fee as billed: a
  negative line on the statement of the month they left), or makes the next hire for the same
  role free (the replacement names the placement it replaces and bills nothing; a filled
  requisition opens again for it). Leaving after the guarantee changes nothing in billing.

Services flush, audit and never commit.
"""

from __future__ import annotations

import uuid
from datetime import date, timedelta

from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from daiyun.billing import service as billing
from daiyun.billing.engine.fees import placement_fee
from daiyun.billing.engine.rules import round_minor
from daiyun.billing.facts import ServiceKind
from daiyun.billing.schemas import ServiceFactCreate
from daiyun.core.audit import service as audit
from daiyun.core.errors import Problem
from daiyun.core.pagination import paginate
from daiyun.platform.recruiting import repository, service
from daiyun.platform.recruiting.models import (
    Application,
    ApplicationStatus,
    Guarantee,
    Offer,
    Placement,
    Requisition,
    RequisitionStatus,
)
from daiyun.platform.recruiting.schemas import PlacementCreate, PlacementLeave

# How many pay periods make the first year, for the offers whose pay says it plainly.
PERIODS_A_YEAR = {"month": 12, "year": 1}


def fact_key(application_id: uuid.UUID) -> str:
    return f"recruiting:placement:{application_id}"


def refund_key(application_id: uuid.UUID) -> str:
    return f"recruiting:placement-refund:{application_id}"


def get(session: Session, placement_id: uuid.UUID, *, lock: bool = False) -> Placement:
    found = repository.placement(session, placement_id, lock=lock)
    if found is None:
        raise Problem(404, "not-found", "No such placement")
    return found


def find(
    session: Session,
    requisition_id: uuid.UUID | None,
    guarantee: Guarantee | None,
    active: bool | None,
    cursor: str | None,
    limit: int,
) -> tuple[list[Placement], str | None]:
    stmt = repository.placements(requisition_id, guarantee, active)
    return paginate(session, stmt, Placement.id, cursor, limit)


def create(
    session: Session,
    application: Application,
    body: PlacementCreate,
    actor: uuid.UUID | None,
    offer: Offer | None = None,
) -> tuple[Placement, bool]:
    """The hire's placement and its billing fact; returns it and whether it is new."""
    existing = repository.placement_of(session, application.id)
    if existing is not None:
        return existing, False
    if application.status != ApplicationStatus.hired:
        raise Problem(409, "not-hired", "Only a hired application becomes a placement")
    contract = billing.terms_on(session, body.starts_on)
    if contract is not None and body.currency != contract.currency:
        # The engine bills facts in the contract's currency only: another would be lost.
        raise Problem(
            422,
            "placement-currency",
            f"The contract bills in {contract.currency}: give the first-year salary in it",
        )
    terms = contract.placement if contract is not None else None
    requisition = service.get_requisition(session, application.requisition_id)
    replaces = _replaced(session, body.replaces_id, requisition.role)
    found = Placement(
        application_id=application.id,
        requisition_id=requisition.id,
        offer_id=offer.id if offer is not None else None,
        starts_on=body.starts_on,
        salary_minor=body.salary_minor,
        currency=body.currency,
        created_by=actor,
        replaces_id=replaces.id if replaces is not None else None,
    )
    if terms is not None and terms.guarantee_days:
        found.guarantee_ends_on = body.starts_on + timedelta(days=terms.guarantee_days)
        found.remedy = terms.guarantee_remedy
    try:
        with session.begin_nested():
            session.add(found)
            session.flush()
    except IntegrityError:
        # The same hire recorded at the same moment by another request: that one stands.
        again = repository.placement_of(session, application.id)
        if again is None:
            raise
        return again, False
    if replaces is not None:
        replaces.guarantee = Guarantee.replaced
    else:
        fact = ServiceFactCreate(
            kind=ServiceKind.placement,
            occurred_on=body.starts_on,
            amount_minor=body.salary_minor,
            currency=body.currency,
            description=_hire(requisition.role, found),
        )
        billing.record_fact(session, fact_key(application.id), fact)
        found.billed = True
    session.flush()
    audit.record(
        session,
        "recruiting.placement_made",
        f"placement:{found.id}",
        {"application_id": str(application.id), "replaces": str(found.replaces_id or "")},
    )
    return found, True


def _hire(role: str, found: Placement) -> str:
    # What the statement line names: the role and the placement, never the person (their name
    # would outlive an erasure on a finalized statement).
    return f"{role} ({found.id.hex[-8:]})"[:500]


def _replaced(session: Session, replaces_id: uuid.UUID | None, role: str) -> Placement | None:
    """The placement a new hire replaces free: the one named, or the oldest owed for the role."""
    if replaces_id is None:
        return repository.awaiting_replacement(session, role)
    named = get(session, replaces_id, lock=True)
    if named.guarantee != Guarantee.replacement_due:
        raise Problem(409, "no-replacement-owed", "That placement is owed no free replacement")
    return named


def from_offer(session: Session, offer: Offer, actor: uuid.UUID | None) -> Placement | None:
    """The placement an accepted offer makes, when its pay gives the first-year salary plainly
    and in the contract's currency; None when the recruiter must record it by hand."""
    periods = PERIODS_A_YEAR.get(offer.pay_period)
    if periods is None:
        return None
    application = service.get_application(session, offer.application_id)
    body = PlacementCreate(
        application_id=application.id,
        salary_minor=offer.salary_minor * periods,
        currency=offer.currency,
        starts_on=offer.starts_on,
    )
    try:
        with session.begin_nested():
            return create(session, application, body, actor, offer)[0]
    except Problem:
        return None  # another currency than the contract's: the recruiter records it


def leave(
    session: Session, found: Placement, body: PlacementLeave, actor: uuid.UUID | None, today: date
) -> Placement:
    """The hire left (or withdrew before starting) on a day up to ``today`` (the merchant's):
    within the guarantee, the fee comes back or a free replacement is owed. Saying it again
    with the same day answers the placement as it is."""
    if found.left_on is not None:
        if found.left_on == body.left_on:
            return found
        raise Problem(409, "already-left", f"The hire left on {found.left_on.isoformat()}")
    if body.left_on > today:
        raise Problem(422, "left-in-future", "Record a departure once it happened")
    found.left_on, found.left_reason = body.left_on, body.reason
    within = found.guarantee_ends_on is not None and body.left_on <= found.guarantee_ends_on
    if within and found.remedy == "replacement":
        found.guarantee = Guarantee.replacement_due
        requisition = service.get_requisition(session, found.requisition_id, lock=True)
        _reopen(session, requisition, found.id)
    elif within and found.billed:
        found.guarantee = Guarantee.refunded
        _refund(session, found)
    session.flush()
    audit.record(
        session,
        "recruiting.placement_left",
        f"placement:{found.id}",
        {"left_on": body.left_on.isoformat(), "guarantee": found.guarantee.value},
    )
    return found


def _reopen(session: Session, found: Requisition, placement_id: uuid.UUID) -> None:
    """A filled requisition opens again when a hire on it left within the guarantee and a free
    replacement is owed: the replacement is hired on it, and its time to fill starts again.
    The one way out of ``filled``, which the status route never takes."""
    if found.status != RequisitionStatus.filled:
        return
    found.status, found.filled_at = RequisitionStatus.open, None
    session.flush()
    audit.record(
        session,
        "recruiting.requisition_status",
        f"requisition:{found.id}",
        {
            "from": RequisitionStatus.filled.value,
            "to": RequisitionStatus.open.value,
            "replacement_for": str(placement_id),
        },
    )


def _refund(session: Session, found: Placement) -> None:
    """The fee as it was billed (the version in force at the start) given back, once."""
    contract = billing.terms_on(session, found.starts_on)
    fee = round_minor(placement_fee(contract.placement, found.salary_minor)) if contract else 0
    if fee <= 0:
        return  # nothing was charged for this hire
    requisition = service.get_requisition(session, found.requisition_id)
    fact = ServiceFactCreate(
        kind=ServiceKind.placement_refund,
        # Never before the fee's own month (a hire who withdrew before starting).
        occurred_on=max(found.left_on or found.starts_on, found.starts_on),
        amount_minor=fee,
        currency=found.currency,
        description=_hire(requisition.role, found),
    )
    billing.record_fact(session, refund_key(found.application_id), fact)


def unplaced(session: Session, limit: int = 100) -> list[Application]:
    return repository.unplaced_hires(session, limit)
