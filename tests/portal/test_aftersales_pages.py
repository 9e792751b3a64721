"""The after-sales pages: the console lists open cases with overdue ones marked, the case page
shows the order, lines and log and its buttons move the case (refund into the order book), a
merchant reads their cases and finds no case page; every string is in Chinese too."""

from __future__ import annotations

import uuid
from datetime import timedelta

from daiyun.core import db
from daiyun.core.ids import utcnow
from daiyun.platform.aftersales import service
from daiyun.platform.aftersales.schemas import CaseCreate, CaseLineIn, CaseType, Outcome
from daiyun.platform.orders import service as order_service
from daiyun.tenants.auth.permissions import Role
from daiyun.tenants.models import Tenant
from tests.conftest import World
from tests.platform.aftersales.conftest import SKU, make_counter
from tests.platform.aftersales.test_repurchase import _followed, _order
from tests.portal.conftest import PortalClient, csrf_of
from tests.portal.test_zh_and_time import choose_chinese, untranslated  # noqa: F401 (fixture)

PORTAL = "/portal"


def _case(world: World) -> tuple[Tenant, str, str]:
    counter = make_counter(world)
    order_id = counter.order()
    with db.unit_of_work(counter.tenant.id) as session:
        body = CaseCreate(
            type=CaseType.refund_only,
            order_id=order_id,
            reason="Tea arrived damp",
            lines=[CaseLineIn(line=SKU, quantity=1)],
        )
        case = service.create_case(session, body, None)
        case.deadline = utcnow() - timedelta(hours=1)
        return counter.tenant, str(case.id), str(order_id)


def test_case_from_list_to_refund(world: World, portal_as: PortalClient) -> None:
    tenant, case_id, order_id = _case(world)
    slug = tenant.slug
    agent = portal_as(world.user(Role.cs_agent, tenant))
    listing = agent.get(f"{PORTAL}/console/aftersales").text
    assert f'data-case="{case_id}" class="overdue"' in listing
    url = f"{PORTAL}/t/{slug}/aftersales/{case_id}"
    page = agent.get(url).text
    assert "Tea arrived damp" in page and 'value="approve"' in page
    token = csrf_of(page)
    for action in ("approve", "refund"):
        answer = agent.post(
            url, data={"csrf_token": token, "action": action}, follow_redirects=False
        )
        assert answer.status_code == 303 and "error" not in answer.headers["location"]
    done = agent.get(url).text
    assert 'data-state="refunded"' in done and 'value="close"' in done
    with db.unit_of_work(tenant.id) as session:
        order = order_service.get_order(session, uuid.UUID(order_id))
        assert order is not None and order.refunded_minor == 5_000
    illegal = agent.post(
        url, data={"csrf_token": token, "action": "approve"}, follow_redirects=False
    )
    assert "error=illegal-transition" in illegal.headers["location"]


def test_merchant_reads_cases_only(world: World, portal_as: PortalClient) -> None:
    tenant, case_id, _ = _case(world)
    slug = tenant.slug
    owner = portal_as(world.user(Role.merchant_owner, tenant))
    assert f'data-case="{case_id}"' in owner.get(f"{PORTAL}/t/{slug}/aftersales").text
    assert owner.get(f"{PORTAL}/t/{slug}/aftersales/{case_id}").status_code == 404


def test_aftersales_pages_in_chinese(
    world: World,
    portal_as: PortalClient,
    untranslated: set[str],  # noqa: F811
) -> None:
    tenant, case_id, _ = _case(world)
    slug = tenant.slug
    agent = portal_as(world.user(Role.cs_agent, tenant))
    choose_chinese(agent)
    assert "售后" in agent.get(f"{PORTAL}/console/aftersales").text
    assert "仅退款" in agent.get(f"{PORTAL}/t/{slug}/aftersales/{case_id}").text
    owner = portal_as(world.user(Role.merchant_owner, tenant))
    choose_chinese(owner)
    owner.get(f"{PORTAL}/t/{slug}/aftersales")
    assert untranslated == set()


def test_merchant_sees_what_follow_ups_brought_back(
    world: World,
    portal_as: PortalClient,
    untranslated: set[str],  # noqa: F811
) -> None:
    counter = make_counter(world)
    _followed(counter, "again@example.com", Outcome.satisfied)
    _followed(counter, "gone@example.com", Outcome.dissatisfied)
    _order(counter, "again@example.com", utcnow() + timedelta(minutes=1))
    owner = portal_as(world.user(Role.merchant_owner, counter.tenant))
    choose_chinese(owner)
    page = owner.get(f"{PORTAL}/t/{counter.tenant.slug}/aftersales").text
    rows = {
        outcome: page.split(f'data-outcome="{outcome}"')[1].split("</tr>")[0]
        for outcome in ("satisfied", "dissatisfied", "all")
    }
    assert "100.0%" in rows["satisfied"] and "0.0%" in rows["dissatisfied"]
    assert "50.0%" in rows["all"]
    assert untranslated == set()
