"""After-sales' part of the isolation tests (the interface is described at the top of
tests/platform/warehouse/isolation.py).

Seeded: a warranty case on A's order (``case_id``), opened as a marketplace request; each action
finds it in the state it acts on (``restore``). And a follow-up (``followup_id``) of a second
case, refused and closed, made by the generator; each action on it finds it open."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from daiyun.core import db
from daiyun.core.ids import utcnow
from daiyun.platform.aftersales import followups, quality, service
from daiyun.platform.aftersales.models import (
    Case,
    CaseEvent,
    CaseLine,
    Followup,
    FollowupSettings,
    QaReview,
    QaRubric,
    Settings,
    Survey,
)
from daiyun.platform.aftersales.schemas import (
    CaseLineIn,
    CaseState,
    CaseType,
    Criterion,
    FollowupSettingsIn,
    FollowupState,
    ReviewIn,
    RubricIn,
    SettingsIn,
)
from daiyun.platform.customer_service import service as cs_service
from daiyun.platform.customer_service.models import Channel, Conversation
from daiyun.platform.customer_service.schemas import ContactCreate
from daiyun.platform.orders import service as order_service
from daiyun.platform.storefront import service as catalog
from daiyun.tenants.auth.models import User
from daiyun.tenants.auth.permissions import Permission, Role
from daiyun.tenants.models import Membership
from tests import factories
from tests.authz import ORDER_READERS, STOCK_KEEPERS, P, Route, TenantRule, rows_of, rules

R = Role
AS_READERS = frozenset(
    {
        R.agency_admin,
        R.account_manager,
        R.cs_agent,
        R.warehouse_operator,
        R.merchant_owner,
        R.merchant_viewer,
    }
)
AS_MANAGERS = frozenset({R.agency_admin, R.account_manager, R.cs_agent})
AS_APPROVERS = frozenset({R.agency_admin, R.account_manager})
TENANT_TABLES = (
    Settings,
    Case,
    CaseLine,
    CaseEvent,
    FollowupSettings,
    Followup,
    Survey,
    QaRubric,
    QaReview,
)
READ = TenantRule(P.aftersales_read, AS_READERS)
MANAGE = TenantRule(P.aftersales_manage, AS_MANAGERS)
APPROVE = TenantRule(P.aftersales_approve, AS_APPROVERS)
CASE = "/aftersales/{case_id}"
FU = "/follow-ups"
ONE = "/follow-ups/{followup_id}"
# The state each action finds the seeded case in.
NEEDS = {
    "/approve": CaseState.requested,
    "/refuse": CaseState.requested,
    "/receive": CaseState.awaiting_return,
    "/refund": CaseState.received,
    "/replace": CaseState.received,
    "/repair": CaseState.received,
    "/close": CaseState.refunded,
}

TENANT_RULES = rules(
    (
        ("GET", "/aftersales"),
        ("POST", "/aftersales"),
        ("GET", "/aftersales/settings"),
        ("GET", CASE),
        *(("POST", f"{CASE}{action}") for action in NEEDS),
    ),
    read=READ,
    write=MANAGE,
) | rules((("PUT", "/aftersales/settings"),), read=READ, write=APPROVE)
# Follow-ups are the agents' work: even reading them needs aftersales:manage.
TENANT_RULES |= rules(
    (
        ("GET", FU),
        ("GET", f"{FU}/settings"),
        ("GET", ONE),
        *(("POST", f"{ONE}/{action}") for action in ("complete", "reassign", "skip")),
    ),
    read=MANAGE,
    write=MANAGE,
) | rules((("PUT", f"{FU}/settings"),), read=MANAGE, write=APPROVE)
# What the follow-ups brought back (复购) is a report: whoever reads the cases reads it.
TENANT_RULES |= rules(
    (
        ("GET", f"{FU}/repurchase"),
        ("GET", "/csat"),
        ("GET", "/csat/summary"),
        ("GET", "/qa/summary"),
    ),
    read=READ,
    write=READ,
)
# Agents read rubrics and (their own) reviews; supervisors write them and draw the sample.
TENANT_RULES |= rules(
    (("GET", "/qa/rubrics"), ("GET", "/qa/reviews"), ("GET", "/qa/reviews/{review_id}")),
    read=MANAGE,
    write=MANAGE,
)
TENANT_RULES |= rules(
    (
        ("POST", "/qa/rubrics"),
        ("PUT", "/qa/rubrics/{rubric_id}"),
        ("POST", "/qa/reviews"),
        ("GET", "/qa/sample"),
    ),
    read=APPROVE,
    write=APPROVE,
)
# The returns dock is warehouse work: reading what is expected, receiving and registering.
RETURNS = "/returns"
DOCK_RECEIVE = "/returns/{return_id}/receive"
TENANT_RULES |= rules(
    (("GET", RETURNS), ("POST", RETURNS), ("POST", DOCK_RECEIVE)),
    read=TenantRule(P.warehouse_read, ORDER_READERS),
    write=TenantRule(P.warehouse_manage, STOCK_KEEPERS),
)
OTHER_RULES: dict[Route, str | Permission] = {}


def _line(session: Session, order_id: uuid.UUID) -> str:
    order = order_service.get_order(session, order_id)
    assert order is not None
    return str(order.lines[0].external_id)


def seed(tenant_id: uuid.UUID, places: dict[str, str]) -> dict[str, str]:
    order_id = uuid.UUID(places["order_id"])
    with db.unit_of_work(tenant_id) as session:
        line = _line(session, order_id)
        case, _ = service.from_marketplace(
            session,
            order_id,
            f"matrix-{uuid.uuid4().hex[:8]}",
            CaseType.repair,
            [CaseLineIn(line=line, quantity=1)],
            "Stopped working",
        )
        followup_id = _followup(session, order_id, line, "matrix")
        code = catalog.get_sku(session, uuid.UUID(places["part_id"])).code
        dock_order, dock_case = _dock(session, uuid.UUID(places["shop_id"]), code)
        quality_places = _quality(session)
        return {
            **quality_places,
            "case_id": str(case.id),
            "aftersales_line": line,
            "followup_id": followup_id,
            "dock_order_id": dock_order,
            "return_id": dock_case,
            "dock_sku": code,
        }


QA_RUBRIC = RubricIn(
    name="Matrix rubric",
    criteria=[Criterion(key="greeting", label="Greeting", weight=1)],
)


def _resolved(session: Session, assignee_id: uuid.UUID | None) -> uuid.UUID:
    contact = cs_service.create_contact(
        session, ContactCreate(name="QA", email=f"qa-{uuid.uuid4().hex[:8]}@example.com")
    )
    conv = cs_service.open_conversation(session, contact, Channel.email)
    conv.assignee_id = assignee_id
    cs_service.resolve(session, conv)
    return conv.id


def _quality(session: Session) -> dict[str, str]:
    """A rubric, a review of A's agent's resolved conversation (the agent reads their own), and
    another resolved conversation for each supervisor to review once."""
    [agent_id] = session.scalars(
        select(Membership.user_id)
        .join(User, User.id == Membership.user_id)
        .where(User.role == Role.cs_agent)
    )
    rubric = quality.create_rubric(session, QA_RUBRIC)
    body = ReviewIn(
        conversation_id=_resolved(session, agent_id),
        rubric_id=rubric.id,
        scores={"greeting": 4},
    )
    review = quality.review(session, body, agent_id)
    return {
        "rubric_id": str(rubric.id),
        "review_id": str(review.id),
        "qa_conversation_id": str(_resolved(session, agent_id)),
    }


def _dock(session: Session, shop_id: uuid.UUID, code: str) -> tuple[str, str]:
    """An order of the catalog's SKU and its return case awaiting the parcel."""
    incoming = factories.order(f"dock-{uuid.uuid4().hex[:8]}", sku=code, quantity=50)
    [(_, order)] = order_service.ingest(session, shop_id, "shopify", [incoming])
    case, _ = service.from_marketplace(
        session,
        order.id,
        f"dock-{uuid.uuid4().hex[:8]}",
        CaseType.return_refund,
        [CaseLineIn(line=code, quantity=50)],
        "Wrong size",
    )
    service.approve(session, case.id, None, True, None)
    return str(order.id), str(case.id)


def _dock_lines(places: dict[str, str]) -> list[dict[str, Any]]:
    return [
        {
            "sku": places["dock_sku"],
            "quantity": 1,
            "condition": "resellable",
            "location_id": places["location_id"],
        }
    ]


def _followup(session: Session, order_id: uuid.UUID, line: str, key: str) -> str:
    """A follow-up of a refused and closed refund-only case, made by the generator."""
    closed, _ = service.from_marketplace(
        session,
        order_id,
        f"{key}-fu-{uuid.uuid4().hex[:8]}",
        CaseType.refund_only,
        [CaseLineIn(line=line, quantity=1, requested_minor=1)],
        "Follow me up",
    )
    service.refuse(session, closed.id, None, "No")
    service.close(session, closed.id, None, None)
    followups.generate(session, utcnow() + timedelta(days=4))
    [found] = [f for f in followups.queue(session, None) if f.case_id == closed.id]
    return str(found.id)


def request(path: str, method: str, places: dict[str, str], n: int) -> dict[str, Any] | None:
    """A valid body for an after-sales write on a tenant, new values each call."""
    if (method, path) == ("POST", "/aftersales"):
        body = {
            "type": "repair",
            "order_id": places["order_id"],
            "reason": f"Matrix {n}",
            "lines": [{"line": places["aftersales_line"], "quantity": 1}],
        }
        return {"json": body}
    if (method, path) == ("POST", RETURNS):
        lines = _dock_lines(places)
        return {"json": {"order_id": places["dock_order_id"], "lines": lines}}
    if (method, path) == ("POST", DOCK_RECEIVE):
        return {"json": {"lines": _dock_lines(places)}}
    if (method, path) == ("POST", "/qa/rubrics"):
        return {"json": {**QA_RUBRIC.model_dump(), "name": f"Matrix {n}"}}
    if (method, path) == ("PUT", "/qa/rubrics/{rubric_id}"):
        return {"json": {**QA_RUBRIC.model_dump(), "name": f"Rubric {n}"}}
    if (method, path) == ("POST", "/qa/reviews"):
        body = {
            "conversation_id": places["qa_conversation_id"],
            "rubric_id": places["rubric_id"],
            "scores": {"greeting": n % 6},
        }
        return {"json": body}
    if (method, path) == ("PUT", "/aftersales/settings"):
        return {"json": {"response_hours": 1 + n % 2000}}
    if (method, path) == ("PUT", f"{FU}/settings"):
        return {"json": {"window_hours": 1 + n % 2000}}
    if method == "POST" and path.startswith(ONE):
        bodies = {
            "/complete": {"outcome": "satisfied", "note": f"Happy {n}"},
            "/skip": {"note": f"Skipped {n}"},
            "/reassign": {"assignee_id": None},
        }
        return {"json": bodies[path[len(ONE) :]]}
    if method == "POST" and path.startswith(CASE):
        action = path[len(CASE) :]
        bodies = {
            "/refuse": {"reason": f"Refused {n}"},
            "/receive": {"condition": "resellable"},
        }
        return {"json": bodies.get(action, {})}
    return None


def restore(path: str, tenant_id: uuid.UUID, places: dict[str, str]) -> None:
    """The seeded case back in the state the next caller's action needs; the follow-up open."""
    if path.startswith(ONE) and path != ONE:
        with db.unit_of_work(tenant_id) as session:
            found = followups.get(session, uuid.UUID(places["followup_id"]))
            found.state, found.outcome, found.note = FollowupState.open, None, None
            found.done_by = found.done_at = None
        return
    if path == DOCK_RECEIVE:
        with db.unit_of_work(tenant_id) as session:
            case = service.get_case(session, uuid.UUID(places["return_id"]))
            case.state = CaseState.awaiting_return
        return
    if not path.startswith(CASE) or path == CASE:
        return
    with db.unit_of_work(tenant_id) as session:
        case = service.get_case(session, uuid.UUID(places["case_id"]))
        case.state = NEEDS[path[len(CASE) :]]


def tenant_state(session: Session) -> list[tuple[Any, ...]]:
    return rows_of(session, TENANT_TABLES)


def platform_state(session: Session) -> list[str]:
    return []


def other_request(path: str, method: str, n: int) -> dict[str, Any] | None:
    return None


BULK_UPDATES: dict[type[Any], tuple[str, Any]] = {
    Settings: ("response_hours", 5),
    Case: ("reason", "tests-bulk"),
    CaseLine: ("sku", "tests-bulk"),
    CaseEvent: ("at", datetime(2026, 1, 1, tzinfo=UTC)),
    FollowupSettings: ("window_hours", 5),
    Followup: ("note", "tests-bulk"),
    Survey: ("comment", "tests-bulk"),
    QaRubric: ("name", "tests-bulk"),
    QaReview: ("comment", "tests-bulk"),
}
APPEND_ONLY: frozenset[type[Any]] = frozenset()


def guard_seed(
    tenant_id: uuid.UUID, sku_id: uuid.UUID, order_ids: list[uuid.UUID]
) -> dict[type[Any], set[uuid.UUID]]:
    """A row of every after-sales tenant table."""
    with db.unit_of_work(tenant_id) as session:
        service.put_settings(session, SettingsIn(response_hours=12))
        followups.put_settings(session, FollowupSettingsIn(window_hours=12))
        line = _line(session, order_ids[0])
        service.from_marketplace(
            session,
            order_ids[0],
            f"guard-{uuid.uuid4().hex[:8]}",
            CaseType.repair,
            [CaseLineIn(line=line, quantity=1)],
            "guard",
        )
        _followup(session, order_ids[0], line, "guard")
        # On a conversation customer service's part seeded (its rows stay as that part said).
        conversation_id = session.scalar(select(Conversation.id).order_by(Conversation.id))
        assert conversation_id is not None
        now = utcnow()
        session.add(
            Survey(
                conversation_id=conversation_id,
                channel="email",
                sent_at=now,
                expires_at=now + timedelta(days=7),
            )
        )
        rubric = quality.create_rubric(session, QA_RUBRIC)
        someone = session.scalar(select(User.id).order_by(User.id).limit(1))
        assert someone is not None
        session.add(
            QaReview(
                conversation_id=conversation_id,
                rubric_id=rubric.id,
                reviewer_id=someone,
                criteria=rubric.criteria,
                scores={"greeting": 3},
                score_bp=6000,
            )
        )
        session.flush()
        return {
            model: set(session.scalars(select(model.id).where(model.tenant_id == tenant_id)))
            for model in TENANT_TABLES
        }
