"""Exchange rates: read by any signed-in user, recorded by agency admins and finance."""

from __future__ import annotations

from fastapi import APIRouter, Query

from daiyun.core.errors import Problem
from daiyun.core.ids import Day
from daiyun.core.openapi import problems
from daiyun.core.pagination import Cursor, Limit, Page
from daiyun.platform.rates import service
from daiyun.platform.rates.rules import Quote, RateError, rate
from daiyun.platform.rates.schemas import RateRead, RatesIn, RatesRecorded
from daiyun.tenants.auth.deps import CurrentUser, SessionDep
from daiyun.tenants.auth.permissions import Role

router = APIRouter(tags=["exchange rates"])
# Rates are the agency's market data, not a merchant's: who may record them is a global role.
KEEPERS = frozenset({Role.agency_admin, Role.finance})
CurrencyQuery = Query(default=None, pattern=r"^[A-Z]{3}$")


@router.get("/exchange-rates", response_model=Page[RateRead])
def list_rates(
    session: SessionDep,
    user: CurrentUser,
    base: str | None = CurrencyQuery,
    quote: str | None = CurrencyQuery,
    day_from: Day | None = Query(default=None, alias="from"),
    day_to: Day | None = Query(default=None, alias="to"),
    cursor: Cursor = None,
    limit: Limit = 50,
) -> Page[RateRead]:
    """Recorded rates, oldest recorded first, filtered by pair and days (inclusive)."""
    rows, next_cursor = service.list_rates(session, base, quote, day_from, day_to, cursor, limit)
    return Page(items=[RateRead.model_validate(r) for r in rows], next_cursor=next_cursor)


@router.put("/exchange-rates", response_model=RatesRecorded, responses=problems(422))
def record_rates(session: SessionDep, user: CurrentUser, body: RatesIn) -> RatesRecorded:
    """Record rates (up to 1,000 at a time): new ones are added, changed ones replaced, the
    same ones left alone, so sending a batch twice is harmless. A bad rate refuses the batch."""
    if user.role not in KEEPERS:
        raise Problem(403, "forbidden", "Only agency admins and finance record exchange rates")
    quotes = []
    for n, item in enumerate(body.rates):
        try:
            if item.base == item.quote:
                raise RateError("a rate converts between two currencies")
            quotes.append(Quote(item.base, item.quote, item.day, rate(item.rate), item.source))
        except RateError as exc:
            raise Problem(422, "invalid-rate", f"rates[{n}]: {exc}") from exc
    if len({(q.base, q.quote, q.day) for q in quotes}) != len(quotes):
        raise Problem(422, "invalid-rate", "A pair and day appears twice in the batch")
    return service.record(session, quotes, f"api:{user.email}")
