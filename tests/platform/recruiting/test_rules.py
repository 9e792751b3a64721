"""Recruiting's pure rules: who a person is (e-mail and phone in their matching forms), what a
CV may be, the careers form's token, and what a pipeline is."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import phonenumbers
import pytest
from hypothesis import given
from hypothesis import strategies as st

from daiyun.platform.recruiting import rules
from tests.platform.recruiting.conftest import PDF, docx, executable


@pytest.mark.parametrize(
    ("given", "key"),
    [
        ("Li.Na@Example.com", "li.na@example.com"),
        ("  LI.NA@GMAIL.COM ", "lina@gmail.com"),
        ("li.na+jobs@googlemail.com", "lina@gmail.com"),
        ("l.i.n.a@gmail.com", "lina@gmail.com"),
        ("li.na+jobs@example.com", "li.na+jobs@example.com"),  # only Gmail ignores them
        ("", None),
    ],
)
def test_email_key_folds_case_and_gmail_dots(given: str, key: str | None) -> None:
    assert rules.email_key(given) == key


@pytest.mark.parametrize(
    "given",
    ["13800138000", "138 0013 8000", "+86 138-0013-8000", "(+86) 13800138000", "008613800138000"],
)
def test_phone_key_reads_chinese_mobiles_in_every_spelling(given: str) -> None:
    assert rules.phone_key(given) == "+8613800138000"


@given(
    digits=st.from_regex(r"1[3-9][0-9]{9}", fullmatch=True),
    spelling=st.sampled_from(["{}", "+86{}", "+86 {}", "{0:.3} {1} ", "{0:.3}-{1}"]),
)
def test_the_quick_read_of_a_chinese_mobile_is_what_phonenumbers_reads(
    digits: str, spelling: str
) -> None:
    given = spelling.format(digits, digits[3:]) if "{1}" in spelling else spelling.format(digits)
    parsed = phonenumbers.parse(given, "CN")
    assert phonenumbers.is_possible_number(parsed)
    expected = phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)
    assert rules.phone_key(given) == expected == f"+86{digits}"


def test_phone_key_keeps_other_countries_and_refuses_non_numbers() -> None:
    assert rules.phone_key("+1 415 555 2671") == "+14155552671"
    assert rules.phone_key("12") is None
    assert rules.phone_key("not a phone") is None


def test_match_same_email_is_the_same_person_and_another_phone_is_flagged() -> None:
    assert rules.match("a@x.cn", ("A", "a@x.cn"), None) == rules.Match("A", None, None)
    assert rules.match("a@x.cn", ("A", "a@x.cn"), ("B", "b@x.cn")) == rules.Match(
        "A", "B", "same-phone"
    )


def test_match_same_phone_with_another_email_is_only_likely() -> None:
    assert rules.match("new@x.cn", None, ("B", "b@x.cn")) == rules.Match(None, "B", "same-phone")
    # No e-mail on either side to tell them apart: the phone says who it is.
    assert rules.match(None, None, ("B", "b@x.cn")) == rules.Match("B", None, None)
    assert rules.match("new@x.cn", None, ("B", None)) == rules.Match("B", None, None)


def test_a_cv_is_judged_by_its_bytes() -> None:
    assert rules.sniff_cv(PDF) == rules.PDF
    assert rules.sniff_cv(docx()) == rules.DOCX
    for bad in (executable(), b"PK\x03\x04 not really a zip", b"plain text"):
        with pytest.raises(rules.Refused) as refused:
            rules.sniff_cv(bad)
        assert refused.value.code == "unsupported-file"
    with pytest.raises(rules.Refused, match="file-too-large"):
        rules.sniff_cv(b"%PDF-" + b"0" * rules.MAX_CV_BYTES)
    with pytest.raises(rules.Refused, match="empty-file"):
        rules.sniff_cv(b"")


def test_a_zip_without_a_word_document_is_no_docx() -> None:
    import io
    import zipfile

    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("payload.exe", "MZ")
    with pytest.raises(rules.Refused):
        rules.sniff_cv(buffer.getvalue())


def test_the_stored_name_has_the_extension_of_the_content() -> None:
    assert rules.safe_filename("../../简历 final.exe", rules.PDF) == "简历_final.pdf"
    assert rules.safe_filename("", rules.DOCX) == "cv.docx"


def test_form_token_is_bound_to_the_posting_and_ages() -> None:
    shown = datetime(2026, 11, 1, 12, 0, tzinfo=UTC)
    token = rules.form_token("s3cret", "p1", shown)
    later = shown + timedelta(minutes=5)
    assert rules.check_form_token("s3cret", "p1", token, later) is None
    assert rules.check_form_token("s3cret", "p2", token, later) == "bad-token"
    assert rules.check_form_token("other", "p1", token, later) == "bad-token"
    assert rules.check_form_token("s3cret", "p1", "garbage", later) == "bad-token"
    assert rules.check_form_token("s3cret", "p1", None, later) == "bad-token"
    assert rules.check_form_token("s3cret", "p1", token, shown) == "too-fast"
    assert rules.check_form_token("s3cret", "p1", token, shown + timedelta(days=1)) == (
        "expired-form"
    )


def test_a_pipeline_runs_from_applied_to_hired() -> None:
    assert rules.check_stages(["applied", "phone-screen", "trial-day", "hired"])[1] == (
        "phone-screen"
    )
    for bad in (
        ["applied"],
        ["screened", "hired"],
        ["applied", "offer"],
        ["applied", "x", "x", "hired"],
    ):
        with pytest.raises(ValueError):
            rules.check_stages(bad)


def _invitation(**changes: object) -> rules.Invitation:
    at = datetime(2027, 1, 1, 2, tzinfo=UTC)
    base: dict[str, object] = {
        "uid": "x@daiyun",
        "sequence": 0,
        "cancelled": False,
        "starts": at,
        "ends": at + timedelta(hours=1),
        "summary": "一面",
        "description": "",
        "location": "",
        "organizer": "hr@example.com",
        "attendees": (),
        "stamp": at,
    }
    return rules.Invitation(**{**base, **changes})  # type: ignore[arg-type]


def test_invitation_lines_fold_at_75_octets_without_splitting_a_character() -> None:
    text = rules.ics(_invitation(summary="面试" * 60, location="a,b;c\\d\ne"))
    lines = text.split("\r\n")
    assert all(len(line.encode()) <= 75 for line in lines)
    unfolded = text.replace("\r\n ", "")
    assert "SUMMARY:" + "面试" * 60 + "\r\n" in unfolded
    assert "LOCATION:a\\,b\\;c\\\\d\\ne\r\n" in unfolded


def test_invitation_times_are_utc_whatever_zone_they_come_in() -> None:
    shanghai = timezone(timedelta(hours=8))
    text = rules.ics(_invitation(starts=datetime(2027, 1, 1, 10, tzinfo=shanghai)))
    assert "DTSTART:20270101T020000Z\r\n" in text


def test_overlaps_are_half_open() -> None:
    at = datetime(2027, 1, 1, tzinfo=UTC)
    hour = timedelta(hours=1)
    assert rules.overlaps((at, at + hour), (at + hour / 2, at + 2 * hour))
    assert not rules.overlaps((at, at + hour), (at + hour, at + 2 * hour))


def test_a_panel_member_who_owes_a_card_reads_only_their_own() -> None:
    panels = [("i1", frozenset({"a", "b"})), ("i2", frozenset({"b"}))]
    assert not rules.may_see_others("a", panels, frozenset())
    assert rules.may_see_others("a", panels, frozenset({"i1"}))
    assert not rules.may_see_others("b", panels, frozenset({"i1"}))  # round two still owed
    assert rules.may_see_others("c", panels, frozenset())  # off every panel
