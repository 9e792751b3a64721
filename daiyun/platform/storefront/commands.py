"""Catalog commands of the ``daiyun`` CLI: ``daiyun catalog import FILE --tenant SLUG``."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer


def register(app: typer.Typer) -> None:
    """Add the ``catalog`` commands to the CLI."""
    catalog = typer.Typer(help="The catalog: products, SKUs and prices.", no_args_is_help=True)

    @catalog.command("import")
    def import_catalog(
        file: Annotated[Path, typer.Argument(exists=True, dir_okay=False, readable=True)],
        tenant: Annotated[str, typer.Option(help="The tenant's slug")],
        valid_rows_only: Annotated[
            bool, typer.Option(help="Write the valid rows even when others have problems")
        ] = False,
        queue: Annotated[
            bool, typer.Option(help="Leave the job to the workers instead of running it here")
        ] = False,
    ) -> None:
        """Import a CSV of products, variants and prices (the columns of the API's import).

        Every row is checked first; with any problem nothing is written (unless
        --valid-rows-only) and the problems are printed with their row and column. The job is
        the same as one uploaded through the API: it shows at /catalog/imports/{id}.
        """
        from daiyun.core.db import unit_of_work
        from daiyun.core.errors import Problem
        from daiyun.platform.storefront import imports, jobs, runner
        from daiyun.platform.storefront.schemas import JobKind, JobState
        from daiyun.tenants import service as tenant_service

        with unit_of_work() as session:
            found = tenant_service.find_tenant(session, tenant)
            if found is None:
                raise Problem(404, "not-found", f"no tenant {tenant!r}")
            tenant_id = found.id
        with unit_of_work(tenant_id) as session, file.open("rb") as upload:
            job = imports.start(
                session, upload, file.name, valid_rows_only=valid_rows_only, user_id=None
            )
            if queue:
                runner.queue(session, job)
            job_id = job.id
        if queue:
            typer.echo(f"Queued import {job_id} of {file.name} for {tenant}.")
            return
        runner.run(tenant_id, job_id)
        with unit_of_work(tenant_id) as session:
            done = jobs.get(session, job_id, JobKind.import_)
            shown = jobs.problems(session, job_id, limit=20)
            typer.echo(
                f"{file.name}: {done.state.value}; {done.total_rows} rows, {done.created_count} "
                f"SKUs created, {done.updated_count} updated, {done.skipped_count} skipped, "
                f"{done.problem_count} problems (import {job_id})"
            )
            for problem in shown:
                typer.echo(f"  row {problem.row}, {problem.column or '-'}: {problem.problem}")
            if done.problem_count > len(shown):
                typer.echo(f"  ... and {done.problem_count - len(shown)} more in the report")
            if done.state is not JobState.succeeded:
                raise typer.Exit(1)

    app.add_typer(catalog, name="catalog")
