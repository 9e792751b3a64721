"""``python -m daiyun.billing.stripe_sandbox [--host H] [--port P] [--api-key K]``."""

from __future__ import annotations

from daiyun.billing.stripe_sandbox.server import main

main()
