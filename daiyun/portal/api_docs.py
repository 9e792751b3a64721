"""The interactive API docs (Swagger UI), served from the package under the portal's CSP.

FastAPI's own docs page loads Swagger UI from a CDN and starts it with an inline script: blank
offline, and against a policy that allows no script from elsewhere and none inline. This page
loads the vendored, pinned copy in ``static/swagger-ui/`` (see its README) and starts it from a
script file of ours.
"""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import HTMLResponse

from daiyun.portal.web import PREFIX, SECURITY_HEADERS, templates

SWAGGER_STATIC = f"{PREFIX}/static/swagger-ui"


def router(docs_url: str, openapi_url: str, title: str) -> APIRouter:
    """A router with the docs page at ``docs_url``, reading the schema at ``openapi_url``."""
    docs = APIRouter(include_in_schema=False)

    @docs.get(docs_url)
    def api_docs() -> HTMLResponse:
        html = templates.get_template("api_docs.html").render(
            title=title, openapi_url=openapi_url, static=SWAGGER_STATIC
        )
        return HTMLResponse(html, headers=SECURITY_HEADERS)

    return docs
