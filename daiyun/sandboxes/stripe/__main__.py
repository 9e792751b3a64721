"""``python -m daiyun.sandboxes.stripe [--host H] [--port P] [--api-key K]``."""

from __future__ import annotations

from daiyun.sandboxes.stripe.server import main

main()
