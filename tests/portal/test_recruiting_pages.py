"""Recruiting's pages: the console's requisitions across merchants, the pipeline board (a card
moved from one column to the next by a recruiter), the candidate's page with its stage log, the
merchant's openings and shortlist, and the careers form in Chinese."""

from __future__ import annotations

import re

from daiyun.core import db
from daiyun.platform.recruiting import service
from daiyun.tenants.auth.permissions import Role
from tests.conftest import World
from tests.platform.recruiting.conftest import Hiring, hiring  # noqa: F401
from tests.portal.conftest import PortalClient, csrf_of
from tests.portal.test_zh_and_time import choose_chinese

PORTAL = "/portal"


def _column(page: str, stage: str) -> str:
    found = re.search(rf'<section class="column" data-stage="{stage}".*?</section>', page, re.S)
    assert found is not None, stage
    return found.group(0)


def test_a_recruiter_moves_a_card_on_the_board(
    hiring: Hiring,  # noqa: F811
    world: World,
    portal_as: PortalClient,
) -> None:
    assert hiring.apply().status_code == 200
    recruiter = portal_as(world.user(Role.recruiter, hiring.tenant))
    console = recruiter.get(f"{PORTAL}/console/recruiting")
    assert (
        console.status_code == 200 and f'data-requisition="{hiring.requisition_id}"' in console.text
    )
    board_url = f"{PORTAL}/t/{hiring.tenant.slug}/requisitions/{hiring.requisition_id}"
    board = recruiter.get(board_url)
    assert board.status_code == 200
    with db.unit_of_work(hiring.tenant.id) as session:
        [application] = service.of_requisition(session, hiring.requisition_id)
    assert f'data-application="{application.id}"' in _column(board.text, "applied")
    moved = recruiter.post(
        f"{PORTAL}/t/{hiring.tenant.slug}/applications/{application.id}",
        data={
            "csrf_token": csrf_of(board.text),
            "action": "move",
            "stage": "screened",
            "next": board_url,
        },
        follow_redirects=False,
    )
    assert moved.status_code == 303 and moved.headers["location"] == board_url
    after = recruiter.get(board_url).text
    assert f'data-application="{application.id}"' in _column(after, "screened")
    person = recruiter.get(f"{PORTAL}/t/{hiring.tenant.slug}/candidates/{application.candidate_id}")
    assert person.status_code == 200
    assert "li.na@example.com" in person.text and "Moved" in person.text


def test_the_owner_sees_openings_and_shortlist_but_cannot_move(
    hiring: Hiring,  # noqa: F811
    world: World,
    portal_as: PortalClient,
) -> None:
    assert hiring.apply().status_code == 200
    with db.unit_of_work(hiring.tenant.id) as session:
        [application] = service.of_requisition(session, hiring.requisition_id)
        service.set_shortlisted(session, application, True)
    owner = portal_as(world.user(Role.merchant_owner, hiring.tenant))
    page = owner.get(f"{PORTAL}/t/{hiring.tenant.slug}/recruiting")
    assert page.status_code == 200
    assert f'data-requisition="{hiring.requisition_id}"' in page.text
    assert f'data-application="{application.id}"' in page.text  # on the shortlist
    board = owner.get(f"{PORTAL}/t/{hiring.tenant.slug}/requisitions/{hiring.requisition_id}")
    assert board.status_code == 200 and 'name="stage"' not in board.text
    viewer = portal_as(world.user(Role.merchant_viewer, hiring.tenant))
    assert viewer.get(f"{PORTAL}/t/{hiring.tenant.slug}/recruiting").status_code == 403


def test_the_candidates_page_shows_the_answers_to_the_requisitions_questions(
    hiring: Hiring,  # noqa: F811
    world: World,
    portal_as: PortalClient,
) -> None:
    with db.unit_of_work(hiring.tenant.id) as session:
        requisition = service.get_requisition(session, hiring.requisition_id)
        requisition.form_fields = [
            {"key": "nights", "label": "能否上晚班", "kind": "yes_no", "required": True},
            {"key": "years", "label": "客服经验（年）", "kind": "number"},
        ]
    assert hiring.apply(**{"q-nights": "no", "q-years": "4"}).status_code == 200
    with db.unit_of_work(hiring.tenant.id) as session:
        [application] = service.of_requisition(session, hiring.requisition_id)
    owner = portal_as(world.user(Role.merchant_owner, hiring.tenant))
    page = owner.get(f"{PORTAL}/t/{hiring.tenant.slug}/candidates/{application.candidate_id}")
    assert '<div data-answer="nights"><dt>能否上晚班</dt><dd>No</dd></div>' in page.text
    assert '<div data-answer="years"><dt>客服经验（年）</dt><dd>4</dd></div>' in page.text


def test_pages_and_the_careers_form_speak_chinese(
    hiring: Hiring,  # noqa: F811
    world: World,
    portal_as: PortalClient,
) -> None:
    recruiter = portal_as(world.user(Role.recruiter, hiring.tenant))
    choose_chinese(recruiter)
    assert "招聘" in recruiter.get(f"{PORTAL}/console/recruiting").text
    form = world.client.get(hiring.form_url, headers={"Accept-Language": "zh-CN"})
    assert "提交申请" in form.text and "365" in form.text
