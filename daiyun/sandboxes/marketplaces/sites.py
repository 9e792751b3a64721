"""A merchant's own storefront, as the sandbox serves it for Shopify and WooCommerce shops: a
plain page on the sandbox's origin (not the platform's) carrying the shop's chat-widget script
tag, so the demo and the tests see the widget as a real shop's visitors would."""

from __future__ import annotations

from html import escape

from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import HTMLResponse

from daiyun.sandboxes.marketplaces.state import SandboxState

router = APIRouter(tags=["sandbox: storefronts"])
OWN_SITES = ("shopify", "woocommerce")


@router.get("/_sites/{channel}/{shop}", response_class=HTMLResponse)
def storefront(channel: str, shop: str, request: Request) -> HTMLResponse:
    state: SandboxState = request.app.state.sandbox
    with state.lock:
        found = state.shop(channel, shop) if channel in OWN_SITES else None
        if found is None:
            raise HTTPException(404, "no such storefront")
        script = found.widget_script
    tag = f'<script src="{escape(script)}" async></script>' if script else ""
    page = (
        "<!doctype html><html lang='zh-CN'><head><meta charset='utf-8'>"
        f"<title>{escape(shop)}</title>"
        "<meta name='viewport' content='width=device-width, initial-scale=1'></head>"
        "<body style='font-family:system-ui,sans-serif;max-width:40rem;margin:2rem auto'>"
        f"<h1>{escape(shop)}</h1>"
        "<p>A merchant's own storefront (sandbox). The chat button at the bottom right talks to"
        " the agency's agents in Daiyun's inbox.</p>"
        f"{tag}</body></html>"
    )
    return HTMLResponse(page)
