"""The service library's part of the portal matrix (tests/portal/test_portal_matrix.py): its
page rules (writing needs cs:manage, the agency admins'), A's seeded knowledge-base article,
valid forms (a new article; the seeded one saved with new text), and A's articles as state."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import select

from daiyun.core import db
from daiyun.platform.customer_service import knowledge
from daiyun.platform.customer_service.models import Article
from daiyun.platform.customer_service.schemas import ArticleIn
from daiyun.tenants.auth.permissions import Permission, Role

WRITERS = frozenset({Role.agency_admin})


def rules(rule: Any, tenant: str, staff: str, portal: str) -> dict[tuple[str, str], Any]:
    t = f"{portal}/t/{{tenant}}/service-library/{{kind}}"
    write = rule(tenant, Permission.cs_manage, staff_only=True, pinned=WRITERS, changes=WRITERS)
    return {
        ("GET", f"{portal}/console/service-library"): rule(staff),
        ("POST", t): write,
        ("POST", f"{t}/{{item_id}}"): write,
    }


def seed(tenant_id: uuid.UUID) -> dict[str, str]:
    with db.unit_of_work(tenant_id) as session:
        body = ArticleIn(title="Returns policy", body="Seven days, unopened.", tags=["policy"])
        article = knowledge.create(session, body)
    return {"kind": "articles", "item_id": str(article.id)}


def form(path: str, caller: str) -> dict[str, str] | None:
    if path.endswith("/service-library/{kind}"):
        return {"title": f"Shipping times by {caller}", "body": "Two days.", "tags": "shipping"}
    if path.endswith("/service-library/{kind}/{item_id}"):
        return {"action": "save", "title": "Returns policy", "body": f"Edited by {caller}."}
    return None


def state(tenant_id: uuid.UUID) -> list[tuple[str, str, str]]:
    with db.unit_of_work(tenant_id) as session:
        rows = session.scalars(select(Article).order_by(Article.id))
        return [(str(a.id), a.title, a.body) for a in rows]
