"""Stripe sandbox: a local look-alike of the part of Stripe's API that billing uses.

No machine of the project can reach Stripe, so statements are pushed to this sandbox instead,
by the official stripe-python SDK over real HTTP. It implements the documented subset Daiyun
relies on: customers; draft invoices, invoice items added to them, finalization, payment, void
and uncollectible; Bearer (or Basic) authentication; idempotency keys with replay of the first
answer; errors in Stripe's shape; and events signed with ``Stripe-Signature`` and delivered to
webhook endpoints from a background thread, with faults (duplicates, held and reversed
deliveries) and resends for testing a receiver's deduplication.

:func:`server.running_stripe_sandbox` starts one on an ephemeral loopback port for a test;
:func:`server.serve` runs one in the foreground for the demo. Everything is held in memory.
"""

from __future__ import annotations

from daiyun.sandboxes.stripe.server import (
    StripeSandbox,
    running_stripe_sandbox,
    serve,
)
from daiyun.sandboxes.stripe.state import StripeSandboxState

__all__ = ["StripeSandbox", "StripeSandboxState", "running_stripe_sandbox", "serve"]
