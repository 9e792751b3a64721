"""Interview pages: a recruiter schedules from the candidate's page on the merchant's wall
clock, the merchant's owner on the panel finds it among the upcoming interviews, scores it
through the form, and only then reads the recruiter's card."""

from __future__ import annotations

import re

from daiyun.core import db
from daiyun.platform.recruiting import interviews, service
from daiyun.platform.recruiting.schemas import Recommendation, ScorecardCreate
from daiyun.tenants.auth.permissions import Role
from tests.conftest import World
from tests.platform.recruiting.conftest import Hiring, hiring  # noqa: F401
from tests.portal.conftest import PortalClient, csrf_of

PORTAL = "/portal"


def test_an_interview_is_scheduled_and_scored_from_the_pages(
    hiring: Hiring,  # noqa: F811
    world: World,
    portal_as: PortalClient,
) -> None:
    assert hiring.apply().status_code == 200
    with db.unit_of_work(hiring.tenant.id) as session:
        [application] = service.of_requisition(session, hiring.requisition_id)
    recruiter_user = world.user(Role.recruiter, hiring.tenant)
    owner_user = world.user(Role.merchant_owner, hiring.tenant)
    recruiter, owner = portal_as(recruiter_user), portal_as(owner_user)
    base = f"{PORTAL}/t/{hiring.tenant.slug}"
    person_url = f"{base}/candidates/{application.candidate_id}"
    person = recruiter.get(person_url)
    assert person.status_code == 200 and 'name="starts_at"' in person.text
    made = recruiter.post(
        f"{base}/applications/{application.id}/interviews",
        data={
            "csrf_token": csrf_of(person.text),
            "title": "一面",
            "kind": "onsite",
            "starts_at": "2027-03-02T14:30",
            "minutes": "45",
            "location": "杭州市西湖区 1 号",
            "interviewer": [str(recruiter_user.id), str(owner_user.id)],
            "next": person_url,
        },
        follow_redirects=False,
    )
    assert made.status_code == 303 and made.headers["location"] == person_url
    with db.unit_of_work(hiring.tenant.id) as session:
        [interview] = interviews.of_application(session, application.id)
        assert interview.starts_at.isoformat() == "2027-03-02T06:30:00+00:00"  # UTC+8
        assert (interview.ends_at - interview.starts_at).total_seconds() == 45 * 60
        interviews.submit(
            session,
            interview,
            recruiter_user.id,
            ScorecardCreate(ratings={"Communication": 4}, recommendation=Recommendation.strong_yes),
        )
    # The owner's upcoming interviews, in the merchant's zone.
    listed = owner.get(f"{base}/interviews")
    assert listed.status_code == 200 and f'data-interview="{interview.id}"' in listed.text
    page_url = f"{base}/interviews/{interview.id}"
    page = owner.get(page_url)
    assert 'name="recommendation"' in page.text  # the scorecard form: the owner owes a card
    assert "data-scorecard=" not in page.text  # and does not read the recruiter's yet
    assert owner.get(page_url).status_code == 200
    scored = owner.post(
        f"{page_url}/scorecard",
        data={
            "csrf_token": csrf_of(page.text),
            "rating-0": "3",
            "rating-1": "2",
            "rating-2": "4",
            "recommendation": "no",
            "notes": "迟到十分钟",
            "next": page_url,
        },
        follow_redirects=False,
    )
    assert scored.status_code == 303
    after = owner.get(page_url).text
    assert len(re.findall(r"data-scorecard=", after)) == 2
    assert 'name="recommendation"' not in after and "迟到十分钟" in after
    # A merchant's owner neither schedules nor cancels.
    refused = owner.post(
        f"{page_url}/cancel", data={"csrf_token": csrf_of(after)}, follow_redirects=False
    )
    assert refused.status_code in (403, 404)
