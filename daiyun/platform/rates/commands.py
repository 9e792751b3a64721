"""Exchange-rate commands of the ``daiyun`` CLI: ``daiyun rates import FILE``."""

from __future__ import annotations

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

    app.add_typer(rates, name="rates")
