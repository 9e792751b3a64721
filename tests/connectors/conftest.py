"""Fixtures for connector tests: a real broker for the tasks requests queue."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.core.tasks_fixtures import celery_broker


@pytest.fixture
def broker(tmp_path: Path) -> Iterator[str]:
    """Point Celery at a throwaway broker (CI: a key prefix on Redis) for this test."""
    with celery_broker(tmp_path) as url:
        yield url
