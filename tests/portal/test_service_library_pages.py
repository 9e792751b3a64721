"""The console's service library: an admin writes a merchant's canned replies, macros and
knowledge-base articles (added, edited in place, deleted; an unknown variable or a taken
shortcut refused with its reason and nothing kept); a shop's chat widget given and changed; an
agent finds no page to write in;
every string is in Chinese too."""

from __future__ import annotations

import uuid

from daiyun.core import db
from daiyun.platform.customer_service import knowledge, macros, widget
from daiyun.platform.customer_service import service as cs
from daiyun.tenants.auth.permissions import Role
from tests import factories
from tests.conftest import World
from tests.portal.conftest import PortalClient, csrf_of
from tests.portal.test_zh_and_time import choose_chinese, untranslated  # noqa: F401 (fixture)

PORTAL = "/portal"
LIBRARY = f"{PORTAL}/console/service-library"


def test_an_admin_writes_the_library(
    world: World,
    portal_as: PortalClient,
    untranslated: set[str],  # noqa: F811
) -> None:
    tenant = world.tenant()
    admin = portal_as(world.user(Role.agency_admin, tenant))
    page = admin.get(LIBRARY, params={"tenant": tenant.slug}).text
    token = csrf_of(page)
    base = f"{PORTAL}/t/{tenant.slug}/service-library"

    def post(path: str, **fields: str) -> str:
        answer = admin.post(
            f"{base}/{path}", data={"csrf_token": token, **fields}, follow_redirects=False
        )
        assert answer.status_code == 303, answer.text
        return answer.headers["location"]

    assert "done=canned-saved" in post(
        "canned", shortcut="hi", title="Greeting", body="您好 {{buyer_name}}"
    )
    assert "error=" in post("canned", shortcut="bye", title="Bye", body="{{coupon}}")  # unknown
    assert "error=" in post("canned", shortcut="hi", title="Again", body="Hello")  # taken
    post(
        "macros",
        name="Refund sent",
        add_labels="退款, refund",
        priority="high",
        assign_to_me="1",
        reply="The refund for {{order_number}} is on its way.",
        then="resolved",
    )
    post("articles", title="Shipping", body="We ship within 48 hours.", tags="shipping")
    with db.unit_of_work(tenant.id) as session:
        [canned] = macros.find_canned(session, None, 10)[0]
        [macro] = macros.find(session, None, 10)[0]
        [article] = knowledge.find(session, None, None, 10)[0]
        assert canned.body == "您好 {{buyer_name}}"
        assert (macro.add_labels, macro.priority.value, macro.assign_to_me) == (
            ["退款", "refund"],
            "high",
            True,
        )
        assert macro.then is not None and macro.then.value == "resolved"
    shown = admin.get(LIBRARY, params={"tenant": tenant.slug}).text
    assert f'data-canned="{canned.id}"' in shown and f'data-articles="{article.id}"' in shown
    post(
        f"articles/{article.id}",
        action="save",
        title="Shipping",
        body="We ship within 24 hours.",
        tags="",
    )
    assert "done=macros-deleted" in post(f"macros/{macro.id}", action="delete")
    with db.unit_of_work(tenant.id) as session:
        assert knowledge.get(session, article.id).body == "We ship within 24 hours."
        assert macros.find(session, None, 10)[0] == []
    choose_chinese(admin)
    assert "客服知识库" in admin.get(LIBRARY).text
    assert not untranslated, sorted(untranslated)


def test_an_agent_has_no_library_to_write(world: World, portal_as: PortalClient) -> None:
    tenant = world.tenant()
    agent = portal_as(world.user(Role.cs_agent, tenant))
    page = agent.get(LIBRARY)
    assert page.status_code == 200 and "service-library/" not in page.text
    refused = agent.post(
        f"{PORTAL}/t/{tenant.slug}/service-library/articles",
        data={"csrf_token": csrf_of(page.text), "title": "X", "body": "Y"},
        follow_redirects=False,
    )
    assert refused.status_code == 403
    with db.unit_of_work(tenant.id) as session:
        assert knowledge.find(session, None, None, 10)[0] == []


def test_an_admin_sets_the_sla_policies(world: World, portal_as: PortalClient) -> None:
    tenant = world.tenant()
    admin = portal_as(world.user(Role.agency_admin, tenant))
    token = csrf_of(admin.get(LIBRARY, params={"tenant": tenant.slug}).text)
    base = f"{PORTAL}/t/{tenant.slug}/service-library/policies"
    fields = {
        "csrf_token": token,
        "name": "Urgent e-mail",
        "position": "10",
        "priority": "urgent",
        "channel": "email",
        "first_response_minutes": "30",
        "resolution_minutes": "480",
        "business_hours": "mon 09:00-12:00 13:00-18:00\nFRI 09:00-17:00",
        "holidays": "2027-02-17, 2027-02-16",
    }

    def post(path: str, **changed: str) -> str:
        answer = admin.post(path, data={**fields, **changed}, follow_redirects=False)
        assert answer.status_code == 303, answer.text
        return answer.headers["location"]

    assert "done=policies-saved" in post(base)
    # Hours that overlap, a weekday twice, a day that is no weekday, minutes not a number.
    for bad in (
        {"business_hours": "mon 09:00-12:00 11:00-18:00"},
        {"business_hours": "mon 09:00-12:00\nmon 13:00-18:00"},
        {"business_hours": "someday 09:00-12:00"},
        {"first_response_minutes": "soon"},
    ):
        assert "error=" in post(base, **bad), bad
    with db.unit_of_work(tenant.id) as session:
        [policy] = cs.policies(session)
        assert (policy.priority.value, policy.channel.value, policy.first_response_minutes) == (
            "urgent",
            "email",
            30,
        )
        assert policy.business_hours == {
            "mon": [["09:00", "12:00"], ["13:00", "18:00"]],
            "fri": [["09:00", "17:00"]],
        }
        assert policy.holidays == ["2027-02-16", "2027-02-17"]
    shown = admin.get(LIBRARY, params={"tenant": tenant.slug}).text
    assert f'data-policies="{policy.id}"' in shown
    assert "mon 09:00-12:00 13:00-18:00" in shown  # the hours as they were typed
    assert "error=" in post(f"{base}/{policy.id}", action="delete")  # policies stay
    post(f"{base}/{policy.id}", action="save", first_response_minutes="", priority="")
    with db.unit_of_work(tenant.id) as session:
        [policy] = cs.policies(session)
        assert (policy.priority, policy.first_response_minutes) == (None, None)


def test_an_admin_gives_a_shop_its_chat_widget(world: World, portal_as: PortalClient) -> None:
    tenant = world.tenant()
    shop = factories.shop(tenant.id)
    admin = portal_as(world.user(Role.agency_admin, tenant))
    token = csrf_of(admin.get(LIBRARY, params={"tenant": tenant.slug}).text)
    base = f"{PORTAL}/t/{tenant.slug}/service-library/widgets"

    def post(path: str, **fields: str) -> str:
        answer = admin.post(path, data={"csrf_token": token, **fields}, follow_redirects=False)
        assert answer.status_code == 303, answer.text
        return answer.headers["location"]

    made = {"shop_id": str(shop.id), "greeting": "您好", "enabled": "1"}
    assert "error=" in post(base, **made, allowed_origins="shop.example/page")
    assert "done=widgets-saved" in post(base, **made, allowed_origins="https://tea.example/")
    assert "error=widget-exists" in post(base, **made, allowed_origins="https://tea.example")
    with db.unit_of_work(tenant.id) as session:
        [chat] = widget.find_widgets(session, None, 10)[0]
        assert (chat.shop_id, chat.allowed_origins, chat.greeting, chat.enabled) == (
            shop.id,
            ["https://tea.example"],
            "您好",
            True,
        )
    shown = admin.get(LIBRARY, params={"tenant": tenant.slug}).text
    assert f'data-widgets="{chat.id}"' in shown
    assert f"/widget/{chat.key}.js" in shown  # the tag to copy into the shop's pages
    # Another site added, and switched off (no "enabled" box ticked); the shop stays its own.
    post(
        f"{base}/{chat.id}",
        action="save",
        shop_id=str(uuid.uuid4()),
        allowed_origins="https://tea.example\nhttps://m.tea.example",
        greeting="",
    )
    with db.unit_of_work(tenant.id) as session:
        [chat] = widget.find_widgets(session, None, 10)[0]
        assert chat.shop_id == shop.id and not chat.enabled
        assert chat.allowed_origins == ["https://tea.example", "https://m.tea.example"]
