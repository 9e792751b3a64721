"""The marketplace channel against the sandbox marketplaces over loopback: the connectors' buyer-
messages capability where a marketplace has one (Pinduoduo, JD, Douyin) and says so where it has
none; buyers' messages taken into the inbox once each, on a conversation linked to the order they
name; an agent's reply sent to the buyer once, or marked failed with the marketplace's reason."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import timedelta

import httpx
import pytest

from daiyun.connectors.channels import connector_for
from daiyun.connectors.channels.base import ShopAccess
from daiyun.connectors.channels.outbound import (
    MESSAGES,
    CapabilityMissing,
    MessageRefused,
    MessageReply,
)
from daiyun.connectors.http import ShopHttp, forget_rate_limits
from daiyun.core import db
from daiyun.core.ids import utcnow
from daiyun.platform.customer_service import marketplace, service, tasks
from daiyun.platform.customer_service.models import Channel, Delivery, MessageKind
from daiyun.platform.customer_service.schemas import MessageCreate
from daiyun.platform.orders import service as order_service
from daiyun.sandboxes.marketplaces.server import Sandbox, running_sandbox
from daiyun.sandboxes.marketplaces.state import SandboxState
from tests import factories
from tests.platform.customer_service.conftest import Desk
from tests.platform.storefront.test_listing_gateways import CREDENTIALS

WITH_CHAT = ("douyin", "jd", "pinduoduo")


def _shop_name(channel: str) -> str:
    return "4463798" if channel == "douyin" else f"{channel}-tea"


@pytest.fixture
def sandbox() -> Iterator[Sandbox]:
    with running_sandbox(SandboxState(seed=11)) as served:
        for channel in WITH_CHAT:
            served.state.register_shop(
                channel,
                _shop_name(channel),
                dict(CREDENTIALS[channel]),
                currency="CNY",
                rate={"rate": 1000, "burst": 1000},
            )
        yield served


def _buyer_writes(sandbox: Sandbox, channel: str, buyer: str, text: str, **extra: str) -> None:
    answer = httpx.post(
        f"{sandbox.url}/_sandbox/{channel}/{_shop_name(channel)}/buyer-messages",
        json={"buyer_id": buyer, "buyer_nick": f"nick {buyer}", "content": text, **extra},
    )
    assert answer.status_code == 201, answer.text


def _sent(sandbox: Sandbox, channel: str) -> list[dict[str, str]]:
    url = f"{sandbox.url}/_sandbox/{channel}/{_shop_name(channel)}/buyer-messages"
    return list(httpx.get(url).json()["sent"])


@pytest.mark.parametrize("channel", WITH_CHAT)
def test_a_connector_reads_buyers_and_answers_them_once(sandbox: Sandbox, channel: str) -> None:
    connector_cls = connector_for(channel)
    assert MESSAGES in connector_cls.outbound
    before = utcnow() - timedelta(seconds=5)
    _buyer_writes(sandbox, channel, "b-1", "请问什么时候发货？", order_id="O-9")
    access = ShopAccess(
        _shop_name(channel),
        CREDENTIALS[channel],
        sandbox.api_base_url(channel, _shop_name(channel)),
    )
    key = f"test:{channel}:{uuid.uuid4()}"
    with ShopHttp(key) as http:
        connector = connector_cls(access, http)
        [found] = connector.fetch_messages(before)
        assert (found.buyer_id, found.text, found.order_id) == ("b-1", "请问什么时候发货？", "O-9")
        assert connector.fetch_messages(utcnow() + timedelta(minutes=1)) == []
        reply = MessageReply(key="reply-1", buyer_id="b-1", text="今天发货")
        first, again = connector.send_message(reply), connector.send_message(reply)
        assert first == again
        with pytest.raises(MessageRefused):  # the chat lets a shop answer only its askers
            connector.send_message(MessageReply(key="reply-2", buyer_id="nobody", text="Hi"))
    forget_rate_limits(key)
    assert [(s["buyer_id"], s["content"]) for s in _sent(sandbox, channel)] == [("b-1", "今天发货")]


@pytest.mark.parametrize("channel", ["shopify", "woocommerce", "amazon", "taobao"])
def test_a_marketplace_without_a_chat_api_says_so(channel: str) -> None:
    connector_cls = connector_for(channel)
    assert MESSAGES not in connector_cls.outbound
    with pytest.raises(CapabilityMissing, match="no buyer-message API"):
        connector_cls.fetch_messages(object.__new__(connector_cls), utcnow())


def _connected(desk: Desk, sandbox: Sandbox, channel: str) -> uuid.UUID:
    name = _shop_name(channel)
    return factories.shop(
        desk.tenant.id,
        channel,
        external_id=name,
        api_base_url=sandbox.api_base_url(channel, name),
        credentials=dict(CREDENTIALS[channel]),
    ).id


def test_buyers_messages_reach_the_inbox_and_answers_reach_the_buyer(
    desk: Desk, sandbox: Sandbox
) -> None:
    agent = desk.agent()
    shop_id = _connected(desk, sandbox, "douyin")
    with db.unit_of_work(desk.tenant.id) as session:
        order_service.ingest(session, shop_id, "douyin", [factories.order("6920000001")])
    _buyer_writes(sandbox, "douyin", "dy-7", "到哪了？", order_id="6920000001")
    _buyer_writes(sandbox, "douyin", "dy-7", "麻烦快一点")
    assert marketplace.pull(desk.tenant.id, shop_id) == 2
    assert marketplace.pull(desk.tenant.id, shop_id) == 0  # looked again: nothing twice
    with db.unit_of_work(desk.tenant.id) as session:
        [conv] = service.find_conversations(session, service.Filters(), None, 10)[0]
        order = order_service.find_by_external_id(session, shop_id, "6920000001")
        assert (conv.channel, conv.shop_id, conv.assignee_id) == (
            Channel.marketplace,
            shop_id,
            agent.id,
        )
        assert order is not None and conv.order_id == order.id
        texts = [m.body for m in service.find_messages(session, conv, None, 10)[0]]
        assert texts == ["到哪了？", "麻烦快一点"]
        user = service.author(session, agent.id)
        sent = service.reply(
            session, conv, MessageCreate(kind=MessageKind.outbound, body="今天发出"), user
        )
        too_long = service.reply(
            session, conv, MessageCreate(kind=MessageKind.outbound, body="长" * 1200), user
        )
        assert sent.delivery == Delivery.queued
    with db.unit_of_work(desk.tenant.id) as session:
        assert tasks._send(session, sent.id) == Delivery.sent
        assert tasks._send(session, sent.id) == Delivery.sent  # the sweep again: not resent
        assert tasks._send(session, too_long.id) == Delivery.failed
        lines = service.find_messages(session, conv, None, 10)[0]
        assert any(m.kind == MessageKind.system and "did not take" in m.body for m in lines)
    assert [(s["buyer_id"], s["content"]) for s in _sent(sandbox, "douyin")] == [
        ("dy-7", "今天发出")
    ]


def test_a_reply_on_a_marketplace_without_a_chat_api_is_kept_not_sent(desk: Desk) -> None:
    conv_id = desk.ask(channel=Channel.marketplace)
    agent = desk.agent()
    with db.unit_of_work(desk.tenant.id) as session:
        conv = service.get_conversation(session, conv_id)
        user = service.author(session, agent.id)
        kept = service.reply(
            session,
            conv,
            MessageCreate(kind=MessageKind.outbound, body="Answered in Seller Central"),
            user,
        )
        assert kept.delivery == Delivery.none  # the desk's shop is a Shopify one
