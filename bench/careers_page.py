"""The public careers pages under load: Daiyun's against a bare endpoint serving the same page.

Serves, each in its own uvicorn process (one worker, the same settings), the real application
and a bare FastAPI app whose two routes answer a fixed HTML page of the same size as Daiyun's
(the merchant's list of openings, a posting with its application form). A merchant has
``--postings`` published postings of open requisitions. Clients fetch the list page and a
posting's form page, ``--threads`` at a time, in ``--rounds`` volleys that take turns between
the servers (the machine's speed drifts; turns expose them alike); requests per second are the
median of the volleys. Goal: Daiyun at least 50% of the bare endpoint.

Daiyun runs twice: as shipped, where a public page is kept rendered for a few seconds and the
next visitors are answered from memory with their own form token (daiyun/portal/page_cache.py),
and with that cache off (``public_page_cache_seconds = 0``), every page rendered afresh.

A careers page rendered afresh is: find the merchant by its slug, bind the request's session to
it (row security), read its open postings (the form page: the posting, its requisition, the
merchant's retention days), sign the form's token, render the template in the visitor's
language.

Run (from the repository root)::

    .venv/bin/python bench/careers_page.py --database both
    .venv/bin/python bench/careers_page.py --database sqlite --requests 300   # a quick look
"""

from __future__ import annotations

import argparse
import os
import tempfile
import threading
import time
from pathlib import Path

import common
import httpx
from webhooks import Load, Server, merged, start_script_server

PAGES = {"list": "", "form": "/{posting}"}


def serve(kind: str, port: int, slug: str, posting: str) -> None:
    import uvicorn
    from fastapi import FastAPI
    from fastapi.responses import HTMLResponse

    if kind in ("daiyun", "fresh"):
        from daiyun.app import create_app

        app = create_app()
    else:
        # The floor: the same bytes, from memory.
        pages = {name: Path(os.environ[f"BENCH_PAGE_{name.upper()}"]).read_text() for name in PAGES}
        app = FastAPI()

        @app.get("/careers/{tenant}")
        def listing(tenant: str) -> HTMLResponse:
            return HTMLResponse(pages["list"])

        @app.get("/careers/{tenant}/{posting_id}")
        def form(tenant: str, posting_id: str) -> HTMLResponse:
            return HTMLResponse(pages["form"])

        @app.get("/healthz")
        def healthz() -> dict[str, str]:
            return {"status": "ok"}

    uvicorn.run(app, host="127.0.0.1", port=port, log_level="warning", access_log=False)


def start_server(kind: str, workdir: Path, slug: str, posting: str) -> Server:
    """``daiyun`` as shipped (public pages kept for a few seconds), ``fresh`` rendering every
    page, or ``bare``."""
    env = os.environ.copy()
    if kind == "fresh":
        env["DAIYUN_PUBLIC_PAGE_CACHE_SECONDS"] = "0"
    args = ("--slug", slug, "--posting", posting)
    return start_script_server(__file__, kind, workdir, args, env)


def fetch(server: Server, path: str, count: int, threads: int) -> Load:
    """GET ``path`` ``count`` times, ``threads`` clients at a time; time the whole volley."""
    left = iter(range(count))
    lock = threading.Lock()
    load = Load(count, 0.0, 0.0)
    go = threading.Barrier(threads + 1)

    def worker() -> None:
        with httpx.Client(base_url=server.url, timeout=30.0) as client:
            client.get("/healthz")  # the keep-alive connection opened before the clock runs
            go.wait()
            while True:
                with lock:
                    if next(left, None) is None:
                        return
                started = time.perf_counter()
                answer = client.get(path)
                with lock:
                    load.latencies.append(time.perf_counter() - started)
                    load.statuses[str(answer.status_code)] += 1

    pool = [threading.Thread(target=worker) for _ in range(threads)]
    for thread in pool:
        thread.start()
    go.wait()
    cpu, started = server.cpu_seconds(), time.perf_counter()
    for thread in pool:
        thread.join()
    load.seconds, load.server_cpu = time.perf_counter() - started, server.cpu_seconds() - cpu
    return load


def _merchant(postings: int) -> tuple[str, str]:
    """A merchant hiring: its slug and one of its published postings."""
    from daiyun.core.db import unit_of_work
    from daiyun.platform.recruiting import service
    from daiyun.platform.recruiting.schemas import (
        EmploymentType,
        PostingCreate,
        RequisitionCreate,
        RequisitionStatus,
    )
    from daiyun.tenants import service as tenant_service

    tenant_id = common.new_tenant("bench-careers")
    with unit_of_work(tenant_id) as session:
        slug = tenant_service.get_tenant(session, tenant_id).slug  # type: ignore[union-attr]
        for n in range(postings):
            body = RequisitionCreate(
                role=f"客服专员 {n}",
                pay_min_minor=600_000,
                pay_max_minor=800_000,
                location="杭州 Hangzhou",
                employment_type=EmploymentType.full_time,
            )
            requisition = service.set_status(
                session, service.create_requisition(session, body), RequisitionStatus.open
            )
            posting = service.create_posting(
                session,
                PostingCreate(
                    requisition_id=requisition.id,
                    title=requisition.role,
                    body="天猫店铺售前售后客服，早晚班轮换。" * 5,
                    publish=True,
                ),
            )
    return slug, str(posting.id)


def measure(backend: str, args: argparse.Namespace, workdir: Path) -> list[list[object]]:
    with common.database(backend, workdir, args.postgres_url):
        slug, posting = _merchant(args.postings)
        paths = {
            name: f"/careers/{slug}{tail.format(posting=posting)}" for name, tail in PAGES.items()
        }
        servers: dict[str, Server] = {}
        sizes: dict[str, int] = {}
        rows: list[list[object]] = []
        try:
            servers["daiyun"] = start_server("daiyun", workdir, slug, posting)
            for name, path in paths.items():
                page = httpx.get(servers["daiyun"].url + path, timeout=30.0)
                assert page.status_code == 200, page.text[:500]
                os.environ[f"BENCH_PAGE_{name.upper()}"] = str(workdir / f"{name}.html")
                (workdir / f"{name}.html").write_text(page.text)
                sizes[name] = len(page.content)
            servers["fresh"] = start_server("fresh", workdir, slug, posting)
            servers["bare"] = start_server("bare", workdir, slug, posting)
            size = args.requests // args.rounds
            for name, path in paths.items():
                volleys: dict[str, list[Load]] = {kind: [] for kind in servers}
                for kind in servers:
                    fetch(servers[kind], path, min(size, 50), args.threads)  # warm-up
                for n in range(args.rounds):
                    order = sorted(servers, reverse=n % 2 == 1)
                    for kind in order:
                        volleys[kind].append(fetch(servers[kind], path, size, args.threads))
                bare, daiyun, fresh = (merged(volleys[k]) for k in ("bare", "daiyun", "fresh"))
                for kind, load in (("daiyun", daiyun), ("fresh", fresh)):
                    if set(load.statuses) != {"200"}:
                        print(f"[{backend}] warning: {kind} {name} answered {dict(load.statuses)}")
                rows.append(
                    [
                        f"{backend}: {name} page",
                        f"{bare.per_second:,.0f}",
                        f"{daiyun.per_second:,.0f}",
                        common.ratio(daiyun.per_second, bare.per_second),
                        common.verdict(daiyun.per_second >= 0.5 * bare.per_second),
                        f"{daiyun.percentile(0.5):.1f} / {daiyun.percentile(0.99):.1f}",
                        f"{fresh.per_second:,.0f}",
                        common.ratio(fresh.per_second, bare.per_second),
                        f"{sizes[name]:,}",
                    ]
                )
        finally:
            for server in servers.values():
                server.stop()
    return rows


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    common.add_database_arguments(parser)
    parser.add_argument("--requests", type=int, default=1000, help="requests per page and server")
    parser.add_argument("--threads", type=int, default=8, help="concurrent clients")
    parser.add_argument("--rounds", type=int, default=5, help="volleys per server, taking turns")
    parser.add_argument("--postings", type=int, default=20, help="the merchant's open postings")
    for hidden in ("--serve", "--port", "--slug", "--posting"):
        parser.add_argument(hidden, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.serve:
        serve(args.serve, int(args.port), args.slug, args.posting)
        return
    common.exit_on_sigterm()
    rows: list[list[object]] = []
    with tempfile.TemporaryDirectory(prefix="daiyun-bench-") as tmp:
        workdir = Path(tmp)
        common.prepare_environment(workdir)
        for backend in common.backends(args.database):
            rows.extend(measure(backend, args, workdir))
    common.print_table(
        f"Careers pages: {args.requests} requests per page and server in {args.rounds} volleys"
        f" taking turns, {args.threads} concurrent clients, 1 uvicorn worker, a merchant with"
        f" {args.postings} open postings ({common.machine()})",
        [
            "page",
            "bare req/s",
            "Daiyun req/s",
            "Daiyun/bare",
            "goal >= 50%",
            "Daiyun p50/p99 ms",
            "rendered every time req/s",
            "its /bare",
            "page bytes",
        ],
        rows,
    )


if __name__ == "__main__":
    main()
