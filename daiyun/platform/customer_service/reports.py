"""What supervisors and merchants read about the service: the queue and breaches now, and a
period's volumes and first-response times. First-response time is wall-clock time from the
conversation's start to the first reply (business hours are in the SLA targets, not here)."""

from __future__ import annotations

import statistics
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy.orm import Session

from daiyun.platform.customer_service import repository, rules
from daiyun.platform.customer_service.models import Conversation, State
from daiyun.platform.customer_service.schemas import ConversationRead


@dataclass(frozen=True)
class Desk:
    """One merchant's desk now."""

    open: int
    queued: int
    oldest_queued: datetime | None
    breached: int
    at_risk: int  # see at_risk()


@dataclass
class Report:
    opened: int = 0
    resolved: int = 0
    by_channel: dict[str, int] = field(default_factory=dict)
    answered: int = 0
    median_first_response_minutes: float | None = None
    average_first_response_minutes: float | None = None
    breaches: dict[str, int] = field(default_factory=dict)


def desk(session: Session, now: datetime) -> Desk:
    unresolved = [
        c for c in session.scalars(repository.conversations()) if c.state != State.resolved
    ]
    queued = [c for c in unresolved if c.assignee_id is None]
    stamps = [c.queued_at for c in queued if c.queued_at is not None]
    return Desk(
        open=len(unresolved),
        queued=len(queued),
        oldest_queued=min(stamps) if stamps else None,
        breached=sum(1 for c in unresolved if c.breaches),
        at_risk=sum(1 for c in unresolved if at_risk(c, now)),
    )


def at_risk(conv: Conversation | ConversationRead, now: datetime) -> bool:
    """The conversation is not breached and a clock of it is due within rules.AT_RISK."""
    dues = (conv.first_response_due, conv.next_response_due, conv.resolution_due)
    return rules.in_risk(conv.breaches or [], dues, now)


def report(session: Session, since: datetime, until: datetime) -> Report:
    """Conversations started in [since, until)."""
    stmt = repository.conversations().where(
        Conversation.created_at >= since, Conversation.created_at < until
    )
    found = list(session.scalars(stmt))
    waits = [
        (c.first_response_at - c.created_at).total_seconds() / 60
        for c in found
        if c.first_response_at is not None
    ]
    clocks: Counter[str] = Counter()
    for c in found:
        clocks.update(c.breaches or [])
    return Report(
        opened=len(found),
        resolved=sum(1 for c in found if c.state == State.resolved),
        by_channel=dict(Counter(c.channel.value for c in found)),
        answered=len(waits),
        median_first_response_minutes=statistics.median(waits) if waits else None,
        average_first_response_minutes=statistics.fmean(waits) if waits else None,
        breaches=dict(clocks),
    )
