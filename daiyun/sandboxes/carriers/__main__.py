"""``python -m daiyun.sandboxes.carriers [--host H] [--port P] [--step-seconds S]``."""

from __future__ import annotations

from daiyun.sandboxes.carriers.server import main

main()
