"""Rates fetched from a Frankfurter-style service: the sandbox over loopback, real HTTP."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date

import httpx
import pytest
from fastapi import FastAPI

from daiyun.core import db
from daiyun.core.loopback import serving
from daiyun.platform.rates import service
from daiyun.platform.rates.rules import RateError
from daiyun.sandboxes import rates as sandbox
from tests.conftest import World

WEDNESDAY, SATURDAY, FRIDAY = date(2025, 6, 4), date(2025, 6, 7), date(2025, 6, 6)


@pytest.fixture(scope="module")
def feed() -> Iterator[str]:
    with serving(sandbox.create_app(), "rates-sandbox") as url:
        yield url


def test_a_day_is_recorded_as_published_and_again_changes_nothing(world: World, feed: str) -> None:
    with httpx.Client() as client, db.unit_of_work() as session:
        first = service.fetch(session, client, feed, "USD:CNY,USD:EUR,EUR:JPY", WEDNESDAY)
        again = service.fetch(session, client, feed, "USD:CNY,USD:EUR,EUR:JPY", WEDNESDAY)
        found = service.rates(session, "USD", "CNY", [WEDNESDAY])
        yen = service.rates(session, "EUR", "JPY", [WEDNESDAY])
    assert (first.created, again.created, again.unchanged) == (3, 0, 3)
    assert found[WEDNESDAY].rate == sandbox.rate("USD", "CNY", WEDNESDAY)
    assert found[WEDNESDAY].source == "127.0.0.1"
    assert yen[WEDNESDAY].rate == sandbox.rate("EUR", "JPY", WEDNESDAY)


def test_a_weekend_keeps_no_rate_of_its_own(world: World, feed: str) -> None:
    with httpx.Client() as client, db.unit_of_work() as session:
        service.fetch(session, client, feed, "USD:GBP", SATURDAY)
        found = service.rates(session, "USD", "GBP", [FRIDAY, SATURDAY])
    assert set(found) == {FRIDAY}  # Friday's rate, recorded under Friday only


def test_a_refusal_or_a_malformed_answer_records_nothing(world: World, feed: str) -> None:
    with httpx.Client() as client, db.unit_of_work() as session:
        with pytest.raises(RateError, match="404"):
            service.fetch(session, client, feed, "USD:HKD,USD:XYZ", WEDNESDAY)
        assert service.rates(session, "USD", "HKD", [WEDNESDAY]) == {}
    other = FastAPI()
    other.get("/{day}")(lambda day: {"hello": "world"})
    with (
        serving(other, "not-rates") as url,
        httpx.Client() as client,
        pytest.raises(RateError, match="not a rates document"),
        db.unit_of_work() as session,
    ):
        service.fetch(session, client, url, "USD:HKD", WEDNESDAY)
    with pytest.raises(RateError, match="currency"):
        service.pairs("USD:CNY,DOLLAR:CNY")
