"""Recruiting's pure rules: how a person is recognised (e-mail and phone in their matching
forms), what a CV may be, the careers form's signed token, and the pipeline's stages."""

from __future__ import annotations

import hashlib
import hmac
import io
import re
import zipfile
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import phonenumbers

DEFAULT_STAGES = ("applied", "screened", "interview", "offer", "hired")
FIRST_STAGE = "applied"
LAST_STAGE = "hired"
DEFAULT_REGION = "CN"
# A mainland mobile number as most applicants type it (11 digits from 13x to 19x, spaced or
# with +86), put in E.164 without a full parse: parsing costs more than the duplicate lookup it
# feeds. phonenumbers reads every such number the same (a property test holds them together).
_CN_MOBILE = re.compile(r"(?:\+86)?(1[3-9]\d{9})")
_SPACING = re.compile(r"[\s-]+")
# Mailboxes where dots in the local part are ignored and "+tag" is an alias of the same box.
DOTLESS_DOMAINS = frozenset({"gmail.com", "googlemail.com"})
MAX_CV_BYTES = 3 * 1024 * 1024
PDF = "application/pdf"
DOCX = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
# How long a careers form stays valid, and how soon after it was shown it may be sent: a
# person takes longer than a second to fill it in, a script posting blindly does not.
FORM_TTL = timedelta(hours=6)
FORM_MIN_AGE = timedelta(seconds=2)


def email_key(value: str | None) -> str | None:
    """The form of an e-mail address two applications are matched on: lower case, and for
    Gmail without the dots and the ``+tag`` of the local part (the same mailbox)."""
    value = (value or "").strip().lower()
    if "@" not in value:
        return value or None
    local, _, domain = value.rpartition("@")
    if domain in DOTLESS_DOMAINS:
        local = local.split("+", 1)[0].replace(".", "")
        domain = "gmail.com"
    return f"{local}@{domain}"


def phone_key(value: str | None, region: str = DEFAULT_REGION) -> str | None:
    """A phone number in E.164 (``+8613800138000``), read as a number of ``region`` unless it
    says its country; None when it is not a possible number."""
    if not value or not value.strip():
        return None
    if region == "CN" and (mobile := _CN_MOBILE.fullmatch(_SPACING.sub("", value))):
        return f"+86{mobile.group(1)}"
    try:
        parsed = phonenumbers.parse(value, region)
    except phonenumbers.NumberParseException:
        return None
    if not phonenumbers.is_possible_number(parsed):
        return None
    return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)


# --- files ---------------------------------------------------------------------------------


class Refused(ValueError):
    """An upload or answer that is not what it should be: the reason is a short code the form
    can explain, and what it was about (a question's label), if anything."""

    def __init__(self, code: str, about: str = "") -> None:
        super().__init__(code)
        self.code, self.about = code, about


NUMBER = re.compile(r"[0-9]{1,9}(\.[0-9]{1,2})?")


def sniff_cv(data: bytes) -> str:
    """The content type of a CV judged by its bytes, never by its name: a PDF (``%PDF-``) or a
    Word document (a zip holding ``word/document.xml``). Anything else is refused, a renamed
    executable or an old ``.doc`` included."""
    if not data:
        raise Refused("empty-file")
    if len(data) > MAX_CV_BYTES:
        raise Refused("file-too-large")
    if data.startswith(b"%PDF-"):
        return PDF
    if data.startswith(b"PK\x03\x04"):
        try:
            with zipfile.ZipFile(io.BytesIO(data)) as archive:
                names = set(archive.namelist())
        except (zipfile.BadZipFile, ValueError):
            raise Refused("unsupported-file") from None
        if "word/document.xml" in names and "[Content_Types].xml" in names:
            return DOCX
    raise Refused("unsupported-file")


_UNSAFE = re.compile(r"[^0-9A-Za-z._\-\u4e00-\u9fff]+")


def safe_filename(name: str, content_type: str) -> str:
    """A name to offer the file under: the sender's stem cleaned, with the extension its
    content has (a PDF is ``.pdf`` whatever it was called)."""
    stem = name.rsplit("/", 1)[-1].rsplit("\\", 1)[-1].rsplit(".", 1)[0]
    stem = _UNSAFE.sub("_", stem).strip("._")[:100] or "cv"
    return f"{stem}.{'pdf' if content_type == PDF else 'docx'}"


# --- the careers form's token --------------------------------------------------------------


def form_token(secret: str, posting: str, issued: datetime) -> str:
    """A token naming the posting the form was shown for and when (signed, so no one makes
    one up): the careers form carries it instead of a session's CSRF token."""
    stamp = str(int(issued.timestamp()))
    mac = hmac.new(secret.encode(), f"careers:{posting}:{stamp}".encode(), hashlib.sha256)
    return f"{stamp}.{mac.hexdigest()}"


def check_form_token(secret: str, posting: str, token: str | None, now: datetime) -> str | None:
    """None if the token is one this server gave for this posting, recently enough and not a
    moment ago; otherwise why not."""
    stamp, _, mac = (token or "").partition(".")
    if not stamp.isdigit() or len(stamp) > 12:
        return "bad-token"
    expected = form_token(secret, posting, datetime.fromtimestamp(int(stamp), now.tzinfo))
    if not hmac.compare_digest(expected, f"{stamp}.{mac}"):
        return "bad-token"
    age = now - datetime.fromtimestamp(int(stamp), now.tzinfo)
    if age > FORM_TTL:
        return "expired-form"
    if age < FORM_MIN_AGE:
        return "too-fast"
    return None


def address_key(secret: str, address: str) -> str:
    """The rate limit's key for a client address: a keyed digest, so the table holds no IP."""
    return hmac.new(secret.encode(), f"careers-ip:{address}".encode(), hashlib.sha256).hexdigest()


# --- the pipeline --------------------------------------------------------------------------


def check_stages(stages: list[str]) -> list[str]:
    """A pipeline: distinct stage names, from ``applied`` to ``hired`` (what is in between is
    the merchant's to choose: interview rounds, a trial day, ...)."""
    cleaned = [s.strip() for s in stages]
    if len(set(cleaned)) != len(cleaned):
        raise ValueError("stage names must be distinct")
    if len(cleaned) < 2 or cleaned[0] != FIRST_STAGE or cleaned[-1] != LAST_STAGE:
        raise ValueError(f"a pipeline starts at {FIRST_STAGE!r} and ends at {LAST_STAGE!r}")
    return cleaned


@dataclass(frozen=True)
class Match:
    """What a new applicant's e-mail and phone say about the candidates already known."""

    same: str | None  # the candidate they are (by e-mail; or by phone when no e-mail differs)
    likely: str | None  # another they look like, to flag for a person to merge
    reason: str | None


def match(
    email: str | None,
    by_email: tuple[str, str | None] | None,
    by_phone: tuple[str, str | None] | None,
) -> Match:
    """Decide who an applicant is from the candidate found by their e-mail key and the one
    found by their phone (each as ``(id, email_key)``). The same e-mail is the same person; the
    same phone with a different e-mail is only likely the same (a shared family phone, a number
    passed on), so it is flagged, never merged by itself."""
    if by_email is not None:
        if by_phone is not None and by_phone[0] != by_email[0]:
            return Match(by_email[0], by_phone[0], "same-phone")
        return Match(by_email[0], None, None)
    if by_phone is not None:
        if email and by_phone[1] and by_phone[1] != email:
            return Match(None, by_phone[0], "same-phone")
        return Match(by_phone[0], None, None)
    return Match(None, None, None)


# --- interviews ----------------------------------------------------------------------------

MAX_INTERVIEW = timedelta(hours=12)
RATINGS = range(1, 5)  # 1 poor, 2 mixed, 3 good, 4 excellent


def check_slot(starts: datetime, ends: datetime) -> str | None:
    """None if an interview may run from ``starts`` to ``ends``; otherwise why not."""
    if ends <= starts:
        return "an interview ends after it starts"
    if ends - starts > MAX_INTERVIEW:
        return "an interview lasts at most 12 hours"
    return None


def overlaps(a: tuple[datetime, datetime], b: tuple[datetime, datetime]) -> bool:
    """Two half-open slots ``[start, end)`` share a moment (one ending as the other starts
    does not: back-to-back interviews are a normal day)."""
    return a[0] < b[1] and b[0] < a[1]


def may_see_others(
    viewer: str, panels: Iterable[tuple[str, frozenset[str]]], submitted: frozenset[str]
) -> bool:
    """Whether ``viewer`` may read other interviewers' scorecards on an application: not while
    they sit on the panel (``(interview, interviewers)`` of every interview not cancelled) of
    an interview they have not scored yet (``submitted``: the interviews they scored). Reading
    the others first would colour their own judgement; people not on a panel read them all."""
    return all(viewer not in who or interview in submitted for interview, who in panels)


def tally(recommendations: Sequence[str]) -> dict[str, int]:
    """How many cards recommend each answer, every answer present (0 where none)."""
    order = ("strong_no", "no", "yes", "strong_yes")
    return {r: sum(1 for x in recommendations if x == r) for r in order}


def averages(ratings: Sequence[dict[str, int]]) -> dict[str, float]:
    """The mean rating per criterion over the cards that rate it, to two places."""
    sums: dict[str, list[int]] = {}
    for card in ratings:
        for criterion, value in card.items():
            sums.setdefault(criterion, []).append(value)
    return {k: round(sum(v) / len(v), 2) for k, v in sorted(sums.items())}


# --- the calendar invitation (RFC 5545, iTIP RFC 5546) -------------------------------------


@dataclass(frozen=True)
class Invitation:
    uid: str
    sequence: int
    cancelled: bool
    starts: datetime
    ends: datetime
    summary: str
    description: str
    location: str
    organizer: str  # an e-mail address
    attendees: tuple[tuple[str, str], ...]  # (name, e-mail)
    stamp: datetime


def _ics_text(value: str) -> str:
    # RFC 5545 3.3.11: backslash, semicolon and comma escaped; line breaks as \n.
    value = value.replace("\\", "\\\\").replace(";", "\\;").replace(",", "\\,")
    return value.replace("\r\n", "\\n").replace("\n", "\\n").replace("\r", "\\n")


def _ics_param(value: str) -> str:
    # A parameter value may not hold a double quote, nor a control character.
    cleaned = "".join(c for c in value if c >= " " and c != '"')
    return f'"{cleaned}"'


def _fold(line: str) -> str:
    # Lines of at most 75 octets, continued with CRLF and a space (3.1), never splitting a
    # UTF-8 character.
    out: list[bytes] = []
    current = b""
    for char in line:
        encoded = char.encode()
        if len(current) + len(encoded) > (75 if not out else 74):
            out.append(current)
            current = b""
        current += encoded
    out.append(current)
    return "\r\n ".join(part.decode() for part in out)


def _utc(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y%m%dT%H%M%SZ")


def ics(invitation: Invitation) -> str:
    """The interview as an iCalendar object: ``METHOD:REQUEST`` while it stands,
    ``METHOD:CANCEL`` once cancelled; the same UID for its whole life and a SEQUENCE that
    grows with every change, so calendars update the event instead of adding another."""
    method = "CANCEL" if invitation.cancelled else "REQUEST"
    lines = [
        "BEGIN:VCALENDAR",
        "VERSION:2.0",
        "PRODID:-//Daiyun//Recruiting//EN",
        "CALSCALE:GREGORIAN",
        f"METHOD:{method}",
        "BEGIN:VEVENT",
        f"UID:{invitation.uid}",
        f"SEQUENCE:{invitation.sequence}",
        f"DTSTAMP:{_utc(invitation.stamp)}",
        f"DTSTART:{_utc(invitation.starts)}",
        f"DTEND:{_utc(invitation.ends)}",
        f"SUMMARY:{_ics_text(invitation.summary)}",
        f"STATUS:{'CANCELLED' if invitation.cancelled else 'CONFIRMED'}",
    ]
    if invitation.description:
        lines.append(f"DESCRIPTION:{_ics_text(invitation.description)}")
    if invitation.location:
        lines.append(f"LOCATION:{_ics_text(invitation.location)}")
    lines.append(f"ORGANIZER:mailto:{invitation.organizer}")
    for name, address in invitation.attendees:
        lines.append(
            f"ATTENDEE;CN={_ics_param(name)};ROLE=REQ-PARTICIPANT;PARTSTAT=NEEDS-ACTION;"
            f"RSVP=TRUE:mailto:{address}"
        )
    lines += ["END:VEVENT", "END:VCALENDAR"]
    return "".join(_fold(line) + "\r\n" for line in lines)


# --- the careers form's own questions ----------------------------------------------------------

MAX_ANSWER = 2000
YES, NO = ("yes", "是", "true", "1"), ("no", "否", "false", "0")


def check_answers(fields: list[dict[str, Any]], given: dict[str, str]) -> dict[str, Any]:
    """The answers to a requisition's questions as kept: text as typed (trimmed), a number as
    typed when it is one, yes/no as true or false, a choice only among its options; questions
    not asked are dropped. A required one unanswered raises ``Refused("answer-required")``, a
    wrong kind ``Refused("bad-answer")``; the question's label is the error's second word."""
    kept: dict[str, Any] = {}
    for field in fields:
        key, kind = field["key"], field.get("kind", "text")
        value = given.get(key, "").strip()[:MAX_ANSWER]
        if not value:
            if field.get("required"):
                raise Refused("answer-required", field["label"])
            continue
        if kind == "number" and not NUMBER.fullmatch(value):
            raise Refused("bad-answer", field["label"])
        if kind == "yes_no":
            if value.lower() not in (*YES, *NO):
                raise Refused("bad-answer", field["label"])
            kept[key] = value.lower() in YES
            continue
        if kind == "choice" and value not in field.get("options", []):
            raise Refused("bad-answer", field["label"])
        kept[key] = value
    return kept
