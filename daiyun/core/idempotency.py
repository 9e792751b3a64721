"""``Idempotency-Key`` on creating POSTs: the first answer is kept with the change and replayed."""

from __future__ import annotations

import hashlib
import json
import uuid
from collections.abc import Callable
from datetime import datetime
from typing import Annotated, Any

from fastapi import Header
from fastapi.encoders import jsonable_encoder
from fastapi.responses import JSONResponse
from sqlalchemy import ForeignKey, String, Text, UniqueConstraint, select
from sqlalchemy.orm import Mapped, Session, mapped_column

from daiyun.core.db import Base
from daiyun.core.errors import Problem
from daiyun.core.ids import new_id, utcnow

# The header a creating POST takes; its bounds are in the schema (a key out of them is a 422).
IdempotencyKey = Annotated[
    str | None,
    Header(
        alias="Idempotency-Key",
        min_length=1,
        max_length=255,
        # Visible ASCII with inner spaces: HTTP trims a header's outer blanks, so a key of
        # blanks would arrive empty.
        pattern=r"^[!-~]([ -~]*[!-~])?$",
        description="Retrying with the same key and body replays the first answer",
    ),
]


class IdempotencyRecord(Base):
    __tablename__ = "idempotency_records"
    __table_args__ = (UniqueConstraint("user_id", "key"),)

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)
    user_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    key: Mapped[str] = mapped_column(String(255))
    fingerprint: Mapped[str] = mapped_column(String(64))
    status_code: Mapped[int]
    body: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


def idempotent(
    session: Session,
    user_id: uuid.UUID,
    key: str | None,
    request: Any,
    create: Callable[[], Any],
    status_code: int = 201,
) -> JSONResponse:
    """Run ``create`` once per (user, key); a retry with the same body gets the same answer.

    The record is written in the same transaction as the change, so a crash loses neither or both.
    """
    if key is None:
        return JSONResponse(jsonable_encoder(create()), status_code=status_code)
    if not 1 <= len(key) <= 255:
        raise Problem(400, "invalid-idempotency-key", "Idempotency-Key must be 1-255 characters")
    fingerprint = hashlib.sha256(
        json.dumps(jsonable_encoder(request), sort_keys=True).encode()
    ).hexdigest()
    found = session.scalar(
        select(IdempotencyRecord).where(
            IdempotencyRecord.user_id == user_id, IdempotencyRecord.key == key
        )
    )
    if found is not None:
        if found.fingerprint != fingerprint:
            raise Problem(
                422,
                "idempotency-key-reused",
                "This Idempotency-Key was used with a different request body",
            )
        return JSONResponse(
            json.loads(found.body),
            status_code=found.status_code,
            headers={"Idempotent-Replayed": "true"},
        )
    body = jsonable_encoder(create())
    session.add(
        IdempotencyRecord(
            user_id=user_id,
            key=key,
            fingerprint=fingerprint,
            status_code=status_code,
            body=json.dumps(body),
        )
    )
    session.flush()
    return JSONResponse(body, status_code=status_code)
