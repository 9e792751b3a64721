"""A rates service that answers as the ECB-based Frankfurter API does, for the demo and tests.

``GET /{day}?from=USD&to=CNY,EUR`` answers ``{"amount": 1.0, "base": "USD", "date": ...,
"rates": {"CNY": 7.1042, "EUR": 0.9203}}``: the rates of the latest working day on or before the
day asked (no rates are published at weekends), made up but steady (the same day always gives
the same rate), with 404 for a currency it does not know.
"""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

from fastapi import FastAPI, Query
from fastapi.responses import JSONResponse

# Units of each currency for one US dollar, around which the made-up rates move.
REFERENCE = {
    "USD": Decimal(1),
    "CNY": Decimal("7.10"),
    "EUR": Decimal("0.92"),
    "GBP": Decimal("0.79"),
    "HKD": Decimal("7.80"),
    "JPY": Decimal("150"),
}


def published(day: date) -> date:
    """The working day whose rates answer for ``day``."""
    while day.weekday() >= 5:
        day -= timedelta(days=1)
    return day


def rate(base: str, quote: str, day: date) -> Decimal:
    drift = 1 + Decimal("0.001") * (day.toordinal() % 21 - 10)
    return (REFERENCE[quote] / REFERENCE[base] * drift).quantize(Decimal("0.0001"))


def create_app() -> FastAPI:
    app = FastAPI(title="Rates sandbox", openapi_url=None, docs_url=None, redoc_url=None)

    @app.get("/{day}")
    def rates_of(day: date, base: str = Query(alias="from"), to: str = "") -> JSONResponse:
        wanted = [code for code in to.split(",") if code] or sorted(set(REFERENCE) - {base})
        if base not in REFERENCE or any(code not in REFERENCE for code in wanted):
            return JSONResponse({"message": "not found"}, status_code=404)
        on = published(min(day, date.today()))
        answer = {code: float(rate(base, code, on)) for code in wanted}
        return JSONResponse({"amount": 1.0, "base": base, "date": on.isoformat(), "rates": answer})

    return app
