"""Assignment under capacity and availability, the queue, SLA clocks on conversations, contacts
and canned replies, through the services."""

from __future__ import annotations

from datetime import timedelta

import pytest

from daiyun.core import db
from daiyun.core.errors import Problem
from daiyun.core.ids import utcnow
from daiyun.platform.customer_service import assignment, clocks, macros, service
from daiyun.platform.customer_service.models import (
    AgentStatus,
    Channel,
    MessageKind,
    Priority,
    State,
    Strategy,
)
from daiyun.platform.customer_service.schemas import (
    CannedReplyIn,
    ContactCreate,
    MessageCreate,
    SlaPolicyIn,
)
from daiyun.tenants.auth.permissions import Role
from tests import factories
from tests.platform.customer_service.conftest import Desk


def test_least_loaded_spreads_and_never_exceeds_capacity(desk: Desk) -> None:
    li, wang = desk.agent(capacity=2), desk.agent(capacity=2)
    conversations = [desk.ask() for _ in range(5)]
    owners = [desk.assignee(c) for c in conversations]
    assert owners[:4].count(li.id) == 2 and owners[:4].count(wang.id) == 2
    assert owners[4] is None  # everyone is full: queued
    assert desk.load(li) == desk.load(wang) == 2


def test_round_robin_takes_the_least_recently_assigned(desk: Desk) -> None:
    with db.unit_of_work(desk.tenant.id) as session:
        assignment.set_strategy(session, Strategy.round_robin)
    li, wang = desk.agent(capacity=5), desk.agent(capacity=5)
    owners = [desk.assignee(desk.ask()) for _ in range(4)]
    assert owners == [li.id, wang.id, li.id, wang.id]


def test_only_online_agents_of_the_merchant_are_given_work(desk: Desk) -> None:
    away = desk.agent(capacity=5, status=AgentStatus.away)
    elsewhere = desk.world.user(Role.cs_agent, desk.world.tenant())
    desk.status(elsewhere, AgentStatus.online)
    conv = desk.ask()
    assert desk.assignee(conv) is None
    assert desk.load(away) == 0


def test_the_queue_is_served_by_priority_then_age(desk: Desk) -> None:
    old = desk.ask(priority=Priority.normal)
    urgent = desk.ask(priority=Priority.urgent)
    newer = desk.ask(priority=Priority.normal)
    li = desk.agent(capacity=2)  # coming online serves the queue
    assert desk.assignee(urgent) == li.id
    assert desk.assignee(old) == li.id
    assert desk.assignee(newer) is None


def test_resolving_frees_a_slot_for_the_queue(desk: Desk) -> None:
    li = desk.agent(capacity=1)
    first, waiting = desk.ask(), desk.ask()
    assert desk.assignee(waiting) is None
    with db.unit_of_work(desk.tenant.id) as session:
        service.resolve(session, service.get_conversation(session, first))
    assert desk.assignee(waiting) == li.id
    assert desk.load(li) == 1


def test_going_offline_hands_the_queue_back(desk: Desk) -> None:
    li = desk.agent(capacity=3)
    mine = [desk.ask(), desk.ask()]
    wang = desk.agent(capacity=1)
    desk.status(li, AgentStatus.offline)
    owners = [desk.assignee(c) for c in mine]
    # The oldest goes to the agent with room, the other waits in the queue.
    assert owners == [wang.id, None]
    assert desk.load(li) == 0 and desk.load(wang) == 1


def test_named_assignment_respects_capacity(desk: Desk) -> None:
    li = desk.agent(capacity=1)
    desk.ask()
    other = desk.ask()
    with db.unit_of_work(desk.tenant.id) as session:
        conv = service.get_conversation(session, other)
        with pytest.raises(Problem) as refused:
            assignment.assign(session, conv, li.id)
        assert refused.value.status == 409
    assert desk.load(li) == 1


def test_reopened_conversation_goes_back_to_its_agent(desk: Desk) -> None:
    li = desk.agent(capacity=2)
    conv_id = desk.ask()
    with db.unit_of_work(desk.tenant.id) as session:
        conv = service.get_conversation(session, conv_id)
        service.resolve(session, conv)
    assert desk.load(li) == 0
    with db.unit_of_work(desk.tenant.id) as session:
        conv = service.get_conversation(session, conv_id)
        service.add_inbound(session, conv, "One more thing", external_id=None)
        assert conv.state == State.open and conv.assignee_id == li.id
    assert desk.load(li) == 1


def _policy(desk: Desk, **targets: int) -> None:
    with db.unit_of_work(desk.tenant.id) as session:
        service.create_policy(session, SlaPolicyIn(name="Around the clock", **targets))


def test_sla_clocks_start_pause_resume_and_stop(desk: Desk) -> None:
    _policy(desk, first_response_minutes=60, next_response_minutes=30, resolution_minutes=600)
    li = desk.agent()
    conv_id = desk.ask()
    with db.unit_of_work(desk.tenant.id) as session:
        conv = service.get_conversation(session, conv_id)
        assert conv.sla_policy_id is not None
        assert conv.first_response_due is not None and conv.resolution_due is not None
        first_due = conv.first_response_due
        assert timedelta(minutes=59) < first_due - conv.created_at <= timedelta(minutes=60)
        user = session.get(type(li), li.id)
        service.reply(session, conv, MessageCreate(body="Checking", then=State.pending), user)
        assert conv.first_response_at is not None and conv.first_response_due is None
        assert conv.state == State.pending
        assert conv.resolution_due is None and conv.paused["resolution"] > 0
        resolution_left = conv.paused["resolution"]
        # The buyer answers: resolution resumes with the time it had left; next response starts.
        service.add_inbound(session, conv, "Still waiting", external_id=None)
        assert conv.state == State.open and conv.paused == {}
        assert conv.resolution_due is not None and conv.next_response_due is not None
        assert conv.resolution_due - utcnow() <= timedelta(seconds=resolution_left)
        service.resolve(session, conv)
        assert (conv.first_response_due, conv.next_response_due, conv.resolution_due) == (
            None,
            None,
            None,
        )
        assert conv.breaches == []


def test_a_breach_is_recorded_and_stays(desk: Desk) -> None:
    _policy(desk, first_response_minutes=5)
    conv_id = desk.ask()
    with db.unit_of_work(desk.tenant.id) as session:
        conv = service.get_conversation(session, conv_id)
        assert conv.first_response_due is not None
        later = conv.first_response_due + timedelta(minutes=1)
        assert clocks.sweep(session, later) == 1
        assert conv.breaches == ["first_response"]
        clocks.on_reply(conv, later)
        service.resolve(session, conv)
        assert conv.breaches == ["first_response"]


def test_policy_matched_by_priority_channel_and_label(desk: Desk) -> None:
    with db.unit_of_work(desk.tenant.id) as session:
        vip = service.create_policy(
            session,
            SlaPolicyIn(name="VIP", position=1, label="vip", first_response_minutes=5),
        )
        mail = service.create_policy(
            session,
            SlaPolicyIn(name="Mail", position=2, channel=Channel.email, first_response_minutes=600),
        )
    with db.unit_of_work(desk.tenant.id) as session:
        assert service.get_conversation(session, desk.ask(labels=["vip"])).sla_policy_id == vip.id
        by_mail = desk.ask(channel=Channel.email)
        assert service.get_conversation(session, by_mail).sla_policy_id == mail.id
        assert service.get_conversation(session, desk.ask()).sla_policy_id is None


def test_merge_moves_identities_and_conversations(desk: Desk) -> None:
    conv_id = desk.ask(email="same@example.com")
    with db.unit_of_work(desk.tenant.id) as session:
        conv = service.get_conversation(session, conv_id)
        other = service.create_contact(
            session, ContactCreate(name="Same person", email="Same@Example.com", phone="+86 1")
        )
        assert [c.id for c in service.suggestions(session, other.id)] == [conv.contact_id]
        into = service.merge(session, conv.contact_id, other.id)
        assert into.id == other.id
        assert conv.contact_id == other.id
        read = service.read_contacts(session, [into])[0]
        assert {i.channel for i in read.identities} == {Channel.email, Channel.phone}
        with pytest.raises(Problem):
            service.merge(session, conv_id, other.id)
        # An identity of the merged contact now finds the survivor.
        found = service.contact_for(session, Channel.email, "same@example.com", "x")
        assert found.id == other.id


def test_canned_reply_with_variables_and_notes_stay_private(desk: Desk) -> None:
    li = desk.agent()
    tenant = desk.tenant
    with db.unit_of_work(tenant.id) as session:
        [(_, order)] = __import__("daiyun.platform.orders.service", fromlist=["ingest"]).ingest(
            session, desk.shop_id, "shopify", [factories.order("CS-1001")]
        )
        contact = service.create_contact(session, ContactCreate(name="Li Na"))
        conv = service.open_conversation(
            session, contact, Channel.phone, order_id=order.id, shop_id=desk.shop_id
        )
        canned = macros.create_canned(
            session,
            CannedReplyIn(
                shortcut="where",
                title="Where is it",
                body="Hi {{buyer_name}}, order {{order_number}} from {{shop_name}} is on its way.",
            ),
        )
        user = session.get(type(li), li.id)
        sent = service.reply(session, conv, MessageCreate(canned_reply_id=canned.id), user)
        assert sent.body == "Hi Li Na, order CS-1001 from shopify shop is on its way."
        note = service.reply(session, conv, MessageCreate(kind=MessageKind.note, body="VIP"), user)
        assert note.delivery.value == "none"
        assert conv.first_response_at is not None
