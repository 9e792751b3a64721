"""Sign-in throttling that an attacker cannot turn against the user (SECURITY 28).

Limits are per (account, address) and per address; failures at an account only tighten the
limit for addresses that already failed there; `X-Forwarded-For` counts only from a trusted
proxy; every 429 says `Retry-After`; expired failures are pruned.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import timedelta

import httpx
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from starlette.requests import Request

from daiyun import departments
from daiyun.core import db
from daiyun.core.config import get_settings
from daiyun.core.ids import utcnow
from daiyun.tenants import tasks as tenant_tasks
from daiyun.tenants.auth import service as auth_service
from daiyun.tenants.auth.addresses import client_address, parse_trusted_proxies
from daiyun.tenants.auth.models import LoginFailure
from daiyun.tenants.auth.service import STRICT_PAIR_LIMIT
from tests.conftest import PASSWORD
from tests.portal.conftest import portal_sign_in
from tests.tenants.conftest import Committed

TOKEN_URL = "/api/v1/auth/token"
WRONG = "not the password"


@pytest.fixture
def from_address(committed: Committed) -> Iterator[object]:
    """Clients of the committing app, each seen as coming from its own peer address."""
    opened: list[TestClient] = []

    def build(address: str) -> TestClient:
        client = TestClient(committed.app, raise_server_exceptions=False, client=(address, 50000))
        opened.append(client)
        return client

    yield build
    for client in opened:
        client.close()


def sign_in(
    client: TestClient, email: str, password: str, forwarded: str | None = None
) -> httpx.Response:
    headers = {"X-Forwarded-For": forwarded} if forwarded else {}
    return client.post(TOKEN_URL, data={"username": email, "password": password}, headers=headers)


def assert_throttled(answer: httpx.Response) -> None:
    assert answer.status_code == 429, answer.text
    assert answer.headers["content-type"] == "application/problem+json"
    assert answer.json()["type"].endswith("/too-many-attempts")
    assert int(answer.headers["retry-after"]) > 0


def test_an_attacker_elsewhere_cannot_lock_the_user_out(committed: Committed, from_address):
    """Far more failures than the account's limit, from one address: that address is refused,
    and the user at another address still signs in with the right password."""
    user = committed.user()
    attacker, owner = from_address("198.51.100.66"), from_address("203.0.113.10")
    limit = get_settings().login_max_failures_per_account
    codes = [sign_in(attacker, user.email, WRONG).status_code for _ in range(limit + 3)]
    assert codes == [401] * limit + [429] * 3
    assert_throttled(sign_in(attacker, user.email, PASSWORD))
    answer = sign_in(owner, user.email, PASSWORD)
    assert answer.status_code == 200, answer.text
    me = owner.get(
        "/api/v1/me", headers={"Authorization": f"Bearer {answer.json()['access_token']}"}
    )
    assert me.json()["email"] == user.email


def test_a_spread_out_attack_tightens_the_limit_only_for_failing_addresses(
    committed: Committed, from_address
) -> None:
    """Once the account has passed its limit (one failure from each of many addresses), an
    address that fails there gets only STRICT_PAIR_LIMIT tries; a clean address still gets in."""
    user = committed.user()
    limit = get_settings().login_max_failures_per_account
    assert limit > STRICT_PAIR_LIMIT
    for n in range(limit):
        assert sign_in(from_address(f"198.51.100.{n + 1}"), user.email, WRONG).status_code == 401
    late = from_address("198.51.100.200")
    codes = [sign_in(late, user.email, WRONG).status_code for _ in range(STRICT_PAIR_LIMIT + 1)]
    assert codes == [401] * STRICT_PAIR_LIMIT + [429]
    # The same address is not slowed at an account nobody attacks.
    other = committed.user()
    assert sign_in(late, other.email, WRONG).status_code == 401
    assert sign_in(late, other.email, PASSWORD).status_code == 200
    # An address with no failures at the attacked account is never refused the right password.
    assert sign_in(from_address("203.0.113.10"), user.email, PASSWORD).status_code == 200


def test_forwarded_for_from_an_untrusted_peer_is_ignored(
    committed: Committed, from_address
) -> None:
    """With no trusted proxies, a new X-Forwarded-For on every guess changes nothing."""
    assert get_settings().trusted_proxies == ""
    user = committed.user()
    client = from_address("198.51.100.7")
    limit = get_settings().login_max_failures_per_account
    for n in range(limit):
        assert sign_in(client, user.email, WRONG, f"192.0.2.{n}").status_code == 401
    assert_throttled(sign_in(client, user.email, PASSWORD, "192.0.2.250"))


def test_forwarded_for_from_a_trusted_proxy_names_the_client(
    committed: Committed, from_address, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Behind a configured proxy each client is counted by its own address, and a client
    cannot escape its count by prepending a made-up address to the header."""
    monkeypatch.setattr(get_settings(), "trusted_proxies", "10.0.0.0/8, 198.51.100.7")
    user = committed.user()
    proxy = from_address("198.51.100.7")
    limit = get_settings().login_max_failures_per_account
    for _ in range(limit):
        assert sign_in(proxy, user.email, WRONG, "203.0.113.5").status_code == 401
    assert_throttled(sign_in(proxy, user.email, PASSWORD, "203.0.113.5"))
    assert_throttled(sign_in(proxy, user.email, PASSWORD, "192.0.2.1, 203.0.113.5"))
    # Through a second trusted hop the client is still the address before it.
    assert_throttled(sign_in(proxy, user.email, PASSWORD, "203.0.113.5, 10.1.2.3"))
    assert sign_in(proxy, user.email, PASSWORD, "203.0.113.6").status_code == 200


@pytest.mark.parametrize(
    ("peer", "forwarded", "trusted", "expected"),
    [
        ("198.51.100.7", "203.0.113.5", "", "198.51.100.7"),
        ("198.51.100.7", "203.0.113.5", "198.51.100.0/24", "203.0.113.5"),
        ("198.51.100.7", "192.0.2.1, 203.0.113.5", "198.51.100.7", "203.0.113.5"),
        ("198.51.100.7", "203.0.113.5, 10.0.0.2", "198.51.100.7,10.0.0.0/8", "203.0.113.5"),
        ("198.51.100.7", "10.0.0.3, 10.0.0.2", "198.51.100.7,10.0.0.0/8", "10.0.0.3"),
        ("198.51.100.7", "not-an-ip, 10.0.0.2", "198.51.100.7,10.0.0.0/8", "10.0.0.2"),
        ("198.51.100.7", "[2001:db8::1]:443", "198.51.100.7", "2001:db8::1"),
        ("198.51.100.7", None, "198.51.100.7", "198.51.100.7"),
        ("203.0.113.9", "192.0.2.1", "198.51.100.7", "203.0.113.9"),
    ],
)
def test_client_address(
    peer: str, forwarded: str | None, trusted: str, expected: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(get_settings(), "trusted_proxies", trusted)
    headers = [(b"x-forwarded-for", forwarded.encode())] if forwarded else []
    request = Request({"type": "http", "client": (peer, 1), "headers": headers})
    assert client_address(request) == expected


def test_a_bad_trusted_proxy_list_names_the_entry() -> None:
    with pytest.raises(ValueError, match=r"'proxy\.example'"):
        parse_trusted_proxies("10.0.0.0/8, proxy.example")
    assert parse_trusted_proxies(" ") == ()


def test_the_portal_sign_in_page_throttles_per_address_and_says_retry_after(
    committed: Committed, from_address
) -> None:
    user = committed.user()
    attacker, owner = from_address("198.51.100.66"), from_address("203.0.113.10")
    limit = get_settings().login_max_failures_per_account
    for _ in range(limit):
        assert portal_sign_in(attacker, user.email, WRONG).status_code == 401
    refused = portal_sign_in(attacker, user.email, PASSWORD)
    assert refused.status_code == 429
    assert int(refused.headers["retry-after"]) > 0
    assert portal_sign_in(owner, user.email, PASSWORD).status_code == 303


def _failures(scope: str | None = None) -> int:
    with db.unit_of_work() as session:
        stmt = select(func.count()).select_from(LoginFailure)
        if scope:
            stmt = stmt.where(LoginFailure.scope == scope)
        return session.scalar(stmt) or 0


def test_failures_past_the_window_neither_count_nor_stay(committed: Committed) -> None:
    """Old failures do not refuse anyone, sign-in prunes the keys it touches, and the beat
    task prunes the rest."""
    user = committed.user()
    window = get_settings().login_window_seconds
    old = utcnow() - timedelta(seconds=window + 60)
    keys = auth_service._keys(user.email, "testclient")
    stranger = auth_service._keys(f"gone-{uuid.uuid4().hex[:6]}@example.com", "192.0.2.99")
    with db.unit_of_work() as session:
        for key in (*keys, *stranger):
            for _ in range(get_settings().login_max_failures_per_address):
                session.add(LoginFailure(scope=key.scope, key=key.key, at=old))
    client = committed.client
    # Expired: they do not count.
    assert sign_in(client, user.email, WRONG).status_code == 401
    # That failure pruned this account's and this address's expired rows; the stranger's stay.
    stale = get_settings().login_max_failures_per_address * 3
    assert _failures() == 3 + stale
    assert tenant_tasks.prune_login_failures() == stale
    assert _failures() == 3
    assert sign_in(client, user.email, PASSWORD).status_code == 200


def test_beat_prunes_login_failures() -> None:
    schedule = departments.beat_schedule()
    assert schedule["prune-login-failures"]["task"] == "daiyun.auth.prune_login_failures"
