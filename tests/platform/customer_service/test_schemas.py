"""Request shapes hold no more than the columns they are stored in (PostgreSQL refuses more)."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from daiyun.platform.customer_service.schemas import CannedReplyIn, SlaPolicyIn


def test_a_canned_reply_title_and_a_policy_name_fit_their_columns() -> None:
    assert CannedReplyIn(shortcut="hi", title="t" * 120, body="Hello").title == "t" * 120
    assert SlaPolicyIn(name="n" * 120).name == "n" * 120
    with pytest.raises(ValidationError):
        CannedReplyIn(shortcut="hi", title="t" * 121, body="Hello")
    with pytest.raises(ValidationError):
        SlaPolicyIn(name="n" * 121)
