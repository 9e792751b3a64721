"""Errors a marketplace call can end in; the sync engine records each on the run and the shop."""

from __future__ import annotations

import re
from collections.abc import Iterable


class ConnectorError(Exception):
    """A marketplace call failed in a way the sync run records."""


class ReauthorizationNeeded(ConnectorError):
    """The marketplace refused the shop's credentials: a person must authorise it again."""


class MalformedPayload(ConnectorError):
    """A payload does not have the shape the marketplace documents."""


class RetriesExhausted(ConnectorError):
    """The marketplace kept throttling or failing after every bounded retry."""


class HostNotAllowed(ConnectorError):
    """A request would leave the hosts this shop may call (SECURITY.md 27): it is not sent."""


# What an error message may quote of a remote answer, and how long a stored error may be: staff
# read these on the shop's page, so a marketplace (or anyone posing as one) cannot fill it.
EXCERPT_CHARS = 200
STORED_ERROR_CHARS = 300
# Shorter values are not masked: they would match ordinary words, and no real secret is this short.
MIN_SECRET_CHARS = 6
# Control and invisible formatting characters are dropped (line breaks and tabs become spaces).
_UNPRINTABLE = re.compile(
    r"[\x00-\x08\x0e-\x1b\x7f-\x9f\u200b-\u200f\u202a-\u202e\u2060-\u2069\ufeff]"
)


def excerpt(text: object, limit: int = EXCERPT_CHARS) -> str:
    """A short, printable, one-line excerpt of what a remote party sent, for an error message."""
    cleaned = " ".join(_UNPRINTABLE.sub("", str(text)).split())
    return cleaned if len(cleaned) <= limit else cleaned[: limit - 1] + "…"


def for_display(message: object, secrets: Iterable[object] = ()) -> str:
    """An error as stored for people to read (a shop's last error, a run's or a delivery's):
    every secret masked, control characters gone, at most :data:`STORED_ERROR_CHARS` long."""
    masks = sorted(
        {s for s in secrets if isinstance(s, str) and len(s) >= MIN_SECRET_CHARS},
        key=len,
        reverse=True,
    )

    def mask(text: str) -> str:
        for secret in masks:
            text = text.replace(secret, "[redacted]")
        return text

    # Masked before and after cleaning: dropping a control character can join a secret again.
    return mask(excerpt(mask(str(message)), STORED_ERROR_CHARS))
