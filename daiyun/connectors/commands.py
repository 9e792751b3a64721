"""Connector commands of the ``daiyun`` CLI: sync (backfill), push consumers and rotate-keys."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Annotated

import typer
from sqlalchemy import select

from daiyun.core.errors import Problem


def _parse_time(value: str) -> datetime:
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError as exc:
        raise typer.BadParameter(f"not an ISO 8601 time: {value!r}") from exc
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def register(app: typer.Typer) -> None:
    """Add the connector commands to the CLI."""

    @app.command()
    def sync(
        tenant: Annotated[str, typer.Option(help="The tenant's slug")],
        shop: Annotated[str, typer.Option(help="The shop's id")],
        since: Annotated[str, typer.Option(help="Backfill from this time (ISO 8601, UTC)")],
        until: Annotated[str | None, typer.Option(help="Up to this time (default: now)")] = None,
    ) -> None:
        """Backfill a shop's orders now, in this process, and print the run's figures."""
        from daiyun.connectors import service, sync
        from daiyun.core.db import unit_of_work
        from daiyun.tenants.models import Tenant

        try:
            shop_id = uuid.UUID(shop)
        except ValueError as exc:
            raise typer.BadParameter(f"not a shop id: {shop!r}") from exc
        with unit_of_work() as session:
            tenant_id = session.scalar(select(Tenant.id).where(Tenant.slug == tenant))
        if tenant_id is None:
            raise Problem(404, "not-found", f"no tenant {tenant!r}")
        with unit_of_work(tenant_id) as session:
            found = service.get(session, shop_id, lock=True)
            run_id = sync.plan(
                session,
                found,
                "backfill",
                _parse_time(since),
                _parse_time(until) if until else None,
            ).id
        outcome = sync.execute(tenant_id, run_id)
        with unit_of_work(tenant_id) as session:
            from daiyun.connectors import repository

            run = repository.run(session, run_id)
            assert run is not None
            typer.echo(
                f"Sync run {run.id} {outcome}: {run.pages} pages, {run.requests} requests,"
                f" {run.orders_created} orders created, {run.orders_updated} updated,"
                f" {run.orders_unchanged} unchanged"
                + (f"; error: {run.error}" if run.error else "")
            )
        if outcome != "succeeded":
            raise typer.Exit(1)

    @app.command("push-consumers")
    def push_consumers(
        rescan: Annotated[
            float, typer.Option(min=1, help="Seconds between looks for shops connected or paused")
        ] = 60.0,
    ) -> None:
        """Hold the push connections of every active Taobao/Tmall and Pinduoduo shop, queueing
        a re-read of each order a message names (Ctrl-C stops)."""
        import signal
        import threading

        from daiyun.connectors.channels import PUSH_CONSUMERS
        from daiyun.connectors.push import run_consumers

        stop = threading.Event()
        for signum in (signal.SIGINT, signal.SIGTERM):
            signal.signal(signum, lambda *_: stop.set())
        typer.echo(f"Push consumers for {', '.join(sorted(PUSH_CONSUMERS)) or 'no channel'}.")
        run_consumers(PUSH_CONSUMERS, stop, rescan)

    @app.command("rotate-keys")
    def rotate_keys() -> None:
        """Re-encrypt every shop's credentials under the first key of DAIYUN_ENCRYPTION_KEYS.

        Run it after putting a new key first; remove the old key once it reports nothing left.
        """
        from daiyun.connectors import service
        from daiyun.core.db import unit_of_work
        from daiyun.tenants.models import Tenant

        with unit_of_work() as session:
            tenants = list(session.scalars(select(Tenant.id)))
        total = 0
        for tenant_id in tenants:
            with unit_of_work(tenant_id) as session:
                total += service.rotate_credentials(session)
        typer.echo(f"Re-encrypted the credentials of {total} shop(s) in {len(tenants)} tenant(s).")
