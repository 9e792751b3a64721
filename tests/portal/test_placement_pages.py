"""Hires on the merchant's recruiting page: a recruiter records a hire no offer placed (the
first-year salary in yuan) and later that the hire left; the merchant's owner sees the hires,
their fee basis and guarantee, and no form, beside the last 90 days' hiring figures."""

from __future__ import annotations

from datetime import timedelta

from daiyun.core import db, periods
from daiyun.platform.recruiting import placements, service
from daiyun.platform.recruiting.models import ApplicationStatus
from daiyun.platform.recruiting.schemas import CandidateCreate
from daiyun.tenants.auth.permissions import Role
from tests.conftest import World
from tests.platform.recruiting.conftest import Hiring, hiring  # noqa: F401
from tests.portal.conftest import PortalClient, csrf_of

PORTAL = "/portal"


def test_a_recruiter_records_a_hire_and_its_departure(
    hiring: Hiring,  # noqa: F811
    world: World,
    portal_as: PortalClient,
) -> None:
    with db.unit_of_work(hiring.tenant.id) as session:
        requisition = service.get_requisition(session, hiring.requisition_id)
        person = service.create_candidate(
            session, CandidateCreate(name="黄蕾", email="huang.lei@example.com")
        )
        application, _ = service.open_application(session, requisition, person, source="t")
        application.stage, application.status = "hired", ApplicationStatus.hired
    url = f"{PORTAL}/t/{hiring.tenant.slug}/recruiting"
    recruiter = portal_as(world.user(Role.recruiter, hiring.tenant))
    page = recruiter.get(url)
    assert f'data-unplaced="{application.id}"' in page.text
    started = periods.today("Asia/Shanghai") - timedelta(days=10)
    recorded = recruiter.post(
        f"{PORTAL}/t/{hiring.tenant.slug}/placements",
        data={
            "csrf_token": csrf_of(page.text),
            "application_id": str(application.id),
            "salary": "96000.00",
            "currency": "CNY",
            "starts_on": started.isoformat(),
            "next": url,
        },
        follow_redirects=False,
    )
    assert recorded.status_code == 303 and "error" not in recorded.headers["location"]
    with db.unit_of_work(hiring.tenant.id) as session:
        [made] = placements.find(session, None, None, None, None, 10)[0]
        assert (made.salary_minor, made.starts_on, made.billed) == (9_600_000, started, True)
        placement_id = made.id
    page = recruiter.get(url)
    assert f'data-unplaced="{application.id}"' not in page.text
    assert f'data-placement="{placement_id}"' in page.text and "96,000.00" in page.text
    # A departure in the future is refused and shown so; then the real day is recorded.
    leave = f"{PORTAL}/t/{hiring.tenant.slug}/placements/{placement_id}/leave"
    form = {"csrf_token": csrf_of(page.text), "reason": "回老家", "next": url}
    tomorrow = (periods.today("Asia/Shanghai") + timedelta(days=1)).isoformat()
    early = recruiter.post(leave, data={**form, "left_on": tomorrow}, follow_redirects=False)
    assert "error=left-in-future" in early.headers["location"]
    today = periods.today("Asia/Shanghai").isoformat()
    left = recruiter.post(leave, data={**form, "left_on": today}, follow_redirects=False)
    assert left.status_code == 303 and "error" not in left.headers["location"]
    with db.unit_of_work(hiring.tenant.id) as session:
        found = placements.get(session, placement_id)
        assert (found.left_on, found.left_reason) == (periods.today("Asia/Shanghai"), "回老家")

    owner = portal_as(world.user(Role.merchant_owner, hiring.tenant))
    seen = owner.get(url).text
    assert f'data-placement="{placement_id}"' in seen and "黄蕾" in seen
    assert "/leave" not in seen and 'name="salary"' not in seen
    # The 90 days' figures: the hire applied today, so the funnel runs to the last stage.
    assert 'data-figure="time-to-hire"' in seen and '<tr data-stage="hired">' in seen
