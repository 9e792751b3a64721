"""Recording and looking up rates on a real database."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest
from sqlalchemy import func, select

from daiyun.core import db
from daiyun.core.audit.models import AuditEntry
from daiyun.platform.rates import service
from daiyun.platform.rates.models import ExchangeRate
from daiyun.platform.rates.rules import Quote, RateError
from tests.conftest import World

DAY = date(2031, 3, 1)


def _count(pair: tuple[str, str]) -> int:
    with db.unit_of_work() as session:
        return (
            session.scalar(
                select(func.count())
                .select_from(ExchangeRate)
                .where(ExchangeRate.base == pair[0], ExchangeRate.quote == pair[1])
            )
            or 0
        )


def test_recording_twice_changes_nothing_and_a_correction_replaces(world: World) -> None:
    quotes = [
        Quote("EUR", "CNY", DAY, Decimal("7.8"), "bank"),
        Quote("EUR", "CNY", date(2031, 3, 2), Decimal("7.81"), "bank"),
    ]
    with db.unit_of_work() as session:
        first = service.record(session, quotes, "test")
    with db.unit_of_work() as session:
        again = service.record(session, quotes, "test")
    assert (first.created, first.changed, first.unchanged) == (2, 0, 0)
    assert (again.created, again.changed, again.unchanged) == (0, 0, 2)
    with db.unit_of_work() as session:
        fixed = service.record(session, [Quote("EUR", "CNY", DAY, Decimal("7.9"), "bank")], "test")
        assert (fixed.created, fixed.changed) == (0, 1)
        found = service.rates(session, "EUR", "CNY", [DAY])
        assert found[DAY].rate == Decimal("7.9")
        audited = session.scalar(
            select(func.count())
            .select_from(AuditEntry)
            .where(
                AuditEntry.action == "exchange_rates.recorded", AuditEntry.target == "rates:test"
            )
        )
        assert audited == 2  # the unchanged batch wrote no entry
    assert _count(("EUR", "CNY")) >= 2


def test_a_bad_line_records_nothing_of_its_file(world: World) -> None:
    content = "day,base,quote,rate\n2031-04-01,GBP,CNY,9.1\n2031-04-02,GBP,CNY,zero\n"
    with pytest.raises(RateError, match="line 3"), db.unit_of_work() as session:
        service.record_csv(session, content, "file")
    assert _count(("GBP", "CNY")) == 0


def test_a_lookup_uses_the_pair_either_way_and_never_guesses_a_day(world: World) -> None:
    with db.unit_of_work() as session:
        service.record(session, [Quote("CNY", "JPY", DAY, Decimal("20"), "bank")], "test")
    with db.unit_of_work() as session:
        days = [DAY, date(2031, 3, 2)]
        forward = service.rates(session, "CNY", "JPY", days)
        backward = service.rates(session, "JPY", "CNY", days)
        same = service.rates(session, "JPY", "JPY", days)
    assert forward == {DAY: Quote("CNY", "JPY", DAY, Decimal("20"), "bank")}
    assert backward == {DAY: Quote("JPY", "CNY", DAY, Decimal("0.05"), "bank")}
    assert set(same) == set(days) and all(q.rate == 1 for q in same.values())
