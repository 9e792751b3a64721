"""Running the sandbox: in a thread for a test, or in the foreground for the demo.

:func:`running_sandbox` starts uvicorn on an ephemeral loopback port and yields where it is;
:func:`serve` blocks until interrupted and can keep a steady stream of orders arriving and
changing on every registered shop, so a demo shows webhooks and pulls doing real work.

``python -m daiyun.sandboxes.marketplaces.server --port 8100 --generate-every 2`` runs the latter
(``daiyun sandbox`` does the same from the CLI).
"""

from __future__ import annotations

import argparse
import json
import random
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

import uvicorn

from daiyun.core.loopback import serving
from daiyun.sandboxes.marketplaces import china_messages
from daiyun.sandboxes.marketplaces.app import ShopIn, api_base_url, create_sandbox_app
from daiyun.sandboxes.marketplaces.state import OrderConflict, SandboxState, Shop, utc_now


@dataclass(frozen=True)
class Sandbox:
    """A sandbox being served: its root URL (``http://127.0.0.1:PORT``) and its state."""

    url: str
    state: SandboxState

    def api_base_url(self, channel: str, shop: str) -> str:
        """The ``api_base_url`` a Daiyun shop needs to reach this sandbox's shop."""
        return api_base_url(self.url, channel, shop)


@contextmanager
def running_sandbox(state: SandboxState | None = None) -> Iterator[Sandbox]:
    """Serve a sandbox on 127.0.0.1 on a free port for the duration of the ``with`` block."""
    state = state if state is not None else SandboxState()
    try:
        with serving(create_sandbox_app(state), "sandbox") as url:
            state.base_url = url
            yield Sandbox(url=url, state=state)
    finally:
        state.close()


class OrderStream:
    """Every ``every`` seconds: a new order on each shop, and now and then an older one moves on."""

    def __init__(self, state: SandboxState, every: float, seed: int | None = None) -> None:
        self.state = state
        self.every = every
        self.rng = random.Random(seed)  # noqa: S311 (demo data, not secrets)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="sandbox-orders", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(5)

    def _run(self) -> None:
        while not self._stop.wait(self.every):
            self.tick()

    def tick(self) -> None:
        with self.state.lock:
            shops = list(self.state.shops.values())
        for shop in shops:
            now = utc_now()
            self.state.create_orders(
                shop.channel, shop.name, 1, start=now, end=now, notify=True, history=False
            )
            if self.rng.random() < 0.6:
                self._advance(shop)
            if shop.channel in china_messages.METHODS and self.rng.random() < 0.3:
                self._buyer_writes(shop)

    def _buyer_writes(self, shop: Shop) -> None:
        """A buyer of one of the shop's recent orders asks about it in the marketplace's chat."""
        nick, text = self.rng.choice(china_messages.QUESTIONS)
        with self.state.lock:
            recent = shop.keys[-50:]
            order = shop.by_id[self.rng.choice(recent)[1]] if recent else None
            buyer = f"buyer-{self.rng.randrange(1, 40)}"
            china_messages.buyer_writes(
                shop, buyer, nick, text, order.external_id if order is not None else None
            )

    def _advance(self, shop: Shop) -> None:
        """Take one of the shop's recent orders a step further in its life."""
        with self.state.lock:
            recent = shop.keys[-200:]
            if not recent:
                return
            order = shop.by_id[self.rng.choice(recent)[1]]
            status, external_id, items = order.status, order.external_id, order.items
        roll = self.rng.random()
        action: str | None = None
        quantity: int | None = None
        if status == "pending":
            action = "cancel" if roll < 0.1 else "pay"
        elif status == "paid":
            action = "refund" if roll < 0.05 else "ship"
            if action == "ship" and items > 1 and roll > 0.8:
                quantity = 1
        elif status == "partially_shipped":
            action = "ship"
        elif status == "shipped":
            action = "deliver"
        elif status == "delivered" and roll < 0.15:
            action = "refund"
        if action is None:
            return
        try:
            self.state.apply_event(shop.channel, shop.name, external_id, action, items=quantity)
        except (OrderConflict, LookupError):
            # Another writer moved the order first; the next tick picks another.
            return


def load_shops(state: SandboxState, path: Path) -> int:
    """Register the shops listed in a JSON file: a list of ``POST /_sandbox/shops`` bodies."""
    entries = json.loads(path.read_text(encoding="utf-8"))
    if not isinstance(entries, list):
        raise ValueError(f"{path} must hold a JSON list of shops")
    for entry in entries:
        shop = ShopIn.model_validate(entry)
        state.register_shop(
            shop.channel,
            shop.shop,
            shop.credentials,
            webhook_url=shop.webhook_url,
            currency=shop.currency,
            utc_offset_minutes=shop.utc_offset_minutes,
            rate=shop.rate,
            widget_script=shop.widget_script,
        )
    return len(entries)


def serve(
    host: str,
    port: int,
    *,
    generate_every: float | None = None,
    seed: int | None = None,
    shops_file: Path | None = None,
    initial_orders: int = 0,
) -> None:
    """Serve the sandbox in the foreground until interrupted (Ctrl-C or SIGTERM).

    ``shops_file`` registers shops at start (see :func:`load_shops`); ``initial_orders`` gives
    each of them that many orders spread over the past week, without webhooks, for a first pull
    to find. With ``generate_every``, new orders keep arriving (see :class:`OrderStream`).
    """
    state = SandboxState(seed=seed)
    state.base_url = f"http://{host}:{port}"
    if shops_file is not None:
        load_shops(state, shops_file)
    if initial_orders:
        end = utc_now() - timedelta(minutes=5)
        for channel, name in list(state.shops):
            state.create_orders(
                channel, name, initial_orders, start=end - timedelta(days=7), end=end
            )
    stream = OrderStream(state, generate_every, seed) if generate_every else None
    if stream is not None:
        stream.start()
    try:
        uvicorn.run(create_sandbox_app(state), host=host, port=port, log_level="info")
    finally:
        if stream is not None:
            stream.stop()
        state.close()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Serve the sandbox marketplaces.")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8100)
    parser.add_argument("--generate-every", type=float, default=None, metavar="SECONDS")
    parser.add_argument("--seed", type=int, default=None)
    parser.add_argument("--shops", type=Path, default=None, help="JSON list of shops to register")
    parser.add_argument("--initial-orders", type=int, default=0, metavar="N")
    args = parser.parse_args(argv)
    serve(
        args.host,
        args.port,
        generate_every=args.generate_every,
        seed=args.seed,
        shops_file=args.shops,
        initial_orders=args.initial_orders,
    )


if __name__ == "__main__":
    main()
