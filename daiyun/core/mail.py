"""Sending through the deployment's SMTP server (``DAIYUN_SMTP_*``): replies to buyers, staff
notifications and interview invitations all leave by :func:`send`. The callers decide what a
failure means for them (a reply marked failed, a task retried)."""

from __future__ import annotations

import smtplib
from email.message import EmailMessage

from daiyun.core.config import get_settings


def send(*messages: EmailMessage) -> None:
    """Hand the messages to the SMTP server over one connection; raises ``OSError`` or
    ``smtplib.SMTPException`` when it cannot be reached or refuses one."""
    settings = get_settings()
    with smtplib.SMTP(
        settings.smtp_host, settings.smtp_port, timeout=settings.smtp_timeout_seconds
    ) as smtp:
        for message in messages:
            smtp.send_message(message)
