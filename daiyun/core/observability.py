"""Structured logs with request and tenant ids (PII masked), metrics, and the body-size limit."""

from __future__ import annotations

import atexit
import logging
import os
import re
import shutil
import tempfile
import time
import uuid
from collections.abc import MutableMapping, Sequence
from typing import Any

import structlog
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Histogram,
    generate_latest,
    multiprocess,
)
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from daiyun.core.errors import ALWAYS_HEADERS, BodyTooLarge, problem_response

_EMAIL = re.compile(r"([A-Za-z0-9._%+-])[A-Za-z0-9._%+-]*@([A-Za-z0-9.-]+)")
_PHONE = re.compile(r"(?<!\d)(\+?\d[\d -]{6,}\d)(?!\d)")
_SECRET_KEYS = re.compile(r"pass|token|secret|authorization|cookie|api_key|credential", re.I)
_PII_KEYS = re.compile(r"email|phone|mobile|address|buyer|name", re.I)


def mask_text(value: str) -> str:
    """Mask e-mail addresses and phone numbers inside free text."""
    value = _EMAIL.sub(r"\1***@\2", value)
    return _PHONE.sub(lambda m: m.group(1)[:3] + "****" + m.group(1)[-2:], value)


def mask_pii(_logger: Any, _name: str, event: MutableMapping[str, Any]) -> MutableMapping[str, Any]:
    """structlog processor: secrets are dropped, personal fields and free text masked."""
    for key, value in list(event.items()):
        # Correlation ids are not personal data; masking would mangle UUIDs as "phone numbers".
        if key in ("event", "request_id", "tenant_id", "user_id", "level", "timestamp"):
            if key == "event" and isinstance(value, str):
                event[key] = mask_text(value)
            continue
        if _SECRET_KEYS.search(key):
            event[key] = "[redacted]"
        elif _PII_KEYS.search(key) and isinstance(value, str):
            event[key] = value[:1] + "***" if value else value
        elif isinstance(value, str):
            event[key] = mask_text(value)
    return event


def configure_logging(level: str = "INFO", json: bool = False) -> None:
    renderer: Any = structlog.processors.JSONRenderer() if json else structlog.dev.ConsoleRenderer()
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            mask_pii,
            structlog.processors.format_exc_info,
            renderer,
        ],
        wrapper_class=structlog.make_filtering_bound_logger(logging.getLevelName(level)),
        cache_logger_on_first_use=True,
    )


# prometheus_client reads it when first imported: set, each process writes its samples to files
# there, and /metrics sums the files of every worker (multiprocess mode).
MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"


def prepare_multiprocess_metrics(workers: int) -> str | None:
    """Before uvicorn starts ``workers`` processes: a clean directory for their metric files.

    With one worker the server process keeps its metrics in memory as usual (prometheus_client
    is already imported here, too late to switch). With more, each worker is a fresh process
    and answers /metrics for all of them, so they share a directory named in the environment
    they inherit: the operator's ``PROMETHEUS_MULTIPROC_DIR``, emptied of a previous run's files
    (stale counters would be summed in), or a new temporary one removed at exit.
    """
    chosen = os.environ.get(MULTIPROC_ENV)
    if workers <= 1 and not chosen:
        return None
    if chosen:
        os.makedirs(chosen, exist_ok=True)
        for name in os.listdir(chosen):
            if name.endswith(".db"):
                os.unlink(os.path.join(chosen, name))
    else:
        chosen = tempfile.mkdtemp(prefix="daiyun-metrics-")
        atexit.register(shutil.rmtree, chosen, ignore_errors=True)
        os.environ[MULTIPROC_ENV] = chosen
    return chosen


def metrics_exposition() -> tuple[bytes, str]:
    """The /metrics body and its media type: every worker's samples in multiprocess mode."""
    if os.environ.get(MULTIPROC_ENV):
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)
        return generate_latest(registry), CONTENT_TYPE_LATEST
    return generate_latest(), CONTENT_TYPE_LATEST


REQUESTS = Counter("daiyun_http_requests_total", "HTTP requests", ["method", "route", "status"])
LATENCY = Histogram("daiyun_http_request_seconds", "HTTP request latency", ["method", "route"])


def _stamp(message: Message, request_id: str) -> None:
    """Add the headers every answer carries to a response start, unless already there."""
    headers = message.setdefault("headers", [])
    present = {name.lower() for name, _ in headers}
    for name, value in ((b"x-request-id", request_id.encode()), *ALWAYS_HEADERS):
        if name not in present:
            headers.append((name, value))


class RequestContextMiddleware:
    """Per request: an id (echoed as X-Request-ID), the body-size limit, logs and metrics.

    The limit is enforced on Content-Length and again while reading, so a chunked body
    without a length cannot slip past it. Every answer this middleware sees, its own 413
    included, carries the request id and ``nosniff``; a 500 is answered by Starlette's
    outermost error middleware, outside this one, so the error handler stamps it
    (:func:`daiyun.core.errors.install`).
    """

    def __init__(
        self,
        app: ASGIApp,
        max_body_bytes: int,
        larger: Sequence[tuple[re.Pattern[str], int]] = (),
    ) -> None:
        self.app = app
        self.max_body_bytes = max_body_bytes
        # Paths that take an upload (a department's ``LARGE_BODIES``) and their own limit.
        self.larger = tuple(larger)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = dict(scope.get("headers") or [])
        supplied = headers.get(b"x-request-id", b"").decode("latin-1")
        request_id = (
            supplied if re.fullmatch(r"[A-Za-z0-9._-]{1,64}", supplied) else uuid.uuid4().hex
        )
        scope.setdefault("state", {})["request_id"] = request_id
        structlog.contextvars.clear_contextvars()
        structlog.contextvars.bind_contextvars(request_id=request_id)

        length = headers.get(b"content-length")
        limit = next(
            (n for pattern, n in self.larger if pattern.fullmatch(scope.get("path", ""))),
            self.max_body_bytes,
        )

        async def stamped_send(message: Message) -> None:
            if message["type"] == "http.response.start":
                _stamp(message, request_id)
            await send(message)

        if length is not None and (not length.isdigit() or int(length) > limit):
            REQUESTS.labels(scope["method"], "unmatched", "413").inc()
            await self._too_large(scope, receive, stamped_send, limit)
            return

        received = 0
        started = False

        async def limited_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    raise BodyTooLarge
            return message

        status = 500

        async def tracking_send(message: Message) -> None:
            nonlocal started, status
            if message["type"] == "http.response.start":
                started = True
                status = message["status"]
                _stamp(message, request_id)
            await send(message)

        start = time.perf_counter()
        try:
            await self.app(scope, limited_receive, tracking_send)
        except BodyTooLarge:
            if started:
                raise
            status = 413
            await self._too_large(scope, receive, stamped_send, limit)
        finally:
            route = scope.get("route")
            path = getattr(route, "path", "unmatched")
            REQUESTS.labels(scope["method"], path, str(status)).inc()
            LATENCY.labels(scope["method"], path).observe(time.perf_counter() - start)
            structlog.get_logger("daiyun.http").info(
                "request", method=scope["method"], route=path, status=status
            )

    async def _too_large(self, scope: Scope, receive: Receive, send: Send, limit: int) -> None:
        response = problem_response(
            413,
            "payload-too-large",
            f"The request body is larger than {limit} bytes",
        )
        response.headers["connection"] = "close"
        await response(scope, receive, send)
