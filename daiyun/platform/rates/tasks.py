"""Exchange-rate tasks: the daily fetch from the configured rates service."""

from __future__ import annotations

from datetime import timedelta

import httpx
import structlog
from sqlalchemy.orm import Session

from daiyun.core.config import get_settings
from daiyun.core.ids import utcnow
from daiyun.core.tasks import platform_task
from daiyun.platform.rates import service

log = structlog.get_logger()
# Four times a day: a bank's rate of the day is published once, at a time of its own.
SCHEDULE = {"rates-fetch": {"task": "daiyun.rates.fetch", "schedule": 6 * 3600.0}}


@platform_task("daiyun.rates.fetch")
def fetch(session: Session) -> dict[str, int]:
    """Yesterday's and today's rates from ``DAIYUN_RATES_URL`` (nothing when it is unset).
    Recording is idempotent, so fetching a day again only fills what was missing."""
    settings = get_settings()
    if not settings.rates_url:
        return {"created": 0, "changed": 0}
    today = utcnow().date()
    created = changed = 0
    with httpx.Client(timeout=20) as client:
        for day in (today - timedelta(days=1), today):
            result = service.fetch(session, client, settings.rates_url, settings.rates_pairs, day)
            created, changed = created + result.created, changed + result.changed
    log.info("rates.fetched", created=created, changed=changed)
    return {"created": created, "changed": changed}
