"""``python -m daiyun.sandboxes.mail [--host H] [--port P] [--folder F]``."""

from __future__ import annotations

from daiyun.sandboxes.mail import main

main()
