"""The Celery application as workers and beat run it: every package's tasks and schedules.

``daiyun worker`` and ``daiyun beat`` start this one (``celery -A daiyun.worker`` does too); the
API process only sends tasks, so it needs neither list.
"""

from daiyun import departments
from daiyun.core.tasks import celery_app

celery_app.conf.include = departments.task_modules()
celery_app.conf.beat_schedule = departments.beat_schedule()

__all__ = ["celery_app"]
