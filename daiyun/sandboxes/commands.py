"""The ``daiyun sandbox`` command: the stand-in marketplaces on one port."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer


def register(app: typer.Typer) -> None:
    """Add the sandbox command to the CLI."""

    @app.command()
    def sandbox(
        host: Annotated[str, typer.Option(help="Address to listen on")] = "127.0.0.1",
        port: Annotated[int, typer.Option(min=1, max=65535)] = 8100,
        generate_every: Annotated[
            float | None,
            typer.Option(help="Seconds between new orders on every shop (off when omitted)"),
        ] = None,
        shops: Annotated[
            Path | None,
            typer.Option(help="JSON list of shops to register at start (written by `daiyun demo`)"),
        ] = None,
        seed: Annotated[int | None, typer.Option(help="Random seed, for repeatable data")] = None,
        initial_orders: Annotated[
            int, typer.Option(min=0, help="Orders per shop over the past week, at start")
        ] = 0,
    ) -> None:
        """Serve the sandbox Shopify, WooCommerce and Amazon on one port (for demos and tests)."""
        from daiyun.sandboxes.marketplaces.server import serve

        serve(
            host,
            port,
            generate_every=generate_every,
            seed=seed,
            shops_file=shops,
            initial_orders=initial_orders,
        )
