"""SLA clocks on a conversation: which policy applies, when each clock starts, pauses, resumes
and stops. The arithmetic is in ``rules``; this module applies it to the rows.

First response runs from the conversation's start until the first reply; next response from a
buyer's message (after the first reply) until the next reply; resolution from the start until
resolved. While pending (waiting on the buyer) every running clock is paused, keeping the
business time it had left; the buyer's next message resumes it with a recomputed due time.
Resolving stops every clock. A clock found past due is recorded in ``breaches`` for good.
"""

from __future__ import annotations

import json
import uuid
from datetime import datetime

from sqlalchemy.orm import Session
from sqlalchemy.orm.attributes import set_committed_value

from daiyun.core.ids import utcnow
from daiyun.platform.customer_service import repository, rules
from daiyun.platform.customer_service.models import (
    Conversation,
    Message,
    MessageKind,
    SlaPolicy,
    State,
)
from daiyun.tenants import service as tenant_service


def _dues(conv: Conversation) -> dict[str, datetime | None]:
    return {
        "first_response": conv.first_response_due,
        "next_response": conv.next_response_due,
        "resolution": conv.resolution_due,
    }


def _set(conv: Conversation, dues: dict[str, datetime | None]) -> None:
    for name, when in dues.items():
        setattr(conv, f"{name}_due", when)


def calendar_of(session: Session, policy: SlaPolicy) -> rules.Calendar:
    return rules.calendar(
        tenant_service.time_zone(session), policy.business_hours or {}, policy.holidays or []
    )


def policy_for(session: Session, conv: Conversation) -> SlaPolicy | None:
    for policy in repository.policies(session):
        target = rules.PolicyTarget(
            policy.priority.value if policy.priority else None,
            policy.channel.value if policy.channel else None,
            policy.label,
        )
        if rules.matches(target, conv.priority.value, conv.channel.value, conv.labels or []):
            return policy
    return None


def _policy(session: Session, conv: Conversation) -> SlaPolicy | None:
    return repository.policy(session, conv.sla_policy_id) if conv.sla_policy_id else None


def record_breaches(conv: Conversation, now: datetime) -> None:
    found = rules.breached(conv.breaches or [], _dues(conv), now)
    if found != list(conv.breaches or []):
        conv.breaches = found


def start(session: Session, conv: Conversation, now: datetime) -> None:
    """A new conversation: its policy, and the first-response and resolution clocks."""
    policy = policy_for(session, conv)
    conv.sla_policy_id = policy.id if policy else None
    if policy is None:
        return
    cal = calendar_of(session, policy)
    conv.first_response_due = rules.due(now, policy.first_response_minutes, cal)
    conv.resolution_due = rules.due(now, policy.resolution_minutes, cal)


def rematch(session: Session, conv: Conversation, now: datetime) -> None:
    """Priority or labels changed: a different policy may apply. Clocks already running are
    re-timed from the conversation's start under the new targets, never earlier than breached."""
    policy = policy_for(session, conv)
    if (policy.id if policy else None) == conv.sla_policy_id:
        return
    record_breaches(conv, now)
    conv.sla_policy_id = policy.id if policy else None
    if policy is None:
        _set(conv, dict.fromkeys(_dues(conv)))
        conv.paused = {}
        return
    cal = calendar_of(session, policy)
    if conv.paused:
        return  # re-timed when the buyer answers
    if conv.first_response_at is None and conv.resolved_at is None:
        conv.first_response_due = rules.due(conv.created_at, policy.first_response_minutes, cal)
    if conv.resolved_at is None:
        conv.resolution_due = rules.due(conv.created_at, policy.resolution_minutes, cal)


def on_inbound(session: Session, conv: Conversation, now: datetime) -> None:
    """The buyer wrote: a paused clock resumes; after a first reply, next response starts."""
    policy = _policy(session, conv)
    if policy is None:
        return
    cal = calendar_of(session, policy)
    if conv.paused:
        resume(session, conv, now)
    if conv.first_response_at is not None and conv.next_response_due is None:
        conv.next_response_due = rules.due(now, policy.next_response_minutes, cal)
    if conv.resolution_due is None and conv.resolved_at is None:
        conv.resolution_due = rules.due(now, policy.resolution_minutes, cal)


def on_reply(conv: Conversation, now: datetime) -> None:
    """An agent replied: first and next response are met (or were breached: recorded)."""
    record_breaches(conv, now)
    if conv.first_response_at is None:
        conv.first_response_at = now
    conv.first_response_due = None
    conv.next_response_due = None


def pause(session: Session, conv: Conversation, now: datetime) -> None:
    policy = _policy(session, conv)
    record_breaches(conv, now)
    if policy is None or conv.paused:
        return
    running = {k: v for k, v in _dues(conv).items() if v is not None}
    conv.paused = rules.pause(running, now, calendar_of(session, policy))
    _set(conv, dict.fromkeys(_dues(conv)))


def resume(session: Session, conv: Conversation, now: datetime) -> None:
    policy = _policy(session, conv)
    left = dict(conv.paused or {})
    conv.paused = {}
    if policy is None or not left:
        return
    due = rules.resume(left, now, calendar_of(session, policy))
    _set(conv, {**_dues(conv), **due})


def stop(conv: Conversation, now: datetime) -> None:
    """Resolved: every clock stops (its breach, if any, stays on record)."""
    record_breaches(conv, now)
    _set(conv, dict.fromkeys(_dues(conv)))
    conv.paused = {}


def reopen(session: Session, conv: Conversation, now: datetime) -> None:
    """Reopened: resolution runs again from now; next response too if it was answered before."""
    policy = _policy(session, conv)
    if policy is None:
        return
    cal = calendar_of(session, policy)
    conv.resolution_due = rules.due(now, policy.resolution_minutes, cal)
    if conv.first_response_at is None:
        conv.first_response_due = rules.due(now, policy.first_response_minutes, cal)
    else:
        conv.next_response_due = rules.due(now, policy.next_response_minutes, cal)


def sweep(session: Session, now: datetime) -> int:
    """Record every breach past due in the bound tenant; the number of conversations touched.

    Tens of thousands may be past due at once, and those with the same breaches and the same
    clocks past due change alike: the rule is applied once per such group and each group
    written in one UPDATE, none loaded one by one. The conversations the session holds (flushed
    first, so the rows read are theirs) are given what was written, as a flush would have left
    them."""
    session.flush()
    stamp = utcnow()
    touched = 0
    for group in repository.breach_groups(session, rules.CLOCKS, now):
        before = json.loads(group.breaches) or []
        dues = {clock: group._mapping[clock] for clock in rules.CLOCKS}
        found = rules.breached(before, dues, now)
        if found != before:
            past = {clock: when is not None and now > when for clock, when in dues.items()}
            touched += repository.write_breaches(session, group.breaches, past, now, found, stamp)
    for held in list(session.identity_map.values()):
        if isinstance(held, Conversation) and held.state in (State.open, State.snoozed):
            found = rules.breached(held.breaches or [], _dues(held), now)
            if found != list(held.breaches or []):
                set_committed_value(held, "breaches", found)
                set_committed_value(held, "updated_at", stamp)
    return touched


CLOCK_NAMES = {
    "first_response": "first response",
    "next_response": "next response",
    "resolution": "resolution",
}


def warn(session: Session, now: datetime) -> list[tuple[uuid.UUID, str]]:
    """Warn of every clock at risk in the bound tenant: a system message on the conversation
    for whoever opens it, recorded so each due time warns once. Returns (conversation, warning
    key) for the e-mails the caller queues."""
    given = []
    for conv in repository.due_clocks(session, now + rules.AT_RISK):
        found = rules.at_risk(_dues(conv), conv.breaches or [], conv.warned or [], now)
        for clock, due in found:
            key = rules.warning_key(clock, due)
            conv.warned = [*(conv.warned or []), key]
            text = f"SLA at risk: {CLOCK_NAMES[clock]} due {due:%Y-%m-%d %H:%M} UTC"
            session.add(Message(conversation_id=conv.id, kind=MessageKind.system, body=text))
            given.append((conv.id, key))
    session.flush()
    return given
