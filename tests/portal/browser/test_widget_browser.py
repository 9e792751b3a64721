"""The chat widget in real browsers: a visitor on a merchant's own site (another loopback origin,
its page carrying only the script tag) writes; the agent's open inbox shows the conversation
without a reload; the agent answers from the reply box; the visitor's widget shows the answer,
all through server-sent events."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import TYPE_CHECKING

import pytest

from daiyun.core import db
from daiyun.platform.customer_service import assignment, widget
from daiyun.platform.customer_service.models import AgentStatus
from daiyun.platform.customer_service.schemas import AgentUpdate, WidgetIn
from daiyun.tenants.auth.permissions import Role
from tests import factories
from tests.portal.browser.conftest import Seeder, sign_in
from tests.portal.browser.live import LiveServer

if TYPE_CHECKING:
    from playwright.sync_api import Browser, Page


class Site:
    """A merchant's storefront on its own origin: one page with the widget's script tag."""

    def __init__(self) -> None:
        self.script = ""
        site = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                page = (
                    "<!doctype html><html><head><meta charset='utf-8'><title>Tea shop</title>"
                    f"</head><body><h1>Tea shop</h1>{site.script}</body></html>"
                ).encode()
                self.send_response(200)
                self.send_header("Content-Type", "text/html; charset=utf-8")
                self.send_header("Content-Length", str(len(page)))
                self.end_headers()
                self.wfile.write(page)

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.origin = f"http://127.0.0.1:{self.server.server_address[1]}"


@pytest.fixture
def site() -> Iterator[Site]:
    made = Site()
    thread = threading.Thread(target=made.server.serve_forever, daemon=True)
    thread.start()
    yield made
    made.server.shutdown()
    made.server.server_close()


def test_a_visitor_and_an_agent_talk_in_real_time(
    page: Page, browser: Browser, live: LiveServer, seed: Seeder, site: Site
) -> None:
    tenant = seed.tenant("widget")
    agent = seed.user(Role.cs_agent, tenant)
    shop = factories.shop(tenant.id)
    with db.unit_of_work(tenant.id) as session:
        assignment.update_agent(
            session, agent.id, AgentUpdate(capacity=5, status=AgentStatus.online)
        )
        made = widget.create_widget(
            session,
            WidgetIn(shop_id=shop.id, allowed_origins=[site.origin], greeting="Welcome to Tea"),
        )
        site.script = f'<script src="{live.url}/widget/{made.key}.js" async></script>'

    sign_in(page, agent)
    page.goto("/portal/console/inbox")
    assert "Visitor" not in page.inner_text(".inbox-list")

    shopper = browser.new_context(locale="en-US")
    shopper.set_default_timeout(15_000)
    visitor = shopper.new_page()
    try:
        visitor.goto(site.origin)
        visitor.click(".bubble")
        visitor.wait_for_selector(".msg.greeting:has-text('Welcome to Tea')")
        visitor.fill("textarea", "Do you ship to Hangzhou?")
        visitor.keyboard.press("Enter")
        visitor.wait_for_selector(".msg.visitor:has-text('Do you ship to Hangzhou?')")

        # The agent's inbox, open all along, reloads itself with the new conversation.
        page.wait_for_selector(".inbox-list a:has-text('Visitor')")
        with page.expect_navigation():
            page.click(".inbox-list a:has-text('Visitor')")
        assert "Do you ship to Hangzhou?" in page.inner_text(".inbox-thread")
        page.fill("#body", "Yes, in two days.")
        with page.expect_navigation():
            page.click("#reply button[value=reply]")

        visitor.wait_for_selector(".msg.agent:has-text('Yes, in two days.')")
        assert visitor.locator(".msg").count() == 3  # the greeting, the question, the answer
    finally:
        shopper.close()
