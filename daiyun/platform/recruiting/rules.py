"""Recruiting's pure rules: how a person is recognised (e-mail and phone in their matching
forms), what a CV may be, the careers form's signed token, and the pipeline's stages."""

from __future__ import annotations

import hashlib
import hmac
import io
import re
import zipfile
from dataclasses import dataclass
from datetime import datetime, timedelta

import phonenumbers

DEFAULT_STAGES = ("applied", "screened", "interview", "offer", "hired")
FIRST_STAGE = "applied"
LAST_STAGE = "hired"
DEFAULT_REGION = "CN"
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
    try:
        parsed = phonenumbers.parse(value, region)
    except phonenumbers.NumberParseException:
        return None
    if not phonenumbers.is_possible_number(parsed):
        return None
    return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)


# --- files ---------------------------------------------------------------------------------


class Refused(ValueError):
    """An upload that is not what it says: the reason is a short code the form can explain."""

    def __init__(self, code: str) -> None:
        super().__init__(code)
        self.code = code


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
