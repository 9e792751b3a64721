"""Every query on the after-sales tables."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import Select, select
from sqlalchemy.orm import Session

from daiyun.platform.aftersales.models import Case, CaseEvent, CaseLine, Settings
from daiyun.platform.aftersales.rules import CaseState, CaseType


def cases(
    state: CaseState | None = None,
    case_type: CaseType | None = None,
    shop_id: uuid.UUID | None = None,
    order_id: uuid.UUID | None = None,
) -> Select[Any]:
    stmt = select(Case)
    if state is not None:
        stmt = stmt.where(Case.state == state)
    if case_type is not None:
        stmt = stmt.where(Case.type == case_type)
    if shop_id is not None:
        stmt = stmt.where(Case.shop_id == shop_id)
    if order_id is not None:
        stmt = stmt.where(Case.order_id == order_id)
    return stmt


def case(session: Session, case_id: uuid.UUID, *, lock: bool = False) -> Case | None:
    stmt = select(Case).where(Case.id == case_id)
    if lock:
        stmt = stmt.with_for_update()
    return session.scalar(stmt)


def by_marketplace_key(session: Session, shop_id: uuid.UUID, key: str) -> Case | None:
    return session.scalar(select(Case).where(Case.shop_id == shop_id, Case.marketplace_key == key))


def lines(session: Session, case_id: uuid.UUID) -> list[CaseLine]:
    stmt = select(CaseLine).where(CaseLine.case_id == case_id).order_by(CaseLine.id)
    return list(session.scalars(stmt))


def events(session: Session, case_id: uuid.UUID) -> list[CaseEvent]:
    stmt = (
        select(CaseEvent).where(CaseEvent.case_id == case_id).order_by(CaseEvent.at, CaseEvent.id)
    )
    return list(session.scalars(stmt))


def settings(session: Session) -> Settings | None:
    return session.scalar(select(Settings))
