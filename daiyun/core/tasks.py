"""The Celery app, its queues, the task base for tenant work, and enqueueing after commit.

Tenant work always names its tenant: :func:`tenant_task` registers a function
``fn(session, *args)`` as a task called as ``task.delay(tenant_id, *args)``; the wrapper refuses
to run without a tenant id, opens its own unit of work bound to that tenant, commits on success,
and leaves nothing behind for the next task on the same worker.

Work for after a change is enqueued with :func:`enqueue_after_commit`: the message leaves once the
transaction has committed (so the task finds what it was sent for), and never if it rolls back.
"""

from __future__ import annotations

import functools
import uuid
from collections.abc import Callable
from typing import Any, TypeVar

import structlog
from celery import Celery, Task
from kombu import Queue
from sqlalchemy import event
from sqlalchemy.orm import Session

from daiyun.core.config import get_settings
from daiyun.core.db import unit_of_work

QUEUES = ("default", "webhooks", "sync", "billing")

R = TypeVar("R")

log = structlog.get_logger()

_AFTER_COMMIT = "daiyun_after_commit"


class TenantRequired(ValueError):
    """Tenant work was enqueued without a tenant id."""


def make_celery() -> Celery:
    settings = get_settings()
    app = Celery("daiyun", broker=settings.broker_url, backend=settings.result_backend)
    app.conf.update(
        task_queues=[Queue(name) for name in QUEUES],
        task_default_queue="default",
        task_serializer="json",
        accept_content=["json"],
        task_ignore_result=settings.result_backend is None,
        # Acknowledge after the work is done, so a crash mid-task redelivers it;
        # every task is written to be safe to run twice.
        task_acks_late=True,
        task_reject_on_worker_lost=True,
        worker_prefetch_multiplier=1,
        broker_connection_retry_on_startup=True,
        # The SQL transport hands every transport option to create_engine(), which refuses
        # polling_interval: there the transport's own 1 s poll applies.
        broker_transport_options=(
            {} if settings.broker_url.startswith("sqla+") else {"polling_interval": 0.2}
        ),
        timezone="UTC",
    )
    return app


celery_app = make_celery()


def parse_tenant(value: Any) -> uuid.UUID:
    if value in (None, ""):
        raise TenantRequired("tenant work needs a tenant id")
    try:
        return value if isinstance(value, uuid.UUID) else uuid.UUID(str(value))
    except ValueError as exc:
        raise TenantRequired(f"not a tenant id: {value!r}") from exc


def tenant_task(
    name: str, queue: str = "default", **options: Any
) -> Callable[[Callable[..., R]], Task]:
    """Register ``fn(session, *args, **kwargs)`` as a task taking the tenant id first."""
    if queue not in QUEUES:
        raise ValueError(f"unknown queue {queue}")
    if options.get("autoretry_for"):
        # A refusal is final: autoretry_for=(Exception,) must not retry a task with no tenant.
        options["dont_autoretry_for"] = (*options.get("dont_autoretry_for", ()), TenantRequired)

    def decorate(fn: Callable[..., R]) -> Task:
        @functools.wraps(fn)
        def run(tenant_id: Any, *args: Any, **kwargs: Any) -> R:
            tenant = parse_tenant(tenant_id)
            structlog.contextvars.clear_contextvars()
            structlog.contextvars.bind_contextvars(task=name, tenant_id=str(tenant))
            try:
                with unit_of_work(tenant) as session:
                    return fn(session, *args, **kwargs)
            finally:
                structlog.contextvars.clear_contextvars()

        task: Task = celery_app.task(name=name, queue=queue, **options)(run)
        return task

    return decorate


def platform_task(
    name: str, queue: str = "default", **options: Any
) -> Callable[[Callable[..., R]], Task]:
    """Register ``fn(session, *args)`` for work that spans tenants (it binds each one itself)."""

    def decorate(fn: Callable[..., R]) -> Task:
        @functools.wraps(fn)
        def run(*args: Any, **kwargs: Any) -> R:
            structlog.contextvars.clear_contextvars()
            with unit_of_work() as session:
                return fn(session, *args, **kwargs)

        task: Task = celery_app.task(name=name, queue=queue, **options)(run)
        return task

    return decorate


def enqueue_after_commit(
    session: Session, task: Any, *args: Any, countdown: float | None = None
) -> None:
    """Send ``task.delay(*args)`` once ``session`` commits (``countdown`` seconds later when
    given); a rollback drops it. ``task`` is a task or a signature naming one.

    No service or endpoint commits (the unit of work does), so this is how work is queued for a
    change. The change itself is the durable intent: a message the broker refuses after the
    commit is logged, and the periodic sweep of the domain that owns the change sends it again.
    """
    session.info.setdefault(_AFTER_COMMIT, []).append((task, args, countdown))


@event.listens_for(Session, "after_commit")
def _send_after_commit(session: Session) -> None:
    for task, args, countdown in session.info.pop(_AFTER_COMMIT, ()):
        try:
            if countdown:
                task.apply_async(args, countdown=countdown)
            else:
                task.delay(*args)
        except Exception:
            log.exception("could not queue a task after commit", task=task.name)


@event.listens_for(Session, "after_rollback")
def _drop_after_rollback(session: Session) -> None:
    session.info.pop(_AFTER_COMMIT, None)
