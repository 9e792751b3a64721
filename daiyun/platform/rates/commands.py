"""Exchange-rate commands of the ``daiyun`` CLI: ``daiyun rates import FILE``."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path
from typing import Annotated

import typer


def register(app: typer.Typer) -> None:
    """Add the ``rates`` commands to the CLI."""
    rates = typer.Typer(help="Exchange rates for billing and dashboards.", no_args_is_help=True)

    @rates.command("import")
    def import_rates(
        file: Annotated[Path, typer.Argument(exists=True, dir_okay=False, readable=True)],
        source: Annotated[
            str, typer.Option(help="Where the rates come from, shown beside every conversion")
        ] = "csv",
    ) -> None:
        """Record the rates of a CSV file (columns day,base,quote,rate; one header line).

        The file is recorded whole or not at all; importing it again changes nothing.
        """
        from daiyun.core.db import unit_of_work
        from daiyun.core.errors import Problem
        from daiyun.platform.rates import service

        try:
            with unit_of_work() as session:
                result = service.record_csv(
                    session, file.read_text(encoding="utf-8-sig"), source[:100]
                )
        except (service.RateError, UnicodeDecodeError) as exc:
            raise Problem(422, "invalid-rates-file", f"{file.name}: {exc}") from exc
        typer.echo(
            f"{file}: {result.created} new, {result.changed} changed, "
            f"{result.unchanged} already recorded"
        )

    @rates.command("fetch")
    def fetch_rates(
        first: Annotated[
            datetime | None,
            typer.Option("--from", formats=["%Y-%m-%d"], help="First day (default today)"),
        ] = None,
        last: Annotated[
            datetime | None,
            typer.Option("--to", formats=["%Y-%m-%d"], help="Last day (default --from)"),
        ] = None,
    ) -> None:
        """Record the rates of DAIYUN_RATES_PAIRS from DAIYUN_RATES_URL for each day asked."""
        import httpx

        from daiyun.core.config import get_settings
        from daiyun.core.db import unit_of_work
        from daiyun.core.errors import Problem
        from daiyun.platform.rates import service

        settings = get_settings()
        if not settings.rates_url:
            raise Problem(422, "no-rates-service", "DAIYUN_RATES_URL is not set")
        start = (first or datetime.now()).date()
        end = last.date() if last else start
        if end < start or (end - start).days > 366:
            raise Problem(422, "bad-days", "--to comes after --from, at most a year later")
        created = changed = 0
        with httpx.Client(timeout=20) as client:
            for n in range((end - start).days + 1):
                try:
                    with unit_of_work() as session:
                        day = start + timedelta(days=n)
                        result = service.fetch(
                            session, client, settings.rates_url, settings.rates_pairs, day
                        )
                except (service.RateError, httpx.HTTPError) as exc:
                    raise Problem(502, "rates-service-failed", str(exc)) from exc
                created, changed = created + result.created, changed + result.changed
        typer.echo(f"{created} new, {changed} changed rates from {start} to {end}")

    app.add_typer(rates, name="rates")
