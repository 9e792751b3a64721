"""The application factory: routers under /api/v1, the portal, problem+json errors, health."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import APIRouter, FastAPI, Response
from fastapi.concurrency import run_in_threadpool
from fastapi.staticfiles import StaticFiles
from sqlalchemy import create_engine, text

from daiyun import departments
from daiyun.core import errors, openapi
from daiyun.core.config import get_settings
from daiyun.core.db import get_engine
from daiyun.core.errors import problem_response
from daiyun.core.observability import (
    RequestContextMiddleware,
    configure_logging,
    metrics_exposition,
)
from daiyun.core.tasks import celery_app
from daiyun.portal import api_docs
from daiyun.portal.page_cache import PageCache, PageCacheMiddleware
from daiyun.portal.views import careers
from daiyun.portal.views import router as portal_router
from daiyun.portal.web import STATIC_DIR, error_page

API_PREFIX = "/api/v1"


def _check_database() -> None:
    with get_engine().connect() as connection:
        connection.execute(text("select 1"))


def _check_broker() -> None:
    with celery_app.connection_for_write() as connection:
        connection.ensure_connection(max_retries=1, timeout=2)
        if connection.transport.driver_name == "sqlalchemy":
            # kombu's SQLAlchemy transport (the embedded default) connects lazily, so the call
            # above succeeds even when its database cannot be opened: open it for real.
            engine = create_engine(connection.hostname)
            try:
                with engine.connect() as broker_db:
                    broker_db.execute(text("select 1"))
            finally:
                engine.dispose()


def create_app() -> FastAPI:
    settings = get_settings()
    configure_logging(settings.log_level, settings.log_json)

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        get_engine()
        yield

    app = FastAPI(
        title="Daiyun",
        summary="The operating system of an e-commerce agency (代运营)",
        version="0.1.0",
        openapi_url=f"{API_PREFIX}/openapi.json",
        # The docs page is the portal's (api_docs): Swagger UI from the package, not a CDN.
        docs_url=None,
        redoc_url=None,
        swagger_ui_oauth2_redirect_url=None,
        lifespan=lifespan,
    )
    errors.install(app, html=error_page)
    openapi.install(app)
    modules = departments.api_modules()
    # Routes that take an upload declare their own body limit (``LARGE_BODIES``: a path under
    # the API prefix, as a regular expression, and its limit in bytes).
    larger = [
        (re.compile(API_PREFIX + pattern), limit)
        for module in modules
        for pattern, limit in getattr(module, "LARGE_BODIES", {}).items()
    ]
    # The careers form carries a CV.
    larger.append((re.compile(careers.FORM_PATH), careers.MAX_FORM_BYTES))
    # Inside the request context, so a page answered from memory is still counted and logged.
    app.state.page_cache = PageCache(settings.public_page_cache_seconds)
    app.add_middleware(PageCacheMiddleware)
    app.add_middleware(
        RequestContextMiddleware, max_body_bytes=settings.max_body_bytes, larger=larger
    )

    api = APIRouter(prefix=API_PREFIX)
    for module in modules:
        api.include_router(module.router)
    app.include_router(api)
    for module in modules:
        if hasattr(module, "ingress"):
            app.include_router(module.ingress)
    app.include_router(portal_router)
    app.include_router(api_docs.router(f"{API_PREFIX}/docs", app.openapi_url or "", app.title))
    app.mount("/portal/static", StaticFiles(directory=STATIC_DIR), name="portal-static")

    @app.get("/healthz", tags=["ops"])
    def healthz() -> dict[str, str]:
        """Liveness: the process answers."""
        return {"status": "ok"}

    @app.get("/readyz", tags=["ops"], response_model=None)
    async def readyz() -> Response | dict[str, str]:
        """Readiness: the database and the broker both answer."""
        checks: dict[str, str] = {}
        for name, check in (("database", _check_database), ("broker", _check_broker)):
            try:
                await run_in_threadpool(check)
                checks[name] = "ok"
            except Exception as exc:
                checks[name] = type(exc).__name__
        if all(v == "ok" for v in checks.values()):
            return {"status": "ok", **checks}
        return problem_response(503, "not-ready", "A dependency is unavailable", checks=checks)

    @app.get("/metrics", tags=["ops"], include_in_schema=False)
    def metrics() -> Response:
        body, media_type = metrics_exposition()
        return Response(body, media_type=media_type)

    return app
