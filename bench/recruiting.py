"""Recruiting's duplicate lookup and candidate search against the raw SQL behind them.

One merchant with ``--candidates`` candidates (default 200,000; Core inserts, each with an
e-mail key and an E.164 phone, as the careers form stores them). Then, each the best of
``--repeat`` runs of ``--lookups`` operations after one warm-up, in one unit of work:

* **duplicate lookup**: ``service.lookup`` (an applicant's e-mail and phone put in their
  matching forms, the candidate by e-mail key and the one by phone, merged ones followed, the
  rule applied) against the two indexed ``SELECT``s it stands on, on the same connection;
* **search**: ``service.find_candidates`` with a phone fragment (a page of 50, live candidates,
  name, e-mail key or phone containing it) against the same ``LIKE`` query written by hand.

The goal: Daiyun within 2x of the raw SQL.
"""

from __future__ import annotations

import argparse
import os
import random
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import common

GOAL = 2.0


def _seed(tenant_id: uuid.UUID, total: int) -> None:
    from sqlalchemy import insert

    from daiyun.core.db import unit_of_work
    from daiyun.core.ids import new_id
    from daiyun.platform.recruiting.models import Candidate

    start = datetime.now(UTC) - timedelta(days=365)
    for offset in range(0, total, 10_000):
        rows = []
        for n in range(offset, min(total, offset + 10_000)):
            at = start + timedelta(seconds=n)
            rows.append(
                {
                    "tenant_id": tenant_id,
                    "id": new_id(),
                    "name": f"候选人 {n}",
                    "email": f"person.{n}@example.com",
                    "email_key": f"person.{n}@example.com",
                    "phone": f"+86139{n:08d}",
                    "source": "careers",
                    "created_at": at,
                    "updated_at": at,
                }
            )
        with unit_of_work(tenant_id) as session:
            session.execute(insert(Candidate), rows)


def _best(call: Callable[[int], object], count: int, repeat: int) -> float:
    """Operations per second, the best of ``repeat`` runs of ``count``."""
    call(0)  # warm-up
    best = float("inf")
    for _ in range(repeat):
        started = time.perf_counter()
        for n in range(count):
            call(n)
        best = min(best, time.perf_counter() - started)
    return count / best


def measure(backend: str, args: argparse.Namespace, workdir: Path) -> list[list[str]]:
    from sqlalchemy import Uuid, bindparam, text

    from daiyun.core.db import unit_of_work
    from daiyun.platform.recruiting import service

    rows: list[list[str]] = []
    with common.database(backend, workdir, args.postgres_url):
        tenant_id = common.new_tenant("recruiting")
        with common.Stopwatch() as seeding:
            _seed(tenant_id, args.candidates)
        print(f"[{backend}] {args.candidates:,} candidates in {seeding.seconds:.1f} s", flush=True)
        picks = random.Random(7).sample(range(args.candidates), args.lookups)
        one = text(
            "select id, email_key, merged_into_id from rc_candidates"
            " where tenant_id = :t and {column} = :v order by created_at limit 1"
        )
        tenant = bindparam("t", type_=Uuid())  # stored as each database stores a UUID
        by_email = text(str(one).format(column="email_key")).bindparams(tenant)
        by_phone = text(str(one).format(column="phone")).bindparams(tenant)
        search = text(
            "select * from rc_candidates where tenant_id = :t and merged_into_id is null"
            " and (lower(name) like :q or email_key like :q or phone like :p)"
            " order by id limit 51"
        ).bindparams(tenant)
        with unit_of_work(tenant_id) as session:

            def daiyun_lookup(n: int) -> object:
                k = picks[n]
                # The spellings an applicant types: the form folds them before looking.
                return service.lookup(session, f"Person.{k}@Example.com", f"139 {k:08d}")

            def raw_lookup(n: int) -> object:
                k = picks[n]
                first = session.execute(by_email, {"t": tenant_id, "v": f"person.{k}@example.com"})
                second = session.execute(by_phone, {"t": tenant_id, "v": f"+86139{k:08d}"})
                return first.first(), second.first()

            def daiyun_search(n: int) -> object:
                return service.find_candidates(session, f"{picks[n]:08d}"[:6], None, 50)

            def raw_search(n: int) -> object:
                q = f"{picks[n]:08d}"[:6]
                params = {"t": tenant_id, "q": f"%{q}%", "p": f"%{q}%"}
                return session.execute(search, params).all()

            assert service.lookup(session, "person.1@example.com", None).same is not None
            for label, mine, raw, count in (
                ("duplicate lookup", daiyun_lookup, raw_lookup, args.lookups),
                ("search (page of 50)", daiyun_search, raw_search, args.searches),
            ):
                ours = _best(mine, count, args.repeat)
                bare = _best(raw, count, args.repeat)
                rows.append(
                    [
                        f"{backend}: {label}",
                        f"{bare:,.0f}",
                        f"{ours:,.0f}",
                        f"{bare / ours:.2f}x",
                        common.verdict(bare / ours <= GOAL),
                    ]
                )
            session.rollback()
    return rows


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    common.add_database_arguments(parser)
    parser.add_argument("--candidates", type=int, default=200_000)
    parser.add_argument("--lookups", type=int, default=500)
    parser.add_argument("--searches", type=int, default=20)
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
        f"Recruiting among {args.candidates:,} candidates ({common.machine()})",
        ["operation", "raw SQL ops/s", "Daiyun ops/s", "Daiyun time / raw", f"goal {GOAL:.0f}x"],
        rows,
    )
    sys.stdout.flush()


if __name__ == "__main__":
    main()
