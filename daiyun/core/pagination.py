"""Cursor pagination over time-ordered ids."""

from __future__ import annotations

import base64
import uuid
from typing import Annotated, Any, Generic, TypeVar

from fastapi import Query
from pydantic import BaseModel
from sqlalchemy import Select
from sqlalchemy.orm import InstrumentedAttribute, Session

from daiyun.core.errors import Problem

T = TypeVar("T")


class Page(BaseModel, Generic[T]):
    items: list[T]
    next_cursor: str | None = None


def encode_cursor(last_id: uuid.UUID) -> str:
    return base64.urlsafe_b64encode(last_id.bytes).decode().rstrip("=")


def decode_cursor(cursor: str) -> uuid.UUID:
    try:
        return uuid.UUID(bytes=base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
    except ValueError as exc:
        raise Problem(400, "invalid-cursor", "The cursor is not one this API issued") from exc


def paginate(
    session: Session,
    stmt: Select[Any],
    id_column: InstrumentedAttribute[uuid.UUID],
    cursor: str | None,
    limit: int,
) -> tuple[list[Any], str | None]:
    """Rows after ``cursor`` in id order, and the cursor of the next page (None at the end)."""
    if cursor:
        stmt = stmt.where(id_column > decode_cursor(cursor))
    rows = list(session.scalars(stmt.order_by(id_column).limit(limit + 1)))
    if len(rows) > limit:
        return rows[:limit], encode_cursor(rows[limit - 1].id)
    return rows, None


Limit = Annotated[int, Query(ge=1, le=200, description="Page size")]
Cursor = Annotated[
    str | None,
    Query(description="`next_cursor` of the previous page (opaque: only one this API issued)"),
]
