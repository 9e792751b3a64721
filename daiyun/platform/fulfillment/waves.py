"""Waves (波次): ready parcels of one warehouse grouped by a rule, picked from one list.

A wave is the agency's: planned over the merchants an operator works for, it may gather several
merchants' parcels. Each merchant's parcels are read and changed with the session bound to that
merchant alone (the identity map emptied between them, so the ORM guard and row-level security
see one tenant at a time), all in the request's one transaction: a wave is planned whole or not
at all. A merchant reading a wave sees only its own parcels and pick lines.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator, Sequence
from contextlib import closing, contextmanager
from dataclasses import dataclass
from typing import Any

from sqlalchemy.orm import Session

from daiyun.core.audit import service as audit
from daiyun.core.errors import Problem
from daiyun.core.ids import new_id, utcnow
from daiyun.core.pagination import paginate
from daiyun.core.tenancy import bind_tenant, current_tenant
from daiyun.platform.fulfillment import repository, rules
from daiyun.platform.fulfillment.models import FoState, Wave, WaveStatus
from daiyun.platform.fulfillment.schemas import PickLineRead, WaveDetail, WaveRead, WaveRuleIn
from daiyun.platform.fulfillment.states import actor_of, transition
from daiyun.platform.warehouse import service as warehouse

S = FoState


@dataclass(frozen=True)
class Merchant:
    """A tenant whose parcels an agency-level call covers, and the name its lines carry."""

    id: uuid.UUID
    name: str


@contextmanager
def bound(session: Session, tenant_id: uuid.UUID) -> Iterator[None]:
    """Work on one merchant's rows within the request's transaction: what the previous one
    changed is flushed and let go before the session is bound to the next."""
    session.flush()
    if current_tenant(session) != tenant_id:
        session.expunge_all()
        bind_tenant(session, tenant_id)
    yield
    session.flush()


# Ready parcels read per round trip while planning: a wave of N stops after about N of them.
PLAN_BATCH = 500


@dataclass(frozen=True)
class _Ready:
    merchant: Merchant
    id: uuid.UUID
    number: str
    lines: list[dict[str, Any]]


def _candidate(row: Any, key: object) -> rules.Candidate:
    return rules.Candidate(
        key=key,
        units=sum(int(li["quantity"]) for li in row.lines),
        zones=frozenset(rules.zone_of(li.get("location")) for li in row.lines),
        ship_by=row.ship_by,
    )


def _admitted(
    session: Session, merchant: Merchant, warehouse_id: uuid.UUID, plan: rules.WaveRule
) -> tuple[list[rules.Candidate], dict[uuid.UUID, _Ready]]:
    """The merchant's first ``max_orders`` parcels the rule admits, nearest deadline first:
    the wave takes its parcels among them (the database orders them; reading stops there)."""
    candidates: list[rules.Candidate] = []
    found: dict[uuid.UUID, _Ready] = {}
    # Without a filter the first max_orders rows are the wave's: one round trip reads them.
    unfiltered = not plan.single_item and plan.zone is None
    batch = min(plan.max_orders, PLAN_BATCH) if unfiltered else PLAN_BATCH
    rows = repository.ready_for_planning(session, warehouse_id, batch)
    with closing(rows):  # stopping early closes the cursor now
        for row in rows:
            candidate = _candidate(row, (merchant.id, row.id))
            if not rules.plan_wave([candidate], plan):
                continue
            candidates.append(candidate)
            found[row.id] = _Ready(merchant, row.id, row.number, list(row.lines))
            if len(candidates) >= plan.max_orders:
                break
    return candidates, found


def create(
    session: Session,
    warehouse_id: uuid.UUID,
    rule: WaveRuleIn,
    merchants: Sequence[Merchant],
    actor: str | None = None,
) -> WaveDetail:
    """Plan a wave in a warehouse over the merchants' ready parcels not yet in one; 409
    ``nothing-to-wave`` when the rule admits none. Answers with what the caller sees of it:
    every merchant's lines for an agency call, the one merchant's for a merchant's call.

    Set-based: each merchant's parcels are read as light rows in deadline order only as far as
    the wave can use, moved into the wave with one UPDATE and logged with one INSERT."""
    warehouse.get_warehouse(session, warehouse_id)
    actor = (actor or actor_of(session))[:80]
    plan = rules.WaveRule(single_item=rule.single_item, zone=rule.zone, max_orders=rule.max_orders)
    candidates: list[rules.Candidate] = []
    ready: dict[uuid.UUID, _Ready] = {}
    for merchant in merchants:
        with bound(session, merchant.id):
            theirs, found = _admitted(session, merchant, warehouse_id, plan)
            candidates += theirs
            ready.update(found)
    chosen = rules.plan_wave(candidates, plan)
    if not chosen:
        raise Problem(409, "nothing-to-wave", "No ready parcel there matches the rule")
    tenants = sorted({t for t, _ in chosen}, key=str)
    wave_id = uuid.uuid4()
    session.add(
        Wave(
            id=wave_id,
            warehouse_id=warehouse_id,
            number=f"W{utcnow():%y%m%d}-{wave_id.hex[:6].upper()}",
            status=WaveStatus.open,
            rule={
                "single_item": rule.single_item,
                "zone": rule.zone,
                "max_orders": rule.max_orders,
            },
            tenant_ids=[t.hex for t in tenants],
            created_by=actor,
        )
    )
    session.flush()
    now = utcnow()
    for tenant in tenants:
        with bound(session, tenant):
            ids = sorted(fo_id for t, fo_id in chosen if t == tenant)
            if repository.put_in_wave(session, ids, wave_id, now) != len(ids):
                # The rows were locked when read: only a concurrent planner without locks
                # (SQLite has none per row) could get here. Nothing is kept.
                raise Problem(409, "wave-conflict", "Parcels changed while planning: try again")
            repository.log_moves(
                session,
                [
                    {
                        "tenant_id": tenant,
                        "id": new_id(),
                        "fo_id": fo_id,
                        "from_state": S.ready,
                        "to_state": S.in_wave,
                        "note": "wave planned",
                        "actor": actor,
                        "at": now,
                    }
                    for fo_id in ids
                ],
            )
            audit.record(
                session, "fulfillment.wave.created", f"wave:{wave_id}", {"parcels": len(ids)}
            )
    wave = _wave(session, wave_id)
    picked = {fo_id for _, fo_id in chosen}
    shown = _visible(wave, merchants)
    parcels = [
        (r.merchant, r.id, r.number, S.in_wave, r.lines)
        for m in shown
        for r in sorted((ready[i] for i in picked if ready[i].merchant.id == m.id), key=_by_id)
    ]
    return _detail(wave, parcels)


def _by_id(ready: _Ready) -> uuid.UUID:
    return ready.id


def _detail(
    wave: Wave, parcels: list[tuple[Merchant, uuid.UUID, str, FoState, list[dict[str, Any]]]]
) -> WaveDetail:
    """A wave's answer from its parcels (merchant, id, number, state, lines): every id, and the
    pick list of those still to pick, in walk order."""
    summary = _summary(wave, [fo_id for _, fo_id, *_ in parcels])
    lines = [
        rules.PickLine(
            location=li.get("location") or "",
            sku=li["sku"],
            quantity=int(li["quantity"]),
            fo_number=number,
            merchant=merchant.name,
        )
        for merchant, _, number, state, fo_lines in parcels
        if state not in (S.cancelled, S.merged)
        for li in fo_lines
    ]
    return WaveDetail(
        **summary.model_dump(),
        # Built from rows this module wrote: no need to validate each line again.
        pick_list=[PickLineRead.model_construct(**vars(p)) for p in rules.pick_list(lines)],
    )


def _wave(session: Session, wave_id: uuid.UUID, warehouse_id: uuid.UUID | None = None) -> Wave:
    found = repository.get_wave(session, wave_id)
    if found is None or (warehouse_id is not None and found.warehouse_id != warehouse_id):
        raise Problem(404, "not-found", "No such wave")
    return found


def _visible(wave: Wave, merchants: Sequence[Merchant]) -> list[Merchant]:
    present = set(wave.tenant_ids)
    return [m for m in merchants if m.id.hex in present]


def _summary(wave: Wave, ids: list[uuid.UUID]) -> WaveRead:
    return WaveRead(
        id=wave.id,
        number=wave.number,
        warehouse_id=wave.warehouse_id,
        status=wave.status,
        rule=dict(wave.rule),
        created_by=wave.created_by,
        created_at=wave.created_at,
        picked_at=wave.picked_at,
        fulfillment_order_ids=ids,
    )


def detail(
    session: Session,
    wave_id: uuid.UUID,
    merchants: Sequence[Merchant],
    warehouse_id: uuid.UUID | None = None,
    *,
    agency: bool = False,
) -> WaveDetail:
    """A wave with the pick list of the merchants' parcels in it, in walk order. Seen by the
    agency (``agency``: the warehouse's staff), a wave shows whatever the caller's merchants
    have in it, perhaps nothing; asked by a merchant, a wave it has no parcel in is 404."""
    wave = _wave(session, wave_id, warehouse_id)
    visible = _visible(wave, merchants)
    if not visible and not agency:
        raise Problem(404, "not-found", "No such wave")
    parcels = []
    for merchant in visible:
        with bound(session, merchant.id):
            parcels += [
                (merchant, r.id, r.number, r.state, list(r.lines))
                for r in repository.wave_rows(session, wave_id)
            ]
    return _detail(wave, parcels)


def find(
    session: Session,
    merchants: Sequence[Merchant],
    warehouse_id: uuid.UUID | None,
    cursor: str | None,
    limit: int,
    *,
    own: bool,
) -> tuple[list[WaveRead], str | None]:
    """Waves, oldest first: those of a warehouse (agency), or those holding one of the bound
    merchant's parcels (``own``). Each lists only the merchants' parcels."""
    stmt = repository.own_waves() if own else repository.waves(warehouse_id)
    rows, next_cursor = paginate(session, stmt, Wave.id, cursor, limit)
    waves = [(w.id, w) for w in rows]
    ids: dict[uuid.UUID, list[uuid.UUID]] = {w_id: [] for w_id, _ in waves}
    by_merchant = {m.id.hex: m for m in merchants}
    for wave_id, wave in waves:
        for tenant in wave.tenant_ids:
            if tenant in by_merchant:
                with bound(session, by_merchant[tenant].id):
                    ids[wave_id] += [fo.id for fo in repository.in_wave(session, wave_id)]
    result = []
    for wave_id, _ in waves:
        found = repository.get_wave(session, wave_id)
        assert found is not None
        result.append(_summary(found, ids[wave_id]))
    return result, next_cursor


def confirm_pick(
    session: Session,
    wave_id: uuid.UUID,
    merchants: Sequence[Merchant],
    warehouse_id: uuid.UUID | None = None,
    *,
    agency: bool = False,
) -> WaveDetail:
    """The picker has the merchants' parcels of the wave: each still in it becomes picked. The
    wave is picked once every merchant's parcels are. Confirming again changes nothing (a
    retried scan of the wave's sheet); a cancelled wave is 409."""
    wave = _wave(session, wave_id, warehouse_id)
    visible = _visible(wave, merchants)
    if not visible and not agency:
        raise Problem(404, "not-found", "No such wave")
    if wave.status == WaveStatus.cancelled:
        raise Problem(409, "wave-cancelled", f"Wave {wave.number} is cancelled")
    everyone = len(visible) == len(wave.tenant_ids)
    now = utcnow()
    for merchant in visible:
        with bound(session, merchant.id):
            for fo in repository.in_wave(session, wave_id, lock=True):
                if fo.state == S.in_wave:
                    fo.picked_at = now
                    transition(session, fo, S.picked, f"picked in {wave_id}", flush=False)
    if everyone and wave.status == WaveStatus.open:
        found = _wave(session, wave_id)
        found.status, found.picked_at = WaveStatus.picked, now
        session.flush()
    return detail(session, wave_id, merchants, agency=agency)
