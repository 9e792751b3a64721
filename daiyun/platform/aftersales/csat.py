"""Satisfaction surveys (CSAT): when a conversation is resolved the buyer is asked, on the
conversation's own channel, to rate it 1-5 with a comment, or to skip it.

* **Once per conversation**: resolving it again after a reopen asks nothing more (a unique row
  per conversation; a redelivered event finds it).
* **Channels**: the survey goes where a message reaches the buyer, today the e-mail channel (a
  conversation on another channel gets none: there is no way to hand them the link).
* **The link** is ``/survey/{token}``: the token names the merchant and the survey and is signed
  with the server's secret, so a visitor can neither guess one nor reach another merchant's; it
  stays open for the merchant's ``csat_days``, and an answer or a skip closes it.
* **Who it counts for**: the agent holding the conversation when it was resolved.
"""

from __future__ import annotations

import hashlib
import hmac
import uuid
from datetime import date, datetime, timedelta

from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from daiyun.core import periods
from daiyun.core.audit import service as audit
from daiyun.core.config import get_settings
from daiyun.core.errors import Problem
from daiyun.core.events.models import OutboxEvent
from daiyun.core.events.service import subscribe
from daiyun.core.ids import utcnow
from daiyun.core.pagination import paginate
from daiyun.platform.aftersales import repository, service
from daiyun.platform.aftersales.models import Survey
from daiyun.platform.aftersales.schemas import CsatRow, CsatSummary
from daiyun.platform.customer_service import rules as cs_rules
from daiyun.platform.customer_service import service as cs_service

# The channels a survey reaches the buyer on (the others have no way out yet).
SURVEYED_CHANNELS = frozenset({"email"})
ASK = (
    "感谢您的耐心！请为本次服务打分（1-5 分），只需几秒：{url}\n"
    "Thank you for your patience. How did we do? Rate this conversation (1-5), it takes a few "
    "seconds: {url}"
)


def _signature(tenant_id: uuid.UUID, survey_id: uuid.UUID) -> str:
    key = get_settings().secret_key.encode()
    text = f"csat:{tenant_id.hex}:{survey_id.hex}".encode()
    return hmac.new(key, text, hashlib.sha256).hexdigest()[:32]


def token(tenant_id: uuid.UUID, survey_id: uuid.UUID) -> str:
    return f"{tenant_id.hex}.{survey_id.hex}.{_signature(tenant_id, survey_id)}"


def read_token(text: str) -> tuple[uuid.UUID, uuid.UUID] | None:
    """The merchant and survey a token names, when its signature is the server's."""
    parts = text.split(".")
    if len(parts) != 3:
        return None
    try:
        tenant_id, survey_id = uuid.UUID(hex=parts[0]), uuid.UUID(hex=parts[1])
    except ValueError:
        return None
    if not hmac.compare_digest(parts[2], _signature(tenant_id, survey_id)):
        return None
    return tenant_id, survey_id


def link(found: Survey) -> str:
    return f"{get_settings().base_url.rstrip('/')}/survey/{token(found.tenant_id, found.id)}"


def offer(
    session: Session, conversation_id: uuid.UUID, now: datetime | None = None
) -> Survey | None:
    """Ask the buyer of a resolved conversation, once; the survey when one went out."""
    row = service.settings(session)
    conv = cs_service.get_conversation(session, conversation_id)
    if not row.csat_enabled or conv.channel.value not in SURVEYED_CHANNELS:
        return None
    if repository.survey_of(session, conversation_id) is not None:
        return None
    now = now or utcnow()
    found = Survey(
        conversation_id=conv.id,
        agent_id=conv.assignee_id,
        shop_id=conv.shop_id,
        channel=conv.channel.value,
        sent_at=now,
        expires_at=now + timedelta(days=row.csat_days),
    )
    try:
        with session.begin_nested():
            session.add(found)
            session.flush()
    except IntegrityError:
        return None  # asked by a delivery of the same event running alongside
    cs_service.notify_buyer(session, conv.id, ASK.format(url=link(found)))
    return found


@subscribe(cs_rules.CONVERSATION_RESOLVED)
def survey_on_resolve(session: Session, event: OutboxEvent) -> None:
    offer(session, uuid.UUID(event.payload["conversation_id"]))


def get(session: Session, survey_id: uuid.UUID, *, lock: bool = False) -> Survey:
    found = repository.survey(session, survey_id, lock=lock)
    if found is None:
        raise Problem(404, "not-found", "No such survey")
    return found


def _open(found: Survey, now: datetime) -> None:
    if found.answered_at is not None or found.skipped:
        raise Problem(409, "survey-answered", "This survey was answered already")
    if now >= found.expires_at:
        raise Problem(410, "survey-closed", "This survey has closed")


def answer(session: Session, found: Survey, rating: int, comment: str) -> Survey:
    """The buyer's rating (1-5) and comment; a survey answers once, while its link is open."""
    now = utcnow()
    _open(found, now)
    if not 1 <= rating <= 5:
        raise Problem(422, "bad-rating", "A rating is 1 to 5")
    found.rating, found.comment, found.answered_at = rating, comment[:2000], now
    session.flush()
    audit.record(session, "aftersales.csat_answered", f"survey:{found.id}", {"rating": rating})
    return found


def skip(session: Session, found: Survey) -> Survey:
    """The buyer would rather not say: the link closes, and the survey counts as unanswered."""
    _open(found, utcnow())
    found.skipped = True
    session.flush()
    return found


def find(
    session: Session,
    agent_id: uuid.UUID | None,
    answered: bool | None,
    rating: int | None,
    cursor: str | None,
    limit: int,
) -> tuple[list[Survey], str | None]:
    stmt = repository.surveys(agent_id, answered, rating)
    return paginate(session, stmt, Survey.id, cursor, limit)


def _row(agent_id: uuid.UUID | None, found: list[Survey]) -> CsatRow:
    ratings = [s.rating for s in found if s.rating is not None]
    return CsatRow(
        agent_id=agent_id,
        sent=len(found),
        answered=len(ratings),
        skipped=sum(s.skipped for s in found),
        average=round(sum(ratings) / len(ratings), 2) if ratings else None,
        satisfied=round(sum(r >= 4 for r in ratings) / len(ratings), 4) if ratings else None,
        response_rate=round(len(ratings) / len(found), 4) if found else None,
    )


def summary(session: Session, first: date, last: date, time_zone: str) -> CsatSummary:
    """Surveys sent in the period (the merchant's days), per agent and in all."""
    start, end = periods.bounds(first, last, time_zone)
    found = repository.surveys_sent_between(session, start, end)
    agents: dict[uuid.UUID | None, list[Survey]] = {}
    for survey in found:
        agents.setdefault(survey.agent_id, []).append(survey)
    rows = [_row(agent_id, surveys) for agent_id, surveys in agents.items()]
    rows.sort(key=lambda r: (-r.sent, str(r.agent_id)))
    return CsatSummary(first=first, last=last, rows=rows, total=_row(None, found))
