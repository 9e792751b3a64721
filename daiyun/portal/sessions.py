"""Server-side portal sessions and their CSRF tokens.

The cookie carries a random id; the database keeps its SHA-256, the user, the tenant the user last
switched to and the session's CSRF token. A new id is issued at sign-in and at every tenant switch
(the old row is revoked), and signing out revokes the row, so a copied cookie stops working.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import uuid
from datetime import timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from daiyun.core.config import get_settings
from daiyun.core.ids import utcnow
from daiyun.portal.identity import Viewer
from daiyun.portal.models import PortalSession
from daiyun.tenants import service as tenant_service

COOKIE = "daiyun_session"


def _digest(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()


def start(session: Session, user: Viewer, tenant_id: uuid.UUID | None = None) -> str:
    """Open a session for ``user``; returns the cookie value (shown once, stored hashed)."""
    raw = secrets.token_urlsafe(32)
    ttl = timedelta(hours=get_settings().token_ttl_hours)
    session.add(
        PortalSession(
            id_hash=_digest(raw),
            user_id=user.id,
            switched_tenant_id=tenant_id,
            csrf_token=secrets.token_urlsafe(32),
            expires_at=utcnow() + ttl,
        )
    )
    session.flush()
    return raw


def resolve(session: Session, raw: str | None) -> tuple[PortalSession, Viewer] | None:
    """The live session behind a cookie value and its active user, or None."""
    if not raw:
        return None
    found = session.scalar(
        select(PortalSession).where(
            PortalSession.id_hash == _digest(raw),
            PortalSession.revoked_at.is_(None),
            PortalSession.expires_at > utcnow(),
        )
    )
    if found is None:
        return None
    user = tenant_service.active_user(session, found.user_id)
    if user is None:
        return None
    return found, user


def end(current: PortalSession) -> None:
    current.revoked_at = utcnow()


def rotate(session: Session, current: PortalSession, user: Viewer, tenant_id: uuid.UUID) -> str:
    """Switch tenant: the old id stops working and a new one (with a new CSRF token) is issued."""
    end(current)
    return start(session, user, tenant_id)


def csrf_matches(expected: str, given: str | None) -> bool:
    return given is not None and hmac.compare_digest(expected.encode(), given.encode())
