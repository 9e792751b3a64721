"""An agent's conversation list against a bare endpoint, side by side in one run.

One merchant with ``--conversations`` conversations (default 20,000; Core inserts, each with a
contact and an inbound message), an agent (cs_agent) signed in with an API key. Then, each the
best of ``--repeat`` runs of ``--requests`` requests after one warm-up, in process through
Starlette's test client:

* **Daiyun**: ``GET /api/v1/tenants/{tenant}/conversations?state=open&limit=50`` (token, tenant
  access, the ORM guard, a page of 50 by id, serialization);
* **bare**: a FastAPI endpoint answering the same 50 rows already in memory as JSON.

The figure of interest is the ratio: what the request's whole path costs over the wire format.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import common

PASSWORD = "bench-inbox-password"


def _seed(tenant_id: uuid.UUID, total: int) -> None:
    from sqlalchemy import insert

    from daiyun.core.db import unit_of_work
    from daiyun.core.ids import new_id
    from daiyun.platform.customer_service.models import Contact, Conversation, Message

    start = datetime.now(UTC) - timedelta(days=30)
    for offset in range(0, total, 5_000):
        contacts, conversations, messages = [], [], []
        for n in range(offset, min(total, offset + 5_000)):
            at = start + timedelta(seconds=n)
            contact_id, conv_id = new_id(), new_id()
            contacts.append(
                {
                    "tenant_id": tenant_id,
                    "id": contact_id,
                    "name": f"Buyer {n}",
                    "created_at": at,
                    "updated_at": at,
                }
            )
            conversations.append(
                {
                    "tenant_id": tenant_id,
                    "id": conv_id,
                    "contact_id": contact_id,
                    "channel": "email",
                    "subject": f"Question {n}",
                    "state": ("open", "pending", "resolved")[n % 3],
                    "priority": "normal",
                    "labels": [],
                    "paused": {},
                    "breaches": [],
                    "last_message_at": at,
                    "queued_at": at,
                    "created_at": at,
                    "updated_at": at,
                }
            )
            messages.append(
                {
                    "tenant_id": tenant_id,
                    "id": new_id(),
                    "conversation_id": conv_id,
                    "kind": "inbound",
                    "body": "Where is my parcel?",
                    "delivery": "none",
                    "attachments": [],
                    "created_at": at,
                }
            )
        with unit_of_work(tenant_id) as session:
            session.execute(insert(Contact), contacts)
            session.execute(insert(Conversation), conversations)
            session.execute(insert(Message), messages)


def _agent(tenant_id: uuid.UUID) -> str:
    from daiyun.core.db import unit_of_work
    from daiyun.tenants.auth import service as auth_service
    from daiyun.tenants.auth.permissions import Role
    from daiyun.tenants.auth.schemas import UserCreate
    from daiyun.tenants.auth.users import create_user
    from daiyun.tenants.models import Membership

    with unit_of_work() as session:
        user = create_user(
            session,
            UserCreate(
                email=f"agent-{uuid.uuid4().hex[:8]}@bench.example",
                name="Bench agent",
                password=PASSWORD,
                role=Role.cs_agent,
            ),
            None,
        )
    with unit_of_work(tenant_id) as session:
        session.add(Membership(user_id=user.id, role=Role.cs_agent))
    with unit_of_work() as session:
        _key, secret = auth_service.create_api_key(session, user.id, "bench")
    return str(secret)


def _timed(call: Any, requests: int, repeat: int) -> float:
    call()  # warm-up
    best = float("inf")
    for _ in range(repeat):
        started = time.perf_counter()
        for _ in range(requests):
            call()
        best = min(best, time.perf_counter() - started)
    return requests / best


def measure(backend: str, args: argparse.Namespace, workdir: Path) -> None:
    from fastapi import FastAPI
    from fastapi.testclient import TestClient
    from sqlalchemy import select

    from daiyun.app import create_app
    from daiyun.core.db import unit_of_work
    from daiyun.tenants.models import Tenant

    with common.database(backend, workdir, args.postgres_url):
        tenant_id = common.new_tenant("inbox")
        _seed(tenant_id, args.conversations)
        token = _agent(tenant_id)
        with unit_of_work() as session:
            slug = session.scalar(select(Tenant.slug).where(Tenant.id == tenant_id))
        app = TestClient(create_app())
        url = f"/api/v1/tenants/{slug}/conversations"
        headers = {"Authorization": f"Bearer {token}"}
        page = app.get(url, headers=headers, params={"state": "open", "limit": 50})
        assert page.status_code == 200, page.text
        rows = page.json()["items"]
        assert len(rows) == 50
        bare_app = FastAPI()

        @bare_app.get("/conversations")
        def bare() -> dict[str, Any]:
            return {"items": rows, "next_cursor": None}

        bare_client = TestClient(bare_app)
        daiyun_rate = _timed(
            lambda: app.get(url, headers=headers, params={"state": "open", "limit": 50}),
            args.requests,
            args.repeat,
        )
        bare_rate = _timed(lambda: bare_client.get("/conversations"), args.requests, args.repeat)
        common.print_table(
            f"{backend}: inbox list, {args.conversations:,} conversations",
            ["bare req/s", "Daiyun req/s", "Daiyun / bare"],
            [[f"{bare_rate:,.0f}", f"{daiyun_rate:,.0f}", common.ratio(daiyun_rate, bare_rate)]],
        )


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    common.add_database_arguments(parser)
    parser.add_argument("--conversations", type=int, default=20_000)
    parser.add_argument("--requests", type=int, default=200)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args(argv)
    common.exit_on_sigterm()
    with tempfile.TemporaryDirectory(prefix="daiyun-bench-") as tmp:
        workdir = Path(tmp)
        os.environ["DAIYUN_LOG_LEVEL"] = "WARNING"
        common.prepare_environment(workdir)
        for backend in common.backends(args.database):
            measure(backend, args, workdir)
    sys.stdout.flush()


if __name__ == "__main__":
    main()
