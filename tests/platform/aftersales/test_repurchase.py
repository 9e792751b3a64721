"""The repurchase report (复购): of the follow-ups completed in a period, per outcome and in
all, how many buyers (recognised by the order's e-mail) ordered again within the window after
the call; merchants read it; a backwards or over-long period is a 422 problem."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta

from daiyun.core import db
from daiyun.core.ids import utcnow
from daiyun.platform.aftersales import followups
from daiyun.platform.aftersales.schemas import FollowupComplete, Outcome
from daiyun.platform.orders import service as order_service
from daiyun.tenants.auth.permissions import Role
from tests import factories
from tests.platform.aftersales.conftest import SKU, Counter
from tests.platform.aftersales.test_followups import deliver


def _order(counter: Counter, email: str | None, placed: datetime) -> uuid.UUID:
    incoming = factories.order(f"rp-{uuid.uuid4().hex[:10]}", sku=SKU, email=email, placed=placed)
    with db.unit_of_work(counter.tenant.id) as session:
        [(_, order)] = order_service.ingest(session, counter.shop_id, "shopify", [incoming])
        return order.id


def _followed(counter: Counter, email: str | None, outcome: Outcome) -> None:
    """A delivered order of the buyer's, its follow-up made and completed with ``outcome``."""
    order_id = _order(counter, email, utcnow() - timedelta(days=12))
    deliver(counter, order_id, days_ago=8)
    with db.unit_of_work(counter.tenant.id) as session:
        followups.generate(session)
        [row], _ = followups.find(session, followups.Filters(order_id=order_id), None, 5)
        followups.complete(session, row.id, counter.agent, FollowupComplete(outcome=outcome))


def test_the_report_counts_buyers_who_ordered_again_after_the_call(counter: Counter) -> None:
    _followed(counter, "again@example.com", Outcome.satisfied)
    _followed(counter, "late@example.com", Outcome.satisfied)
    _followed(counter, None, Outcome.satisfied)  # the marketplace masked the buyer
    _followed(counter, "silent@example.com", Outcome.no_answer)
    now = utcnow()
    _order(counter, "again@example.com", now + timedelta(minutes=1))
    _order(counter, "late@example.com", now + timedelta(days=120))  # past the 90-day window
    url = f"/api/v1/tenants/{counter.tenant.slug}/follow-ups/repurchase"
    owner = counter.world.actor(Role.merchant_owner, counter.tenant)

    answer = counter.world.client.get(url, headers=owner.headers)

    assert answer.status_code == 200, answer.text
    rows = {r["outcome"]: r for r in answer.json()["rows"]}
    assert [
        (r["followed"], r["identified"], r["repurchased"], r["rate"]) for r in rows.values()
    ] == [
        (3, 2, 1, 0.5),  # satisfied
        (1, 1, 0, 0.0),  # no answer
        (4, 3, 1, 0.3333),  # all together
    ]
    assert list(rows) == ["satisfied", "no_answer", None]
    # A longer window counts the late buyer too.
    wider = counter.world.client.get(url, headers=owner.headers, params={"within_days": 180})
    assert wider.json()["rows"][-1]["repurchased"] == 2


def test_a_bad_period_is_a_problem(counter: Counter) -> None:
    url = f"/api/v1/tenants/{counter.tenant.slug}/follow-ups/repurchase"
    owner = counter.world.actor(Role.merchant_owner, counter.tenant)
    for params in (
        {"first": "2026-05-01", "last": "2026-04-01"},
        {"first": "2025-01-01", "last": "2026-06-30"},
        {"within_days": 0},
    ):
        answer = counter.world.client.get(url, headers=owner.headers, params=params)
        assert answer.status_code == 422, params
        assert answer.headers["content-type"].startswith("application/problem+json")
