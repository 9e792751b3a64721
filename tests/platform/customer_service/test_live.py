"""Live updates across API processes: a visitor follows their conversation on one process while
the agent answers through another; a visitor who reconnects with the last event's id gets what
was written while they were away, and nothing is lost. Two real ``daiyun api`` processes on one
committed database (SQLite or PostgreSQL under row security)."""

from __future__ import annotations

import json
import threading
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from daiyun.core import db
from daiyun.platform.customer_service import assignment, widget
from daiyun.platform.customer_service.models import AgentStatus
from daiyun.platform.customer_service.schemas import AgentUpdate, WidgetIn
from daiyun.tenants import service as tenant_service
from daiyun.tenants.auth.permissions import Role
from daiyun.tenants.auth.schemas import UserCreate
from daiyun.tenants.auth.users import create_user
from daiyun.tenants.models import Membership
from daiyun.tenants.schemas import TenantCreate
from tests import factories
from tests.conftest import PASSWORD
from tests.conftest import TestDatabase as Database
from tests.portal.browser.live import LiveServer, app_database, committed_database, live_server

SITE = "https://tea-shop.example"
# Streams last long enough that only the test decides when to hang up.
STREAMS = {"DAIYUN_LIVE_STREAM_SECONDS": "30", "DAIYUN_LIVE_TICK_SECONDS": "0.2"}


@dataclass
class Scene:
    first: LiveServer
    second: LiveServer
    key: str
    slug: str
    agent_email: str


@pytest.fixture(scope="module")
def scene(test_database: Database, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Scene]:
    tmp = tmp_path_factory.mktemp("live")
    with committed_database(test_database, "live", tmp) as database:
        with app_database(database.app_url):
            slug = f"live-{uuid.uuid4().hex[:8]}"
            with db.unit_of_work() as session:
                tenant = tenant_service.create_tenant(
                    session, TenantCreate(slug=slug, display_name="Tea", legal_name="Tea Ltd")
                )
                email = f"agent-{uuid.uuid4().hex[:6]}@example.com"
                agent = create_user(
                    session,
                    UserCreate(email=email, name="Agent", password=PASSWORD, role=Role.cs_agent),
                    None,
                )
            shop = factories.shop(tenant.id)
            with db.unit_of_work(tenant.id) as session:
                session.add(Membership(user_id=agent.id, role=Role.cs_agent))
                session.flush()
                assignment.update_agent(
                    session, agent.id, AgentUpdate(capacity=5, status=AgentStatus.online)
                )
                key = widget.create_widget(
                    session, WidgetIn(shop_id=shop.id, allowed_origins=[SITE])
                ).key
        with (
            live_server(database, _dir(tmp, "first"), STREAMS) as first,
            live_server(database, _dir(tmp, "second"), STREAMS) as second,
        ):
            yield Scene(first, second, key, slug, email)


def _dir(parent: Path, name: str) -> Path:
    made = parent / name
    made.mkdir()
    return made


def _events(
    url: str, token: str, last_id: str | None, done: Callable[[list[dict[str, Any]]], bool]
) -> list[dict[str, Any]]:
    """Read the stream until ``done`` holds for what came (or the stream ends)."""
    headers = {"Origin": SITE, **({"Last-Event-ID": last_id} if last_id else {})}
    got: list[dict[str, Any]] = []
    with httpx.stream(
        "GET", url, params={"token": token}, headers=headers, timeout=httpx.Timeout(20.0)
    ) as answer:
        assert answer.status_code == 200, answer.read()
        assert answer.headers["access-control-allow-origin"] == SITE
        event: dict[str, Any] = {}
        for line in answer.iter_lines():
            if line.startswith("id: "):
                event["id"] = line[4:]
            elif line.startswith("data: "):
                event["data"] = json.loads(line[6:])
            elif line == "" and "data" in event:
                got.append(event)
                event = {}
                if done(got):
                    break
    return got


def _bodies(events: list[dict[str, Any]]) -> list[tuple[str, str]]:
    return [(e["data"]["author"], e["data"]["body"]) for e in events]


def test_an_answer_written_on_one_process_reaches_a_visitor_on_another(scene: Scene) -> None:
    base = f"{scene.first.url}/widget/{scene.key}"
    token = httpx.post(f"{base}/visitors", headers={"Origin": SITE}).json()["token"]
    visitor = {"Origin": SITE, "Authorization": f"Bearer {token}"}
    said = httpx.post(
        f"{base}/messages", json={"body": "Hello?", "client_id": uuid.uuid4().hex}, headers=visitor
    )
    assert said.status_code == 201, said.text

    signed = httpx.post(
        f"{scene.second.url}/api/v1/auth/token",
        data={"username": scene.agent_email, "password": PASSWORD},
    )
    agent = {"Authorization": f"Bearer {signed.json()['access_token']}"}
    api = f"{scene.second.url}/api/v1/tenants/{scene.slug}"
    [conv] = httpx.get(f"{api}/conversations", headers=agent).json()["items"]

    def answer(text: str) -> None:
        written = httpx.post(
            f"{api}/conversations/{conv['id']}/messages",
            json={"kind": "outbound", "body": text},
            headers=agent,
        )
        assert written.status_code == 201, written.text

    # The answer is written on the second process while the visitor listens on the first.
    timer = threading.Timer(0.5, answer, args=("We are here",))
    timer.start()
    heard = _events(f"{base}/events", token, None, lambda got: len(got) >= 2)
    timer.join()
    assert _bodies(heard) == [("visitor", "Hello?"), ("agent", "We are here")]

    # Away for a moment: two answers and a private note meanwhile; back with the last id.
    answer("Still there?")
    answer("Your tea ships today")
    note = httpx.post(
        f"{api}/conversations/{conv['id']}/messages",
        json={"kind": "note", "body": "Gave a discount"},
        headers=agent,
    )
    assert note.status_code == 201
    seen = {e["id"] for e in heard}
    back = _events(
        f"{base}/events",
        token,
        heard[-1]["id"],
        lambda got: len([e for e in got if e["id"] not in seen]) >= 2,
    )
    fresh = [e for e in back if e["id"] not in seen]
    assert _bodies(fresh) == [("agent", "Still there?"), ("agent", "Your tea ships today")]
