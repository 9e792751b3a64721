"""After-sales' part of the portal matrix (tests/portal/test_portal_matrix.py): its page rules,
A's seeded case (a warranty request on the matrix's order) and follow-up (of a second case,
refused and closed), valid forms for the case's note and the follow-up's completion, A's case
log and follow-ups as state, and the follow-up opened again for the next caller."""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from daiyun.core import db
from daiyun.core.ids import utcnow
from daiyun.platform.aftersales import followups, quality, service
from daiyun.platform.aftersales.models import CaseEvent, Followup, QaReview
from daiyun.platform.aftersales.schemas import (
    CaseLineIn,
    CaseState,
    CaseType,
    Criterion,
    FollowupState,
    RubricIn,
)
from daiyun.platform.customer_service import service as cs_service
from daiyun.platform.customer_service.models import Channel
from daiyun.platform.customer_service.schemas import ContactCreate
from daiyun.platform.orders import service as order_service
from daiyun.platform.storefront import service as catalog
from daiyun.platform.storefront.schemas import ProductCreate, SkuCreate
from daiyun.tenants.auth.permissions import MERCHANT_ROLES, Permission, Role
from tests import factories
from tests.platform.warehouse.conftest import make_site

P = Permission
R = Role
READERS = frozenset(
    {
        R.agency_admin,
        R.account_manager,
        R.cs_agent,
        R.warehouse_operator,
        R.merchant_owner,
        R.merchant_viewer,
    }
)
MANAGERS = frozenset({R.agency_admin, R.account_manager, R.cs_agent})
SUPERVISORS = frozenset({R.agency_admin, R.account_manager})
STOCK_KEEPERS = frozenset({R.agency_admin, R.warehouse_operator})
DOCK_SKU = "MATRIX-RET"


def rules(rule: Any, tenant: str, staff: str, portal: str) -> dict[tuple[str, str], Any]:
    """After-sales' page rules (views/aftersales.py), built with the matrix's own ``Rule``: the
    open cases, a case's page and the follow-up queue are staff pages; its moves, notes and
    follow-ups act where the role works cases; merchants read their cases."""
    t = f"{portal}/t/{{tenant}}"
    return {
        ("GET", f"{portal}/console/aftersales"): rule(staff),
        ("GET", f"{t}/aftersales"): rule(tenant, P.aftersales_read, pinned=READERS),
        ("GET", f"{t}/aftersales/{{case_id}}"): rule(
            tenant, P.aftersales_read, staff_only=True, pinned=READERS - MERCHANT_ROLES
        ),
        ("POST", f"{t}/aftersales/{{case_id}}"): rule(
            tenant, P.aftersales_manage, staff_only=True, pinned=MANAGERS, changes=MANAGERS
        ),
        ("GET", f"{portal}/console/follow-ups"): rule(staff),
        # Service quality (views/quality.py): supervisors review, agents read their scores.
        ("GET", f"{portal}/console/quality"): rule(staff),
        ("GET", f"{t}/qa-reviews/{{qa_conversation_id}}"): rule(
            tenant, P.aftersales_approve, staff_only=True, pinned=SUPERVISORS
        ),
        ("POST", f"{t}/qa-reviews/{{qa_conversation_id}}"): rule(
            tenant, P.aftersales_approve, staff_only=True, pinned=SUPERVISORS, changes=SUPERVISORS
        ),
        # The returns dock (views/returns_dock.py) is the warehouse's: its operators receive.
        ("GET", f"{portal}/console/returns"): rule(staff),
        ("POST", f"{t}/returns/{{return_id}}"): rule(
            tenant, P.warehouse_manage, staff_only=True, pinned=STOCK_KEEPERS, changes=STOCK_KEEPERS
        ),
        ("POST", f"{t}/returns"): rule(
            tenant, P.warehouse_manage, staff_only=True, pinned=STOCK_KEEPERS, changes=STOCK_KEEPERS
        ),
        ("POST", f"{t}/follow-ups/{{followup_id}}"): rule(
            tenant, P.aftersales_manage, staff_only=True, pinned=MANAGERS, changes=MANAGERS
        ),
    }


def seed(tenant_id: uuid.UUID, order_id: uuid.UUID) -> dict[str, str]:
    # The warehouse is the platform's: made in its own unit of work before the tenant's opens
    # (on PostgreSQL a platform unit inside a tenant's would leave the tenant's unbound).
    site = make_site(f"RD{uuid.uuid4().hex[:6].upper()}", 50)
    with db.unit_of_work(tenant_id) as session:
        held = order_service.get_order(session, order_id)
        assert held is not None
        line = held.lines[0].external_id
        case, _ = service.from_marketplace(
            session,
            order_id,
            "matrix-case",
            CaseType.repair,
            [CaseLineIn(line=line, quantity=1)],
            "Stopped working",
        )
        closed, _ = service.from_marketplace(
            session,
            order_id,
            "matrix-closed",
            CaseType.refund_only,
            [CaseLineIn(line=line, quantity=1, requested_minor=1)],
            "Follow me up",
        )
        service.refuse(session, closed.id, None, "No")
        service.close(session, closed.id, None, None)
        followups.generate(session, utcnow() + timedelta(days=4))
        [followup] = [f for f in followups.queue(session, None) if f.case_id == closed.id]
        places = {"case_id": str(case.id), "followup_id": str(followup.id)}
        return places | _dock(session, held.shop_id, site.id) | _quality(session)


def _quality(session: Session) -> dict[str, str]:
    """A rubric and a resolved conversation each supervisor reviews once."""
    rubric = quality.create_rubric(
        session,
        RubricIn(name="Matrix", criteria=[Criterion(key="greeting", label="Greeting", weight=1)]),
    )
    contact = cs_service.create_contact(
        session, ContactCreate(name="QA", email=f"qa-{uuid.uuid4().hex[:8]}@example.com")
    )
    conv = cs_service.open_conversation(session, contact, Channel.email)
    cs_service.resolve(session, conv)
    return {"rubric_id": str(rubric.id), "qa_conversation_id": str(conv.id)}


def _dock(session: Session, shop_id: uuid.UUID, site_id: uuid.UUID) -> dict[str, str]:
    """A return on its way back: an order of a catalog SKU, its case approved (the bin is the
    site's)."""
    catalog.create_product(
        session,
        ProductCreate(
            name="Returned", variants=[SkuCreate(code=DOCK_SKU, cost_minor=100, currency="CNY")]
        ),
    )
    incoming = factories.order(f"dock-{uuid.uuid4().hex[:8]}", sku=DOCK_SKU, quantity=20)
    [(_, order)] = order_service.ingest(session, shop_id, "shopify", [incoming])
    case, _ = service.from_marketplace(
        session,
        order.id,
        "matrix-dock",
        CaseType.return_refund,
        [CaseLineIn(line=DOCK_SKU, quantity=20)],
        "Wrong colour",
    )
    service.approve(session, case.id, None, True, None)
    return {
        "return_id": str(case.id),
        "dock_order": order.external_id,
        "dock_warehouse_id": str(site_id),
    }


def form(path: str, places: dict[str, str], caller: str) -> dict[str, str] | None:
    if path.endswith("/aftersales/{case_id}"):
        return {"action": "note", "note": f"note by {caller}"}
    if path.endswith("/qa-reviews/{qa_conversation_id}"):
        return {"rubric_id": places["rubric_id"], "score-greeting": "4", "comment": caller}
    if path.endswith("/follow-ups/{followup_id}"):
        return {"action": "complete", "outcome": "satisfied", "note": f"done by {caller}"}
    bin_ = {"warehouse_id": places["dock_warehouse_id"], "condition": "resellable"}
    if path.endswith("/returns/{return_id}"):
        line = {"sku-0": DOCK_SKU, "quantity-0": "1", "condition-0": "resellable"}
        return {"lines": "1", **bin_, **line, "bin-0": "A-01-01-01"}
    if path.endswith("/returns"):
        order = {"order": places["dock_order"], "sku": DOCK_SKU, "quantity": "1"}
        return {**order, **bin_, "bin": "A-01-01-01", "note": f"by {caller}"}
    return None


def state(tenant_id: uuid.UUID) -> tuple[object, ...]:
    with db.unit_of_work(tenant_id) as session:
        case_log = sorted((str(e.id), e.kind) for e in session.scalars(select(CaseEvent)))
        done = sorted(
            (str(f.id), str(f.state), str(f.outcome), f.note)
            for f in session.scalars(select(Followup))
        )
        reviews = sorted(str(r.id) for r in session.scalars(select(QaReview)))
    return (case_log, done, reviews)


def restore(path: str, tenant_id: uuid.UUID, places: dict[str, str]) -> None:
    if path.endswith("/returns/{return_id}"):
        with db.unit_of_work(tenant_id) as session:
            case = service.get_case(session, uuid.UUID(places["return_id"]))
            case.state = CaseState.awaiting_return
        return
    if not path.endswith("/follow-ups/{followup_id}"):
        return
    with db.unit_of_work(tenant_id) as session:
        found = followups.get(session, uuid.UUID(places["followup_id"]))
        found.state, found.outcome, found.note = FollowupState.open, None, None
        found.done_by = found.done_at = None
