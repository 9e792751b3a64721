"""The chat widget's routes: a merchant's widgets (``/tenants/{tenant}/widgets``, supervisors
only: the key is what the shop's pages carry) and what a visitor's browser calls from the
merchant's site under ``/widget/{key}/...``.

The visitor's calls are cross-origin by nature, so each answer names the page's origin in
``Access-Control-Allow-Origin`` when the widget allows it (preflights included), and none
otherwise. The visitor's token travels as ``Authorization: Bearer``, or as ``?token=`` on the
event stream, since a browser's EventSource cannot set headers.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from importlib.resources import files
from typing import Annotated, TypeVar

from fastapi import APIRouter, Depends, Header, Request, Response
from fastapi.responses import StreamingResponse

from daiyun.core import live
from daiyun.core.errors import Problem
from daiyun.core.openapi import problems
from daiyun.core.pagination import Cursor, Limit, Page
from daiyun.platform.customer_service import widget
from daiyun.platform.customer_service.schemas import (
    VisitorMessage,
    VisitorMessageIn,
    VisitorSession,
    VisitorThread,
    WidgetIn,
    WidgetRead,
    WidgetUpdate,
)
from daiyun.tenants.auth.deps import SessionDep, TenantAccess, tenant_access
from daiyun.tenants.auth.permissions import Permission

router = APIRouter(tags=["customer service"])
visitors = APIRouter(tags=["chat widget"])
Manager = Annotated[TenantAccess, Depends(tenant_access(Permission.cs_manage))]
T = "/tenants/{tenant}"
SCRIPT = files("daiyun.platform.customer_service").joinpath("widget.js").read_text("utf-8")
R = TypeVar("R")


@router.get(f"{T}/widgets", response_model=Page[WidgetRead])
def list_widgets(
    session: SessionDep, access: Manager, cursor: Cursor = None, limit: Limit = 50
) -> Page[WidgetRead]:
    found, next_cursor = widget.find_widgets(session, cursor, limit)
    return Page(items=[widget.read(w) for w in found], next_cursor=next_cursor)


@router.post(f"{T}/widgets", response_model=WidgetRead, status_code=201, responses=problems(409))
def create_widget(session: SessionDep, access: Manager, body: WidgetIn) -> WidgetRead:
    """A shop's chat widget (one per shop) and the script tag its pages carry."""
    return widget.read(widget.create_widget(session, body))


@router.patch(f"{T}/widgets/{{widget_id}}", response_model=WidgetRead)
def update_widget(
    session: SessionDep, access: Manager, widget_id: uuid.UUID, body: WidgetUpdate
) -> WidgetRead:
    """Change the allowed origins, the greeting, or switch the widget off."""
    return widget.read(widget.update_widget(session, widget_id, body))


# --- the visitor's browser -----------------------------------------------------------------

Origin = Annotated[str | None, Header(include_in_schema=False)]
Authorization = Annotated[str | None, Header(include_in_schema=False)]
VISITOR_PROBLEMS = problems(401, 403, 404, 422, 429)


def _allowed(origin: str | None) -> dict[str, str]:
    return {"Access-Control-Allow-Origin": origin or "", "Vary": "Origin"}


def _answer(key: str, origin: str | None, work: Callable[[widget.Here], R]) -> R:
    """Run ``work`` for the widget at ``key``; refusals past the origin check carry the CORS
    headers too, so the widget can read why (a 429's wait, an expired token)."""
    here = widget.reach(key, origin)
    try:
        return work(here)
    except Problem as refused:
        refused.headers = {**(refused.headers or {}), **_allowed(origin)}
        raise


def _bearer(value: str | None) -> str | None:
    scheme, _, token = (value or "").partition(" ")
    return token.strip() if scheme.lower() == "bearer" else None


@visitors.get(
    "/widget/{key}.js",
    response_class=Response,
    responses={200: {"content": {"text/javascript": {}}}},
)
def script(key: str) -> Response:
    """The script a merchant's page loads; it reads its key and our address from its own URL."""
    return Response(
        SCRIPT,
        media_type="text/javascript",
        headers={"Cache-Control": "public, max-age=300", "X-Content-Type-Options": "nosniff"},
    )


@visitors.options("/widget/{key}/{rest:path}", include_in_schema=False)
def preflight(key: str, rest: str, origin: Origin = None) -> Response:
    if not widget.allows_origin(key, origin):
        return Response(status_code=403)
    return Response(
        status_code=204,
        headers={
            **_allowed(origin),
            "Access-Control-Allow-Methods": "GET, POST",
            "Access-Control-Allow-Headers": "Authorization, Content-Type, Last-Event-ID",
            "Access-Control-Max-Age": "600",
        },
    )


@visitors.post(
    "/widget/{key}/visitors",
    response_model=VisitorSession,
    status_code=201,
    responses=problems(403, 404),
)
def start(key: str, response: Response, origin: Origin = None) -> VisitorSession:
    """A visitor opening the chat: a signed token to send with everything after."""
    session = _answer(key, origin, widget.start)
    response.headers.update(_allowed(origin))
    return session


@visitors.get("/widget/{key}/messages", response_model=VisitorThread, responses=VISITOR_PROBLEMS)
def messages(
    key: str, response: Response, origin: Origin = None, authorization: Authorization = None
) -> VisitorThread:
    """The visitor's own conversation: what they wrote and what agents answered."""
    found = _answer(key, origin, lambda here: widget.thread(here, _bearer(authorization)))
    response.headers.update(_allowed(origin))
    return found


@visitors.post(
    "/widget/{key}/messages",
    response_model=VisitorMessage,
    status_code=201,
    responses=VISITOR_PROBLEMS,
)
def write(
    key: str,
    body: VisitorMessageIn,
    response: Response,
    origin: Origin = None,
    authorization: Authorization = None,
) -> VisitorMessage:
    """The visitor's message; the same ``client_id`` twice is kept once."""
    kept = _answer(key, origin, lambda here: widget.post(here, _bearer(authorization), body))
    response.headers.update(_allowed(origin))
    return kept


@visitors.get(
    "/widget/{key}/events",
    response_class=StreamingResponse,
    responses={200: {"content": {"text/event-stream": {}}}, **VISITOR_PROBLEMS},
)
def events(request: Request, key: str, token: str = "", origin: Origin = None) -> Response:
    """Server-sent events: each message of the visitor's conversation (``event: message``),
    resuming after ``Last-Event-ID`` when the browser reconnects."""
    follow = _answer(key, origin, lambda here: widget.follow(here, token[:200]))
    return live.stream(request, follow, _allowed(origin))
