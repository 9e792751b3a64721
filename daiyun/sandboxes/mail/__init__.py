"""The demo's mail sink: an SMTP server on loopback that keeps every message it is handed as an
``.eml`` file in a folder (``var/mail`` in the demo), so the replies to buyers and the staff's
notifications the demo sends can be opened and read. Nothing is relayed anywhere."""

from __future__ import annotations

import argparse
import email
import email.policy
import threading
import time
import uuid
from pathlib import Path
from typing import Any

import structlog
from aiosmtpd.controller import Controller

log = structlog.get_logger()


class Keeper:
    """aiosmtpd's handler: writes each message to ``folder`` as received, one file each."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        folder.mkdir(parents=True, exist_ok=True)

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        # The name sorts in arrival order; the uuid keeps two in one microsecond apart.
        name = f"{time.time_ns()}-{uuid.uuid4().hex[:8]}.eml"
        (self.folder / name).write_bytes(envelope.content)
        parsed = email.message_from_bytes(envelope.content, policy=email.policy.default)
        log.info("mail kept", file=name, to=envelope.rcpt_tos, subject=parsed["Subject"])
        return "250 Kept"


def start(host: str, port: int, folder: Path) -> Controller:
    """Serve the sink in a thread of this process (stopped with ``controller.stop()``)."""
    controller = Controller(Keeper(folder), hostname=host, port=port)
    controller.start()
    return controller


def main() -> None:
    parser = argparse.ArgumentParser(description="Keep every message sent to it as .eml files")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8025)
    parser.add_argument("--folder", type=Path, default=Path("var/mail"))
    args = parser.parse_args()
    controller = start(args.host, args.port, args.folder)
    log.info("mail sink listening", host=args.host, port=args.port, folder=str(args.folder))
    try:
        threading.Event().wait()
    except KeyboardInterrupt:
        pass
    finally:
        controller.stop()
