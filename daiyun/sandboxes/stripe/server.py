"""Running the Stripe sandbox: in a thread for a test, or in the foreground for the demo.

``python -m daiyun.sandboxes.stripe --port 12111`` serves it until interrupted and
prints the secret key to use; point stripe-python at it with
``StripeClient(key, base_addresses={"api": "http://127.0.0.1:12111"})``.
"""

from __future__ import annotations

import argparse
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import uvicorn

from daiyun.core.loopback import serving
from daiyun.sandboxes.stripe.app import create_stripe_sandbox_app
from daiyun.sandboxes.stripe.state import StripeSandboxState

DEMO_API_KEY = "sk_test_daiyun_sandbox"


@dataclass(frozen=True)
class StripeSandbox:
    """A sandbox being served: its root URL (``http://127.0.0.1:PORT``), state and secret key."""

    url: str
    state: StripeSandboxState

    @property
    def api_key(self) -> str:
        return self.state.api_key


@contextmanager
def running_stripe_sandbox(state: StripeSandboxState | None = None) -> Iterator[StripeSandbox]:
    """Serve a sandbox on 127.0.0.1 on a free port for the duration of the ``with`` block."""
    state = state if state is not None else StripeSandboxState()
    try:
        with serving(create_stripe_sandbox_app(state), "stripe-sandbox") as url:
            yield StripeSandbox(url=url, state=state)
    finally:
        state.close()


def serve(
    host: str,
    port: int,
    *,
    api_key: str = DEMO_API_KEY,
    currency: str = "usd",
    webhook_url: str | None = None,
    webhook_secret: str | None = None,
) -> None:
    """Serve the sandbox in the foreground until interrupted (Ctrl-C or SIGTERM), sending its
    events to ``webhook_url`` when given."""
    state = StripeSandboxState(api_key=api_key, default_currency=currency)
    if webhook_url:
        state.add_endpoint(webhook_url, webhook_secret)
    try:
        uvicorn.run(create_stripe_sandbox_app(state), host=host, port=port, log_level="info")
    finally:
        state.close()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Serve the Stripe sandbox.")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=12111)
    parser.add_argument("--api-key", default=DEMO_API_KEY, help="secret key (sk_test_...)")
    parser.add_argument("--currency", default="usd", help="the account's default currency")
    parser.add_argument("--webhook-url", help="where to send signed invoice events")
    parser.add_argument("--webhook-secret", help="their signing secret (whsec_...)")
    args = parser.parse_args(argv)
    print(f"Stripe sandbox on http://{args.host}:{args.port} (secret key {args.api_key})")
    serve(
        args.host,
        args.port,
        api_key=args.api_key,
        currency=args.currency,
        webhook_url=args.webhook_url,
        webhook_secret=args.webhook_secret,
    )


if __name__ == "__main__":
    main()
