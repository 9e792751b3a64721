"""The catalog's background work: bulk jobs (imports, exports, bulk edits) and their sweep;
listing pushes, their retry sweep and the scheduled price lists (:mod:`.listing_tasks`)."""

from __future__ import annotations

from daiyun.platform.storefront import listing_tasks
from daiyun.platform.storefront.listing_tasks import (
    listing_sweep,
    price_lists,
    push_changed_listings,
    push_listings,
)
from daiyun.platform.storefront.runner import SCHEDULE as JOB_SCHEDULE
from daiyun.platform.storefront.runner import run_job, sweep_jobs

SCHEDULE = {**JOB_SCHEDULE, **listing_tasks.SCHEDULE}

__all__ = [
    "SCHEDULE",
    "listing_sweep",
    "price_lists",
    "push_changed_listings",
    "push_listings",
    "run_job",
    "sweep_jobs",
]
