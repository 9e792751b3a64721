"""The API's document tells clients every refusal an operation gives, as problem+json."""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient

from daiyun.tenants.auth.permissions import Role
from tests.conftest import World

PROBLEM = {"application/problem+json": {"schema": {"$ref": "#/components/schemas/Problem"}}}


def _document(client: TestClient) -> dict[str, Any]:
    answer = client.get("/api/v1/openapi.json")
    assert answer.status_code == 200
    return answer.json()


def test_every_refusal_in_the_document_is_a_problem(client: TestClient) -> None:
    document = _document(client)
    assert "HTTPValidationError" not in document["components"]["schemas"]
    refusals = 0
    for path, operations in document["paths"].items():
        for method, operation in operations.items():
            for code, response in operation["responses"].items():
                if int(code) >= 400:
                    refusals += 1
                    assert response["content"] == PROBLEM, (method, path, code)
    assert refusals > 100


def test_refusals_follow_from_each_operations_shape(client: TestClient) -> None:
    paths = _document(client)["paths"]
    listing = paths["/api/v1/tenants/{tenant}/orders"]["get"]["responses"]
    # Signed-in callers (401, 403), a path naming a tenant (404), a cursor and datetime filters
    # (400), query parameters (422); no body, so no 413.
    assert {"400", "401", "403", "404", "422"} <= set(listing)
    assert "413" not in listing
    creating = paths["/api/v1/tenants"]["post"]["responses"]
    assert {"400", "409", "413", "422"} <= set(creating)  # a body and an Idempotency-Key
    assert {"401", "403"}.isdisjoint(paths["/healthz"]["get"]["responses"])


def _number_schemas(node: Any) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = []
    if isinstance(node, dict):
        if node.get("type") in ("integer", "number"):
            found.append(node)
        for value in node.values():
            found += _number_schemas(value)
    elif isinstance(node, list):
        for value in node:
            found += _number_schemas(value)
    return found


def test_every_bound_is_written_as_json_schema_says(world: World, client: TestClient) -> None:
    # A bound the document leaves out is one a client cannot know: an agent's capacity of -1 must
    # be shown refused in the document, as the API refuses it.
    document = _document(client)
    numbers = _number_schemas(document)
    assert numbers
    assert all({"ge", "le", "gt", "lt"}.isdisjoint(schema) for schema in numbers)
    capacity = document["components"]["schemas"]["AgentUpdate"]["properties"]["capacity"]
    assert {"type": "integer", "minimum": 0, "maximum": 500} in capacity["anyOf"]
    tenant = world.tenant()
    admin = world.actor(Role.agency_admin)
    answer = client.put(
        f"/api/v1/tenants/{tenant.slug}/agents/{admin.user.id}",
        json={"capacity": -1},
        headers=admin.headers,
    )
    assert answer.status_code == 422
    assert answer.json()["errors"][0]["loc"] == ["body", "capacity"]


def test_a_method_the_path_does_not_allow_names_all_it_does(
    world: World, client: TestClient
) -> None:
    admin = world.actor(Role.agency_admin)
    answer = client.request("OPTIONS", "/api/v1/tenants", headers=admin.headers)
    assert answer.status_code == 405
    assert answer.headers["content-type"] == "application/problem+json"
    # Two routes serve /tenants (GET lists, POST creates): the answer names both.
    assert set(answer.headers["allow"].split(", ")) == {"GET", "POST"}


def test_an_id_that_cannot_be_one_names_nothing(world: World, client: TestClient) -> None:
    tenant = world.tenant()
    actor = world.actor(Role.account_manager, tenant)
    answer = client.get(f"/api/v1/tenants/{tenant.slug}/orders/null", headers=actor.headers)
    assert answer.status_code == 404
    assert answer.json()["type"].endswith("/not-found")
    # Outside the caller's tenants the answer is the same 404 as for any id.
    other = world.tenant()
    elsewhere = client.get(f"/api/v1/tenants/{other.slug}/orders/null", headers=actor.headers)
    assert elsewhere.status_code == 404


def test_a_datetime_filter_is_written_out_not_a_number(world: World, client: TestClient) -> None:
    tenant = world.tenant()
    actor = world.actor(Role.account_manager, tenant)
    base = f"/api/v1/tenants/{tenant.slug}/orders"
    for number in ("0.5", "1700000000"):
        answer = client.get(base, params={"placed_from": number}, headers=actor.headers)
        assert answer.status_code == 422, answer.text
        assert answer.json()["errors"][0]["loc"] == ["query", "placed_from"]
    iso = {"placed_from": "2026-10-01T00:00:00Z"}
    written = client.get(base, params=iso, headers=actor.headers)
    assert written.status_code == 200
