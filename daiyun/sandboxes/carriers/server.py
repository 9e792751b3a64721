"""Running the carrier sandbox: in a thread for a test, or in the foreground for the demo.

``python -m daiyun.sandboxes.carriers --port 8200`` serves it until interrupted; point Daiyun at
it with ``DAIYUN_CARRIER_URL=http://127.0.0.1:8200`` and ``DAIYUN_CARRIER_API_KEY``.
"""

from __future__ import annotations

import argparse
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import uvicorn

from daiyun.core.loopback import serving
from daiyun.sandboxes.carriers.app import create_carrier_sandbox_app
from daiyun.sandboxes.carriers.state import CarrierSandboxState

DEMO_API_KEY = "carrier-sandbox-key"


@dataclass(frozen=True)
class CarrierSandbox:
    """A sandbox being served: its root URL (``http://127.0.0.1:PORT``) and state."""

    url: str
    state: CarrierSandboxState

    @property
    def api_key(self) -> str:
        return self.state.api_key


@contextmanager
def running_carrier_sandbox(
    state: CarrierSandboxState | None = None,
) -> Iterator[CarrierSandbox]:
    """Serve a sandbox on 127.0.0.1 on a free port for the duration of the ``with`` block."""
    state = state if state is not None else CarrierSandboxState(DEMO_API_KEY)
    with serving(create_carrier_sandbox_app(state), "carrier-sandbox") as url:
        yield CarrierSandbox(url=url, state=state)


def serve(host: str, port: int, *, api_key: str = DEMO_API_KEY, step_seconds: float | None) -> None:
    """Serve the sandbox in the foreground until interrupted."""
    state = CarrierSandboxState(api_key, step_seconds=step_seconds)
    uvicorn.run(create_carrier_sandbox_app(state), host=host, port=port, log_level="info")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Serve the carrier sandbox.")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8200)
    parser.add_argument("--api-key", default=DEMO_API_KEY)
    parser.add_argument(
        "--step-seconds",
        type=float,
        default=None,
        help="advance every parcel's tracking one step per this many seconds (off when omitted)",
    )
    args = parser.parse_args(argv)
    print(f"Carrier sandbox on http://{args.host}:{args.port} (key {args.api_key})")
    serve(args.host, args.port, api_key=args.api_key, step_seconds=args.step_seconds)


if __name__ == "__main__":
    main()
