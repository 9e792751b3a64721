"""Report commands of the ``daiyun`` CLI: ``daiyun rollups rebuild``."""

from __future__ import annotations

import time
from typing import Annotated

import typer

from daiyun.core.errors import Problem


def register(app: typer.Typer) -> None:
    """Add the ``rollups`` commands to the CLI."""
    # Importing the handlers subscribes them to the order events in every process the CLI
    # starts (the worker among them).
    import daiyun.platform.reports.tasks  # noqa: F401

    rollups = typer.Typer(help="Daily sales rollups behind the dashboards.", no_args_is_help=True)

    @rollups.command()
    def rebuild(
        tenant: Annotated[
            str | None, typer.Option(help="The tenant's slug (default: every tenant)")
        ] = None,
    ) -> None:
        """Recompute the daily sales rollups from the order book, one tenant at a time.

        Run it after a tenant's time zone changes, or whenever the rollups are in doubt; each
        tenant is rebuilt in its own transaction.
        """
        from daiyun.core.db import unit_of_work
        from daiyun.platform.reports import repository, service

        with unit_of_work() as session:
            if tenant is None:
                targets = [(t.id, t.slug) for t in repository.all_tenants(session)]
            else:
                found = repository.tenant_by_slug(session, tenant)
                if found is None:
                    raise Problem(404, "not-found", f"no tenant {tenant!r}")
                targets = [(found.id, found.slug)]
        for tenant_id, slug in targets:
            started = time.perf_counter()
            with unit_of_work(tenant_id) as session:
                row = repository.tenant(session, tenant_id)
                assert row is not None
                result = service.rebuild(session, row)
            typer.echo(
                f"Rebuilt the rollups of {slug}: {result.days} days, {result.sales_rows} sales"
                f" rows, {result.product_rows} product rows in"
                f" {time.perf_counter() - started:.1f} s."
            )
        if not targets:
            typer.echo("No tenants: nothing to rebuild.")

    app.add_typer(rollups, name="rollups")
