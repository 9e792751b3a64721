"""The inbox in a real browser, as an agent answers a buyer: the conversation opens in the
thread pane, the knowledge base's answer found by a word goes into the reply box with a click,
and sending it puts the reply in the thread; a macro run from the pane labels the conversation.
The page holds its content at every width the layout test checks."""

from __future__ import annotations

from typing import TYPE_CHECKING

from daiyun.core import db
from daiyun.platform.customer_service import assignment, knowledge, macros, service
from daiyun.platform.customer_service.models import AgentStatus, Channel
from daiyun.platform.customer_service.schemas import (
    AgentUpdate,
    ArticleIn,
    ContactCreate,
    MacroIn,
)
from daiyun.tenants.auth.permissions import Role
from tests.portal.browser.conftest import Seeder, sign_in
from tests.portal.browser.test_layout import _check

if TYPE_CHECKING:
    from playwright.sync_api import Page

ANSWER = "签收后 7 天内可无理由退货，运费由我们承担。"


def test_an_agent_answers_with_the_knowledge_base_and_runs_a_macro(
    page: Page, seed: Seeder
) -> None:
    tenant = seed.tenant("inbox")
    agent = seed.user(Role.cs_agent, tenant)
    with db.unit_of_work(tenant.id) as session:
        assignment.update_agent(
            session, agent.id, AgentUpdate(capacity=5, status=AgentStatus.online)
        )
        knowledge.create(session, ArticleIn(title="退货政策", body=ANSWER))
        macros.create(session, MacroIn(name="Escalate", add_labels=["escalated"]))
        buyer = service.create_contact(session, ContactCreate(name="王小明"))
        conv = service.open_conversation(session, buyer, Channel.phone)
        service.add_inbound(session, conv, "可以退货吗？", external_id=None)
        conv_id = conv.id
    sign_in(page, agent)
    inbox = f"/portal/console/inbox?c={tenant.slug}:{conv_id}"
    page.goto(inbox)
    assert "可以退货吗？" in page.inner_text(".inbox-thread")

    page.fill("#kb", "退货")
    with page.expect_navigation():
        page.click(".kb-search button")
    page.click(".kb-use")
    assert page.input_value("#body") == ANSWER
    with page.expect_navigation():
        page.click("#reply button[value=reply]")
    replies = page.locator(".messages [data-kind=outbound]")
    assert replies.count() == 1 and ANSWER in replies.inner_text()

    with page.expect_navigation():
        page.click("#macro button[value=macro]")
    assert "escalated" in page.inner_text(".inbox-thread")
    with db.unit_of_work(tenant.id) as session:
        assert service.get_conversation(session, conv_id).labels == ["escalated"]
    assert _check(page, inbox) == []
