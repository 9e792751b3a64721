"""RFC 9457 problem+json answers for every error, validation errors included."""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from typing import Any

import structlog
from fastapi import FastAPI, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy.exc import OperationalError
from starlette.exceptions import HTTPException as StarletteHTTPException

PROBLEM_JSON = "application/problem+json"
# Headers on every answer of the app (the request id is added beside them): no browser guesses
# a JSON or CSV answer to be HTML and runs it.
ALWAYS_HEADERS = ((b"x-content-type-options", b"nosniff"),)
log = structlog.get_logger()


class Problem(Exception):
    """An error the caller can act on. ``kind`` becomes the problem type URI's last segment."""

    def __init__(
        self,
        status: int,
        kind: str,
        detail: str,
        *,
        headers: dict[str, str] | None = None,
        **extra: Any,
    ) -> None:
        super().__init__(detail)
        self.status = status
        self.kind = kind
        self.detail = detail
        self.headers = headers
        self.extra = extra


class BodyTooLarge(Exception):
    """The request body passed ``DAIYUN_MAX_BODY_BYTES`` while being read."""


def not_found(what: str = "resource") -> Problem:
    return Problem(404, "not-found", f"No such {what}")


def problem_response(
    status: int,
    kind: str,
    detail: str,
    request: Request | None = None,
    headers: Mapping[str, str] | None = None,
    **extra: Any,
) -> JSONResponse:
    body: dict[str, Any] = {
        "type": f"https://daiyun.dev/problems/{kind}",
        "title": kind.replace("-", " ").capitalize(),
        "status": status,
        "detail": detail,
    }
    if request is not None:
        body["instance"] = request.url.path
    body.update(extra)
    return JSONResponse(body, status_code=status, media_type=PROBLEM_JSON, headers=headers)


_TITLES = {
    400: "bad-request",
    401: "unauthorized",
    403: "forbidden",
    404: "not-found",
    405: "method-not-allowed",
    406: "not-acceptable",
    409: "conflict",
    413: "payload-too-large",
    415: "unsupported-media-type",
    429: "too-many-requests",
}


HtmlErrors = Callable[[Request, int, str, str, Mapping[str, str] | None], Response | None]


def install(app: FastAPI, html: HtmlErrors | None = None) -> None:
    """Register handlers so that no error leaves the app as anything but problem+json.

    ``html`` may answer an error as a page instead (the portal's paths); it returns None for
    the requests it does not serve.
    """

    def answer(
        status: int,
        kind: str,
        detail: str,
        request: Request,
        headers: Mapping[str, str] | None = None,
        **extra: Any,
    ) -> Response:
        page = html(request, status, kind, detail, headers) if html is not None else None
        if page is not None:
            return page
        return problem_response(status, kind, detail, request, headers, **extra)

    @app.exception_handler(Problem)
    async def _problem(request: Request, exc: Problem) -> Response:
        return answer(exc.status, exc.kind, exc.detail, request, headers=exc.headers, **exc.extra)

    @app.exception_handler(RequestValidationError)
    async def _validation(request: Request, exc: RequestValidationError) -> Response:
        errors = [
            {"loc": list(e.get("loc", ())), "msg": e.get("msg", ""), "type": e.get("type", "")}
            for e in exc.errors()
        ]
        if errors and all(e["loc"][:1] == ["path"] for e in errors):
            # An id in the path that cannot be one names nothing: the same 404 as an unknown id
            # (access was checked before, so this says nothing about other tenants).
            return answer(404, "not-found", "No such resource", request)
        return answer(422, "validation-error", "The request is not valid", request, errors=errors)

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> Response:
        if isinstance(exc.__cause__, BodyTooLarge):
            # FastAPI turns any error while reading the body into a 400; a chunked body over
            # the limit (no Content-Length to refuse up front) must still answer 413.
            return answer(
                413, "payload-too-large", "The request body is larger than the limit", request
            )
        kind = _TITLES.get(exc.status_code, "error")
        detail = exc.detail if isinstance(exc.detail, str) else kind
        headers = exc.headers
        allowed = _allowed_methods(request) if exc.status_code == 405 else None
        if allowed:
            headers = {**(headers or {}), "Allow": allowed}
        return answer(exc.status_code, kind, detail, request, headers=headers)

    @app.exception_handler(BodyTooLarge)
    async def _too_large(request: Request, exc: BodyTooLarge) -> Response:
        return answer(
            413, "payload-too-large", "The request body is larger than the limit", request
        )

    @app.exception_handler(OperationalError)
    async def _db_down(request: Request, exc: OperationalError) -> Response:
        log.error("database unavailable", error=type(exc).__name__)
        return answer(
            503,
            "service-unavailable",
            "The database is unavailable; retry later",
            request,
            headers={"Retry-After": "5"},
        )

    @app.exception_handler(Exception)
    async def _bug(request: Request, exc: Exception) -> Response:
        log.exception("unhandled error")
        response = answer(500, "internal-error", "An internal error occurred", request)
        # Starlette answers a 500 from its outermost middleware, past the one that stamps the
        # request id on every other answer: stamp it here, so a bug report can quote it.
        request_id = request.scope.get("state", {}).get("request_id")
        if isinstance(request_id, str):
            response.headers.setdefault("x-request-id", request_id)
        for name, value in ALWAYS_HEADERS:
            response.headers.setdefault(name.decode(), value.decode())
        return response


def _allowed_methods(request: Request) -> str | None:
    """Every method the API's document allows on this path. Starlette names only those of the
    first route matching the path, while one path (``/tenants``: GET and POST) is often served by
    several routes. None for paths outside the document (the portal's pages)."""
    methods: set[str] = set()
    for template, operations in request.app.openapi().get("paths", {}).items():
        pattern = re.sub(r"\\{[^/]+?\\}", "[^/]+", re.escape(template))
        if re.fullmatch(pattern, request.url.path):
            methods |= {method.upper() for method in operations}
    return ", ".join(sorted(methods)) if methods else None
