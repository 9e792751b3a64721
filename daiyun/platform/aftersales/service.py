"""The after-sales service: cases opened by hand, from a conversation or from a marketplace's
request; their moves (approve, refuse, receive, refund, replace, repair, close), each logged;
refunds recorded into the order book once; returned goods into the warehouse.

Every move is checked by ``rules.move`` before anything else happens, so a refused move leaves
no receipt, no refund and no event behind. Functions flush; none commits.
"""

from __future__ import annotations

import uuid
from collections import Counter, defaultdict
from dataclasses import dataclass
from typing import Any

from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from daiyun.core.audit import service as audit
from daiyun.core.errors import Problem
from daiyun.core.ids import utcnow
from daiyun.core.pagination import paginate
from daiyun.platform.aftersales import buyers, repository, rules
from daiyun.platform.aftersales.models import Case, CaseEvent, CaseLine, Settings
from daiyun.platform.aftersales.rules import Action, CaseState, CaseType, Condition, Source
from daiyun.platform.aftersales.schemas import (
    CaseCreate,
    CaseDetail,
    CaseEventRead,
    CaseLineIn,
    CaseLineRead,
    CaseRead,
    DockReturn,
    Receive,
    ReturnIn,
    ReturnLineIn,
    SettingsIn,
    SettingsRead,
)
from daiyun.platform.customer_service import service as cs_service
from daiyun.platform.orders import service as order_service
from daiyun.platform.warehouse import reservations
from daiyun.platform.warehouse import service as warehouse
from daiyun.platform.warehouse.schemas import ReceiptCreate, ReceiptKind, ReceivedLine

__all__ = ["Action", "CaseState", "CaseType", "Condition", "Source"]


def _unprocessable(kind: str, detail: str, **extra: Any) -> Problem:
    return Problem(422, kind, detail, **extra)


# --------------------------------------------------------------------------------------------
# Settings
# --------------------------------------------------------------------------------------------


def _settings_row(session: Session) -> Settings:
    found = repository.settings(session)
    return found if found is not None else Settings(**SettingsIn().model_dump())


def settings(session: Session) -> SettingsRead:
    return SettingsRead.model_validate(_settings_row(session))


def put_settings(session: Session, body: SettingsIn) -> SettingsRead:
    row = repository.settings(session)
    if row is None:
        row = Settings()
        session.add(row)
    for key, value in body.model_dump().items():
        setattr(row, key, value)
    session.flush()
    audit.record(session, "aftersales.settings", "aftersales:settings", body.model_dump())
    return SettingsRead.model_validate(row)


def _periods(row: Settings) -> rules.Periods:
    return rules.Periods(row.return_days, row.exchange_days, row.warranty_days)


# --------------------------------------------------------------------------------------------
# Reading
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Filters:
    state: CaseState | None = None
    type: CaseType | None = None
    shop_id: uuid.UUID | None = None
    order_id: uuid.UUID | None = None


def find_cases(
    session: Session, filters: Filters, cursor: str | None, limit: int
) -> tuple[list[Case], str | None]:
    stmt = repository.cases(filters.state, filters.type, filters.shop_id, filters.order_id)
    return paginate(session, stmt, Case.id, cursor, limit)


def get_case(session: Session, case_id: uuid.UUID, *, lock: bool = False) -> Case:
    found = repository.case(session, case_id, lock=lock)
    if found is None:
        raise Problem(404, "not-found", "No such after-sales case")
    return found


def detail(session: Session, case: Case) -> CaseDetail:
    return CaseDetail(
        **CaseRead.model_validate(case).model_dump(),
        lines=[CaseLineRead.model_validate(li) for li in repository.lines(session, case.id)],
        events=[CaseEventRead.model_validate(e) for e in repository.events(session, case.id)],
        actions=rules.allowed(case.type, case.state),
    )


# --------------------------------------------------------------------------------------------
# Opening a case
# --------------------------------------------------------------------------------------------


def _case_lines(order: Any, wanted: list[CaseLineIn]) -> list[CaseLine]:
    """The order lines a case names (by the channel's line id or the SKU), with what was paid
    for the units and what is asked back (by default all of it, never more)."""
    found: list[CaseLine] = []
    seen: set[str] = set()
    for item in wanted:
        line = next((li for li in order.lines if li.external_id == item.line), None)
        line = line or next((li for li in order.lines if li.sku == item.line), None)
        if line is None:
            raise _unprocessable("unknown-line", f"The order has no line {item.line}")
        if line.external_id in seen:
            raise _unprocessable("duplicate-line", f"Line {item.line} is named twice")
        seen.add(line.external_id)
        if item.quantity > line.quantity:
            raise _unprocessable(
                "too-many-units", f"Line {item.line} has {line.quantity} units, not {item.quantity}"
            )
        paid = rules.paid_for(line.total_minor, line.quantity, item.quantity)
        asked = paid if item.requested_minor is None else item.requested_minor
        if asked > paid:
            raise _unprocessable(
                "above-paid", f"{asked} asked for line {item.line}, which was paid {paid}"
            )
        found.append(
            CaseLine(
                line_external_id=line.external_id,
                sku=line.sku,
                quantity=item.quantity,
                paid_minor=paid,
                requested_minor=asked,
            )
        )
    return found


def _refunded_on(order: Any, sku: str) -> int:
    """What the order's refunds already returned on a SKU's line."""
    return sum(
        int(line.get("amount_minor") or 0)
        for refund in order.refunds
        for line in refund.lines
        if line.get("sku") == sku
    )


def _refundable(order: Any, lines: list[CaseLine]) -> int:
    totals = {li.external_id: li.total_minor for li in order.lines}
    return rules.refundable(
        [
            (li.paid_minor, totals.get(li.line_external_id, 0), _refunded_on(order, li.sku))
            for li in lines
        ],
        order.total_minor,
        order.refunded_minor,
    )


def _order(session: Session, order_id: uuid.UUID) -> Any:
    order = order_service.get_order(session, order_id)
    if order is None:
        raise _unprocessable("unknown-order", f"There is no order {order_id}")
    return order


def _event(
    session: Session,
    case: Case,
    kind: str,
    actor: uuid.UUID | None,
    detail: dict[str, Any] | None = None,
) -> None:
    session.add(
        CaseEvent(
            case_id=case.id,
            kind=kind,
            state=case.state,
            at=utcnow(),
            actor_user_id=actor,
            detail=detail or {},
        )
    )


def _open(
    session: Session,
    order: Any,
    case_type: CaseType,
    source: Source,
    wanted: list[CaseLineIn],
    reason: str,
    evidence: list[str],
    *,
    conversation_id: uuid.UUID | None = None,
    marketplace_key: str | None = None,
    actor: uuid.UUID | None = None,
) -> Case:
    lines = _case_lines(order, wanted)
    asked = sum(li.requested_minor for li in lines)
    room = _refundable(order, lines)
    if asked > room:
        raise _unprocessable(
            "above-refundable",
            f"{asked} asked, but only {room} of these lines is left to refund",
            refundable_minor=room,
        )
    row = _settings_row(session)
    now = utcnow()
    case = Case(
        order_id=order.id,
        shop_id=order.shop_id,
        conversation_id=conversation_id,
        type=case_type,
        source=source,
        marketplace_key=marketplace_key,
        state=CaseState.requested,
        reason=reason,
        evidence=evidence,
        currency=order.currency,
        requested_minor=asked,
        refunded_minor=0,
        deadline=rules.deadline(CaseState.requested, now, row.response_hours),
        created_by=actor,
    )
    session.add(case)
    session.flush()
    for line in lines:
        line.case_id = case.id
        session.add(line)
    _event(session, case, "requested", actor, {"source": source.value, "requested_minor": asked})
    if rules.auto_approves(case_type, asked, row.auto_approve_below_minor) and buyers.trusted(
        session, row, order, case.id
    ):
        _step(session, case, Action.approve, None, {"auto": True})
    session.flush()
    audit.record(
        session, "aftersales.case.opened", f"aftersales:{case.id}", {"type": case_type.value}
    )
    return case


def create_case(
    session: Session, body: CaseCreate, actor: uuid.UUID | None, source: Source | None = None
) -> Case:
    """A case entered by an agent: by hand on an order, from a buyer's conversation (whose
    order it takes when none is named) or from a follow-up call. Outside its 三包 period: 422
    ``out-of-period``."""
    order_id = body.order_id
    if body.conversation_id is not None:
        conv = cs_service.get_conversation(session, body.conversation_id)
        order_id = order_id or conv.order_id
    if order_id is None:
        raise _unprocessable("no-order", "The conversation is not about an order: name one")
    order = _order(session, order_id)
    row = _settings_row(session)
    since = order.paid_at or order.placed_at
    if not rules.within_period(_periods(row), body.type, since, utcnow()):
        days = _periods(row).days(body.type)
        raise _unprocessable(
            "out-of-period", f"A {body.type.value} request is taken within {days} days"
        )
    if source is None:
        source = Source.conversation if body.conversation_id else Source.manual
    return _open(
        session,
        order,
        body.type,
        source,
        body.lines,
        body.reason,
        body.evidence,
        conversation_id=body.conversation_id,
        actor=actor,
    )


def from_marketplace(
    session: Session,
    order_id: uuid.UUID,
    key: str,
    case_type: CaseType,
    lines: list[CaseLineIn],
    reason: str,
    evidence: list[str] | None = None,
) -> tuple[Case, bool]:
    """The case for a marketplace's after-sales request (opened once per shop and request key:
    a repeated report finds the case it opened; False then). The marketplace decides on its
    own periods, so none is checked here."""
    order = _order(session, order_id)
    known = repository.by_marketplace_key(session, order.shop_id, key)
    if known is not None:
        return known, False
    try:
        with session.begin_nested():
            case = _open(
                session,
                order,
                case_type,
                Source.marketplace,
                lines,
                reason,
                evidence or [],
                marketplace_key=key,
            )
    except IntegrityError:
        again = repository.by_marketplace_key(session, order.shop_id, key)
        if again is None:
            raise
        return again, False
    return case, True


# --------------------------------------------------------------------------------------------
# Moves
# --------------------------------------------------------------------------------------------


def _check(case: Case, action: Action) -> CaseState:
    try:
        return rules.move(case.type, case.state, action)
    except rules.IllegalMove as refused:
        raise Problem(
            409, "illegal-transition", str(refused), state=case.state.value, action=action.value
        ) from refused


def _step(
    session: Session,
    case: Case,
    action: Action,
    actor: uuid.UUID | None,
    detail: dict[str, Any] | None = None,
) -> Case:
    case.state = _check(case, action)
    case.deadline = rules.deadline(case.state, utcnow(), _settings_row(session).response_hours)
    _event(session, case, action.value, actor, detail)
    session.flush()
    audit.record(session, f"aftersales.case.{action.value}", f"aftersales:{case.id}", detail or {})
    buyers.tell(session, case, action, detail or {})
    return case


def _approver_needed(session: Session, amount: int, may_approve: bool) -> None:
    threshold = _settings_row(session).approval_threshold_minor
    if rules.needs_approver(amount, threshold) and not may_approve:
        raise Problem(
            403,
            "approval-needed",
            f"Refunds above {threshold} need the aftersales:approve permission",
        )


def approve(
    session: Session,
    case_id: uuid.UUID,
    actor: uuid.UUID | None,
    may_approve: bool,
    note: str | None,
) -> Case:
    case = get_case(session, case_id, lock=True)
    _check(case, Action.approve)
    _approver_needed(session, case.requested_minor, may_approve)
    return _step(session, case, Action.approve, actor, {"note": note} if note else None)


def refuse(session: Session, case_id: uuid.UUID, actor: uuid.UUID | None, reason: str) -> Case:
    case = get_case(session, case_id, lock=True)
    _check(case, Action.refuse)
    case.refusal_reason = reason
    return _step(session, case, Action.refuse, actor, {"reason": reason})


def _stock_lines(session: Session, case: Case) -> dict[uuid.UUID, int]:
    """Units per stocked SKU coming back (a bundle's parts)."""
    units: dict[uuid.UUID, int] = defaultdict(int)
    for line in repository.lines(session, case.id):
        matched = reservations.match_sku(session, line.sku)
        if matched is None:
            raise _unprocessable("unknown-sku", f"No SKU of the catalog is {line.sku}")
        for part, per in matched.parts:
            units[part] += line.quantity * per
    return dict(units)


# A unit coming back: (stocked SKU, quantity, condition, bin).
Placed = tuple[uuid.UUID, int, Condition, uuid.UUID]


def _placed_lines(session: Session, case: Case, lines: list[ReturnLineIn]) -> list[Placed]:
    """The dock's lines as stocked units (a bundle's parts), none beyond what the case names."""
    room = _stock_lines(session, case)
    placed: list[Placed] = []
    back: dict[uuid.UUID, int] = defaultdict(int)
    for line in lines:
        matched = reservations.match_sku(session, line.sku)
        if matched is None or not matched.parts:
            raise _unprocessable("unknown-sku", f"No SKU of the catalog is {line.sku}")
        for part, per in matched.parts:
            back[part] += line.quantity * per
            placed.append((part, line.quantity * per, line.condition, line.location_id))
    over = sorted(sku for sku, units in back.items() if units > room.get(sku, 0))
    if over:
        raise _unprocessable(
            "more-than-the-case",
            f"More units came back than the case names ({len(over)} SKUs)",
            sku_ids=[str(sku) for sku in over],
        )
    return placed


def _put_back(session: Session, case: Case, placed: list[Placed]) -> tuple[uuid.UUID, str]:
    """One return receipt for the units: resellable ones into any bin, damaged ones only into
    a bin that is not pickable (quarantine: held, never allocated to an order)."""
    received, warehouses, codes = [], set(), []
    for sku_id, quantity, condition, location_id in placed:
        location = warehouse.get_location(session, location_id)
        if location is None:
            raise _unprocessable("unknown-location", f"There is no location {location_id}")
        if condition == Condition.damaged and location.pickable:
            raise _unprocessable(
                "quarantine-needed",
                f"Damaged goods go to a bin that is not pickable, not {location.code}",
            )
        warehouses.add(location.warehouse_id)
        codes.append(location.code)
        received.append(ReceivedLine(sku_id=sku_id, quantity=quantity, location_id=location.id))
    if len(warehouses) != 1:
        raise _unprocessable("one-warehouse", "A return is received into one warehouse")
    receipt = warehouse.create_receipt(
        session,
        ReceiptCreate(
            warehouse_id=warehouses.pop(),
            kind=ReceiptKind.return_,
            reference=f"AS-{case.id.hex[-12:]}",
            received=received,
        ),
    )
    return receipt.id, ", ".join(sorted(set(codes)))


def receive(
    session: Session, case_id: uuid.UUID, actor: uuid.UUID | None, body: Receive | ReturnIn
) -> Case:
    """The goods are back, as one parcel (a condition, and a bin for all of it) or line by line
    at the returns dock (each line its condition and bin). Without a bin the condition is
    recorded and no stock moves (goods in for repair are the buyer's)."""
    case = get_case(session, case_id, lock=True)
    _check(case, Action.receive)
    if isinstance(body, Receive):
        condition = body.condition
        placed: list[Placed] = []
        if body.location_id is not None:
            placed = [
                (sku_id, quantity, condition, body.location_id)
                for sku_id, quantity in sorted(_stock_lines(session, case).items())
            ]
    else:
        placed = _placed_lines(session, case, body.lines)
        damaged = any(p[2] == Condition.damaged for p in placed)
        condition = Condition.damaged if damaged else Condition.resellable
    detail: dict[str, Any] = {"condition": condition.value}
    if placed:
        receipt_id, bins = _put_back(session, case, placed)
        case.receipt_id = receipt_id
        detail |= {"receipt_id": str(receipt_id), "location": bins}
    case.condition = condition
    return _step(session, case, Action.receive, actor, detail)


def register_return(session: Session, body: DockReturn, actor: uuid.UUID | None) -> Case:
    """A parcel back at the dock without a request: its return case is opened on the order
    (whatever the 三包 period: the goods are here), accepted and received. Accepting the goods
    is not approving money: the refund, decided on the case, still needs its approver."""
    order = _order(session, body.order_id)
    units = Counter[str]()
    for line in body.lines:
        units[line.sku] += line.quantity
    wanted = [CaseLineIn(line=sku, quantity=n) for sku, n in units.items()]
    reason = body.note or "Returned to the warehouse without a request"
    case = _open(
        session, order, CaseType.return_refund, Source.dock, wanted, reason, [], actor=actor
    )
    _step(session, case, Action.approve, actor, {"note": "accepted at the dock"})
    return receive(session, case.id, actor, ReturnIn(lines=body.lines))


def refund_key(case: Case) -> str:
    """The refund's key in the order book: the marketplace's request key where there is one, so
    the marketplace reporting the same refund with its order finds it already there."""
    return case.marketplace_key or f"aftersales:{case.id.hex}"


def _split(amount: int, lines: list[CaseLine]) -> list[dict[str, Any]]:
    """The refund over the case's lines, pro rata of what each asks (the rest on the last)."""
    asked = sum(li.requested_minor for li in lines) or 1
    parts = [amount * li.requested_minor // asked for li in lines]
    if parts:
        parts[-1] += amount - sum(parts)
    return [
        {"sku": li.sku, "quantity": li.quantity, "amount_minor": part}
        for li, part in zip(lines, parts, strict=True)
    ]


def refund(
    session: Session,
    case_id: uuid.UUID,
    actor: uuid.UUID | None,
    may_approve: bool,
    amount_minor: int | None,
) -> Case:
    """Return money to the buyer: at most what was paid for the case's lines less what was
    refunded on them already. Recorded into the order book under ``refund_key`` once: when the
    marketplace already reported it, the case takes that refund and nothing is added."""
    case = get_case(session, case_id, lock=True)
    _check(case, Action.refund)
    order = _order(session, case.order_id)
    key = refund_key(case)
    known = next((r for r in order.refunds if r.external_id == key), None)
    if known is not None:
        case.refunded_minor = known.amount_minor
        detail = {"amount_minor": known.amount_minor, "key": key, "recorded": False}
        return _step(session, case, Action.refund, actor, detail)
    lines = repository.lines(session, case.id)
    amount = case.requested_minor if amount_minor is None else amount_minor
    room = _refundable(order, lines)
    if amount <= 0:
        raise _unprocessable("nothing-to-refund", "A refund returns more than nothing")
    if amount > room:
        raise _unprocessable(
            "above-refundable",
            f"{amount} is more than the {room} left to refund on these lines",
            refundable_minor=room,
        )
    _approver_needed(session, amount, may_approve)
    order_service.record_refund(
        session,
        order.id,
        key,
        amount,
        reason=case.reason[:500],
        lines=_split(amount, lines),
        refunded_at=utcnow(),
        actor=actor,
    )
    case.refunded_minor = amount
    return _step(
        session, case, Action.refund, actor, {"amount_minor": amount, "key": key, "recorded": True}
    )


def replace(
    session: Session, case_id: uuid.UUID, actor: uuid.UUID | None, note: str | None
) -> Case:
    """Settle with a replacement. The fulfilment service has no entry yet for a parcel that no
    order reserved, so the replacement is recorded on the case (its lines, for the warehouse to
    ship) rather than created as a fulfilment order."""
    case = get_case(session, case_id, lock=True)
    _check(case, Action.replace_)
    lines = [{"sku": li.sku, "quantity": li.quantity} for li in repository.lines(session, case.id)]
    detail: dict[str, Any] = {"replacement": lines, "fulfilment": "to be shipped"}
    if note:
        detail["note"] = note
    return _step(session, case, Action.replace_, actor, detail)


def repair(session: Session, case_id: uuid.UUID, actor: uuid.UUID | None, note: str | None) -> Case:
    case = get_case(session, case_id, lock=True)
    return _step(session, case, Action.repair, actor, {"note": note} if note else None)


def close(session: Session, case_id: uuid.UUID, actor: uuid.UUID | None, note: str | None) -> Case:
    case = get_case(session, case_id, lock=True)
    return _step(session, case, Action.close, actor, {"note": note} if note else None)


def note(session: Session, case_id: uuid.UUID, actor: uuid.UUID | None, text: str) -> Case:
    """A line in the case's log that moves nothing (a call with the buyer, a photo checked)."""
    case = get_case(session, case_id, lock=True)
    _event(session, case, "note", actor, {"note": text})
    session.flush()
    return case
