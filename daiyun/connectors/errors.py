"""Errors a marketplace call can end in; the sync engine records each on the run and the shop."""

from __future__ import annotations


class ConnectorError(Exception):
    """A marketplace call failed in a way the sync run records."""


class ReauthorizationNeeded(ConnectorError):
    """The marketplace refused the shop's credentials: a person must authorise it again."""


class MalformedPayload(ConnectorError):
    """A payload does not have the shape the marketplace documents."""


class RetriesExhausted(ConnectorError):
    """The marketplace kept throttling or failing after every bounded retry."""
