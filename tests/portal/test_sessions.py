"""Portal sessions, sign-in, CSRF, tenant access and languages (SECURITY.md 13, 14, 21-23).

Most tests run on the shared per-test transaction (``client``, ``world``). Failed sign-ins and
refused tenant accesses are written in transactions of their own, which that rollback would take
away, so those tests use a database whose transactions commit (``committed``).
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from urllib.parse import urlsplit

import httpx
import pytest
from babel.messages.extract import DEFAULT_KEYWORDS, extract_from_dir
from babel.messages.frontend import parse_mapping_cfg
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import delete, select
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from daiyun.core import db
from daiyun.core.audit.models import AuditEntry
from daiyun.core.config import get_settings
from daiyun.portal import sessions
from daiyun.portal.i18n import catalog
from daiyun.portal.models import PortalSession
from daiyun.tenants import service as tenant_service
from daiyun.tenants.auth.models import LoginFailure, User
from daiyun.tenants.auth.permissions import Role
from tests.conftest import PASSWORD, ROOT, TestDatabase, World
from tests.portal.browser.live import app_database, committed_database
from tests.portal.conftest import csrf_of, portal_sign_in

PORTAL = "/portal"
DENIED = "tenant.access_denied"
ZH = catalog("zh_CN")


# --------------------------------------------------------------------------------------------
# Helpers: a browser-like client that signs in through the portal's own form
# --------------------------------------------------------------------------------------------


def signed_in(app: FastAPI, user: User, base_url: str = "http://testserver") -> TestClient:
    """A client of its own (its own cookie jar) signed in as ``user``."""
    browser = TestClient(app, base_url=base_url, raise_server_exceptions=False)
    answer = portal_sign_in(browser, user.email)
    assert answer.status_code == 303, answer.text
    assert browser.cookies.get(sessions.COOKIE)
    return browser


def page_token(client: TestClient) -> str:
    """The CSRF token of the signed-in session, as its pages carry it."""
    page = client.get(f"{PORTAL}/tenants")
    assert page.status_code == 200, page.text
    return csrf_of(page.text)


def session_cookie(answer: httpx.Response) -> str:
    for header in answer.headers.get_list("set-cookie"):
        if header.startswith(f"{sessions.COOKIE}="):
            return header
    raise AssertionError(f"no {sessions.COOKIE} cookie set: {answer.headers}")


def cookie_value(header: str) -> str:
    return header.split(";", 1)[0].split("=", 1)[1]


def is_sign_in_redirect(answer: httpx.Response) -> bool:
    return answer.status_code == 303 and answer.headers["location"].startswith(
        f"{PORTAL}/login?next="
    )


def get_as(app: FastAPI, raw: str, path: str) -> httpx.Response:
    other = TestClient(app, raise_server_exceptions=False)
    return other.get(path, headers={"Cookie": f"{sessions.COOKIE}={raw}"}, follow_redirects=False)


def live_sessions(user: User) -> list[PortalSession]:
    with db.unit_of_work() as session:
        return list(
            session.scalars(
                select(PortalSession).where(
                    PortalSession.user_id == user.id, PortalSession.revoked_at.is_(None)
                )
            )
        )


# --------------------------------------------------------------------------------------------
# A database whose transactions commit
# --------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def committed_db(
    test_database: TestDatabase, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[str, str]]:
    with committed_database(
        test_database, "portal_sessions", tmp_path_factory.mktemp("portal-sessions")
    ) as database:
        yield database.app_url, database.owner_url


@dataclass
class Committed:
    world: World
    app: FastAPI
    owner: Engine  # the schema owner: reads the audit log past row security


@pytest.fixture
def committed(committed_db: tuple[str, str], app: FastAPI) -> Iterator[Committed]:
    app_url, owner_url = committed_db
    with app_database(app_url) as engine:
        with engine.begin() as connection:
            connection.execute(delete(LoginFailure))
        owner = db.make_engine(owner_url)
        try:
            with TestClient(app, raise_server_exceptions=False) as client:
                yield Committed(World(client), app, owner)
        finally:
            owner.dispose()


# --------------------------------------------------------------------------------------------
# SECURITY.md 22: session ids, sign-out and cookie flags
# --------------------------------------------------------------------------------------------


def test_sign_in_issues_a_new_session_id(world: World, app: FastAPI) -> None:
    """A cookie planted before sign-in is replaced, never promoted to a signed-in session."""
    user = world.user(Role.cs_agent)
    browser = TestClient(app, raise_server_exceptions=False)
    planted = "attacker-chosen-session-id"
    browser.cookies.set(sessions.COOKIE, planted, domain="testserver.local", path=PORTAL)
    answer = portal_sign_in(browser, user.email)
    assert answer.status_code == 303, answer.text
    first = cookie_value(session_cookie(answer))
    assert first != planted and len(first) >= 40
    assert is_sign_in_redirect(get_as(app, planted, f"{PORTAL}/tenants"))

    again = portal_sign_in(browser, user.email)
    second = cookie_value(session_cookie(again))
    assert second != first
    # The database keeps digests only, never the cookie value.
    with db.unit_of_work() as session:
        stored = {s.id_hash for s in session.scalars(select(PortalSession))}
    assert first not in stored and second not in stored
    assert get_as(app, second, f"{PORTAL}/tenants").status_code == 200


def test_tenant_switch_issues_a_new_session_id_and_the_old_one_stops(
    world: World, app: FastAPI
) -> None:
    a, b = world.tenant(), world.tenant()
    staff = world.user(Role.account_manager, a)
    world.assign(staff, b, Role.account_manager)
    browser = signed_in(app, staff)
    old = browser.cookies[sessions.COOKIE]
    old_token = page_token(browser)

    answer = browser.post(
        f"{PORTAL}/switch",
        data={"csrf_token": old_token, "tenant": b.slug},
        follow_redirects=False,
    )
    assert answer.status_code == 303, answer.text
    assert answer.headers["location"] == f"{PORTAL}/t/{b.slug}/dashboard"
    new = cookie_value(session_cookie(answer))
    assert new != old
    assert is_sign_in_redirect(get_as(app, old, f"{PORTAL}/tenants"))
    assert get_as(app, new, f"{PORTAL}/tenants").status_code == 200
    # The new session has a new CSRF token: the old page's forms no longer work.
    assert page_token(browser) != old_token
    refused = browser.post(
        f"{PORTAL}/switch", data={"csrf_token": old_token, "tenant": a.slug}, follow_redirects=False
    )
    assert refused.status_code == 403
    [current] = live_sessions(staff)
    assert current.switched_tenant_id == b.id


def test_sign_out_ends_the_session_on_the_server(world: World, app: FastAPI) -> None:
    user = world.user(Role.finance)
    browser = signed_in(app, user)
    raw = browser.cookies[sessions.COOKIE]
    assert len(live_sessions(user)) == 1
    answer = browser.post(
        f"{PORTAL}/logout", data={"csrf_token": page_token(browser)}, follow_redirects=False
    )
    assert answer.status_code == 303
    assert answer.headers["location"] == f"{PORTAL}/login"
    cleared = session_cookie(answer)
    assert cookie_value(cleared) in ("", '""') and "Max-Age=0" in cleared
    assert live_sessions(user) == []
    # A copy of the cookie kept from before is worthless now.
    replay = get_as(app, raw, f"{PORTAL}/tenants")
    assert is_sign_in_redirect(replay), replay.text
    assert replay.headers["location"] == f"{PORTAL}/login?next=/portal/tenants"


@pytest.mark.parametrize("scheme", ["https", "http"])
def test_cookie_flags(world: World, app: FastAPI, scheme: str) -> None:
    """HttpOnly, SameSite=Lax and path /portal always; Secure when served over https."""
    user = world.user(Role.cs_agent)
    browser = TestClient(app, base_url=f"{scheme}://testserver", raise_server_exceptions=False)
    form = browser.get(f"{PORTAL}/login")
    answer = browser.post(
        f"{PORTAL}/login",
        data={"csrf_token": csrf_of(form.text), "email": user.email, "password": PASSWORD},
        follow_redirects=False,
    )
    assert answer.status_code == 303, answer.text
    login_csrf = next(
        h for h in form.headers.get_list("set-cookie") if h.startswith("daiyun_login_csrf=")
    )
    for header in (session_cookie(answer), login_csrf):
        attributes = {part.strip().split("=", 1)[0].lower() for part in header.split(";")[1:]}
        values = dict(
            part.strip().lower().split("=", 1) for part in header.split(";")[1:] if "=" in part
        )
        assert "httponly" in attributes, header
        assert values.get("samesite") == "lax", header
        assert values.get("path") == PORTAL, header
        assert ("secure" in attributes) == (scheme == "https"), header
    if scheme == "https":
        assert browser.get(f"{PORTAL}/tenants").status_code == 200


# --------------------------------------------------------------------------------------------
# SECURITY.md 21: throttled sign-in on the portal form
# --------------------------------------------------------------------------------------------


def _attempt(client: TestClient, email: str, password: str) -> httpx.Response:
    return portal_sign_in(client, email, password)


def test_portal_sign_in_is_throttled_per_account_without_revealing_it(
    committed: Committed,
) -> None:
    limit = get_settings().login_max_failures_per_account
    known = committed.world.user(Role.account_manager)
    unknown = f"nobody-{uuid.uuid4().hex[:8]}@example.com"
    client = committed.world.client
    for attempt in range(limit + 2):
        real = _attempt(client, known.email, "wrong password!")
        fake = _attempt(client, unknown, "wrong password!")
        expected = 401 if attempt < limit else 429
        assert real.status_code == fake.status_code == expected, (attempt, real.text[:300])
        assert real.text == fake.text
        assert sessions.COOKIE not in real.headers.get("set-cookie", "")
    assert ZH.get("Too many failed sign-ins. Try again later.") is not None
    assert "Too many failed sign-ins" in real.text
    # Locked out for now, even with the right password; and no session is issued.
    locked = _attempt(client, known.email, PASSWORD)
    assert locked.status_code == 429
    assert not client.cookies.get(sessions.COOKIE)


def test_portal_sign_in_is_throttled_per_address(committed: Committed) -> None:
    limit = get_settings().login_max_failures_per_address
    user = committed.world.user(Role.cs_agent)
    client = committed.world.client
    for n in range(limit):
        guess = f"spray-{n}-{uuid.uuid4().hex[:6]}@example.com"
        assert _attempt(client, guess, "Winter2024!").status_code == 401
    assert _attempt(client, f"fresh-{uuid.uuid4().hex[:6]}@example.com", "x").status_code == 429
    assert _attempt(client, user.email, PASSWORD).status_code == 429
    elsewhere = TestClient(committed.app, client=("203.0.113.7", 40000))
    assert _attempt(elsewhere, user.email, PASSWORD).status_code == 303


def test_api_and_portal_share_one_failure_count(committed: Committed) -> None:
    """Failures on the API's token endpoint count against the portal's form too."""
    limit = get_settings().login_max_failures_per_account
    user = committed.world.user(Role.cs_agent)
    client = committed.world.client
    for _ in range(limit):
        token = client.post("/api/v1/auth/token", data={"username": user.email, "password": "x"})
        assert token.status_code == 401
    assert _attempt(client, user.email, PASSWORD).status_code == 429


# --------------------------------------------------------------------------------------------
# SECURITY.md 23: CSRF
# --------------------------------------------------------------------------------------------


def _state(user: User) -> tuple[object, ...]:
    with db.unit_of_work() as session:
        found = session.get(User, user.id)
        assert found is not None
        rows = sorted(
            (s.id_hash, str(s.switched_tenant_id), s.revoked_at is None)
            for s in session.scalars(select(PortalSession).where(PortalSession.user_id == user.id))
        )
        return (found.locale, rows)


def test_forms_without_a_valid_token_or_from_another_origin_are_refused(
    world: World, app: FastAPI
) -> None:
    a = world.tenant()
    staff = world.user(Role.cs_agent, a)
    browser = signed_in(app, staff)
    token = page_token(browser)
    forms = {
        f"{PORTAL}/switch": {"tenant": a.slug},
        f"{PORTAL}/logout": {},
        f"{PORTAL}/locale": {"locale": "zh_CN"},
    }
    forged: list[tuple[str, dict[str, str]]] = [
        ("no token", {}),
        ("empty token", {"csrf_token": ""}),
        ("wrong token", {"csrf_token": token[:-2] + ("AA" if token[-2:] != "AA" else "BB")}),
        ("another session's token", {"csrf_token": page_token(signed_in(app, staff))}),
    ]
    before = _state(staff)
    for path, fields in forms.items():
        for name, extra in forged:
            answer = browser.post(path, data={**fields, **extra}, follow_redirects=False)
            assert answer.status_code == 403, (path, name, answer.status_code)
            assert "text/html" in answer.headers["content-type"]
        for origin in ("https://evil.example", "http://testserver.evil.example", "null"):
            answer = browser.post(
                path,
                data={**fields, "csrf_token": token},
                headers={"Origin": origin},
                follow_redirects=False,
            )
            assert answer.status_code == 403, (path, origin, answer.status_code)
        answer = browser.post(
            path,
            data={**fields, "csrf_token": token},
            headers={"Referer": "https://evil.example/page"},
            follow_redirects=False,
        )
        assert answer.status_code == 403, (path, "referer", answer.status_code)
    assert _state(staff) == before
    assert get_as(app, browser.cookies[sessions.COOKIE], f"{PORTAL}/tenants").status_code == 200

    # The same form from our own origin with the right token goes through.
    done = browser.post(
        f"{PORTAL}/locale",
        data={"locale": "zh_CN", "csrf_token": token, "next": f"{PORTAL}/tenants"},
        headers={"Origin": "http://testserver"},
        follow_redirects=False,
    )
    assert done.status_code == 303, done.text
    assert _state(staff) != before


def test_sign_in_form_needs_its_token(world: World, app: FastAPI) -> None:
    """The sign-in form's token must match its cookie: a forged sign-in is refused (login CSRF)."""
    user = world.user(Role.cs_agent)
    browser = TestClient(app, raise_server_exceptions=False)
    token = csrf_of(browser.get(f"{PORTAL}/login").text)
    data = {"email": user.email, "password": PASSWORD}
    for extra, headers in (
        ({}, {}),
        ({"csrf_token": "forged"}, {}),
        ({"csrf_token": token}, {"Origin": "https://evil.example"}),
    ):
        answer = browser.post(
            f"{PORTAL}/login", data={**data, **extra}, headers=headers, follow_redirects=False
        )
        assert answer.status_code == 403, answer.text
    fresh = TestClient(app, raise_server_exceptions=False)  # a token but no cookie to match
    answer = fresh.post(
        f"{PORTAL}/login", data={**data, "csrf_token": token}, follow_redirects=False
    )
    assert answer.status_code == 403
    assert live_sessions(user) == []


# --------------------------------------------------------------------------------------------
# SECURITY.md 13 and 14: assignments read on every request; other tenants are 404 and audited
# --------------------------------------------------------------------------------------------


def test_removed_assignment_denies_the_next_request_of_a_session(
    world: World, app: FastAPI
) -> None:
    a = world.tenant()
    staff = world.user(Role.account_manager, a)
    browser = signed_in(app, staff)
    token = page_token(browser)
    assert browser.get(f"{PORTAL}/t/{a.slug}/dashboard").status_code == 200
    assert browser.get(f"{PORTAL}/t/{a.slug}/orders").status_code == 200

    with db.unit_of_work(a.id) as session:
        tenant_service.remove_member(session, staff.id)

    for page in ("dashboard", "orders", "shops"):
        answer = browser.get(f"{PORTAL}/t/{a.slug}/{page}", follow_redirects=False)
        assert answer.status_code == 404, (page, answer.status_code)
    switched = browser.post(
        f"{PORTAL}/switch", data={"csrf_token": token, "tenant": a.slug}, follow_redirects=False
    )
    assert switched.status_code == 404
    # The session itself is still good: only the assignment is gone.
    listing = browser.get(f"{PORTAL}/tenants")
    assert listing.status_code == 200 and a.slug not in listing.text


def test_merchant_a_gets_404_on_b_pages_and_the_attempt_is_audited(
    committed: Committed,
) -> None:
    world = committed.world
    a, b = world.tenant(), world.tenant()
    owner = world.user(Role.merchant_owner, a)
    browser = signed_in(committed.app, owner)
    ghost = f"no-such-{uuid.uuid4().hex[:6]}"
    assert browser.get(f"{PORTAL}/t/{a.slug}/dashboard").status_code == 200

    to_b = browser.get(f"{PORTAL}/t/{b.slug}/orders", follow_redirects=False)
    to_ghost = browser.get(f"{PORTAL}/t/{ghost}/orders", follow_redirects=False)
    assert (to_b.status_code, to_ghost.status_code) == (404, 404)
    # Nothing tells B apart from a tenant that does not exist (the path itself aside).
    assert to_b.text.replace(b.slug, "?") == to_ghost.text.replace(ghost, "?")
    assert b.display_name not in to_b.text
    for page in ("dashboard", "statements", "shops"):
        assert browser.get(f"{PORTAL}/t/{b.slug}/{page}").status_code == 404

    with Session(committed.owner) as session:
        found = [
            (e.target, e.tenant_id)
            for e in session.scalars(
                select(AuditEntry)
                .where(AuditEntry.action == DENIED, AuditEntry.actor_id == owner.id)
                .order_by(AuditEntry.id)
            )
        ]
    assert found[:2] == [(f"tenant:{b.slug}", b.id), (f"tenant:{ghost}", None)]
    assert len(found) == 5
    assert all(target == f"tenant:{b.slug}" for target, _ in found[2:])


# --------------------------------------------------------------------------------------------
# Languages
# --------------------------------------------------------------------------------------------


def test_language_switch_is_kept_on_the_user(world: World, app: FastAPI) -> None:
    a = world.tenant()
    owner = world.user(Role.merchant_owner, a)
    browser = signed_in(app, owner)
    english = browser.get(f"{PORTAL}/t/{a.slug}/dashboard")
    assert english.status_code == 200 and 'lang="en"' in english.text
    assert ZH["Dashboard"] not in english.text

    answer = browser.post(
        f"{PORTAL}/locale",
        data={
            "csrf_token": page_token(browser),
            "locale": "zh_CN",
            "next": f"{PORTAL}/t/{a.slug}/dashboard",
        },
        follow_redirects=False,
    )
    assert answer.status_code == 303
    assert answer.headers["location"] == f"{PORTAL}/t/{a.slug}/dashboard"
    with db.unit_of_work() as session:
        stored = session.get(User, owner.id)
        assert stored is not None and stored.locale == "zh_CN"

    chinese = browser.get(f"{PORTAL}/t/{a.slug}/dashboard")
    assert 'lang="zh-CN"' in chinese.text
    for message in ("Dashboard", "Orders", "Statements", "Sign out"):
        assert ZH[message] in chinese.text, message
    # The setting belongs to the user: a new sign-in elsewhere, whatever the browser asks for.
    other = TestClient(app, raise_server_exceptions=False, headers={"Accept-Language": "en-US"})
    assert portal_sign_in(other, owner.email).status_code == 303
    assert ZH["Orders"] in other.get(f"{PORTAL}/t/{a.slug}/orders").text

    back = browser.post(
        f"{PORTAL}/locale",
        data={"csrf_token": page_token(browser), "locale": "en", "next": f"{PORTAL}/tenants"},
        follow_redirects=False,
    )
    assert back.status_code == 303
    assert ZH["Sign out"] not in browser.get(f"{PORTAL}/tenants").text


def test_unknown_language_is_refused(world: World, app: FastAPI) -> None:
    user = world.user(Role.cs_agent)
    browser = signed_in(app, user)
    answer = browser.post(
        f"{PORTAL}/locale", data={"csrf_token": page_token(browser), "locale": "klingon"}
    )
    assert answer.status_code == 400
    with db.unit_of_work() as session:
        stored = session.get(User, user.id)
        assert stored is not None and stored.locale == "en"


@pytest.mark.parametrize("header", ["zh-CN", "zh-CN,zh;q=0.9,en;q=0.8", "zh", "en;q=0.2, zh-Hans"])
def test_sign_in_page_follows_accept_language(client: TestClient, header: str) -> None:
    answer = client.get(f"{PORTAL}/login", headers={"Accept-Language": header})
    assert answer.status_code == 200
    assert 'lang="zh-CN"' in answer.text
    for message in ("Sign in", "E-mail", "Password"):
        assert ZH[message] in answer.text, message


@pytest.mark.parametrize("header", ["fr-FR, de;q=0.5", "tlh", "klingon, xx-YY;q=0.4", "*", ";;,"])
def test_sign_in_page_defaults_to_english(client: TestClient, header: str) -> None:
    """Languages we do not have, or cannot even parse, fall back to English (never a 500)."""
    answer = client.get(f"{PORTAL}/login", headers={"Accept-Language": header})
    assert answer.status_code == 200
    assert 'lang="en"' in answer.text and ZH["Sign in"] not in answer.text


def test_unknown_language_cookie_falls_back(client: TestClient) -> None:
    client.cookies.set("daiyun_locale", "klingon", domain="testserver.local", path=PORTAL)
    answer = client.get(f"{PORTAL}/login", headers={"Accept-Language": "zh-CN"})
    assert answer.status_code == 200 and ZH["Sign in"] in answer.text


def test_anonymous_language_choice_is_a_cookie(client: TestClient) -> None:
    token = csrf_of(client.get(f"{PORTAL}/login").text)
    answer = client.post(
        f"{PORTAL}/locale",
        data={"csrf_token": token, "locale": "zh_CN", "next": f"{PORTAL}/login"},
        follow_redirects=False,
    )
    assert answer.status_code == 303
    assert ZH["Sign in"] in client.get(f"{PORTAL}/login").text


# --------------------------------------------------------------------------------------------
# Redirects after sign-in stay on the site
# --------------------------------------------------------------------------------------------

OFF_SITE = [
    "https://evil.example/",
    "//evil.example/portal/",
    "/\\evil.example",
    "\\\\evil.example",
    "/portal//evil.example",
    "https:/evil.example",
    "javascript:alert(1)",
    "/api/v1/me",
    " /portal/x",
    "portal/console",
]


@pytest.mark.parametrize("target", OFF_SITE)
def test_next_cannot_leave_the_portal(world: World, app: FastAPI, target: str) -> None:
    user = world.user(Role.cs_agent)
    browser = TestClient(app, raise_server_exceptions=False)
    form = browser.get(f"{PORTAL}/login", params={"next": target})
    assert f'value="{target}"' not in form.text
    answer = portal_sign_in(browser, user.email, next_url=target)
    assert answer.status_code == 303
    location = answer.headers["location"]
    assert location == f"{PORTAL}/console", location
    locale = browser.post(
        f"{PORTAL}/locale",
        data={"csrf_token": page_token(browser), "locale": "en", "next": target},
        follow_redirects=False,
    )
    assert locale.status_code == 303
    assert locale.headers["location"] == f"{PORTAL}/"


def test_next_inside_the_portal_is_followed(world: World, app: FastAPI) -> None:
    user = world.user(Role.cs_agent)
    browser = TestClient(app, raise_server_exceptions=False)
    visit = browser.get(f"{PORTAL}/tenants?x=1", follow_redirects=False)
    assert visit.headers["location"] == f"{PORTAL}/login?next=/portal/tenants%3Fx%3D1"
    answer = portal_sign_in(browser, user.email, next_url=f"{PORTAL}/tenants?x=1")
    location = answer.headers["location"]
    assert location == f"{PORTAL}/tenants?x=1"
    assert urlsplit(location).netloc == ""


# --------------------------------------------------------------------------------------------
# The translation catalog covers every message
# --------------------------------------------------------------------------------------------


def _messages() -> dict[str, list[str]]:
    """Every message the portal's code and templates mark, and where it is: ``_`` and Babel's
    default keywords (``fmt.gettext`` in views), as ``make messages`` extracts them."""
    with (ROOT / "babel.cfg").open() as handle:
        method_map, options_map = parse_mapping_cfg(handle)
    found: dict[str, list[str]] = {}
    for filename, lineno, message, _comments, _context in extract_from_dir(
        str(ROOT), method_map, options_map, keywords={**DEFAULT_KEYWORDS, "_": None}
    ):
        ids = message if isinstance(message, tuple) else (message,)
        for msgid in ids:
            if msgid:
                found.setdefault(msgid, []).append(f"{filename}:{lineno}")
    return found


def test_every_message_has_a_chinese_translation() -> None:
    """`make messages` then translating keeps this green; a page merged untranslated fails."""
    messages = _messages()
    assert "Sign in" in messages and "Page not found" in messages  # the extraction works
    assert "Dashboard" in messages
    catalog.cache_clear()
    translated = catalog("zh_CN")
    missing = {m: where for m, where in messages.items() if not translated.get(m)}
    assert not missing, f"{len(missing)} messages without a zh_CN translation:\n" + "\n".join(
        f"  {m!r} ({', '.join(w[:2])})" for m, w in sorted(missing.items())
    )


def test_translations_keep_their_placeholders() -> None:
    """A translation that drops or renames a %(name)s placeholder would break the page."""
    placeholder = re.compile(r"%\((\w+)\)[sd]")
    broken = [
        message
        for message, text in catalog("zh_CN").items()
        if sorted(placeholder.findall(message)) != sorted(placeholder.findall(text))
    ]
    assert not broken, broken
