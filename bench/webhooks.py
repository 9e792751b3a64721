"""Webhook acknowledgment throughput: Daiyun's ingress against a bare FastAPI endpoint.

Serves, each in its own uvicorn process (one worker, the same uvicorn settings), the real
application (``daiyun.app.create_app()``) and a bare FastAPI app whose one endpoint
reads the body and answers 200. Then fires N signed Shopify ``orders/updated`` webhooks
(distinct event ids, realistic ~3 KB order bodies) at each from a pool of concurrent httpx
clients, in ``--rounds`` volleys that take turns between the two servers (the client and both
servers share the machine, whose speed drifts; a volley each in turn exposes both to it alike),
and prints requests per second for both (the median of their volleys) and their ratio (goal:
Daiyun >= 50% of the bare endpoint).

A Daiyun acknowledgment is the whole of rule 4 of ARCHITECTURE.md: find the shop by its key
(remembered in the process for a few seconds, with its decrypted secret), verify the HMAC on the
raw bytes, parse the order, store the raw delivery under its unique key with one insert, commit,
answer. The broker is not part of the answer: a relay in the ``webhooks`` workers publishes stored
deliveries to it (no worker runs during the volleys). After them, this script runs that relay
itself over what was stored and reports how fast it queues them (to the broker, a SQLite file of
kombu's SQL transport, as in the embedded default), and checks that every stored delivery was
queued. The server's own CPU time per request is printed too: the load generator runs on the same
machine, so requests per second alone can hide which side is the limit.

Run (from the repository root)::

    .venv/bin/python bench/webhooks.py --database both
    .venv/bin/python bench/webhooks.py --database sqlite --requests 300   # a quick look

Defaults (2,000 requests, 8 client threads) finish in a few minutes for both databases on a
2-core machine (the relay pass on the SQLite broker is most of it).
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import hmac
import json
import os
import socket
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import common
import httpx
from fastapi import FastAPI, Request

WARMUP_REQUESTS = 100
BREAKDOWN_REQUESTS = 200
SERVER_START_SECONDS = 60.0


# --- the servers (run as child processes of this script) ----------------------------------


def bare_app() -> FastAPI:
    """The floor: an endpoint that only reads the body and answers 200."""
    app = FastAPI()

    @app.post("/webhooks/{channel}/{shop_key}")
    async def receive(channel: str, shop_key: str, request: Request) -> dict[str, str]:
        await request.body()
        return {"status": "accepted"}

    @app.get("/healthz")
    def healthz() -> dict[str, str]:
        return {"status": "ok"}

    return app


def serve(kind: str, port: int) -> None:
    import uvicorn

    if kind == "daiyun":
        from daiyun.app import create_app

        app = create_app()
    else:
        app = bare_app()
    uvicorn.run(app, host="127.0.0.1", port=port, log_level="warning", access_log=False)


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


@dataclass
class Server:
    kind: str
    process: subprocess.Popen[bytes]
    url: str
    log: Path

    def cpu_seconds(self) -> float:
        """User plus system CPU time the server process has used so far."""
        with open(f"/proc/{self.process.pid}/stat", encoding="ascii") as stat:
            fields = stat.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


def start_script_server(
    script: str,
    kind: str,
    workdir: Path,
    extra_args: tuple[str, ...] = (),
    env: dict[str, str] | None = None,
) -> Server:
    """Run ``script --serve kind --port N`` (a benchmark serving one of its apps) on a free
    port, logging to ``workdir``; ready when this returns."""
    port = free_port()
    log = workdir / f"{kind}-{port}.log"
    with open(log, "wb") as out:
        process = subprocess.Popen(  # noqa: S603 (a benchmark script, with fixed arguments)
            [sys.executable, script, "--serve", kind, "--port", str(port), *extra_args],
            stdout=out,
            stderr=subprocess.STDOUT,
            env=env if env is not None else os.environ.copy(),
        )
    server = Server(kind, process, f"http://127.0.0.1:{port}", log)
    deadline = time.monotonic() + SERVER_START_SECONDS
    while time.monotonic() < deadline and process.poll() is None:
        try:
            if httpx.get(f"{server.url}/healthz", timeout=1.0).status_code == 200:
                return server
        except httpx.TransportError:
            time.sleep(0.1)
    server.stop()
    raise RuntimeError(f"the {kind} server did not start:\n{log.read_text()[-3000:]}")


def start_server(kind: str, workdir: Path) -> Server:
    return start_script_server(__file__, kind, workdir)


# --- the deliveries ---------------------------------------------------------------------------

FIRST_NAMES = ("小明", "Olivia", "Lucas", "美玲", "Noah", "Chloé", "Mateo", "Aiko")
LAST_NAMES = ("王", "Smith", "Martin", "陈", "Müller", "Dubois", "García", "Tanaka")
PRODUCTS = (
    ("TEA-LJ-250", "西湖龙井 Longjing green tea 250g", "29.99"),
    ("TEA-PU-357", "Yunnan ripe pu-erh cake 357g", "45.00"),
    ("CUP-GW-06", "Gaiwan porcelain cup, 150 ml, hand painted", "18.50"),
    ("KET-CL-12", "Cast iron kettle 1.2 l with infuser", "64.00"),
    ("TEA-OO-100", "Tieguanyin oolong 100g, vacuum packed", "21.90"),
)


def _address(first: str, last: str, phone: str) -> dict[str, Any]:
    return {
        "first_name": first,
        "last_name": last,
        "name": f"{first} {last}",
        "company": None,
        "address1": "文三路 100 号 5 幢 302 室",
        "address2": "Building 5, Room 302",
        "city": "杭州市",
        "province": "浙江省",
        "province_code": "ZJ",
        "country": "China",
        "country_code": "CN",
        "zip": "310012",
        "phone": phone,
        "latitude": 30.2741,
        "longitude": 120.1551,
    }


def shopify_order(number: int, moment: datetime) -> dict[str, Any]:
    """A Shopify REST order document of about 3 KB, as an ``orders/updated`` webhook sends."""
    first = FIRST_NAMES[number % len(FIRST_NAMES)]
    last = LAST_NAMES[number % len(LAST_NAMES)]
    email = f"buyer{number}@example.com"
    phone = f"+86138{number % 10**8:08d}"
    stamp = moment.astimezone().isoformat(timespec="seconds")
    lines = []
    subtotal = 0
    for i in range(2 + number % 2):
        sku, title, price = PRODUCTS[(number + i) % len(PRODUCTS)]
        quantity = 1 + (number + i) % 3
        cents = int(price.replace(".", ""))
        subtotal += cents * quantity
        lines.append(
            {
                "id": 13_900_000_000_000 + number * 10 + i,
                "variant_id": 44_000_000_000 + i,
                "product_id": 8_100_000_000 + i,
                "sku": sku,
                "title": title,
                "variant_title": "Default",
                "vendor": "Lotus Tea House",
                "quantity": quantity,
                "price": price,
                "total_discount": "0.00",
                "requires_shipping": True,
                "taxable": True,
                "fulfillable_quantity": quantity,
                "grams": 250,
                "tax_lines": [],
                "properties": [{"name": "gift_wrap", "value": "no"}],
            }
        )
    total = f"{subtotal // 100}.{subtotal % 100:02d}"
    money = {"amount": "0.00", "currency_code": "CNY"}
    return {
        "id": 5_510_000_000_000 + number,
        "admin_graphql_api_id": f"gid://shopify/Order/{5_510_000_000_000 + number}",
        "name": f"#{1000 + number}",
        "order_number": 1000 + number,
        "email": email,
        "contact_email": email,
        "phone": phone,
        "created_at": stamp,
        "updated_at": stamp,
        "processed_at": stamp,
        "cancelled_at": None,
        "cancel_reason": None,
        "closed_at": None,
        "currency": "CNY",
        "presentment_currency": "CNY",
        "total_price": total,
        "subtotal_price": total,
        "total_discounts": "0.00",
        "total_tax": "0.00",
        "taxes_included": False,
        "total_weight": 750,
        "total_shipping_price_set": {"shop_money": money, "presentment_money": money},
        "financial_status": "paid",
        "fulfillment_status": None,
        "gateway": "shopify_payments",
        "payment_gateway_names": ["shopify_payments"],
        "source_name": "web",
        "tags": "wholesale, repeat-buyer",
        "note": "请在工作日派送 / please deliver on a weekday",
        "note_attributes": [{"name": "delivery_window", "value": "09:00-18:00"}],
        "discount_codes": [],
        "landing_site": "/products/longjing?utm_source=newsletter",
        "referring_site": "https://www.example.com/",
        "browser_ip": "203.0.113.7",
        "customer": {
            "id": 7_300_000_000_000 + number,
            "first_name": first,
            "last_name": last,
            "email": email,
            "phone": phone,
            "verified_email": True,
            "accepts_marketing": False,
            "tags": "",
            "currency": "CNY",
        },
        "billing_address": _address(first, last, phone),
        "shipping_address": _address(first, last, phone),
        "shipping_lines": [
            {"id": 4_100_000_000 + number, "title": "SF Express", "price": "0.00", "code": "SF"}
        ],
        "line_items": lines,
        "refunds": [],
    }


def signed_deliveries(count: int, secret: str) -> list[tuple[bytes, dict[str, str]]]:
    """``count`` signed ``orders/updated`` deliveries, each its own event of its own order."""
    now = datetime.now(UTC)
    deliveries = []
    for number in range(count):
        body = json.dumps(
            shopify_order(number, now - timedelta(seconds=count - number)), ensure_ascii=False
        ).encode()
        signature = base64.b64encode(hmac.new(secret.encode(), body, hashlib.sha256).digest())
        headers = {
            "Content-Type": "application/json",
            "X-Shopify-Topic": "orders/updated",
            "X-Shopify-Hmac-Sha256": signature.decode(),
            "X-Shopify-Shop-Domain": common.SHOPIFY_CREDENTIALS["shop_domain"],
            "X-Shopify-API-Version": "2024-10",
            "X-Shopify-Webhook-Id": str(uuid.uuid4()),
            "X-Shopify-Event-Id": str(uuid.uuid4()),
            "X-Shopify-Triggered-At": now.isoformat(),
        }
        deliveries.append((body, headers))
    return deliveries


# --- the load -------------------------------------------------------------------------------


@dataclass
class Load:
    requests: int
    seconds: float
    server_cpu: float
    statuses: Counter[str] = field(default_factory=Counter)
    latencies: list[float] = field(default_factory=list)

    @property
    def per_second(self) -> float:
        return self.requests / self.seconds

    def percentile(self, p: float) -> float:
        ordered = sorted(self.latencies)
        return ordered[min(len(ordered) - 1, int(p * len(ordered)))] * 1000

    @property
    def cpu_ms(self) -> float:
        return self.server_cpu / self.requests * 1000


def fire(
    server: Server, path: str, deliveries: list[tuple[bytes, dict[str, str]]], threads: int
) -> Load:
    """Send every delivery once, ``threads`` clients at a time; time the whole volley."""
    lock = threading.Lock()
    position = 0
    statuses: Counter[str] = Counter()
    latencies: list[float] = []
    errors: list[BaseException] = []
    go = threading.Barrier(threads + 1)

    def worker() -> None:
        nonlocal position
        mine_statuses: Counter[str] = Counter()
        mine_latencies: list[float] = []
        try:
            with httpx.Client(base_url=server.url, timeout=30.0) as client:
                client.get("/healthz")  # open the keep-alive connection before the clock runs
                go.wait()
                while True:
                    with lock:
                        index = position
                        position += 1
                    if index >= len(deliveries):
                        break
                    body, headers = deliveries[index]
                    started = time.perf_counter()
                    answer = client.post(path, content=body, headers=headers)
                    mine_latencies.append(time.perf_counter() - started)
                    outcome = str(answer.status_code)
                    if answer.status_code == 200:
                        outcome = f"200 {answer.json().get('status')}"
                    mine_statuses[outcome] += 1
        except BaseException as exc:
            errors.append(exc)
            go.abort()
        with lock:
            statuses.update(mine_statuses)
            latencies.extend(mine_latencies)

    pool = [threading.Thread(target=worker, name=f"client-{i}") for i in range(threads)]
    for thread in pool:
        thread.start()
    go.wait()
    cpu_before = server.cpu_seconds()
    started = time.perf_counter()
    for thread in pool:
        thread.join()
    seconds = time.perf_counter() - started
    cpu = server.cpu_seconds() - cpu_before
    if errors:
        raise RuntimeError(f"a client failed: {errors[0]!r}") from errors[0]
    return Load(len(deliveries), seconds, cpu, statuses, latencies)


def merged(rounds: list[Load]) -> Load:
    """The rounds of one server as one load, its rate the median of the rounds' rates."""
    requests = sum(load.requests for load in rounds)
    rate = statistics.median(load.per_second for load in rounds)
    total = Load(requests, requests / rate, sum(load.server_cpu for load in rounds))
    for load in rounds:
        total.statuses.update(load.statuses)
        total.latencies.extend(load.latencies)
    return total


def interleaved(
    servers: dict[str, Server],
    path: str,
    deliveries: list[tuple[bytes, dict[str, str]]],
    threads: int,
    rounds: int,
) -> dict[str, Load]:
    """Volleys of ``deliveries`` split into ``rounds`` parts, each part sent to every server in
    turn (the first server alternating), so a drift of the machine's speed touches all alike."""
    size = len(deliveries) // rounds
    loads: dict[str, list[Load]] = {kind: [] for kind in servers}
    for n in range(rounds):
        part = deliveries[n * size : (n + 1) * size]
        order = list(servers) if n % 2 == 0 else list(reversed(servers))
        for kind in order:
            loads[kind].append(fire(servers[kind], path, part, threads))
    return {kind: merged(rounds) for kind, rounds in loads.items()}


@dataclass
class Breakdown:
    store_wall: float
    store_cpu: float
    relay_wall: float
    relay_cpu: float


def breakdown(
    tenant_id: uuid.UUID, key: str, deliveries: list[tuple[bytes, dict[str, str]]]
) -> Breakdown:
    """Time an acknowledgment's work in this process, one delivery after another
    (``webhooks.receive``: verify and store), then the relay queueing them, which happens
    off the request path (``relay_deliveries``: publish to the broker, mark queued)."""
    from starlette.datastructures import Headers

    from daiyun.connectors import webhooks
    from daiyun.connectors.tasks import relay_deliveries

    webhooks.receive("shopify", key, Headers(headers=deliveries[0][1]), deliveries[0][0])
    wall, cpu = time.perf_counter(), time.process_time()
    for body, headers in deliveries[1:]:
        webhooks.receive("shopify", key, Headers(headers=headers), body)
    store_wall, store_cpu = time.perf_counter() - wall, time.process_time() - cpu
    wall, cpu = time.perf_counter(), time.process_time()
    queued = 0
    while sent := relay_deliveries(tenant_id):
        queued += sent
    relay_wall, relay_cpu = time.perf_counter() - wall, time.process_time() - cpu
    n = (len(deliveries) - 1) / 1000
    per_queued = max(queued, 1) / 1000
    return Breakdown(store_wall / n, store_cpu / n, relay_wall / per_queued, relay_cpu / per_queued)


@dataclass
class Relayed:
    queued: int
    seconds: float

    @property
    def per_second(self) -> float:
        return self.queued / self.seconds if self.seconds else 0.0


def relay_everything(tenant_id: uuid.UUID) -> Relayed:
    """Run the webhooks workers' relay over the tenant's stored deliveries until none is left."""
    from daiyun.connectors.tasks import relay_deliveries

    started = time.perf_counter()
    queued = 0
    while sent := relay_deliveries(tenant_id):
        queued += sent
    return Relayed(queued, time.perf_counter() - started)


def broker_messages(broker_url: str) -> int:
    path = broker_url.split("///", 1)[1]
    with sqlite3.connect(path) as broker:
        try:
            row = broker.execute("select count(*) from kombu_message").fetchone()
        except sqlite3.OperationalError:  # nothing published yet: kombu creates it on first use
            return 0
        return int(row[0])


def measure(
    backend: str, args: argparse.Namespace, workdir: Path
) -> tuple[list[list[object]], list[list[object]]]:
    from daiyun.connectors.models import WebhookDelivery

    with common.database(backend, workdir, args.postgres_url):
        tenant_id = common.new_tenant("bench-webhooks")
        _, key = common.new_shop(tenant_id, common.SHOPIFY_CREDENTIALS["shop_domain"])
        path = f"/webhooks/shopify/{key}"
        secret = common.SHOPIFY_CREDENTIALS["api_secret"]
        warmup = signed_deliveries(WARMUP_REQUESTS, secret)
        requests = args.requests - args.requests % args.rounds  # equal parts per round
        deliveries = signed_deliveries(requests, secret)
        sizes = [len(body) for body, _ in deliveries]
        print(
            f"[{backend}] {len(deliveries)} deliveries, body {min(sizes)}-{max(sizes)} bytes "
            f"(mean {statistics.fmean(sizes):,.0f})",
            flush=True,
        )

        queued_before = broker_messages(os.environ["DAIYUN_BROKER_URL"])
        servers: dict[str, Server] = {}
        try:
            for kind in ("bare", "daiyun"):
                servers[kind] = start_server(kind, workdir)
                fire(servers[kind], path, warmup[:1], 1)
                fire(servers[kind], path, warmup[1:], args.threads)
            loads = interleaved(servers, path, deliveries, args.threads, args.rounds)
        finally:
            for server in servers.values():
                server.stop()
        for kind, load in loads.items():
            print(f"[{backend}] {kind}: {dict(load.statuses)}", flush=True)

        stored = common.count_rows(tenant_id, WebhookDelivery)
        queued_during = broker_messages(os.environ["DAIYUN_BROKER_URL"]) - queued_before
        expected = WARMUP_REQUESTS + requests
        if loads["daiyun"].statuses["200 accepted"] != requests:
            print(f"[{backend}] warning: not every delivery was accepted", flush=True)
        relayed = relay_everything(tenant_id)
        queued = broker_messages(os.environ["DAIYUN_BROKER_URL"]) - queued_before
        print(
            f"[{backend}] deliveries stored: {stored} of {expected}; messages in the broker: "
            f"{queued_during} after the volleys, {queued} after the relay ran "
            f"({relayed.queued} queued at {relayed.per_second:,.0f}/s)",
            flush=True,
        )
        if queued != stored:
            print(f"[{backend}] warning: not every stored delivery was queued", flush=True)
        split = breakdown(tenant_id, key, signed_deliveries(BREAKDOWN_REQUESTS, secret))
    bare, daiyun = loads["bare"], loads["daiyun"]
    goal = daiyun.per_second >= 0.5 * bare.per_second
    return [
        [
            backend,
            f"{split.store_wall:.2f} / {split.store_cpu:.2f}",
            f"{1000 / split.store_cpu:,.0f}",
            f"{split.relay_wall:.2f} / {split.relay_cpu:.2f}",
            f"{1000 / split.relay_cpu:,.0f}" if split.relay_cpu else "-",
        ]
    ], [
        [
            backend,
            f"{bare.per_second:,.0f}",
            f"{daiyun.per_second:,.0f}",
            common.ratio(daiyun.per_second, bare.per_second),
            common.verdict(goal),
            f"{bare.percentile(0.5):.1f} / {bare.percentile(0.99):.1f}",
            f"{daiyun.percentile(0.5):.1f} / {daiyun.percentile(0.99):.1f}",
            f"{bare.cpu_ms:.2f}",
            f"{daiyun.cpu_ms:.2f}",
        ]
    ]


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    common.add_database_arguments(parser)
    parser.add_argument("--requests", type=int, default=2000, help="webhooks per server")
    parser.add_argument("--threads", type=int, default=8, help="concurrent clients")
    parser.add_argument(
        "--rounds", type=int, default=5, help="volleys per server, taking turns (median kept)"
    )
    parser.add_argument("--serve", choices=("daiyun", "bare"), help=argparse.SUPPRESS)
    parser.add_argument("--port", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.serve:
        serve(args.serve, args.port)
        return
    common.exit_on_sigterm()

    rows: list[list[object]] = []
    splits: list[list[object]] = []
    with tempfile.TemporaryDirectory(prefix="daiyun-bench-") as tmp:
        workdir = Path(tmp)
        common.prepare_environment(workdir)
        for backend in common.backends(args.database):
            split, row = measure(backend, args, workdir)
            splits.extend(split)
            rows.extend(row)
    common.print_table(
        f"Webhook acknowledgment: {args.requests} signed Shopify webhooks per server in"
        f" {args.rounds} volleys taking turns, {args.threads} concurrent clients, 1 uvicorn worker"
        f" ({common.machine()})",
        [
            "database",
            "bare req/s",
            "Daiyun req/s",
            "Daiyun/bare",
            "goal >= 50%",
            "bare p50/p99 ms",
            "Daiyun p50/p99 ms",
            "bare CPU ms/req",
            "Daiyun CPU ms/req",
        ],
        rows,
    )
    common.print_table(
        f"Where the work goes: {BREAKDOWN_REQUESTS} deliveries in one thread of this process, "
        "no HTTP; wall / CPU ms per delivery. Only verify + store is in the request; the relay "
        "runs in the webhooks workers",
        [
            "database",
            "verify + store (the ack)",
            "ack CPU-bound ceiling/s",
            "relay: publish + mark queued",
            "relay CPU-bound ceiling/s",
        ],
        splits,
    )


if __name__ == "__main__":
    main()
