"""The buyer hears each decision on their case in the conversation they asked in: approved (and
asked to send the goods back), refused with the reason, goods received, refunded with the
amount; sent on the conversation's channel (an e-mail queued, threaded), written by nobody, so it
never stands for an agent's first response. A case opened by hand tells nobody."""

from __future__ import annotations

import uuid

from daiyun.core import db
from daiyun.platform.aftersales import service
from daiyun.platform.aftersales.rules import CaseType, Condition
from daiyun.platform.aftersales.schemas import CaseCreate, CaseLineIn, Receive
from daiyun.platform.customer_service import service as cs_service
from daiyun.platform.customer_service.schemas import (
    Channel,
    ContactCreate,
    Delivery,
    MessageKind,
)
from tests.platform.aftersales.conftest import SKU, Counter


def _case(
    counter: Counter, case_type: CaseType, conversation: bool = True
) -> tuple[uuid.UUID, uuid.UUID]:
    order_id = counter.order()
    with db.unit_of_work(counter.tenant.id) as session:
        buyer = cs_service.create_contact(
            session, ContactCreate(name="Buyer", email="buyer@example.com")
        )
        conv = cs_service.open_conversation(session, buyer, Channel.email, order_id=order_id)
        body = CaseCreate(
            type=case_type,
            order_id=order_id,
            conversation_id=conv.id if conversation else None,
            reason="Tin dented",
            lines=[CaseLineIn(line=SKU, quantity=1)],
        )
        return service.create_case(session, body, counter.agent).id, conv.id


def _told(counter: Counter, conversation_id: uuid.UUID) -> list[tuple[str, object, object]]:
    """The outbound messages: (body, author, delivery)."""
    with db.unit_of_work(counter.tenant.id) as session:
        conv = cs_service.get_conversation(session, conversation_id)
        found, _ = cs_service.find_messages(session, conv, None, 50)
        assert conv.first_response_at is None  # no agent has answered yet
        return [(m.body, m.author_id, m.delivery) for m in found if m.kind == MessageKind.outbound]


def test_the_buyer_hears_approval_receipt_and_refund(counter: Counter) -> None:
    case_id, conversation_id = _case(counter, CaseType.return_refund)
    with db.unit_of_work(counter.tenant.id) as session:
        service.approve(session, case_id, counter.agent, True, None)
        service.receive(
            session,
            case_id,
            counter.agent,
            Receive(condition=Condition.resellable, location_id=counter.site.shelf),
        )
        service.refund(session, case_id, counter.agent, True, None)
    told = _told(counter, conversation_id)
    assert [body for body, _, _ in told] == [
        "您的售后申请已通过。Your after-sales request was approved. "
        "请将商品寄回。Please send the goods back to us.",
        "我们已收到您寄回的商品。We have received the goods you sent back.",
        "已为您退款 50.00 CNY，将原路退回。A refund of 50.00 CNY is on its way to you.",
    ]
    assert {(author, delivery) for _, author, delivery in told} == {(None, Delivery.queued)}


def test_a_refusal_names_its_reason(counter: Counter) -> None:
    case_id, conversation_id = _case(counter, CaseType.refund_only)
    with db.unit_of_work(counter.tenant.id) as session:
        service.refuse(session, case_id, counter.agent, "Outside the return window.")
    [(body, _, _)] = _told(counter, conversation_id)
    assert "Outside the return window." in body and body.startswith("很抱歉")


def test_a_case_opened_by_hand_tells_nobody(counter: Counter) -> None:
    case_id, conversation_id = _case(counter, CaseType.refund_only, conversation=False)
    with db.unit_of_work(counter.tenant.id) as session:
        service.approve(session, case_id, counter.agent, True, None)
    assert _told(counter, conversation_id) == []
