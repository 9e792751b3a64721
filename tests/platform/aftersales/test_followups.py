"""Follow-ups (回访) against a real order book: generated N days after delivery (the fulfilment
department's delivered parcels), after a case closes, and as a call for high-value orders;
never twice on a second run; handed to the least-loaded agent; completed with an outcome (an
issue found opens a case), skipped, reassigned; and the API's filters and problems."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta

import pytest

from daiyun.core import db
from daiyun.core.errors import Problem
from daiyun.core.ids import utcnow
from daiyun.platform.aftersales import followups, service, tasks
from daiyun.platform.aftersales.schemas import (
    CaseCreate,
    CaseLineIn,
    CaseState,
    CaseType,
    FollowupComplete,
    FollowupSettingsIn,
    FollowupState,
    Outcome,
    Source,
)
from daiyun.platform.fulfillment.models import (
    FoState,
    FulfillmentOrder,
    PushStatus,
    Shipment,
    ShipmentStatus,
)
from daiyun.platform.orders import service as order_service
from daiyun.platform.orders.normalized import OrderStatus
from daiyun.tenants.auth.permissions import Role
from tests import factories
from tests.platform.aftersales.conftest import SKU, Counter

API = "/api/v1"


def deliver(counter: Counter, order_id: uuid.UUID, days_ago: float) -> None:
    """The order's parcel as the fulfilment department keeps it once the carrier delivered it."""
    at = utcnow() - timedelta(days=days_ago)
    with db.unit_of_work(counter.tenant.id) as session:
        order = order_service.get_order(session, order_id)
        assert order is not None
        fo = FulfillmentOrder(
            number=f"FO-{uuid.uuid4().hex[:10]}",
            order_id=order_id,
            order_ids=[order_id.hex],
            shop_id=order.shop_id,
            state=FoState.delivered,
            merge_key=uuid.uuid4().hex,
        )
        session.add(fo)
        session.flush()
        session.add(
            Shipment(
                fo_id=fo.id,
                shop_id=order.shop_id,
                order_ids=[order_id.hex],
                carrier="sf",
                waybill_no=uuid.uuid4().hex[:16],
                sort_code="1",
                destination="杭州",
                weight_grams=500,
                status=ShipmentStatus.delivered,
                shipped_at=at - timedelta(days=2),
                shipped_by="test",
                delivered_at=at,
                push_status=PushStatus.pushed,
            )
        )


def _generate(counter: Counter, now: datetime | None = None) -> int:
    with db.unit_of_work(counter.tenant.id) as session:
        return followups.generate(session, now)


def _all(counter: Counter) -> list[tuple[str, str, str, uuid.UUID | None]]:
    with db.unit_of_work(counter.tenant.id) as session:
        rows, _ = followups.find(session, followups.Filters(), None, 200)
        return [(r.subject, r.rule.value, r.channel.value, r.assignee_id) for r in rows]


def _settings(counter: Counter, **rules: object) -> None:
    with db.unit_of_work(counter.tenant.id) as session:
        followups.put_settings(session, FollowupSettingsIn.model_validate(rules))


def test_delivered_orders_are_followed_up_after_n_days_once(counter: Counter) -> None:
    _settings(counter, delivery_days=7, high_value_minor=50_000, high_value_days=2)
    due = counter.order(total_minor=10_000)
    early = counter.order(total_minor=10_000)
    big = counter.order(total_minor=80_000)
    ancient = counter.order(total_minor=10_000)
    deliver(counter, due, days_ago=8)
    deliver(counter, early, days_ago=3)
    deliver(counter, big, days_ago=3)
    deliver(counter, ancient, days_ago=60)
    assert _generate(counter) == 2
    found = {subject: (rule, channel, who) for subject, rule, channel, who in _all(counter)}
    assert found == {
        f"order:{due.hex}": ("after_delivery", "message", counter.agent),
        f"order:{big.hex}": ("high_value", "phone", counter.agent),
    }
    # A second run, and a run once the early one comes due: nothing twice.
    assert _generate(counter) == 0
    assert _generate(counter, utcnow() + timedelta(days=5)) == 1
    assert _generate(counter, utcnow() + timedelta(days=5)) == 0
    assert len(_all(counter)) == 3
    with db.unit_of_work(counter.tenant.id) as session:
        [row] = followups.find(session, followups.Filters(order_id=due), None, 5)[0]
        assert row.due_at > row.since + timedelta(days=7)
        assert row.state == FollowupState.open


def test_orders_the_marketplace_delivered_are_followed_up_too(counter: Counter) -> None:
    """A marketplace that carried the order itself reports it delivered; its last change stands
    for the delivery. One that also shipped through the warehouse is followed up once."""
    both = counter.order(external_id="mp-both")
    for external_id, days in (("mp-old", 9), ("mp-new", 2), ("mp-both", 9)):
        when = utcnow() - timedelta(days=days)
        incoming = factories.order(
            external_id, sku=SKU, status=OrderStatus.delivered, updated=when, placed=when
        )
        with db.unit_of_work(counter.tenant.id) as session:
            order_service.ingest(session, counter.shop_id, "shopify", [incoming])
    deliver(counter, both, days_ago=8)
    assert _generate(counter) == 2
    with db.unit_of_work(counter.tenant.id) as session:
        rows, _ = followups.find(session, followups.Filters(), None, 10)
        numbers = order_service.order_numbers(session, {r.order_id for r in rows})
    assert sorted(numbers.values()) == ["mp-both", "mp-old"]


def test_rules_switched_off_make_nothing(counter: Counter) -> None:
    _settings(counter, delivery_enabled=False, high_value_enabled=False, close_enabled=False)
    deliver(counter, counter.order(), days_ago=10)
    assert _generate(counter) == 0


def test_a_closed_case_is_followed_up_with_its_buyer(counter: Counter) -> None:
    _settings(counter, close_days=3, delivery_enabled=False)
    order_id = counter.order()
    with db.unit_of_work(counter.tenant.id) as session:
        body = CaseCreate(
            type=CaseType.refund_only,
            order_id=order_id,
            reason="Leaves were stale",
            lines=[CaseLineIn(line=SKU, quantity=1)],
        )
        case = service.create_case(session, body, None)
        service.refuse(session, case.id, None, "Not stale")
        service.close(session, case.id, None, None)
        case_id = case.id
    assert _generate(counter) == 0
    assert _generate(counter, utcnow() + timedelta(days=3, minutes=1)) == 1
    assert _generate(counter, utcnow() + timedelta(days=4)) == 0
    with db.unit_of_work(counter.tenant.id) as session:
        [row] = followups.find(session, followups.Filters(), None, 5)[0]
        assert (row.case_id, row.order_id, row.rule.value) == (case_id, order_id, "after_close")


def test_follow_ups_go_to_the_least_loaded_agent(counter: Counter) -> None:
    second = counter.world.user(Role.cs_agent, counter.tenant).id
    for _ in range(4):
        deliver(counter, counter.order(), days_ago=8)
    assert _generate(counter) == 4
    loads: dict[uuid.UUID | None, int] = {}
    for *_, who in _all(counter):
        loads[who] = loads.get(who, 0) + 1
    assert loads == {counter.agent: 2, second: 2}


def test_an_issue_found_opens_a_case_and_the_follow_up_is_done(counter: Counter) -> None:
    order_id = counter.order(days_ago=9)
    deliver(counter, order_id, days_ago=8)
    _generate(counter)
    with db.unit_of_work(counter.tenant.id) as session:
        [row] = followups.queue(session, counter.agent)
        body = FollowupComplete(
            outcome=Outcome.issue_found, note="The tin arrived dented", case_type=CaseType.exchange
        )
        done = followups.complete(session, row.id, counter.agent, body)
        assert done.state == FollowupState.done and done.opened_case_id is not None
        case = service.get_case(session, done.opened_case_id)
        assert (case.source, case.state, case.order_id) == (
            Source.followup,
            CaseState.requested,
            order_id,
        )
        assert case.reason == "The tin arrived dented"
        followup_id = row.id
    with pytest.raises(Problem) as again, db.unit_of_work(counter.tenant.id) as session:
        followups.skip(session, followup_id, counter.agent, None)
    assert again.value.status == 409


def test_an_issue_outside_its_period_leaves_the_follow_up_open(counter: Counter) -> None:
    order_id = counter.order(days_ago=40)
    deliver(counter, order_id, days_ago=8)
    _generate(counter)
    body = FollowupComplete(
        outcome=Outcome.issue_found, note="Wants to return it", case_type=CaseType.return_refund
    )
    with db.unit_of_work(counter.tenant.id) as session:
        [row] = followups.queue(session, None)
        followup_id = row.id
    with pytest.raises(Problem) as refused, db.unit_of_work(counter.tenant.id) as session:
        followups.complete(session, followup_id, counter.agent, body)
    assert refused.value.kind == "out-of-period"
    with db.unit_of_work(counter.tenant.id) as session:
        assert followups.get(session, followup_id).state == FollowupState.open


def test_the_beat_task_walks_every_tenant(counter: Counter) -> None:
    deliver(counter, counter.order(), days_ago=8)
    assert tasks.generate_followups.run() == 1
    assert tasks.generate_followups.run() == 0
    assert len(_all(counter)) == 1


def _api(counter: Counter) -> str:
    return f"{API}/tenants/{counter.tenant.slug}/follow-ups"


def test_the_queue_through_the_api(counter: Counter) -> None:
    client, base = counter.world.client, _api(counter)
    for days in (8, 12):
        deliver(counter, counter.order(), days_ago=days)
    _generate(counter)
    agent = counter.world.actor(Role.cs_agent, counter.tenant)
    everyone = client.get(base, headers=agent.headers)
    assert everyone.status_code == 200, everyone.text
    assert len(everyone.json()["items"]) == 2
    # The 12-day one is past its window (7 days + 48 hours): overdue.
    overdue = client.get(base, headers=agent.headers, params={"overdue": True}).json()["items"]
    assert len(overdue) == 1
    first = overdue[0]["id"]
    mine = client.get(base, headers=agent.headers, params={"mine": True}).json()["items"]
    assert mine == []  # they went to the counter's agent, not this one
    moved = client.post(
        f"{base}/{first}/reassign", headers=agent.headers, json={"assignee_id": str(agent.user.id)}
    )
    assert moved.status_code == 200, moved.text
    mine = client.get(base, headers=agent.headers, params={"mine": True}).json()["items"]
    assert [m["id"] for m in mine] == [first]
    owner = counter.world.actor(Role.merchant_owner, counter.tenant)
    refused = client.post(
        f"{base}/{first}/reassign", headers=agent.headers, json={"assignee_id": str(owner.user.id)}
    )
    assert refused.status_code == 422 and refused.json()["type"].endswith("/not-an-agent")
    assert client.get(base, headers=owner.headers).status_code == 403
    done = client.post(
        f"{base}/{first}/complete",
        headers=agent.headers,
        json={"outcome": "repurchase_intent", "note": "Will buy the spring tea"},
    )
    assert done.status_code == 200, done.text
    assert done.json()["state"] == "done" and done.json()["done_by"] == str(agent.user.id)
    again = client.post(f"{base}/{first}/skip", headers=agent.headers, json={})
    assert again.status_code == 409
    issue = client.post(
        f"{base}/{first}/complete", headers=agent.headers, json={"outcome": "issue_found"}
    )
    assert issue.status_code == 422
    states = client.get(base, headers=agent.headers, params={"state": "done"}).json()["items"]
    assert [s["outcome"] for s in states] == ["repurchase_intent"]
    assert client.get(f"{base}/{uuid.uuid4()}", headers=agent.headers).status_code == 404


def test_follow_up_settings_need_the_approver(counter: Counter) -> None:
    client, base = counter.world.client, _api(counter)
    agent = counter.world.actor(Role.cs_agent, counter.tenant)
    manager = counter.world.actor(Role.account_manager, counter.tenant)
    assert client.get(f"{base}/settings", headers=agent.headers).json()["delivery_days"] == 7
    change = {"delivery_days": 10, "high_value_minor": 20_000}
    assert client.put(f"{base}/settings", headers=agent.headers, json=change).status_code == 403
    put = client.put(f"{base}/settings", headers=manager.headers, json=change)
    assert put.status_code == 200 and put.json()["delivery_days"] == 10
