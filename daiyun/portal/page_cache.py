"""Public pages kept rendered for a few seconds (micro-caching), served before routing.

The careers pages are the only pages anyone may read without signing in, and the ones a crowd
arrives at all at once (an opening shared on social media). Each is the same for every visitor
of one language, so a view that renders one puts it here, and for the next few seconds this
middleware answers the same path in the same language from memory: no routing, no database, no
template. A posting closed meanwhile may show for those seconds; applying to it is refused
then all the same (the form's POST is never cached).

What differs per visitor is never kept: a page holds markers where such values go (the careers
form's signed token, issued at the moment it is shown), filled in afresh on every answer.
Each process keeps its own pages; ``public_page_cache_seconds = 0`` turns this off.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from starlette.requests import Request
from starlette.responses import HTMLResponse
from starlette.types import ASGIApp, Receive, Scope, Send

from daiyun.portal.web import SECURITY_HEADERS, reader_locale

# Paths this cache may answer (a view decides what it puts in; this only bounds the lookup).
PREFIX = "/careers"
# Beyond this many pages the oldest go first (a bound on memory, not a tuning knob).
MAX_PAGES = 2000

Key = tuple[str, bytes, str]


@dataclass(frozen=True)
class _Page:
    until: float
    html: str
    fill: Callable[[], dict[str, str]] | None
    route: Any  # the route that rendered it, so the request metrics name the same route


def key_of(request: Request) -> Key:
    """What a page varies on: its path and query, and the reader's language."""
    return request.url.path, request.scope.get("query_string", b""), reader_locale(request)


class PageCache:
    def __init__(self, seconds: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.seconds = seconds
        self.clock = clock
        self._pages: dict[Key, _Page] = {}
        # Views put pages from the thread pool; a lock keeps two from evicting the same one.
        self._putting = threading.Lock()

    def put(
        self, request: Request, html: str, fill: Callable[[], dict[str, str]] | None = None
    ) -> None:
        """Keep a page rendered for ``request``; ``fill`` gives, per answer, the text each
        marker in it is replaced with."""
        if self.seconds <= 0:
            return
        page = _Page(self.clock() + self.seconds, html, fill, request.scope.get("route"))
        with self._putting:
            if len(self._pages) >= MAX_PAGES:
                self._pages.pop(next(iter(self._pages)), None)
            self._pages[key_of(request)] = page

    def take(self, request: Request) -> _Page | None:
        if not self._pages:  # nothing kept (or the cache is off): no key to work out
            return None
        key = key_of(request)
        page = self._pages.get(key)
        if page is None:
            return None
        if page.until <= self.clock():
            self._pages.pop(key, None)
            return None
        return page


def cache_of(scope: Scope) -> PageCache | None:
    return getattr(scope["app"].state, "page_cache", None)


class PageCacheMiddleware:
    """Answers a GET for a kept page from memory; everything else goes on to the app."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if (
            scope["type"] == "http"
            and scope["method"] == "GET"
            and scope["path"].startswith(PREFIX)
            and (cache := cache_of(scope)) is not None
            and (page := cache.take(Request(scope))) is not None
        ):
            html = page.html
            for marker, value in (page.fill() if page.fill else {}).items():
                html = html.replace(marker, value)
            scope["route"] = page.route
            await HTMLResponse(html, headers=SECURITY_HEADERS)(scope, receive, send)
            return
        await self.app(scope, receive, send)
