"""An agent's inbox page and the SLA sweep against the raw SQL behind them.

Two merchants, seeded with Core inserts in batches (as ``bench/inbox.py`` does):

* the **desk**: ``--conversations`` conversations (default 100,000; each with its contact) of
  ``--messages-per-conversation`` messages (default 10: 1,000,000 in all), spread over
  ``--agents`` agents and the unassigned queue, and over the four states (open, pending,
  snoozed, resolved);
* the **overdue**: ``--due`` open conversations (default 100,000) under one SLA policy, their
  first-response time past and no breach recorded yet.

Then, each the best of ``--repeat`` runs after one warm-up:

* **inbox page**: ``service.find_conversations`` in its own ``unit_of_work(tenant)``, as a
  request serves it, a page of 50 in id order: an agent's open conversations
  (``Filters(state=open, assignee_id=agent)``, the agents in turn: the filters name one state,
  none "unresolved") and the queue (``Filters(state=open, unassigned=True)``), the first page
  ``--pages`` times a run, against the same ``SELECT ... ORDER BY id LIMIT 51`` written by
  hand, in its own transaction on the same engine (with the tenant setting row security reads
  on PostgreSQL). The ids are checked equal;
* **SLA sweep**: ``clocks.sweep`` in one ``unit_of_work(tenant)`` against one hand-written
  ``UPDATE`` appending ``first_response`` to ``breaches`` where the sweep would (open or snoozed,
  due before now, not already recorded), taking turns, each run on the same data: the breaches
  are reset before every run (then PostgreSQL's table vacuumed, SQLite's WAL checkpointed), and
  the breached sets checked equal.

The goal: Daiyun within 2x of the raw SQL.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import common

GOAL = 2.0
STATES = ("open", "pending", "snoozed", "resolved")
BATCH = 2_000  # conversations per unit of work while seeding
PAGE = 50
PASSWORD = "bench-desk-password"


def _agents(count: int) -> list[uuid.UUID]:
    from daiyun.core.db import unit_of_work
    from daiyun.tenants.auth.permissions import Role
    from daiyun.tenants.auth.schemas import UserCreate
    from daiyun.tenants.auth.users import create_user

    found = []
    with unit_of_work() as session:
        for n in range(count):
            email = f"agent{n}-{uuid.uuid4().hex[:8]}@bench.example"
            data = UserCreate(email=email, name=f"Agent {n}", password=PASSWORD, role=Role.cs_agent)
            found.append(create_user(session, data, None).id)
    return found


def _conversation(tenant_id: uuid.UUID, contact_id: uuid.UUID, at: datetime) -> dict[str, Any]:
    from daiyun.core.ids import new_id

    return {
        "tenant_id": tenant_id,
        "id": new_id(),
        "contact_id": contact_id,
        "channel": "email",
        "subject": "Where is my parcel?",
        "state": "open",
        "priority": "normal",
        "labels": [],
        "paused": {},
        "breaches": [],
        "assignee_id": None,
        "queued_at": None,
        "resolved_at": None,
        "snoozed_until": None,
        "sla_policy_id": None,
        "first_response_due": None,
        "resolution_due": None,
        "last_message_at": at,
        "created_at": at,
        "updated_at": at,
    }


def _seed(
    tenant_id: uuid.UUID,
    total: int,
    start: datetime,
    step: timedelta,
    shape: Callable[[int, dict[str, Any]], None],
    messages: int = 0,
) -> None:
    """``total`` conversations ``step`` apart from ``start`` (``shape`` fills in each), a contact
    each, ``messages`` each."""
    from sqlalchemy import insert

    from daiyun.core.db import unit_of_work
    from daiyun.core.ids import new_id
    from daiyun.platform.customer_service.models import Contact, Conversation, Message

    for offset in range(0, total, BATCH):
        contacts, conversations, lines = [], [], []
        for n in range(offset, min(total, offset + BATCH)):
            at = start + step * n
            contact_id = new_id()
            contacts.append(
                {
                    "tenant_id": tenant_id,
                    "id": contact_id,
                    "name": f"Buyer {n}",
                    "created_at": at,
                    "updated_at": at,
                }
            )
            row = _conversation(tenant_id, contact_id, at)
            shape(n, row)
            conversations.append(row)
            for k in range(messages):
                # The buyer asks, an agent answers, now and then a private note.
                kind = "note" if k % 5 == 4 else ("inbound", "outbound")[k % 2]
                lines.append(
                    {
                        "tenant_id": tenant_id,
                        "id": new_id(),
                        "conversation_id": row["id"],
                        "kind": kind,
                        "body": f"Message {k} about order {n}",
                        "author_id": None,
                        "delivery": "sent" if kind == "outbound" else "none",
                        "attachments": [],
                        "created_at": at + timedelta(seconds=2 * k),
                    }
                )
            if messages:
                row["last_message_at"] = at + timedelta(seconds=2 * (messages - 1))
        with unit_of_work(tenant_id) as session:
            session.execute(insert(Contact), contacts)
            session.execute(insert(Conversation), conversations)
            if lines:
                session.execute(insert(Message), lines)


def _desk(n: int, row: dict[str, Any], agents: list[uuid.UUID]) -> None:
    row["state"] = STATES[n % len(STATES)]
    # One slot in len(agents) + 1 is the queue's (unassigned).
    slot = (n // len(STATES)) % (len(agents) + 1)
    row["assignee_id"] = agents[slot] if slot < len(agents) else None
    if row["state"] == "resolved":
        row["resolved_at"] = row["created_at"] + timedelta(hours=2)
    elif row["assignee_id"] is None:
        row["queued_at"] = row["created_at"]
    if row["state"] == "snoozed":
        row["snoozed_until"] = row["created_at"] + timedelta(days=90)


def _tenant_setting(connection: Any, tenant_id: uuid.UUID) -> None:
    """What ``unit_of_work`` sets for row security: the raw SQL needs it as much."""
    from sqlalchemy import text

    if connection.dialect.name == "postgresql":
        connection.execute(
            text("select set_config('app.tenant_id', :t, true)"), {"t": str(tenant_id)}
        )


def _best(call: Callable[[int], object], count: int, repeat: int) -> float:
    """Seconds per call, the best of ``repeat`` runs of ``count`` calls after a warm-up."""
    call(0)
    best = float("inf")
    for _ in range(repeat):
        started = time.perf_counter()
        for n in range(count):
            call(n)
        best = min(best, time.perf_counter() - started)
    return best / count


def _row(label: str, raw: float, ours: float) -> list[str]:
    return [
        label,
        f"{raw * 1000:,.1f} ms",
        f"{ours * 1000:,.1f} ms",
        f"{ours / raw:.2f}x",
        common.verdict(ours / raw <= GOAL),
    ]


def _inbox(backend: str, tenant_id: uuid.UUID, agents: list[uuid.UUID], args: Any) -> list[Any]:
    from sqlalchemy import Uuid, bindparam, text

    from daiyun.core.db import get_engine, unit_of_work
    from daiyun.platform.customer_service import service
    from daiyun.platform.customer_service.models import State

    engine = get_engine()
    tenant, agent = bindparam("t", type_=Uuid()), bindparam("a", type_=Uuid())
    where = {
        "mine": "assignee_id = :a",
        "queue": "assignee_id is null",
    }
    rows = []
    for view, condition in where.items():
        # The service's page: its filters, id order, one row more to know if a next page exists.
        stmt = text(
            f"select * from cs_conversations where tenant_id = :t and {condition}"
            f" and state = 'open' order by id limit {PAGE + 1}"
        ).bindparams(tenant, *([agent] if view == "mine" else []))

        def filters(n: int, view: str = view) -> service.Filters:
            if view == "queue":
                return service.Filters(state=State.open, unassigned=True)
            return service.Filters(state=State.open, assignee_id=agents[n % len(agents)])

        def ours(n: int, filters: Callable[[int], service.Filters] = filters) -> list[uuid.UUID]:
            with unit_of_work(tenant_id) as session:
                page, _next = service.find_conversations(session, filters(n), None, PAGE)
                return [c.id for c in page]

        def raw(n: int, stmt: Any = stmt) -> list[uuid.UUID]:
            with engine.begin() as connection:
                _tenant_setting(connection, tenant_id)
                found = connection.execute(stmt, {"t": tenant_id, "a": agents[n % len(agents)]})
                return [uuid.UUID(str(r.id)) for r in found.all()[:PAGE]]

        for n in range(len(agents)):
            assert ours(n) == raw(n) and len(raw(n)) == PAGE, (view, n)
        bare = _best(raw, args.pages, args.repeat)
        mine = _best(ours, args.pages, args.repeat)
        rows.append(_row(f"{backend}: inbox page, {view} (open)", bare, mine))
    return rows


def _sweep(backend: str, database: common.Database, tenant_id: uuid.UUID, args: Any) -> list[Any]:
    from sqlalchemy import Uuid, bindparam, select, text

    from daiyun.core.db import UTCDateTime, get_engine, make_engine, unit_of_work
    from daiyun.core.ids import utcnow
    from daiyun.platform.customer_service import clocks
    from daiyun.platform.customer_service.models import Conversation

    now = utcnow()
    engine = get_engine()
    owner = make_engine(database.owner_url, isolation_level="AUTOCOMMIT", pool_size=1)
    params = {"t": tenant_id, "now": now}
    binds = (bindparam("t", type_=Uuid()), bindparam("now", type_=UTCDateTime()))
    if backend == "sqlite":
        append = "json_insert(breaches, '$[#]', 'first_response')"
        recorded = "exists (select 1 from json_each(breaches) where value = 'first_response')"
    else:
        append = "(cast(breaches as jsonb) || '[\"first_response\"]'::jsonb)::json"
        recorded = "cast(breaches as jsonb) ? 'first_response'"
    # What the sweep does for the first-response clock (the only one due here), in one statement:
    # the row's ``updated_at`` is stamped as the ORM's onupdate stamps it.
    update = text(
        f"update cs_conversations set breaches = {append}, updated_at = :now"
        " where tenant_id = :t and state in ('open', 'snoozed') and first_response_due < :now"
        f" and not ({recorded})"
    ).bindparams(*binds)
    clear = text("update cs_conversations set breaches = '[]' where tenant_id = :t").bindparams(
        binds[0]
    )

    def reset() -> None:
        with engine.begin() as connection:
            _tenant_setting(connection, tenant_id)
            connection.execute(clear, params)
        # Each run starts from the same table: no dead rows left by the last (PostgreSQL), no
        # checkpoint of the last one's WAL falling into the next (SQLite).
        with owner.connect() as connection:
            if backend == "sqlite":
                connection.exec_driver_sql("pragma wal_checkpoint(truncate)")
            else:
                connection.exec_driver_sql("vacuum analyze cs_conversations")

    def breached() -> set[tuple[uuid.UUID, tuple[str, ...]]]:
        with unit_of_work(tenant_id) as session:
            found = session.execute(select(Conversation.id, Conversation.breaches))
            return {(r.id, tuple(r.breaches)) for r in found if r.breaches}

    def raw() -> int:
        with engine.begin() as connection:
            _tenant_setting(connection, tenant_id)
            return int(connection.execute(update, params).rowcount)

    def ours() -> int:
        with unit_of_work(tenant_id) as session:
            return clocks.sweep(session, now)

    timings: dict[str, float] = {"raw": float("inf"), "ours": float("inf")}
    try:
        for run in range(args.repeat + 1):  # the first is the warm-up
            results = {}
            for name, call in (("raw", raw), ("ours", ours)):
                reset()
                started = time.perf_counter()
                touched = call()
                seconds = time.perf_counter() - started
                if run:
                    timings[name] = min(timings[name], seconds)
                assert touched == args.due, (name, touched)
                results[name] = breached()
            assert results["raw"] == results["ours"], "the sweep and the UPDATE differ"
            assert len(results["raw"]) == args.due
    finally:
        owner.dispose()
    return [_row(f"{backend}: SLA sweep ({args.due:,} due)", timings["raw"], timings["ours"])]


def measure(backend: str, args: argparse.Namespace, workdir: Path) -> list[list[str]]:
    from daiyun.core.db import unit_of_work
    from daiyun.platform.customer_service import service
    from daiyun.platform.customer_service.schemas import SlaPolicyIn

    with common.database(backend, workdir, args.postgres_url) as database:
        desk = common.new_tenant("desk")
        agents = _agents(args.agents)
        with common.Stopwatch() as seeding:
            _seed(
                desk,
                args.conversations,
                datetime.now(UTC) - timedelta(days=40),
                timedelta(seconds=25),
                lambda n, row: _desk(n, row, agents),
                args.messages_per_conversation,
            )
        total = args.conversations * args.messages_per_conversation
        print(
            f"[{backend}] {args.conversations:,} conversations, {total:,} messages"
            f" in {seeding.seconds:.1f} s",
            flush=True,
        )
        rows = _inbox(backend, desk, agents, args)

        overdue = common.new_tenant("overdue")
        with unit_of_work(overdue) as session:
            policy = service.create_policy(
                session,
                SlaPolicyIn(name="Standard", first_response_minutes=60, resolution_minutes=4320),
            ).id

        def due(n: int, row: dict[str, Any]) -> None:
            row["assignee_id"] = agents[n % len(agents)]
            row["sla_policy_id"] = policy
            row["first_response_due"] = row["created_at"] + timedelta(hours=1)
            row["resolution_due"] = row["created_at"] + timedelta(days=3)

        with common.Stopwatch() as seeding:
            # Started between 16 h and 2 h ago (100,000 of them, 0.5 s apart): each first
            # response an hour past due, no resolution due yet (3 days).
            step = timedelta(hours=14) / max(args.due, 1)
            _seed(overdue, args.due, datetime.now(UTC) - timedelta(hours=16), step, due)
        print(f"[{backend}] {args.due:,} overdue conversations in {seeding.seconds:.1f} s")
        rows += _sweep(backend, database, overdue, args)
    return rows


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    common.add_database_arguments(parser)
    parser.add_argument("--conversations", type=int, default=100_000)
    parser.add_argument("--messages-per-conversation", type=int, default=10)
    parser.add_argument("--agents", type=int, default=5)
    parser.add_argument("--due", type=int, default=100_000, help="overdue conversations swept")
    parser.add_argument("--pages", type=int, default=200, help="inbox pages a run")
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args(argv)
    common.exit_on_sigterm()
    rows: list[list[str]] = []
    with tempfile.TemporaryDirectory(prefix="daiyun-bench-") as tmp:
        workdir = Path(tmp)
        os.environ["DAIYUN_LOG_LEVEL"] = "WARNING"
        common.prepare_environment(workdir)
        for backend in common.backends(args.database):
            rows += measure(backend, args, workdir)
    common.print_table(
        f"Service desk: {args.conversations:,} conversations of"
        f" {args.messages_per_conversation} messages, {args.due:,} overdue ({common.machine()})",
        ["operation", "raw SQL", "Daiyun", "Daiyun / raw", f"goal {GOAL:.0f}x"],
        rows,
    )
    sys.stdout.flush()


if __name__ == "__main__":
    main()
