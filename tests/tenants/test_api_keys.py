"""What an API key may not do, and what the token answer tells caches (SECURITY 30, 31)."""

from __future__ import annotations

from fastapi.testclient import TestClient

from daiyun.tenants.auth.permissions import Role
from tests.conftest import PASSWORD, World

ME = "/api/v1/me"
KEYS = "/api/v1/me/api-keys"


def _key(client: TestClient, headers: dict[str, str]) -> tuple[str, str]:
    created = client.post(KEYS, json={"name": "integration"}, headers=headers)
    assert created.status_code == 201, created.text
    return created.json()["id"], created.json()["key"]


def test_the_token_answer_is_not_to_be_cached(world: World, client: TestClient) -> None:
    user = world.user(Role.cs_agent)
    answer = client.post("/api/v1/auth/token", data={"username": user.email, "password": PASSWORD})
    assert answer.status_code == 200
    assert answer.headers["cache-control"] == "no-store"
    assert answer.headers["pragma"] == "no-cache"


def test_an_api_key_cannot_create_api_keys(world: World, client: TestClient) -> None:
    actor = world.actor(Role.account_manager)
    key_id, key = _key(client, actor.headers)
    as_key = {"Authorization": f"Bearer {key}"}
    refused = client.post(KEYS, json={"name": "offspring"}, headers=as_key)
    assert refused.status_code == 403
    assert refused.headers["content-type"] == "application/problem+json"
    assert refused.json()["type"].endswith("/api-key-not-allowed")
    # Nothing was created: the one key is still the only one.
    assert [k["id"] for k in client.get(KEYS, headers=actor.headers).json()] == [key_id]
    # The key itself still works for what it may do, and a signed-in session still creates keys.
    assert client.get(ME, headers=as_key).status_code == 200
    _key(client, actor.headers)


def test_logout_with_an_api_key_says_how_to_revoke_it_and_revokes_nothing(
    world: World, client: TestClient
) -> None:
    actor = world.actor(Role.cs_agent)
    key_id, key = _key(client, actor.headers)
    as_key = {"Authorization": f"Bearer {key}"}
    refused = client.post("/api/v1/auth/logout", headers=as_key)
    assert refused.status_code == 400
    assert refused.headers["content-type"] == "application/problem+json"
    body = refused.json()
    assert body["type"].endswith("/api-key-logout")
    assert body["api_key_id"] == key_id
    assert f"DELETE /api/v1/me/api-keys/{key_id}" in body["detail"]
    # Nothing changed: the key works and is not marked revoked.
    assert client.get(ME, headers=as_key).status_code == 200
    listed = client.get(KEYS, headers=actor.headers).json()
    assert [(k["id"], k["revoked_at"]) for k in listed] == [(key_id, None)]
    # The way the answer names does revoke it.
    assert client.delete(f"{KEYS}/{key_id}", headers=actor.headers).status_code == 204
    assert client.get(ME, headers=as_key).status_code == 401


def test_logout_with_an_access_token_still_revokes_it(world: World, client: TestClient) -> None:
    actor = world.actor(Role.cs_agent)
    assert client.post("/api/v1/auth/logout", headers=actor.headers).status_code == 204
    assert client.get(ME, headers=actor.headers).status_code == 401


def test_openapi_declares_the_refusals(client: TestClient) -> None:
    paths = client.get("/api/v1/openapi.json").json()["paths"]
    assert "400" in paths["/api/v1/auth/logout"]["post"]["responses"]
    assert "403" in paths["/api/v1/me/api-keys"]["post"]["responses"]
    token = paths["/api/v1/auth/token"]["post"]["responses"]
    assert "Retry-After" in token["429"]["headers"]
