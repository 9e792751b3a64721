"""The recruiting report (招聘报表) of a period, in the merchant's days:

* **time to fill**: requisitions filled in the period, days from approval to filled;
* **time to hire**: applications hired in the period (the move to their pipeline's last stage),
  days from applying to that move;
* **funnel**: of the applications made in the period, how many reached each stage (an
  application reached every stage of its pipeline up to the furthest it stood at, so a skipped
  stage counts as passed), how many were refused while at it, and the share going on to the
  next stage;
* **sources**: of those applications, per source (careers page, referral, sourced ...), how many
  there were and how many were hired;
* **offers**: offers answered in the period, accepted and declined, and the acceptance rate.

Recruiting volumes are a merchant's hiring (thousands of applications a year, not millions), so
the figures are counted here from the period's rows rather than kept in rollups.
"""

from __future__ import annotations

import statistics
import uuid
from collections import Counter
from collections.abc import Iterable
from datetime import date, datetime, timedelta

from sqlalchemy.orm import Session

from daiyun.core import periods
from daiyun.platform.recruiting import repository, service
from daiyun.platform.recruiting.models import ApplicationStatus, OfferStatus
from daiyun.platform.recruiting.schemas import (
    Durations,
    FunnelRow,
    OfferFigures,
    RecruitingReport,
    SourceRow,
)

DAY = 86_400.0


def _durations(spans: Iterable[timedelta]) -> Durations:
    days = [span.total_seconds() / DAY for span in spans]
    if not days:
        return Durations(count=0, median_days=None, mean_days=None)
    return Durations(
        count=len(days),
        median_days=round(statistics.median(days), 1),
        mean_days=round(statistics.fmean(days), 1),
    )


def _rate(part: int, whole: int) -> float | None:
    return round(part / whole, 4) if whole else None


def report(session: Session, first: date, last: date, time_zone: str) -> RecruitingReport:
    start, end = periods.bounds(first, last, time_zone)
    pipelines = {r.id: r.stages for r in repository.all_requisitions(session)}

    filled = [
        r.filled_at - r.approved_at
        for r in repository.filled_between(session, start, end)
        if r.approved_at is not None and r.filled_at is not None
    ]
    hires: dict[uuid.UUID, datetime] = {}
    for move in repository.moves_between(session, start, end):
        stages = pipelines.get(move.requisition_id, [])
        if stages and move.to_stage == stages[-1]:
            hires[move.application_id] = max(move.at, hires.get(move.application_id, move.at))
    applied_at = repository.applied_at(session, list(hires))
    to_hire = [at - applied_at[a] for a, at in hires.items() if a in applied_at]

    made = repository.applied_between(session, start, end)
    reached: Counter[str] = Counter()
    refused: Counter[str] = Counter()
    order: list[str] = list(service.get_settings(session).stages)
    sources: Counter[str] = Counter()
    hired_by_source: Counter[str] = Counter()
    for application in made:
        stages = pipelines.get(application.requisition_id, [])
        furthest = stages.index(application.stage) if application.stage in stages else 0
        for stage in stages[: furthest + 1]:
            reached[stage] += 1
            if stage not in order:
                order.append(stage)
        if application.status == ApplicationStatus.refused:
            refused[application.stage] += 1
        sources[application.source] += 1
        hired_by_source[application.source] += application.status == ApplicationStatus.hired
    shown = [s for s in order if reached[s]]
    funnel = [
        FunnelRow(
            stage=stage,
            reached=reached[stage],
            refused=refused[stage],
            to_next=_rate(reached[shown[i + 1]], reached[stage]) if i + 1 < len(shown) else None,
        )
        for i, stage in enumerate(shown)
    ]

    answered = Counter(o.status for o in repository.answered_between(session, start, end))
    accepted, declined = answered[OfferStatus.accepted], answered[OfferStatus.declined]
    return RecruitingReport(
        first=first,
        last=last,
        time_to_fill=_durations(filled),
        time_to_hire=_durations(to_hire),
        applications=len(made),
        funnel=funnel,
        sources=[
            SourceRow(
                source=source,
                applications=count,
                hired=hired_by_source[source],
                hire_rate=_rate(hired_by_source[source], count),
            )
            for source, count in sorted(sources.items(), key=lambda kv: (-kv[1], kv[0]))
        ],
        offers=OfferFigures(
            accepted=accepted,
            declined=declined,
            acceptance_rate=_rate(accepted, accepted + declined),
        ),
    )
