"""The demo's companions that ``daiyun serve --sandbox`` runs beside the platform: the sandbox
marketplaces for the demo shops, the Stripe and carrier sandboxes, the mail sink and the demo's
warehouse operator, with the platform's children pointed at them through the environment they
inherit.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

from daiyun.core.config import VAR_DIR, get_settings
from daiyun.supervisor import Child

# Written by `daiyun demo`, read by the sandbox that `daiyun serve --sandbox` starts.
SANDBOX_SHOPS = "sandbox-shops.json"
STRIPE_SANDBOX_PORT = 12111
STRIPE_SANDBOX_SECRET = "whsec_daiyun_demo"
CARRIER_SANDBOX_PORT = 8200
# Seconds per tracking step of the demo's parcels: picked up to delivered in about four minutes.
CARRIER_SANDBOX_STEP = 60


def sandbox_children(me: list[str], shops: Path) -> list[Child]:
    """The marketplace, Stripe and carrier sandboxes, the mail sink (replies to buyers and staff
    notifications land in var/mail as .eml files) and the demo's warehouse operator; the other
    children are pointed at the Stripe and carrier ones and the marketplace sandbox's rates
    service through the environment they inherit (and allowed to call the marketplace sandbox:
    DAIYUN_MARKETPLACE_HOSTS). ``shops`` is the file ``daiyun demo`` wrote."""
    from daiyun.demo import SANDBOX_PORT, allow_sandbox_hosts
    from daiyun.sandboxes.carriers.server import DEMO_API_KEY as CARRIER_KEY
    from daiyun.sandboxes.stripe.server import DEMO_API_KEY

    allow_sandbox_hosts()

    stripe_url = f"http://127.0.0.1:{STRIPE_SANDBOX_PORT}"
    os.environ.setdefault("DAIYUN_STRIPE_API_KEY", DEMO_API_KEY)
    os.environ.setdefault("DAIYUN_STRIPE_API_BASE", stripe_url)
    os.environ.setdefault("DAIYUN_STRIPE_WEBHOOK_SECRET", STRIPE_SANDBOX_SECRET)
    os.environ.setdefault("DAIYUN_RATES_URL", f"http://127.0.0.1:{SANDBOX_PORT}/_rates")
    os.environ.setdefault("DAIYUN_CARRIER_URL", f"http://127.0.0.1:{CARRIER_SANDBOX_PORT}")
    os.environ.setdefault("DAIYUN_CARRIER_API_KEY", CARRIER_KEY)
    webhook = f"{get_settings().base_url.rstrip('/')}/webhooks/stripe"
    return [
        Child(
            "sandbox",
            [
                *me,
                "sandbox",
                "--port",
                str(SANDBOX_PORT),
                "--shops",
                str(shops),
                "--generate-every",
                "20",
                "--initial-orders",
                "60",
            ],
        ),
        Child(
            "stripe-sandbox",
            [
                sys.executable,
                "-m",
                "daiyun.sandboxes.stripe",
                "--port",
                str(STRIPE_SANDBOX_PORT),
                "--webhook-url",
                webhook,
                "--webhook-secret",
                os.environ["DAIYUN_STRIPE_WEBHOOK_SECRET"],
            ],
        ),
        # Plays the warehouse (waves, picks, packs, ships) so the demo's orders flow on.
        Child("demo-operator", [sys.executable, "-m", "daiyun.demo_operator", "--every", "60"]),
        Child(
            "mail-sink",
            [
                sys.executable,
                "-m",
                "daiyun.sandboxes.mail",
                "--port",
                str(get_settings().smtp_port),
                "--folder",
                str(VAR_DIR / "mail"),
            ],
        ),
        Child(
            "carrier-sandbox",
            [
                sys.executable,
                "-m",
                "daiyun.sandboxes.carriers",
                "--port",
                str(CARRIER_SANDBOX_PORT),
                "--api-key",
                os.environ["DAIYUN_CARRIER_API_KEY"],
                "--step-seconds",
                str(CARRIER_SANDBOX_STEP),
            ],
        ),
    ]


def ports() -> tuple[int, ...]:
    """The ports the companions listen on, to check free before any starts."""
    from daiyun.demo import SANDBOX_PORT

    return (SANDBOX_PORT, STRIPE_SANDBOX_PORT, CARRIER_SANDBOX_PORT, get_settings().smtp_port)
