"""SLA clocks on business hours, by hand-computed cases and a property; canned-reply variables;
contact normalization; the inbound-parse signature; the assignment order."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from daiyun.platform.customer_service import rules

# Shanghai (UTC+8), Monday to Friday 09:00-18:00; 2026-10-01 (a Thursday) a holiday.
HOURS = {day: [["09:00", "18:00"]] for day in ("mon", "tue", "wed", "thu", "fri")}
CAL = rules.calendar("Asia/Shanghai", HOURS, ["2026-10-01"])
SPLIT = rules.calendar("Asia/Shanghai", {"mon": [["09:00", "12:00"], ["13:00", "18:00"]]}, [])
ALWAYS = rules.calendar("Asia/Shanghai", {}, [])


def local(text: str) -> datetime:
    """A Shanghai wall-clock time as an aware UTC instant."""
    return (datetime.fromisoformat(text) - timedelta(hours=8)).replace(tzinfo=UTC)


def test_due_skips_the_evening_and_the_holiday() -> None:
    # Wed 17:00 + 2h: one hour on Wednesday, Thursday is a holiday, one hour on Friday.
    assert rules.add_business(local("2026-09-30T17:00"), 2 * 3600, CAL) == local("2026-10-02T10:00")


def test_due_skips_the_weekend() -> None:
    # Fri 17:30 + 1h: 30 minutes on Friday, 30 on Monday morning.
    assert rules.add_business(local("2026-10-02T17:30"), 3600, CAL) == local("2026-10-05T09:30")


def test_a_start_outside_hours_counts_from_the_next_opening() -> None:
    assert rules.add_business(local("2026-10-03T11:00"), 15 * 60, CAL) == local("2026-10-05T09:15")
    assert rules.add_business(local("2026-10-05T07:00"), 0, CAL) == local("2026-10-05T09:00")


def test_lunch_break_is_not_business_time() -> None:
    assert rules.add_business(local("2026-10-05T11:30"), 3600, SPLIT) == local("2026-10-05T13:30")
    assert (
        rules.business_seconds(local("2026-10-05T11:00"), local("2026-10-05T14:00"), SPLIT)
        == 2 * 3600
    )


def test_around_the_clock_without_hours() -> None:
    start = local("2026-10-03T23:50")
    assert rules.add_business(start, 600, ALWAYS) == start + timedelta(minutes=10)


def test_business_seconds_between_friday_and_monday() -> None:
    seconds = rules.business_seconds(local("2026-10-02T17:00"), local("2026-10-05T10:00"), CAL)
    assert seconds == 2 * 3600
    assert rules.business_seconds(local("2026-10-05T10:00"), local("2026-10-02T17:00"), CAL) == 0


def test_pause_keeps_the_time_left_and_resume_recomputes_the_due_time() -> None:
    # Due Wed 17:30; waiting on the buyer from Wed 17:00 (30 minutes left); the buyer answers
    # on Monday at 11:00: due Monday 11:30.
    left = rules.pause(
        {"first_response": local("2026-09-30T17:30")}, local("2026-09-30T17:00"), CAL
    )
    assert left == {"first_response": 1800}
    due = rules.resume(left, local("2026-10-05T11:00"), CAL)
    assert due == {"first_response": local("2026-10-05T11:30")}


def test_a_clock_past_due_when_paused_has_nothing_left() -> None:
    left = rules.pause({"resolution": local("2026-09-30T10:00")}, local("2026-09-30T11:00"), CAL)
    assert left == {"resolution": 0}


def test_breached_stays_breached() -> None:
    now = local("2026-10-05T12:00")
    assert rules.breached([], {"first_response": local("2026-10-05T11:00")}, now) == [
        "first_response"
    ]
    # Met or stopped later (no due time any more): still breached.
    assert rules.breached(["first_response"], {"first_response": None}, now) == ["first_response"]
    assert rules.breached([], {"next_response": local("2026-10-05T13:00")}, now) == []


def test_parse_hours_refuses_nonsense() -> None:
    for bad in (
        {"mon": [["18:00", "09:00"]]},
        {"funday": [["09:00", "10:00"]]},
        {"mon": [["09:00", "12:00"], ["11:00", "13:00"]]},
        {"mon": [["09:00", "24:30"]]},
    ):
        try:
            rules.parse_hours(bad)
        except ValueError:
            continue
        raise AssertionError(f"accepted {bad}")


instants = st.datetimes(min_value=datetime(2026, 1, 1), max_value=datetime(2027, 12, 31)).map(
    lambda d: d.replace(tzinfo=UTC)
)


@settings(max_examples=150, deadline=None)
@given(
    start=instants,
    minutes=st.integers(min_value=1, max_value=5 * 24 * 60),
    paused_after=st.integers(min_value=0, max_value=10 * 24 * 3600),
    waited=st.integers(min_value=0, max_value=30 * 24 * 3600),
    calendar=st.sampled_from([CAL, SPLIT, ALWAYS]),
)
def test_a_pause_never_moves_a_due_time_earlier(
    start: datetime, minutes: int, paused_after: int, waited: int, calendar: rules.Calendar
) -> None:
    due = rules.add_business(start, minutes * 60, calendar)
    paused_at = start + timedelta(seconds=paused_after)
    left = rules.pause({"resolution": due}, paused_at, calendar)
    resumed = rules.resume(left, paused_at + timedelta(seconds=waited), calendar)["resolution"]
    assert resumed >= due


@settings(max_examples=100, deadline=None)
@given(
    start=instants,
    seconds=st.integers(min_value=0, max_value=10**6),
    calendar=st.sampled_from([CAL, SPLIT]),
)
def test_business_seconds_undoes_add_business(
    start: datetime, seconds: int, calendar: rules.Calendar
) -> None:
    end = rules.add_business(start, seconds, calendar)
    assert end >= start
    assert rules.business_seconds(start, end, calendar) == seconds


def test_render_fills_variables_and_empties_unknown_values() -> None:
    body = "Hi {{ buyer_name }}, order {{order_number}} ships with {{tracking_number}}."
    values = {"buyer_name": "Li Na", "order_number": "1001"}
    assert rules.render(body, values) == "Hi Li Na, order 1001 ships with ."
    assert rules.unknown_variables("{{buyer_name}} {{password}}") == ["password"]


def test_contacts_normalize() -> None:
    assert rules.normal_email("  Li@Example.COM ") == "li@example.com"
    assert rules.normal_phone("+86 138-0013-8000") == rules.normal_phone("+8613800138000")
    assert rules.address_of('"Li Na" <Li@Example.com>') == ("Li Na", "li@example.com")
    assert rules.message_ids("<a@x> <b@y>") == ["<a@x>", "<b@y>"]


def test_signature() -> None:
    now = datetime(2026, 10, 1, tzinfo=UTC)
    stamp = str(int(now.timestamp()))
    good = rules.sign("key", stamp, "tok")
    assert rules.signature_ok("key", stamp, "tok", good, now)
    assert not rules.signature_ok("other", stamp, "tok", good, now)
    assert not rules.signature_ok("key", stamp, "tok", good, now + timedelta(minutes=6))
    assert not rules.signature_ok("key", "yesterday", "tok", good, now)


def test_ranked_orders_by_strategy() -> None:
    t0 = datetime(2026, 1, 1, tzinfo=UTC)
    a = rules.Candidate("a", load=1, capacity=3, last_assigned_at=t0)
    b = rules.Candidate("b", load=0, capacity=3, last_assigned_at=t0 + timedelta(hours=1))
    full = rules.Candidate("c", load=3, capacity=3, last_assigned_at=None)
    assert [c.user_id for c in rules.ranked([a, b, full], "least_loaded")] == ["b", "a"]
    assert [c.user_id for c in rules.ranked([a, b, full], "round_robin")] == ["a", "b"]
