"""The API's docs page renders offline, from the package, under the portal's CSP."""

from __future__ import annotations

from typing import TYPE_CHECKING

import httpx

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
    document = httpx.get(f"{live.url}/api/v1/openapi.json").json()
    tags = {
        tag for path in document["paths"].values() for op in path.values() for tag in op["tags"]
    }
    page.goto("/api/v1/docs")
    # Swagger UI lists every tag of the document, closed; opening one draws its operations.
    page.wait_for_selector(".swagger-ui .opblock-tag", timeout=20_000)
    listed = page.locator(".swagger-ui .opblock-tag").all_inner_texts()
    assert {text.split("\n")[0].strip() for text in listed} == tags
    billing = sum(
        len([op for op in path.values() if "billing" in op["tags"]])
        for path in document["paths"].values()
    )
    page.locator(".swagger-ui .opblock-tag", has_text="billing").first.click()
    page.wait_for_selector(".swagger-ui .opblock", timeout=20_000)
    assert page.locator(".swagger-ui .opblock").count() == billing
    assert page.locator(".swagger-ui .info .title").inner_text().startswith("Daiyun")
    assert not [p for p in problems if "Content Security Policy" in p or "Refused" in p], problems
    assert outside == []  # nothing from a CDN
