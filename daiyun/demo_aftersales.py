"""The demo's after-sales (售后), seeded by :func:`daiyun.demo.seed`: for each demo merchant a
few cases on its orders, one in each part of the path: a refund only waiting for an answer (and
overdue), a return on its way back, a return received into stock and refunded, an exchange
whose damaged goods went to the quarantine cage and replaced, and a refused request; and six
earlier e-mail conversations whose buyers answered the satisfaction survey (one skipped it).

They come in as the marketplace's after-sales requests do (keyed, so a second seed finds them).
Idempotent as the rest of the demo: a merchant that has any case is left alone.
"""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any

from daiyun.core.db import unit_of_work
from daiyun.core.errors import Problem
from daiyun.core.ids import utcnow
from daiyun.platform.aftersales import csat, quality, service
from daiyun.platform.aftersales.schemas import (
    CaseLineIn,
    CaseType,
    Condition,
    Criterion,
    Receive,
    ReviewIn,
    RubricIn,
)
from daiyun.platform.customer_service import service as cs_service
from daiyun.platform.customer_service.schemas import Channel, ContactCreate, MessageCreate, State
from daiyun.platform.orders import service as order_service
from daiyun.platform.warehouse import service as warehouse
from daiyun.tenants.models import Tenant

# (type, reason, how far along the path)
CASES = (
    (CaseType.refund_only, "茶叶受潮结块，申请仅退款", "requested"),
    (CaseType.return_refund, "Wrong size, I would like to send it back.", "approved"),
    (CaseType.return_refund, "七天无理由退货", "refunded"),
    (CaseType.exchange, "The lid arrived cracked, please send a new one.", "replaced"),
    (CaseType.refund_only, "Changed my mind after it shipped.", "refused"),
)


def _bins(warehouse_id: uuid.UUID) -> tuple[uuid.UUID | None, uuid.UUID | None]:
    """A pickable bin and the quarantine cage (a bin that is not pickable) of the warehouse."""
    with unit_of_work() as session:
        rows, _ = warehouse.find_locations(session, warehouse_id, None, 100)
        shelf = next((r.id for r in rows if r.pickable), None)
        cage = next((r.id for r in rows if not r.pickable), None)
        return shelf, cage


def _receive(session: Any, case_id: uuid.UUID, agent: uuid.UUID, body: Receive) -> None:
    try:
        with session.begin_nested():
            service.receive(session, case_id, agent, body)
    except Problem:  # a line no catalog SKU matches: the condition alone is recorded
        service.receive(session, case_id, agent, Receive(condition=body.condition))


def ensure_aftersales(tenant: Tenant, agent_id: uuid.UUID, warehouse_id: uuid.UUID) -> list[str]:
    """The merchant's after-sales cases along the path; what was created."""
    shelf, cage = _bins(warehouse_id)
    with unit_of_work(tenant.id) as session:
        found, _ = service.find_cases(session, service.Filters(), None, 1)
        if found:
            return []
        orders, _ = order_service.find_orders(session, limit=50)
        picked = [o for o in orders if o.lines and o.total_minor > 0][: len(CASES)]
        if not picked:
            return []
        made = 0
        # Fewer orders than cases: an order takes a second request (a line with nothing left to
        # refund takes none).
        for n, (kind, reason, stage) in enumerate(CASES):
            order = picked[n % len(picked)]
            line = order.lines[0]
            try:
                with session.begin_nested():
                    case, _ = service.from_marketplace(
                        session,
                        order.id,
                        f"DEMO-AS-{n + 1}",
                        kind,
                        [CaseLineIn(line=line.external_id, quantity=1)],
                        reason,
                        ["https://img.example/demo/evidence-1.jpg"],
                    )
            except Problem:  # nothing left to refund on that line: one case fewer
                continue
            made += 1
            if stage == "requested":
                case.deadline = utcnow() - timedelta(hours=2)  # overdue on the console
                continue
            if stage == "refused":
                service.refuse(session, case.id, agent_id, "Opened and used: not returnable")
                continue
            service.approve(session, case.id, agent_id, True, None)
            if stage == "refunded":
                _receive(
                    session,
                    case.id,
                    agent_id,
                    Receive(condition=Condition.resellable, location_id=shelf),
                )
                service.refund(session, case.id, agent_id, True, None)
            elif stage == "replaced":
                _receive(
                    session,
                    case.id,
                    agent_id,
                    Receive(condition=Condition.damaged, location_id=cage),
                )
                service.replace(session, case.id, agent_id, "Replacement sent with the next wave")
                service.close(session, case.id, agent_id, None)
    return [f"{made} after-sales cases -> {tenant.slug}"] if made else []


# What the buyers of earlier e-mail conversations said in their surveys (None: skipped).
SURVEY_ANSWERS = (
    (5, "回复很快，问题解决了。"),
    (5, "Quick and friendly, thank you."),
    (4, ""),
    (3, "等了有点久。"),
    (5, ""),
    (None, ""),
)


RUBRIC = RubricIn(
    name="客服稽核 Service review",
    criteria=[
        Criterion(key="greeting", label="开场与称呼 Greeting", weight=20),
        Criterion(key="accuracy", label="答复准确 Accurate answer", weight=40),
        Criterion(key="resolution", label="一次解决 Solved in one go", weight=30),
        Criterion(key="tone", label="语气礼貌 Courteous tone", weight=10),
    ],
)
# The admin's reviews of the first three conversations: scores 0-5 and a comment.
REVIEWS = (
    ({"greeting": 5, "accuracy": 5, "resolution": 4, "tone": 5}, "很好，物流信息给得清楚。"),
    ({"greeting": 4, "accuracy": 4, "resolution": 4, "tone": 5}, "Good; offer the tracking link."),
    ({"greeting": 3, "accuracy": 4, "resolution": 3, "tone": 4}, "先确认订单号再答复。"),
)


def ensure_csat(tenant: Tenant, agent_id: uuid.UUID, reviewer_id: uuid.UUID) -> list[str]:
    """Six earlier e-mail conversations the demo agent answered and resolved, each with its
    satisfaction survey answered (one skipped), so the CSAT figures show; the merchant's QA
    rubric, and the agency admin's reviews of three of them. Nothing when the merchant has any
    survey."""
    with unit_of_work(tenant.id) as session:
        if csat.find(session, None, None, None, None, 1)[0]:
            return []
        agent = cs_service.author(session, agent_id)
        rubric = quality.create_rubric(session, RUBRIC)
        for n, (rating, comment) in enumerate(SURVEY_ANSWERS):
            contact = cs_service.create_contact(
                session,
                ContactCreate(name=f"Buyer {n + 1}", email=f"csat{n + 1}@{tenant.slug}.example"),
            )
            conv = cs_service.open_conversation(session, contact, Channel.email)
            cs_service.add_inbound(session, conv, "我的订单什么时候发货？", external_id=None)
            conv.assignee_id = agent.id  # the demo agent took it (their queue is full by now)
            body = MessageCreate(body="今天下午发出，请留意物流。", then=State.resolved)
            cs_service.reply(session, conv, body, agent)
            survey = csat.offer(session, conv.id)
            if survey is None:
                continue  # the merchant turned surveys off
            if rating is None:
                csat.skip(session, survey)
            else:
                csat.answer(session, survey, rating, comment)
            if n < len(REVIEWS):
                scores, note = REVIEWS[n]
                scored = ReviewIn(
                    conversation_id=conv.id, rubric_id=rubric.id, scores=scores, comment=note
                )
                quality.review(session, scored, reviewer_id)
    return [f"satisfaction surveys and QA reviews of {tenant.slug}"]
