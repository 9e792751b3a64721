"""The customer-service pages: an agent's inbox shows their conversation with its SLA due time
(marked at risk within half an hour of it), the reply box answers it (a canned reply filled in)
and resolves it; the list's stamp changes when a buyer writes; the supervisors' desk shows
queues, conversations at risk and load; a merchant reads the service report; every string is
in Chinese too."""

from __future__ import annotations

import json
from typing import Any

from daiyun.core import db
from daiyun.platform.customer_service import knowledge, macros, service
from daiyun.platform.customer_service.models import AgentStatus, Channel, Delivery
from daiyun.platform.customer_service.schemas import (
    ArticleIn,
    CannedReplyIn,
    MacroIn,
    MessageCreate,
    SlaPolicyIn,
)
from daiyun.tenants.auth.permissions import Role
from tests.conftest import World
from tests.platform.customer_service.conftest import Desk, desk  # noqa: F401 (fixture)
from tests.portal.conftest import PortalClient, csrf_of
from tests.portal.test_zh_and_time import choose_chinese, untranslated  # noqa: F401 (fixture)

PORTAL = "/portal"
INBOX = f"{PORTAL}/console/inbox"


def _news(client: Any, last: str | None = None) -> tuple[str, int] | None:
    """The first ``inbox`` event of the inbox's stream (id, count), as the page hears it."""
    headers = {"Last-Event-ID": last} if last else {}
    answer = client.get(f"{INBOX}/events", headers=headers)
    assert answer.status_code == 200 and answer.headers["content-type"].startswith(
        "text/event-stream"
    )
    for block in answer.text.split("\n\n"):
        fields = dict(line.split(": ", 1) for line in block.splitlines() if ": " in line)
        if fields.get("event") == "inbox":
            return fields["id"], json.loads(fields["data"])["count"]
    return None


def test_agent_answers_from_the_inbox(
    desk: Desk,  # noqa: F811
    world: World,
    portal_as: PortalClient,
) -> None:
    with db.unit_of_work(desk.tenant.id) as session:
        service.create_policy(session, SlaPolicyIn(name="Fast", first_response_minutes=30))
        macros.create_canned(
            session, CannedReplyIn(shortcut="thanks", title="Thanks", body="Thanks {{buyer_name}}!")
        )
        canned = macros.find_canned(session, None, 10)[0][0].id
    agent = desk.agent(capacity=3)
    conv = desk.ask("Is the tea organic?")
    client = portal_as(agent)
    key = f"{desk.tenant.slug}:{conv}"
    before = _news(client)
    assert before is not None and before[1] == 1
    page = client.get(f"{INBOX}?c={key}").text
    assert f'data-conversation="{conv}"' in page
    assert "Is the tea organic?" in page and "data-due=" in page
    # Due in 30 minutes: at risk from the start, marked in the list before it is breached.
    assert 'data-at-risk="1"' in page and "SLA at risk" in page
    token = csrf_of(page)
    answer = client.post(
        f"{PORTAL}/t/{desk.tenant.slug}/conversations/{conv}",
        data={"csrf_token": token, "action": "reply", "canned_reply_id": str(canned), "body": ""},
        follow_redirects=False,
    )
    assert answer.status_code == 303
    assert "Thanks Buyer!" in client.get(f"{INBOX}?c={key}").text
    with db.unit_of_work(desk.tenant.id) as session:
        service.add_inbound(
            session, service.get_conversation(session, conv), "And green?", external_id=None
        )
    # The page's stream, resumed after what it last saw, tells of the new message.
    assert _news(client, last=before[0]) not in (None, before)
    client.post(
        f"{PORTAL}/t/{desk.tenant.slug}/conversations/{conv}",
        data={"csrf_token": token, "action": "resolve"},
        follow_redirects=False,
    )
    assert (_news(client) or ("", -1))[1] == 0
    status = client.post(
        f"{INBOX}/status",
        data={"csrf_token": token, "status": "offline"},
        follow_redirects=False,
    )
    assert status.status_code == 303
    with db.unit_of_work(desk.tenant.id) as session:
        from daiyun.platform.customer_service import assignment

        row = assignment.agent_row(session, agent.id)
        assert row is not None and row.status == AgentStatus.offline


def test_desk_and_report(
    desk: Desk,  # noqa: F811
    world: World,
    portal_as: PortalClient,
) -> None:
    with db.unit_of_work(desk.tenant.id) as session:
        service.create_policy(session, SlaPolicyIn(name="Fast", first_response_minutes=20))
    desk.ask()
    admin = portal_as(world.user(Role.agency_admin))
    page = admin.get(f"{PORTAL}/console/service").text
    assert f'data-merchant="{desk.tenant.slug}"' in page
    assert 'data-at-risk="1"' in page  # one conversation due within the half hour
    owner = portal_as(world.user(Role.merchant_owner, desk.tenant))
    report = owner.get(f"{PORTAL}/t/{desk.tenant.slug}/service").text
    assert 'data-figure="opened">1<' in report
    assert owner.get(INBOX).status_code == 404


def test_service_pages_in_chinese(
    desk: Desk,  # noqa: F811
    world: World,
    portal_as: PortalClient,
    untranslated: set[str],  # noqa: F811
) -> None:
    agent = desk.agent()
    conv = desk.ask()
    client = portal_as(agent)
    choose_chinese(client)
    page = client.get(f"{INBOX}?c={desk.tenant.slug}:{conv}").text
    assert "收件箱" in page and "买家订单" in page
    client.get(f"{INBOX}?view=queue")
    client.get(f"{PORTAL}/console/service")
    client.get(f"{PORTAL}/t/{desk.tenant.slug}/service")
    assert untranslated == set()


def test_an_agent_runs_a_macro_from_the_reply_box(
    desk: Desk,  # noqa: F811
    portal_as: PortalClient,
) -> None:
    with db.unit_of_work(desk.tenant.id) as session:
        macro = macros.create(
            session, MacroIn(name="Escalate", add_labels=["escalated"], note="Taken over")
        )
    agent = desk.agent()
    conv = desk.ask()
    client = portal_as(agent)
    page = client.get(f"{INBOX}?c={desk.tenant.slug}:{conv}").text
    assert f'<option value="{macro.id}">Escalate</option>' in page
    ran = client.post(
        f"{PORTAL}/t/{desk.tenant.slug}/conversations/{conv}",
        data={"csrf_token": csrf_of(page), "action": "macro", "macro_id": str(macro.id)},
        follow_redirects=False,
    )
    assert ran.status_code == 303 and "error" not in ran.headers["location"]
    with db.unit_of_work(desk.tenant.id) as session:
        after = service.get_conversation(session, conv)
        assert after.labels == ["escalated"]
    assert "Taken over" in client.get(f"{INBOX}?c={desk.tenant.slug}:{conv}").text


def test_the_knowledge_base_answers_from_the_thread_pane(
    desk: Desk,  # noqa: F811
    portal_as: PortalClient,
) -> None:
    with db.unit_of_work(desk.tenant.id) as session:
        knowledge.create(session, ArticleIn(title="退货政策", body="签收后 7 天内可退货。"))
        knowledge.create(session, ArticleIn(title="Brewing", body="80 °C water."))
    agent = desk.agent()
    conv = desk.ask()
    client = portal_as(agent)
    page = client.get(INBOX, params={"c": f"{desk.tenant.slug}:{conv}", "kb": "退货"}).text
    assert "签收后 7 天内可退货。" in page and 'class="kb-use"' in page
    assert "80 °C water." not in page
    nothing = client.get(INBOX, params={"c": f"{desk.tenant.slug}:{conv}", "kb": "oolong"}).text
    assert "No article holds these words." in nothing


def test_the_thread_shows_a_reply_the_channel_did_not_take(
    desk: Desk,  # noqa: F811
    portal_as: PortalClient,
) -> None:
    agent = desk.agent()
    conv = desk.ask("Where is it?", email="buyer-failed@example.com", channel=Channel.email)
    with db.unit_of_work(desk.tenant.id) as session:
        found = service.get_conversation(session, conv)
        user = service.author(session, agent.id)
        queued = service.reply(session, found, MessageCreate(body="On its way"), user)
        failed = service.reply(session, found, MessageCreate(body="Tracking: SF123"), user)
        failed.delivery = Delivery.failed
        assert queued.delivery == Delivery.queued
    page = portal_as(agent).get(f"{INBOX}?c={desk.tenant.slug}:{conv}").text
    assert page.count('data-delivery="failed"') == 1 and "Not delivered" in page
    assert page.count('data-delivery="queued"') == 1


def test_a_long_history_of_resolved_chats_does_not_hide_an_open_one(
    desk: Desk,  # noqa: F811
    portal_as: PortalClient,
) -> None:
    agent = desk.agent(capacity=100)
    with db.unit_of_work(desk.tenant.id) as session:
        for _ in range(60):  # more than a page of the agent's own, all answered and resolved
            conv = service.get_conversation(session, desk.ask("Old question"))
            service.resolve(session, conv)
    waiting = desk.ask("Is my order on its way?")
    assert desk.assignee(waiting) == agent.id
    page = portal_as(agent).get(INBOX).text
    assert page.count("data-conversation=") == 1 and f'data-conversation="{waiting}"' in page
