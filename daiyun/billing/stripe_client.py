"""The Stripe client Daiyun uses, and the verification of Stripe's webhook signatures.

:func:`client` builds a stripe-python ``StripeClient`` with bounded timeouts and two network
retries (the SDK sends an idempotency key on every ``POST``, so a retried call is never applied
twice); ``api_base`` points it at another host, such as the project's Stripe sandbox.

:func:`verify_webhook` checks a ``Stripe-Signature`` header on the raw request body before
anything in the body is trusted. The scheme, as Stripe documents it: the header is
``t=<unix seconds>,v1=<hex>[,v1=<hex>...]`` (several ``v1`` while a secret is being rolled);
the expected signature is hex HMAC-SHA256 keyed with the endpoint's secret over
``"<t>.<raw body>"``; the body is authentic if any ``v1`` equals it (compared in constant time)
and ``t`` is within the tolerance of now, which stops an old, captured delivery from being
replayed.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from typing import Any

import stripe

CONNECT_TIMEOUT = 5.0
READ_TIMEOUT = 30.0
MAX_NETWORK_RETRIES = 2
DEFAULT_TOLERANCE = 300
# Unix seconds have 10 digits until the year 2286: a longer ``t`` is not a time Stripe sends, and
# parsing thousands of digits is work (and an error in Python) before the signature is checked.
MAX_TIMESTAMP_DIGITS = 12


class SignatureError(ValueError):
    """A webhook whose signature, timestamp or body cannot be trusted."""


class MalformedBody(SignatureError):
    """An authentic webhook whose body is not a JSON object."""


def client(api_key: str, api_base: str | None) -> stripe.StripeClient:
    """A Stripe client for ``api_key``; ``api_base`` (``http://host:port``) replaces Stripe's."""
    http_client = stripe.RequestsClient(timeout=(CONNECT_TIMEOUT, READ_TIMEOUT))
    if api_base:
        return stripe.StripeClient(
            api_key,
            base_addresses={"api": api_base.rstrip("/")},
            max_network_retries=MAX_NETWORK_RETRIES,
            http_client=http_client,
        )
    return stripe.StripeClient(
        api_key, max_network_retries=MAX_NETWORK_RETRIES, http_client=http_client
    )


def _parse_signature_header(header: str) -> tuple[int, list[str]]:
    timestamp: int | None = None
    signatures: list[str] = []
    for part in header.split(","):
        key, sep, value = part.strip().partition("=")
        if not sep:
            continue
        if key == "t":
            if (
                timestamp is not None
                or not (value.isascii() and value.isdigit())
                or len(value) > MAX_TIMESTAMP_DIGITS
            ):
                raise SignatureError("Stripe-Signature has a malformed or repeated timestamp")
            timestamp = int(value)
        elif key == "v1":
            signatures.append(value.strip())
    if timestamp is None:
        raise SignatureError("Stripe-Signature has no timestamp (t=...)")
    if not signatures:
        raise SignatureError("Stripe-Signature has no v1 signature")
    return timestamp, signatures


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON number")


def verify_webhook(
    payload: bytes,
    header: str | None,
    secret: str,
    *,
    tolerance: int = DEFAULT_TOLERANCE,
    now: float | None = None,
) -> dict[str, Any]:
    """The event in ``payload`` once its ``Stripe-Signature`` ``header`` proves it authentic.

    Raises :class:`SignatureError` when the header is missing or malformed (a timestamp of more
    than 12 digits included), when no ``v1`` signature matches, or when the timestamp is more
    than ``tolerance`` seconds old or ahead of ``now``; :class:`MalformedBody` when the
    authentic body is not a JSON object (NaN, Infinity and numbers past Python's digit limit
    are not JSON here).
    """
    if not secret:
        raise SignatureError("no webhook signing secret is configured")
    if not header:
        raise SignatureError("the Stripe-Signature header is missing")
    timestamp, signatures = _parse_signature_header(header)
    signed = str(timestamp).encode() + b"." + payload
    expected = hmac.new(secret.encode(), signed, hashlib.sha256).hexdigest()
    matched = False
    for candidate in signatures:
        # Every candidate is compared, in constant time, so timing says nothing about which.
        matched |= hmac.compare_digest(expected.encode(), candidate.encode())
    if not matched:
        raise SignatureError("no v1 signature matches the payload for this secret")
    # Whole seconds on both sides: integer arithmetic cannot overflow as a float would.
    current = int(time.time() if now is None else now)
    if timestamp < current - tolerance:
        raise SignatureError(
            f"the signature timestamp is {current - timestamp} s old, "
            f"beyond the {tolerance} s tolerance"
        )
    if timestamp > current + tolerance:
        raise SignatureError(
            f"the signature timestamp is {timestamp - current} s in the future, "
            f"beyond the {tolerance} s tolerance"
        )
    try:
        # NaN and Infinity are not JSON (Stripe never sends them): refused, not parsed as floats.
        event = json.loads(payload, parse_constant=_no_constant)
    except (ValueError, RecursionError) as exc:
        # ValueError: invalid JSON or UTF-8, an integer of thousands of digits, a constant;
        # RecursionError: nesting deeper than the parser goes.
        raise MalformedBody(f"the webhook body is not valid JSON: {exc}"[:300]) from exc
    if not isinstance(event, dict):
        raise MalformedBody("the webhook body is not a JSON object")
    return event
