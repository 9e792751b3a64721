"""The API's docs page renders offline, from the package, under the portal's CSP."""

from __future__ import annotations

from typing import TYPE_CHECKING

from tests.portal.browser.live import LiveServer

if TYPE_CHECKING:
    from playwright.sync_api import Page


def test_the_docs_page_renders_every_operation_without_a_csp_violation(
    page: Page, live: LiveServer
) -> None:
    problems: list[str] = []
    page.on(
        "console",
        lambda message: problems.append(message.text) if message.type == "error" else None,
    )
    page.on("pageerror", lambda error: problems.append(str(error)))
    outside: list[str] = []
    page.on(
        "request",
        lambda request: (
            outside.append(request.url)
            if not request.url.startswith(live.url) and not request.url.startswith("data:")
            else None
        ),
    )
    page.goto("/api/v1/docs")
    # Swagger UI draws one block per operation once it has read the document.
    page.wait_for_selector(".swagger-ui .opblock", timeout=20_000)
    assert page.locator(".swagger-ui .opblock").count() >= 40
    assert page.locator(".swagger-ui .info .title").inner_text().startswith("Daiyun")
    assert not [p for p in problems if "Content Security Policy" in p or "Refused" in p], problems
    assert outside == []  # nothing from a CDN
