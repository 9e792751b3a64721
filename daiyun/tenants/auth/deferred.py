"""Records that must land whatever becomes of the request: refused accesses, failed sign-ins.

The request's unit of work rolls back when it is refused, so these cannot ride in it. Writing
them at once in a unit of work of their own would take a second pooled connection while the
request still holds its first: a flood of refused requests would then exhaust the pool. So the
request's session carries them, and :func:`daiyun.tenants.auth.deps.get_session` writes them
once it has released its connection: one connection per request, however it ends.
"""

from __future__ import annotations

from collections.abc import Callable

import structlog
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

_KEY = "daiyun_after_request"
log = structlog.get_logger()


def track(session: Session) -> None:
    """Mark ``session`` as a request's unit of work, which runs deferred writes when done."""
    session.info[_KEY] = []


def defer(session: Session, write: Callable[[], None]) -> None:
    """Run ``write`` (which opens its own unit of work) once the request's session is closed;
    at once for a session no request tracks (a script, a test)."""
    pending: list[Callable[[], None]] | None = session.info.get(_KEY)
    if pending is None:
        write()
    else:
        pending.append(write)


def take(session: Session) -> list[Callable[[], None]]:
    """The deferred writes of ``session``, handed over once."""
    pending: list[Callable[[], None]] = session.info.pop(_KEY, None) or []
    return pending


def run(writes: list[Callable[[], None]]) -> None:
    """Run deferred writes; one that fails is logged and must not turn the answer into a 500."""
    for write in writes:
        try:
            write()
        except SQLAlchemyError:
            log.exception("deferred write failed")
