"""The HTTP contract every client relies on: problem+json errors, body limits, idempotent
creates, cursor pagination, health and metrics, request ids, masked logs and the audit log."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import structlog
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import Uuid, bindparam, create_engine, func, select, text
from sqlalchemy.engine import Connection
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session

import daiyun.app as app_module
from daiyun.app import create_app
from daiyun.core import db
from daiyun.core.config import get_settings
from daiyun.core.observability import configure_logging, mask_pii
from daiyun.core.tasks import celery_app
from daiyun.tenants.auth.permissions import Role
from daiyun.tenants.models import Tenant
from tests.conftest import Actor, World

PROBLEM = "application/problem+json"


def tenant_body(slug: str, **extra: Any) -> dict[str, Any]:
    return {"slug": slug, "display_name": slug.title(), "legal_name": f"{slug} Ltd", **extra}


def assert_problem(answer: httpx.Response, status: int, kind: str | None = None) -> dict[str, Any]:
    """The answer is an RFC 9457 problem of this status (and kind); returns its body."""
    assert answer.status_code == status, answer.text
    assert answer.headers["content-type"].startswith(PROBLEM)
    body: dict[str, Any] = answer.json()
    assert {"type", "title", "status", "detail"} <= body.keys()
    assert body["status"] == status
    assert body["title"] and body["detail"]
    if kind is not None:
        assert body["type"].endswith(f"/{kind}"), body
    return body


def count_tenants(session: Session, slug_prefix: str) -> int:
    found = session.scalar(
        select(func.count()).select_from(Tenant).where(Tenant.slug.startswith(slug_prefix))
    )
    return int(found or 0)


@pytest.fixture
def admin(world: World) -> Actor:
    return world.actor(Role.agency_admin)


@pytest.fixture
def small_body_client(
    monkeypatch: pytest.MonkeyPatch, connection: Connection
) -> Iterator[TestClient]:
    """A fresh app whose body limit is 1 KiB (the limit is read when the app is built)."""
    monkeypatch.setattr(get_settings(), "max_body_bytes", 1024)
    app: FastAPI = create_app()
    with TestClient(app, raise_server_exceptions=False) as small:
        yield small


# --- problem+json everywhere (ARCHITECTURE rule 6) ---------------------------------------


def test_unknown_route_is_a_problem(client: TestClient) -> None:
    """A path that does not exist answers 404 problem+json, not an HTML or plain page."""
    body = assert_problem(client.get("/api/v1/no-such-thing"), 404, "not-found")
    assert body["instance"] == "/api/v1/no-such-thing"


def test_wrong_method_is_a_problem(client: TestClient) -> None:
    """A known path with a method it does not take answers 405 problem+json."""
    answer = client.put("/healthz")
    assert_problem(answer, 405, "method-not-allowed")
    assert "GET" in answer.headers.get("allow", "")


def test_validation_error_names_the_field(client: TestClient, admin: Actor) -> None:
    """Bad input answers 422 with an `errors` list naming each offending field."""
    answer = client.post(
        "/api/v1/tenants",
        json={"slug": "Not A Slug!", "legal_name": "X Ltd"},
        headers=admin.headers,
    )
    body = assert_problem(answer, 422, "validation-error")
    fields = {e["loc"][-1] for e in body["errors"]}
    assert {"slug", "display_name"} <= fields
    assert all(e["msg"] for e in body["errors"])


def test_missing_token_is_a_problem(client: TestClient) -> None:
    """Without a token the answer is 401 problem+json with a Bearer challenge."""
    answer = client.get("/api/v1/me")
    assert_problem(answer, 401, "unauthorized")
    assert answer.headers["www-authenticate"] == "Bearer"


@pytest.mark.parametrize("cursor", ["not-a-cursor", "!!!", "AAAA"])
def test_invalid_cursor_is_a_400(client: TestClient, admin: Actor, cursor: str) -> None:
    """A cursor the API never issued answers 400 invalid-cursor, not a 500."""
    answer = client.get("/api/v1/tenants", params={"cursor": cursor}, headers=admin.headers)
    assert_problem(answer, 400, "invalid-cursor")


# --- request size (SECURITY 24) ----------------------------------------------------------


def test_body_over_limit_with_length_is_413_and_stores_nothing(
    small_body_client: TestClient, admin: Actor, session: Session
) -> None:
    """A declared Content-Length over the limit is refused before anything runs."""
    body = tenant_body("too-big-length", display_name="x" * 2000)
    answer = small_body_client.post("/api/v1/tenants", json=body, headers=admin.headers)
    assert_problem(answer, 413, "payload-too-large")
    assert count_tenants(session, "too-big") == 0


def test_chunked_body_over_limit_is_413_and_stores_nothing(
    small_body_client: TestClient, admin: Actor, session: Session
) -> None:
    """A chunked body without Content-Length cannot slip past the limit."""
    payload = json.dumps(tenant_body("too-big-chunked", display_name="x" * 2000)).encode()

    def chunks() -> Iterator[bytes]:
        for start in range(0, len(payload), 256):
            yield payload[start : start + 256]

    request = small_body_client.build_request(
        "POST",
        "/api/v1/tenants",
        content=chunks(),
        headers={**admin.headers, "content-type": "application/json"},
    )
    assert "content-length" not in request.headers
    assert request.headers["transfer-encoding"] == "chunked"
    answer = small_body_client.send(request)
    assert_problem(answer, 413, "payload-too-large")
    assert count_tenants(session, "too-big") == 0


def test_body_under_limit_still_works(small_body_client: TestClient, admin: Actor) -> None:
    """The limit refuses only what is over it: a small create still succeeds."""
    answer = small_body_client.post(
        "/api/v1/tenants", json=tenant_body("small-enough"), headers=admin.headers
    )
    assert answer.status_code == 201, answer.text


# --- Idempotency-Key ---------------------------------------------------------------------


def test_same_key_same_body_replays_the_first_answer(
    client: TestClient, admin: Actor, session: Session
) -> None:
    """A retried create with the same key returns the same tenant and creates nothing new."""
    headers = {**admin.headers, "Idempotency-Key": "create-acme-1"}
    first = client.post("/api/v1/tenants", json=tenant_body("idem-acme"), headers=headers)
    again = client.post("/api/v1/tenants", json=tenant_body("idem-acme"), headers=headers)
    assert first.status_code == 201, first.text
    assert again.status_code == 201, again.text
    assert again.json() == first.json()
    assert again.headers["idempotent-replayed"] == "true"
    assert "idempotent-replayed" not in first.headers
    assert count_tenants(session, "idem-acme") == 1


def test_same_key_different_body_is_refused(
    client: TestClient, admin: Actor, session: Session
) -> None:
    """Reusing a key for another request is a client bug: 422, and the second is not created."""
    headers = {**admin.headers, "Idempotency-Key": "create-once"}
    first = client.post("/api/v1/tenants", json=tenant_body("idem-one"), headers=headers)
    assert first.status_code == 201, first.text
    answer = client.post("/api/v1/tenants", json=tenant_body("idem-two"), headers=headers)
    assert_problem(answer, 422, "idempotency-key-reused")
    assert count_tenants(session, "idem-two") == 0


def test_without_a_key_each_post_creates(
    client: TestClient, admin: Actor, session: Session
) -> None:
    """No key: two creates make two tenants; the same slug twice is a 409 slug-taken."""
    one = client.post("/api/v1/tenants", json=tenant_body("nokey-one"), headers=admin.headers)
    two = client.post("/api/v1/tenants", json=tenant_body("nokey-two"), headers=admin.headers)
    assert one.status_code == two.status_code == 201
    assert one.json()["id"] != two.json()["id"]
    again = client.post("/api/v1/tenants", json=tenant_body("nokey-one"), headers=admin.headers)
    assert_problem(again, 409, "slug-taken")
    assert count_tenants(session, "nokey-") == 2


# --- cursor pagination -------------------------------------------------------------------


def test_cursor_pagination_visits_every_tenant_once(
    client: TestClient, world: World, admin: Actor
) -> None:
    """Paging with limit=3 returns every tenant exactly once and ends with a null cursor."""
    created = {world.tenant(f"page-{n}").slug for n in range(7)}
    seen: list[str] = []
    cursor: str | None = None
    # Other tests may have committed tenants of their own: bound the walk by the real total.
    with db.unit_of_work() as session:
        total = session.scalar(select(func.count()).select_from(Tenant)) or 0
    for _ in range(total // 3 + 2):
        params: dict[str, Any] = {"limit": 3}
        if cursor:
            params["cursor"] = cursor
        answer = client.get("/api/v1/tenants", params=params, headers=admin.headers)
        assert answer.status_code == 200, answer.text
        page = answer.json()
        assert len(page["items"]) <= 3
        seen += [t["slug"] for t in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert cursor is None
    assert len(seen) == len(set(seen)), "a tenant appeared on two pages"
    assert created <= set(seen), "a tenant was skipped"
    assert len(seen) >= 7


# --- health, readiness, metrics ----------------------------------------------------------


def test_healthz(client: TestClient) -> None:
    """Liveness answers 200 without touching dependencies."""
    answer = client.get("/healthz")
    assert answer.status_code == 200
    assert answer.json() == {"status": "ok"}


def test_readyz_reports_database_and_broker(
    client: TestClient, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """Readiness is 200 when the database and the embedded SQLite broker both answer."""
    # The default broker is sqla+sqlite:///var/broker.sqlite, relative to the working
    # directory; a file of our own keeps the test independent of where pytest runs.
    monkeypatch.setitem(celery_app.conf, "broker_url", f"sqla+sqlite:///{tmp_path}/broker.sqlite")
    answer = client.get("/readyz")
    assert answer.status_code == 200, answer.text
    assert answer.json() == {"status": "ok", "database": "ok", "broker": "ok"}


def test_readyz_is_503_when_the_database_is_down(
    client: TestClient, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """With the database unreachable, readiness is a 503 problem naming the failed check."""
    monkeypatch.setitem(celery_app.conf, "broker_url", f"sqla+sqlite:///{tmp_path}/broker.sqlite")
    down = create_engine(
        "postgresql+psycopg://nobody@127.0.0.1:1/none", connect_args={"connect_timeout": 1}
    )
    monkeypatch.setattr(app_module, "get_engine", lambda: down)
    try:
        body = assert_problem(client.get("/readyz"), 503, "not-ready")
    finally:
        down.dispose()
    assert body["checks"]["database"] != "ok"
    assert body["checks"]["broker"] == "ok"


def test_readyz_is_503_when_the_broker_is_unreachable(
    client: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A broker database that cannot be opened makes readiness fail, not pass silently."""
    monkeypatch.setitem(
        celery_app.conf, "broker_url", "sqla+sqlite:////nonexistent-dir/nope/broker.sqlite"
    )
    body = assert_problem(client.get("/readyz"), 503, "not-ready")
    assert body["checks"]["database"] == "ok"
    assert body["checks"]["broker"] != "ok"


def test_metrics_count_requests_by_route_template(client: TestClient, admin: Actor) -> None:
    """Prometheus sees request counts labelled with the route template, not the raw path."""
    client.get("/healthz")
    client.get("/api/v1/tenants/some-slug", headers=admin.headers)
    answer = client.get("/metrics")
    assert answer.status_code == 200
    assert answer.headers["content-type"].startswith("text/plain")
    metrics = answer.text
    assert "daiyun_http_requests_total" in metrics
    assert re.search(
        r'daiyun_http_requests_total\{method="GET",route="/healthz",status="200"\} [1-9]', metrics
    )
    # The label is the template (bounded cardinality); FastAPI 0.165 reports it without the
    # /api/v1 prefix of the including router.
    assert re.search(r'route="(/api/v1)?/tenants/\{tenant\}"', metrics)
    assert "some-slug" not in metrics


# --- request ids -------------------------------------------------------------------------


def test_request_id_is_echoed(client: TestClient) -> None:
    """A caller's X-Request-ID comes back unchanged, on errors too."""
    assert client.get("/healthz", headers={"X-Request-ID": "req-42.a_b"}).headers[
        "x-request-id"
    ] == ("req-42.a_b")
    missing = client.get("/nowhere", headers={"X-Request-ID": "trace-404"})
    assert missing.status_code == 404
    assert missing.headers["x-request-id"] == "trace-404"


def test_request_id_is_generated_when_absent_or_unsafe(client: TestClient) -> None:
    """Without a usable id the server makes a fresh one per request."""
    first = client.get("/healthz").headers["x-request-id"]
    second = client.get("/healthz").headers["x-request-id"]
    assert re.fullmatch(r"[0-9a-f]{32}", first)
    assert first != second
    unsafe = client.get("/healthz", headers={"X-Request-ID": "bad id\twith spaces"})
    assert re.fullmatch(r"[0-9a-f]{32}", unsafe.headers["x-request-id"])


# --- logs mask personal data -------------------------------------------------------------


def test_mask_pii_masks_personal_data_and_drops_secrets() -> None:
    """E-mail addresses and phone numbers are masked, secrets dropped, ids kept intact."""
    event = mask_pii(
        None,
        "info",
        {
            "event": "invited alice.smith@example.com",
            "email": "alice.smith@example.com",
            "phone": "+86 138 0013 8000",
            "password": "hunter2-hunter2",
            "api_key": "dyk_secret",
            "note": "call 13800138000 or mail bob@example.org",
            "request_id": "req-1",
            "user_id": "0192d4e5-1234-7abc-8def-0123456789ab",
            "tenant_id": "0192d4e5-1234-7abc-8def-0123456789ab",
        },
    )
    flat = json.dumps(event)
    for secret in ("alice.smith", "13800138000", "138 0013 8000", "hunter2", "dyk_secret", "bob@"):
        assert secret not in flat
    assert event["event"] == "invited a***@example.com"
    assert event["password"] == event["api_key"] == "[redacted]"
    assert event["note"] == "call 138****00 or mail b***@example.org"
    assert event["request_id"] == "req-1"
    assert event["user_id"] == "0192d4e5-1234-7abc-8def-0123456789ab"
    assert event["tenant_id"] == "0192d4e5-1234-7abc-8def-0123456789ab"


def test_logged_lines_are_masked(capsys: pytest.CaptureFixture[str]) -> None:
    """What actually reaches the log output carries no e-mail, phone or password."""
    saved = structlog.get_config()
    try:
        configure_logging("INFO", json=True)
        structlog.get_logger("test").info(
            "sign-in by carol@example.com", phone="13912345678", password="pw-1234567890"
        )
        line = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    finally:
        structlog.configure(**saved)
    assert line["event"] == "sign-in by c***@example.com"
    assert line["password"] == "[redacted]"
    assert "13912345678" not in json.dumps(line)


# --- audit log ---------------------------------------------------------------------------


def test_audit_log_records_who_did_what(client: TestClient, world: World, admin: Actor) -> None:
    """Creating a tenant and adding a member leave entries an agency admin can read."""
    created = client.post("/api/v1/tenants", json=tenant_body("audited"), headers=admin.headers)
    assert created.status_code == 201, created.text
    staff = world.user(Role.cs_agent)
    added = client.post(
        "/api/v1/tenants/audited/members",
        json={"user_id": str(staff.id), "role": "cs_agent"},
        headers={**admin.headers, "X-Request-ID": "audit-trace-1"},
    )
    assert added.status_code == 201, added.text

    answer = client.get("/api/v1/tenants/audited/audit", headers=admin.headers)
    assert answer.status_code == 200, answer.text
    entries = {e["action"]: e for e in answer.json()["items"]}
    assert {"tenant.created", "member.added"} <= entries.keys()
    tenant_created, member_added = entries["tenant.created"], entries["member.added"]
    assert tenant_created["actor_id"] == member_added["actor_id"] == str(admin.user.id)
    assert tenant_created["target"] == "tenant:audited"
    assert tenant_created["changes"]["display_name"] == "Audited"
    assert member_added["target"] == f"user:{staff.id}"
    assert member_added["changes"] == {"role": "cs_agent"}
    assert member_added["request_id"] == "audit-trace-1"


def test_audit_log_is_for_agency_admins_only(client: TestClient, world: World) -> None:
    """A merchant owner may not read its own tenant's audit log."""
    tenant = world.tenant()
    owner = world.actor(Role.merchant_owner, tenant)
    answer = client.get(f"/api/v1/tenants/{tenant.slug}/audit", headers=owner.headers)
    assert_problem(answer, 403, "forbidden")


@pytest.mark.parametrize(
    "statement",
    ["update audit_log set action = 'tampered'", "delete from audit_log"],
)
def test_audit_log_rows_cannot_be_changed(
    world: World, connection: Connection, statement: str
) -> None:
    """The audit log is append-only: raw UPDATE and DELETE fail and the rows stay as written."""
    tenant = world.tenant()
    if connection.dialect.name == "postgresql":
        # Row security shows the app role only the bound tenant's entries.
        connection.execute(
            text("select set_config('app.tenant_id', :t, true)"), {"t": str(tenant.id)}
        )
    read = text("select id, action from audit_log where tenant_id = :t order by id").bindparams(
        bindparam("t", type_=Uuid())
    )
    before = [tuple(row) for row in connection.execute(read, {"t": tenant.id}).all()]
    assert before, "creating a tenant should have written an audit entry"
    with pytest.raises(DBAPIError) as failure, connection.begin_nested():
        connection.execute(text(statement))
    assert re.search(r"append-only|permission denied", str(failure.value))
    after = [tuple(row) for row in connection.execute(read, {"t": tenant.id}).all()]
    assert after == before
