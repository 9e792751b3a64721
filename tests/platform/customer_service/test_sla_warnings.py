"""Warnings before an SLA breach: a clock due within half an hour is warned of once per due time
(a system message on the conversation, and an e-mail to its agent and the merchant's account
managers over SMTP, received on loopback); a breached, answered or re-timed clock is not;
the supervisors' desk counts the conversations at risk."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from hypothesis import given
from hypothesis import strategies as st

from daiyun.core import db
from daiyun.platform.customer_service import clocks, mail, reports, rules, service
from daiyun.platform.customer_service.models import MessageKind
from daiyun.platform.customer_service.schemas import MessageCreate
from daiyun.tenants.auth.permissions import Role
from tests.platform.customer_service.conftest import Desk
from tests.platform.customer_service.test_mail import Sink, smtp  # noqa: F401 (fixture)
from tests.platform.customer_service.test_service import _policy

NOW = datetime(2026, 12, 7, 9, 0, tzinfo=UTC)
MINUTES = st.integers(min_value=-120, max_value=120)


@given(MINUTES, st.booleans(), st.booleans())
def test_a_clock_is_warned_of_only_inside_the_window_and_once_per_due_time(
    minutes: int, breached: bool, warned: bool
) -> None:
    due = NOW + timedelta(minutes=minutes)
    key = rules.warning_key("first_response", due)
    found = rules.at_risk(
        {"first_response": due},
        ["first_response"] if breached else [],
        [key] if warned else [],
        NOW,
    )
    inside = 0 <= minutes <= rules.AT_RISK.total_seconds() // 60
    assert found == ([("first_response", due)] if inside and not breached and not warned else [])
    # The same clock re-timed (a pause, then the buyer answered) is a new due time: warned anew.
    later = due + timedelta(minutes=1)
    retimed = rules.at_risk({"first_response": later}, [], [key], later - timedelta(minutes=5))
    assert retimed == [("first_response", later)]


def _system_messages(desk: Desk, conv_id: object) -> list[str]:
    with db.unit_of_work(desk.tenant.id) as session:
        conv = service.get_conversation(session, conv_id)  # type: ignore[arg-type]
        found, _ = service.find_messages(session, conv, None, 100)
        return [m.body for m in found if m.kind == MessageKind.system]


def test_a_clock_at_risk_is_warned_once_to_the_agent_and_the_supervisors(
    desk: Desk,
    smtp: Sink,  # noqa: F811
) -> None:
    _policy(desk, first_response_minutes=60)
    agent = desk.agent()
    supervisor = desk.world.user(Role.account_manager, desk.tenant)
    outsider = desk.world.user(Role.account_manager, desk.world.tenant())
    conv_id = desk.ask()
    with db.unit_of_work(desk.tenant.id) as session:
        due = service.get_conversation(session, conv_id).first_response_due
        assert due is not None
        assert clocks.warn(session, due - timedelta(minutes=45)) == []  # not yet at risk
        given_now = clocks.warn(session, due - timedelta(minutes=20))
        assert given_now == [(conv_id, rules.warning_key("first_response", due))]
        assert clocks.warn(session, due - timedelta(minutes=10)) == []  # once per due time
        assert reports.desk(session, due - timedelta(minutes=10)).at_risk == 1
    assert [m for m in _system_messages(desk, conv_id) if m.startswith("SLA at risk")] == [
        f"SLA at risk: first response due {due:%Y-%m-%d %H:%M} UTC"
    ]

    with db.unit_of_work(desk.tenant.id) as session:
        sent_to = mail.send_warning(session, conv_id, given_now[0][1])
    assert sorted(sent_to) == sorted([agent.email, supervisor.email])
    assert outsider.email not in sent_to
    [message] = smtp.messages
    assert sorted(a.strip() for a in message["To"].split(",")) == sorted(sent_to)
    assert message["Subject"].startswith("SLA at risk: first response for Buyer due ")
    assert f"c={desk.tenant.slug}:{conv_id}" in message.get_payload(decode=True).decode()


def test_an_answered_or_breached_clock_gets_no_warning(
    desk: Desk,
    smtp: Sink,  # noqa: F811
) -> None:
    _policy(desk, first_response_minutes=60)
    agent = desk.agent()
    answered, late = desk.ask(), desk.ask()
    with db.unit_of_work(desk.tenant.id) as session:
        conv = service.get_conversation(session, answered)
        due = conv.first_response_due
        assert due is not None
        [(_, key)] = [
            w for w in clocks.warn(session, due - timedelta(minutes=5)) if w[0] == answered
        ]
        user = session.get(type(agent), agent.id)
        service.reply(session, conv, MessageCreate(body="On its way"), user)
        # Answered before the e-mail went: nobody is told of a clock no longer running.
        assert mail.send_warning(session, answered, key) == []

        overdue = service.get_conversation(session, late)
        assert overdue.first_response_due is not None
        past = overdue.first_response_due + timedelta(minutes=1)
        clocks.sweep(session, past)
        assert overdue.breaches == ["first_response"]
        assert all(conv_id != late for conv_id, _ in clocks.warn(session, past))
        assert reports.desk(session, past).at_risk == 0
    assert smtp.messages == []
