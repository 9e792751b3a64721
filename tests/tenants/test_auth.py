"""Sign-in, tokens, API keys, the caller's profile and user invitations (SECURITY 20-22)."""

from __future__ import annotations

import gc
import hashlib
import re
import types
import uuid
from datetime import timedelta
from typing import TYPE_CHECKING, Any

import argon2
import httpx
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select, text, update
from sqlalchemy.engine import Connection
from sqlalchemy.orm import Session

from daiyun.core.config import get_settings
from daiyun.core.ids import utcnow
from daiyun.tenants.auth.models import AccessToken, User
from daiyun.tenants.auth.permissions import Role
from tests.conftest import PASSWORD, World
from tests.tenants.conftest import Committed

if TYPE_CHECKING:
    pass

TOKEN_URL = "/api/v1/auth/token"
ARGON2_PARAMS = re.compile(r"^\$argon2id\$v=19\$m=(\d+),t=(\d+),p=(\d+)\$[^$]+\$[^$]+$")


def sign_in(client: TestClient, email: str, password: str) -> httpx.Response:
    return client.post(TOKEN_URL, data={"username": email, "password": password})


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def token_of(client: TestClient, user: User) -> str:
    answer = sign_in(client, user.email, PASSWORD)
    assert answer.status_code == 200, answer.text
    token: str = answer.json()["access_token"]
    return token


def without_instance(answer: httpx.Response) -> dict[str, Any]:
    body: dict[str, Any] = answer.json()
    body.pop("instance", None)
    return body


def stored_hash(session: Session, user: User) -> str:
    found = session.scalar(select(User.password_hash).where(User.id == user.id))
    assert found is not None
    return found


def argon2_params(encoded: str) -> tuple[int, int, int]:
    match = ARGON2_PARAMS.match(encoded)
    assert match, f"not an argon2id hash: {encoded[:20]}..."
    m, t, p = (int(g) for g in match.groups())
    return m, t, p


# --- SECURITY 20: password hashing --------------------------------------------------------


def test_password_is_stored_as_strong_argon2id(world: World, session: Session) -> None:
    """The stored hash is argon2id with at least m=19 MiB, t=2, p=1, never the password."""
    user = world.user(Role.account_manager)
    encoded = stored_hash(session, user)
    m, t, p = argon2_params(encoded)
    assert m >= 19 * 1024
    assert t >= 2
    assert p == 1
    assert PASSWORD not in encoded


def test_weak_hash_is_upgraded_on_sign_in(
    world: World, client: TestClient, session: Session
) -> None:
    """A hash made with weaker parameters is replaced by a current one at the next sign-in."""
    user = world.user(Role.cs_agent)
    weak = argon2.PasswordHasher(time_cost=1, memory_cost=8192, parallelism=1).hash(PASSWORD)
    session.execute(update(User).where(User.id == user.id).values(password_hash=weak))
    session.commit()
    assert argon2_params(stored_hash(session, user)) == (8192, 1, 1)

    token_of(client, user)

    upgraded = stored_hash(session, user)
    assert upgraded != weak
    m, t, p = argon2_params(upgraded)
    assert m >= 19 * 1024 and t >= 2 and p == 1
    # The new hash still opens the account.
    token_of(client, user)


# --- SECURITY 21: throttling without revealing accounts -----------------------------------
#
# Failed sign-ins are written after the refused request's rollback, so these tests run against
# a database of their own where every transaction commits (`committed`, tests/tenants/conftest.py).
# Lockout resistance, forwarded addresses and pruning: test_throttle.py.


def test_account_failures_are_throttled_identically_for_unknown_accounts(
    committed: Committed,
) -> None:
    """Per account, failures end in 429; an unknown account gets the very same answers."""
    limit = get_settings().login_max_failures_per_account
    known = committed.user(Role.account_manager)
    unknown = f"nobody-{uuid.uuid4().hex[:8]}@example.com"
    client = committed.client
    for attempt in range(limit + 2):
        real = sign_in(client, known.email, "wrong password!")
        fake = sign_in(client, unknown, "wrong password!")
        expected = 401 if attempt < limit else 429
        assert real.status_code == fake.status_code == expected, (attempt, real.text)
        assert without_instance(real) == without_instance(fake)
        for header in ("www-authenticate", "retry-after", "content-type"):
            assert real.headers.get(header) == fake.headers.get(header)
    assert real.json()["type"].endswith("/too-many-attempts")
    assert int(real.headers["retry-after"]) > 0
    # This address is locked out of this account: even the right password is refused for now.
    assert sign_in(client, known.email, PASSWORD).status_code == 429


def test_account_throttle_ignores_case_and_spaces(committed: Committed) -> None:
    """Variants of the same address share one failure counter."""
    limit = get_settings().login_max_failures_per_account
    user = committed.user()
    variants = [user.email.upper(), f"  {user.email}", user.email.title()]
    for n in range(limit):
        answer = sign_in(committed.client, variants[n % len(variants)], "nope nope")
        assert answer.status_code == 401
    assert sign_in(committed.client, user.email, PASSWORD).status_code == 429


def test_success_below_the_limit_signs_in_and_resets(committed: Committed) -> None:
    """A user who mistypes a few times still gets in, and the count starts over."""
    limit = get_settings().login_max_failures_per_account
    user = committed.user()
    for _ in range(2):
        for _ in range(limit - 1):
            assert sign_in(committed.client, user.email, "typo typo").status_code == 401
        answer = sign_in(committed.client, user.email, PASSWORD)
        assert answer.status_code == 200, answer.text
        assert (
            committed.client.get(
                "/api/v1/me", headers=bearer(answer.json()["access_token"])
            ).json()["email"]
            == user.email
        )


def test_limits_follow_the_settings(committed: Committed, monkeypatch: pytest.MonkeyPatch) -> None:
    """The per-account limit is the configured number, not a constant."""
    monkeypatch.setattr(get_settings(), "login_max_failures_per_account", 2)
    user = committed.user()
    codes = [sign_in(committed.client, user.email, "bad bad").status_code for _ in range(3)]
    assert codes == [401, 401, 429]


def test_address_failures_are_throttled(committed: Committed) -> None:
    """Many accounts tried from one address: that address gets 429, another does not."""
    limit = get_settings().login_max_failures_per_address
    assert limit > get_settings().login_max_failures_per_account
    user = committed.user()
    for n in range(limit):
        guess = f"spray-{n}-{uuid.uuid4().hex[:6]}@example.com"
        assert sign_in(committed.client, guess, "Winter2024!").status_code == 401
    fresh = f"fresh-{uuid.uuid4().hex[:6]}@example.com"
    blocked = sign_in(committed.client, fresh, "Winter2024!")
    assert blocked.status_code == 429
    assert blocked.json()["type"].endswith("/too-many-attempts")
    assert sign_in(committed.client, user.email, PASSWORD).status_code == 429
    with TestClient(committed.app, client=("203.0.113.7", 40000)) as elsewhere:
        assert sign_in(elsewhere, user.email, PASSWORD).status_code == 200


def test_failed_sign_in_keeps_no_password_in_memory(world: World, client: TestClient) -> None:
    """After a failed sign-in no live frame still holds the password that was tried."""
    user = world.user(Role.cs_agent)
    canary = f"canary-{uuid.uuid4().hex}"
    for _ in range(2):
        assert sign_in(client, user.email, canary).status_code == 401
    gc.collect()
    holders = [
        frame
        for frame in gc.get_objects()
        if isinstance(frame, types.FrameType) and canary in frame.f_locals.values()
    ]
    assert holders == []


# --- SECURITY 22: tokens ------------------------------------------------------------------


def test_each_sign_in_issues_a_new_token(world: World, client: TestClient) -> None:
    """Two sign-ins give two distinct, working tokens."""
    user = world.user(Role.account_manager)
    first, second = token_of(client, user), token_of(client, user)
    assert first != second
    for token in (first, second):
        assert client.get("/api/v1/me", headers=bearer(token)).status_code == 200


def test_logout_revokes_only_that_token(world: World, client: TestClient) -> None:
    """After logout the token is refused server-side; the user's other session goes on."""
    user = world.user(Role.account_manager)
    leaving, staying = token_of(client, user), token_of(client, user)
    answer = client.post("/api/v1/auth/logout", headers=bearer(leaving))
    assert answer.status_code == 204, answer.text
    refused = client.get("/api/v1/me", headers=bearer(leaving))
    assert refused.status_code == 401
    assert refused.headers["content-type"].startswith("application/problem+json")
    assert client.get("/api/v1/me", headers=bearer(staying)).status_code == 200
    assert client.post("/api/v1/auth/logout", headers=bearer(leaving)).status_code == 401


def test_tokens_are_stored_hashed(world: World, client: TestClient, connection: Connection) -> None:
    """The database holds only a digest of the token, never the token itself."""
    user = world.user(Role.cs_agent)
    token = token_of(client, user)
    rows = connection.execute(text("select * from access_tokens")).all()
    assert rows
    assert not any(token in str(value) for row in rows for value in row)
    digests = connection.execute(text("select token_hash from access_tokens")).scalars().all()
    assert hashlib.sha256(token.encode()).hexdigest() in digests


def test_expired_token_is_refused(world: World, client: TestClient, session: Session) -> None:
    """A token past its expiry answers 401."""
    user = world.user(Role.cs_agent)
    token = token_of(client, user)
    assert client.get("/api/v1/me", headers=bearer(token)).status_code == 200
    session.execute(
        update(AccessToken)
        .where(AccessToken.token_hash == hashlib.sha256(token.encode()).hexdigest())
        .values(expires_at=utcnow() - timedelta(seconds=1))
    )
    session.commit()
    answer = client.get("/api/v1/me", headers=bearer(token))
    assert answer.status_code == 401
    assert answer.headers["www-authenticate"] == "Bearer"


def test_garbage_token_is_refused(client: TestClient) -> None:
    """A made-up token or key answers 401."""
    for token in ("dya_made-up", "dyk_made-up", "x"):
        assert client.get("/api/v1/me", headers=bearer(token)).status_code == 401


def test_api_key_lifecycle(world: World, client: TestClient, connection: Connection) -> None:
    """An API key is shown once, authenticates, is never listed in clear, and can be revoked."""
    user = world.user(Role.account_manager)
    headers = bearer(token_of(client, user))
    created = client.post("/api/v1/me/api-keys", json={"name": "ERP sync"}, headers=headers)
    assert created.status_code == 201, created.text
    key = created.json()["key"]
    key_id = created.json()["id"]
    assert key.startswith("dyk_")
    assert created.json()["prefix"] == key[:12]

    me = client.get("/api/v1/me", headers=bearer(key))
    assert me.status_code == 200
    assert me.json()["id"] == str(user.id)

    listed = client.get("/api/v1/me/api-keys", headers=headers)
    assert listed.status_code == 200
    assert [k["id"] for k in listed.json()] == [key_id]
    assert "key" not in listed.json()[0]
    assert key not in listed.text
    rows = connection.execute(text("select * from api_keys")).all()
    assert not any(key in str(value) for row in rows for value in row)

    revoked = client.delete(f"/api/v1/me/api-keys/{key_id}", headers=headers)
    assert revoked.status_code == 204
    assert client.get("/api/v1/me", headers=bearer(key)).status_code == 401
    assert client.get("/api/v1/me/api-keys", headers=headers).json()[0]["revoked_at"]


def test_api_keys_of_others_cannot_be_revoked(world: World, client: TestClient) -> None:
    """Another user's key id is a 404 and the key keeps working."""
    owner = world.actor(Role.account_manager)
    other = world.actor(Role.account_manager)
    created = client.post("/api/v1/me/api-keys", json={"name": "mine"}, headers=owner.headers)
    key, key_id = created.json()["key"], created.json()["id"]
    answer = client.delete(f"/api/v1/me/api-keys/{key_id}", headers=other.headers)
    assert answer.status_code == 404
    assert client.get("/api/v1/me", headers=bearer(key)).status_code == 200


# --- /me --------------------------------------------------------------------------------


def test_me_lists_every_assigned_tenant_with_its_role(world: World, client: TestClient) -> None:
    """Staff assigned to two tenants see both, each with the role held there."""
    first, second, _unrelated = world.tenant(), world.tenant(), world.tenant()
    staff = world.user(Role.account_manager, first)
    world.assign(staff, second, Role.cs_agent)
    answer = client.get("/api/v1/me", headers=world.sign_in(staff))
    assert answer.status_code == 200, answer.text
    me = answer.json()
    assert me["id"] == str(staff.id)
    assert me["email"] == staff.email
    assert me["role"] == "account_manager"
    assert "password_hash" not in me
    assert {(t["tenant"], t["role"]) for t in me["tenants"]} == {
        (first.slug, "account_manager"),
        (second.slug, "cs_agent"),
    }


def test_me_shows_a_merchant_its_one_tenant(world: World, client: TestClient) -> None:
    """A merchant user sees exactly its own tenant."""
    mine, _other = world.tenant(), world.tenant()
    owner = world.actor(Role.merchant_owner, mine)
    me = client.get("/api/v1/me", headers=owner.headers).json()
    assert me["role"] == "merchant_owner"
    assert me["tenants"] == [
        {"tenant": mine.slug, "tenant_name": mine.display_name, "role": "merchant_owner"}
    ]


# --- users API ----------------------------------------------------------------------------


def test_merchant_owner_invites_a_viewer(world: World, client: TestClient) -> None:
    """An owner invites a viewer, who can sign in and sees only that tenant."""
    mine, other = world.tenant(), world.tenant()
    owner = world.actor(Role.merchant_owner, mine)
    email = f"viewer-{uuid.uuid4().hex[:8]}@example.com"
    answer = client.post(
        "/api/v1/users",
        json={
            "email": email,
            "name": "Shop Viewer",
            "password": "a long enough password",
            "role": "merchant_viewer",
            "tenant": mine.slug,
        },
        headers=owner.headers,
    )
    assert answer.status_code == 201, answer.text
    created = answer.json()
    assert created["email"] == email
    assert created["role"] == "merchant_viewer"
    assert not {"password", "password_hash"} & created.keys()

    signed_in = sign_in(client, email, "a long enough password")
    assert signed_in.status_code == 200, signed_in.text
    headers = bearer(signed_in.json()["access_token"])
    me = client.get("/api/v1/me", headers=headers).json()
    assert [(t["tenant"], t["role"]) for t in me["tenants"]] == [(mine.slug, "merchant_viewer")]
    listed = client.get("/api/v1/tenants", headers=headers).json()["items"]
    assert [t["slug"] for t in listed] == [mine.slug]
    assert client.get(f"/api/v1/tenants/{other.slug}", headers=headers).status_code == 404


def test_merchant_owner_cannot_invite_elsewhere_or_above_viewer(
    world: World, client: TestClient
) -> None:
    """An owner may not create users in another tenant, nor owners in its own."""
    mine, other = world.tenant(), world.tenant()
    owner = world.actor(Role.merchant_owner, mine)
    base = {"name": "X", "password": "a long enough password"}
    elsewhere = client.post(
        "/api/v1/users",
        json={**base, "email": "a@example.com", "role": "merchant_viewer", "tenant": other.slug},
        headers=owner.headers,
    )
    assert elsewhere.status_code == 422
    assert elsewhere.json()["type"].endswith("/unknown-tenant")
    promoted = client.post(
        "/api/v1/users",
        json={**base, "email": "b@example.com", "role": "merchant_owner", "tenant": mine.slug},
        headers=owner.headers,
    )
    assert promoted.status_code == 403
    for email in ("a@example.com", "b@example.com"):
        assert sign_in(client, email, "a long enough password").status_code == 401


def test_short_password_is_a_validation_problem(world: World, client: TestClient) -> None:
    """A password under the minimum length is a 422 problem naming the field."""
    mine = world.tenant()
    owner = world.actor(Role.merchant_owner, mine)
    answer = client.post(
        "/api/v1/users",
        json={
            "email": f"short-{uuid.uuid4().hex[:8]}@example.com",
            "name": "Short",
            "password": "short",
            "role": "merchant_viewer",
            "tenant": mine.slug,
        },
        headers=owner.headers,
    )
    assert answer.status_code == 422
    assert answer.headers["content-type"].startswith("application/problem+json")
    body = answer.json()
    assert body["type"].endswith("/validation-error")
    assert ["body", "password"] in [e["loc"] for e in body["errors"]]
