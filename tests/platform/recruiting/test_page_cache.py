"""The careers pages kept rendered for a few seconds (daiyun/portal/page_cache.py): the next
visitors of the same language get the kept page, each with a form token of their own moment;
after the window the page is rendered afresh; a form sent back with errors is never kept."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import timedelta

import pytest
from fastapi import FastAPI

from daiyun.core.config import get_settings
from daiyun.core.db import unit_of_work
from daiyun.platform.recruiting import careers, rules, service
from daiyun.platform.recruiting.models import PostingStatus
from daiyun.platform.recruiting.schemas import PostingUpdate
from daiyun.portal.page_cache import PageCache
from daiyun.portal.views.careers import TOKEN
from tests.factories import Clock
from tests.platform.recruiting.conftest import Hiring

WINDOW = 5.0


@pytest.fixture
def clock(app: FastAPI) -> Iterator[Clock]:
    """The app's cache turned on (the suite runs with it off), on a clock the test moves."""
    clock, off = Clock(), app.state.page_cache
    app.state.page_cache = PageCache(WINDOW, clock)
    try:
        yield clock
    finally:
        app.state.page_cache = off


def _close(hiring: Hiring) -> None:
    with unit_of_work(hiring.tenant.id) as session:
        posting = service.get_posting(session, hiring.posting_id)
        service.update_posting(session, posting, PostingUpdate(status=PostingStatus.closed))


def _token(html: str) -> str:
    found = re.search(r'name="token" value="([^"]+)"', html)
    assert found is not None, html
    return found.group(1)


def test_the_list_is_kept_for_its_window_then_rendered_afresh(hiring: Hiring, clock: Clock) -> None:
    client, page = hiring.world.client, f"/careers/{hiring.tenant.slug}"
    first = client.get(page)
    assert hiring.form_url in first.text
    _close(hiring)
    clock.now += WINDOW - 0.5
    kept = client.get(page)
    assert kept.text == first.text  # within the window: the page as rendered
    assert kept.headers["content-security-policy"] == first.headers["content-security-policy"]
    assert kept.headers["x-request-id"] != first.headers["x-request-id"]
    clock.now += 1
    assert hiring.form_url not in client.get(page).text  # after it: the posting is gone


def test_each_language_has_its_own_page(hiring: Hiring, clock: Clock) -> None:
    client, page = hiring.world.client, f"/careers/{hiring.tenant.slug}"
    english = client.get(page, headers={"Accept-Language": "en"})
    chinese = client.get(page, headers={"Accept-Language": "zh-CN"})
    assert english.text != chinese.text
    assert client.get(page, headers={"Accept-Language": "zh-CN"}).text == chinese.text
    assert client.get(page, headers={"Accept-Language": "en"}).text == english.text


def test_a_kept_form_carries_a_token_of_the_moment_it_is_shown(
    hiring: Hiring, clock: Clock, monkeypatch: pytest.MonkeyPatch
) -> None:
    client = hiring.world.client
    shown_at = careers.utcnow()
    monkeypatch.setattr(careers, "utcnow", lambda: shown_at)
    first = client.get(hiring.form_url)
    monkeypatch.setattr(careers, "utcnow", lambda: shown_at + timedelta(seconds=3))
    clock.now += 1
    second = client.get(hiring.form_url)
    assert TOKEN not in first.text and TOKEN not in second.text
    assert _token(first.text) != _token(second.text)
    assert first.text.replace(_token(first.text), "") == second.text.replace(
        _token(second.text), ""
    )
    secret = get_settings().secret_key
    posting = str(hiring.posting_id)
    # The second visitor's token is theirs: too fast a moment after they saw the form, good
    # once a person could have filled it in.
    later = shown_at + timedelta(seconds=3)
    assert rules.check_form_token(secret, posting, _token(second.text), later) == "too-fast"
    assert (
        rules.check_form_token(secret, posting, _token(second.text), later + timedelta(minutes=1))
        is None
    )


def test_a_form_sent_back_with_its_errors_is_not_kept(hiring: Hiring, clock: Clock) -> None:
    refused = hiring.apply(consent=False)
    assert refused.status_code == 422 and 'value="li.na@example.com"' in refused.text
    shown = hiring.world.client.get(hiring.form_url)
    assert shown.status_code == 200
    assert "li.na@example.com" not in shown.text and "agree to the processing" not in shown.text
