"""The demo's mail sink keeps each message handed to it over SMTP as an .eml file, readable back
with its headers and body, one file per message in arrival order."""

from __future__ import annotations

import email
import email.policy
import smtplib
import socket
from email.message import EmailMessage
from pathlib import Path

from daiyun.sandboxes import mail


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def test_every_message_is_kept_as_an_eml_file(tmp_path: Path) -> None:
    port = _free_port()
    controller = mail.start("127.0.0.1", port, tmp_path / "mail")
    try:
        with smtplib.SMTP("127.0.0.1", port, timeout=10) as smtp:
            for n in (1, 2):
                message = EmailMessage()
                message["From"] = "help@tea.example"
                message["To"] = "li.na@example.com"
                message["Subject"] = f"Re: 订单 {n}"
                message.set_content(f"您的包裹已发出 {n}")
                smtp.send_message(message)
    finally:
        controller.stop()
    files = sorted((tmp_path / "mail").glob("*.eml"))
    assert len(files) == 2
    kept = [email.message_from_bytes(f.read_bytes(), policy=email.policy.default) for f in files]
    assert [m["Subject"] for m in kept] == ["Re: 订单 1", "Re: 订单 2"]
    assert kept[1].get_content().strip() == "您的包裹已发出 2"
