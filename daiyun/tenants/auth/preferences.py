"""A user's own settings: the language they read in and the time zone they read times in.

Both are kept on the account, so they follow the user to any browser and to the API. They are
preferences of the user about themselves, changed only by that user: not audited (as the
language never was).
"""

from __future__ import annotations

import uuid

from sqlalchemy.orm import Session

from daiyun.core.errors import Problem
from daiyun.tenants.auth.models import User
from daiyun.tenants.auth.schemas import READING_ZONES, MeUpdate


def reading_zone(value: str | None) -> str | None:
    """``value`` if it is one of the zones a user may choose, else None."""
    return value if value in READING_ZONES else None


def set_time_zone(session: Session, user_id: uuid.UUID, zone: str | None) -> None:
    """Keep the zone a user reads times in; None: each tenant's own zone again.

    A zone outside :data:`READING_ZONES` is refused (422) before anything is written: the column
    would take any text, and a page later asked to show times in it could not.
    """
    if zone is not None and reading_zone(zone) is None:
        raise Problem(422, "unknown-time-zone", f"{zone!r} is not one of the time zones offered")
    user = session.get(User, user_id)
    if user is not None:
        user.time_zone = zone
        session.flush()


def update_own(session: Session, user: User, change: MeUpdate) -> User:
    """Apply the fields ``change`` names (a field left out stays as it is)."""
    named = change.model_fields_set
    if "locale" in named and change.locale is not None:
        user.locale = change.locale
    if "time_zone" in named:
        set_time_zone(session, user.id, change.time_zone)
    session.flush()
    return user
