"""The one list of the application's domain packages, and what is derived from it.

Each package follows the same conventions, so the composition root needs no other wiring:

* ``models``: its tables (Alembic's metadata and the catalogue of tenant tables come from these);
* ``api``: ``router``, mounted under ``/api/v1``, and optionally ``ingress``, mounted at the root
  for the marketplaces and Stripe calling in;
* ``tasks``: its Celery tasks and event subscriptions (a worker imports them all), and optionally
  ``SCHEDULE``, its entries for beat;
* ``commands``: ``register(app)`` adds its commands to the ``daiyun`` CLI.

Adding a department is adding its package and its line here.
"""

from __future__ import annotations

import importlib
import importlib.util
from collections.abc import Iterator
from types import ModuleType
from typing import Any

PACKAGES: tuple[str, ...] = (
    "daiyun.core",
    "daiyun.core.events",
    "daiyun.tenants.auth",
    "daiyun.tenants",
    "daiyun.platform.orders",
    "daiyun.platform.rates",
    "daiyun.platform.storefront",
    "daiyun.platform.warehouse",
    "daiyun.platform.marketing",
    "daiyun.platform.fulfillment",
    "daiyun.platform.reports",
    "daiyun.connectors",
    "daiyun.billing",
    "daiyun.platform.customer_service",
    "daiyun.platform.aftersales",
    "daiyun.platform.recruiting",
    "daiyun.portal",
)


def _names(part: str) -> list[str]:
    return [
        f"{package}.{part}"
        for package in PACKAGES
        if importlib.util.find_spec(f"{package}.{part}") is not None
    ]


def _modules(part: str) -> Iterator[ModuleType]:
    for name in _names(part):
        yield importlib.import_module(name)


def load_models() -> None:
    """Import every model, so the metadata holds every table and every foreign key resolves."""
    for _ in _modules("models"):
        pass


def api_modules() -> list[ModuleType]:
    """The modules whose ``router`` (and ``ingress``) the application mounts, in list order."""
    return list(_modules("api"))


def task_modules() -> list[str]:
    """The modules a worker imports: every task and every event subscription."""
    return _names("tasks")


def beat_schedule() -> dict[str, dict[str, Any]]:
    """Every package's periodic tasks, for beat."""
    schedule: dict[str, dict[str, Any]] = {}
    for module in _modules("tasks"):
        schedule.update(getattr(module, "SCHEDULE", {}))
    return schedule


def command_modules() -> list[ModuleType]:
    """The modules whose ``register(app)`` adds commands to the CLI."""
    return list(_modules("commands"))
