"""Inbound customer-service messages acknowledged: Daiyun against a bare endpoint.

Serves, each in its own uvicorn process (one worker, the same settings), the real application
and a bare FastAPI app whose routes only parse the request's body (the form, the JSON) and
answer a small JSON, on the two ways a buyer's message comes in:

* ``email``: the mail provider's inbound-parse webhook, ``POST /webhooks/email/{key}/inbound``,
  a multipart form signed with HMAC-SHA256 of its timestamp and token (``mail.receive``: check
  the signature, find the mailbox, store the delivery under its token; then the endpoint hands
  it to the ``process_email`` task on the broker). Every delivery has its own token and
  Message-Id, so none is a duplicate.
* ``widget``: a chat widget visitor's message, ``POST /widget/{key}/messages`` with the page's
  ``Origin`` and the visitor's bearer token (``widget.post``: check the origin and token, count
  the visitor's messages of the last minute, add the message to their conversation, restart its
  SLA clock). The visitors have written before (their conversations exist), and each writes at
  most 15 of the run's messages, below the 20 a minute one visitor may send.

``--requests`` per path and server, ``--threads`` clients at a time, in ``--rounds`` volleys that
take turns between the servers (the machine's speed drifts; turns expose them alike); requests
per second are the median of the volleys. Goal (the customer-service issue): Daiyun at least 50%
of the bare endpoint, as for the Shopify webhooks (bench/webhooks.py).

Run (from the repository root)::

    .venv/bin/python bench/inbound_ack.py --database both
    .venv/bin/python bench/inbound_ack.py --database sqlite --requests 100 --rounds 1  # a look
"""

from __future__ import annotations

import argparse
import json
import math
import os
import tempfile
import time
import uuid
from pathlib import Path

import common
from fastapi import FastAPI, Request
from webhooks import Server, broker_messages, fire, interleaved, start_script_server

EMAIL_SIGNING_KEY = "bench-email-signing-key"
ORIGIN = "https://bench-shop.example"
WARMUP_REQUESTS = 50
# Each visitor writes at most this many of a run's messages (plus one before it), whatever the
# speed: below widget.MESSAGES_PER_MINUTE, so no answer is a 429.
MESSAGES_PER_VISITOR = 15
MAIL_TEXT = (
    "您好，我上周在贵店买的西湖龙井还没有收到，物流信息三天没有更新了。订单号见主题。\n"
    "Hello, the Longjing tea I ordered last week has not arrived and the tracking has not moved "
    "for three days. Could you check with the carrier and tell me when to expect it?\n"
) * 3
Delivery = tuple[bytes, dict[str, str]]


def serve(kind: str, port: int) -> None:
    import uvicorn

    if kind == "daiyun":
        from daiyun.app import create_app

        app = create_app()
    else:
        # The floor: the body parsed as the real routes parse it, nothing done with it.
        app = FastAPI()

        @app.post("/webhooks/email/{mailbox_key}/inbound")
        async def inbound_email(mailbox_key: str, request: Request) -> dict[str, str]:
            await request.form()
            return {"status": "accepted"}

        @app.post("/widget/{key}/messages", status_code=201)
        async def write(key: str, request: Request) -> dict[str, str]:
            body = await request.json()
            return {"id": str(uuid.uuid4()), "author": "visitor", "body": body["body"]}

        @app.get("/healthz")
        def healthz() -> dict[str, str]:
            return {"status": "ok"}

    uvicorn.run(app, host="127.0.0.1", port=port, log_level="warning", access_log=False)


def start_server(kind: str, workdir: Path) -> Server:
    return start_script_server(__file__, kind, workdir)


# --- the requests ------------------------------------------------------------------------------


def _multipart(fields: dict[str, str]) -> tuple[bytes, str]:
    """``fields`` as multipart/form-data, as inbound-parse providers post them."""
    boundary = uuid.uuid4().hex
    parts = [
        f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n{value}\r\n'
        for name, value in fields.items()
    ]
    body = ("".join(parts) + f"--{boundary}--\r\n").encode()
    return body, f"multipart/form-data; boundary={boundary}"


def emails(count: int, mailbox: str) -> list[Delivery]:
    """``count`` signed inbound-parse deliveries, signed now (a signature holds five minutes)."""
    from daiyun.platform.customer_service import rules

    timestamp = str(int(time.time()))
    deliveries = []
    for n in range(count):
        token = uuid.uuid4().hex + uuid.uuid4().hex
        body, content_type = _multipart(
            {
                "timestamp": timestamp,
                "token": token,
                "signature": rules.sign(EMAIL_SIGNING_KEY, timestamp, token),
                "recipient": mailbox,
                "sender": f"buyer{n}@example.com",
                "from": f"买家 {n} <buyer{n}@example.com>",
                "subject": f"订单 #{10_000 + n} 还没有到 / order not arrived",
                "body-plain": MAIL_TEXT,
                "Message-Id": f"<{uuid.uuid4().hex}@mail.example.com>",
            }
        )
        deliveries.append((body, {"Content-Type": content_type}))
    return deliveries


def widget_messages(count: int, key: str, visitors: list[str]) -> list[Delivery]:
    """``count`` visitor messages, the visitors taking turns."""
    from daiyun.core.ids import utcnow
    from daiyun.platform.customer_service import rules

    tokens = [rules.visitor_token(common.SECRET_KEY, key, v, utcnow()) for v in visitors]
    deliveries = []
    for n in range(count):
        text = f"请问这款茶有现货吗？Is this tea in stock? ({n})"
        body = {"body": text, "client_id": f"m{n:08d}"}
        headers = {
            "Content-Type": "application/json",
            "Origin": ORIGIN,
            "Authorization": f"Bearer {tokens[n % len(tokens)]}",
        }
        deliveries.append((json.dumps(body, ensure_ascii=False).encode(), headers))
    return deliveries


def _merchant(visitor_count: int) -> tuple[uuid.UUID, str, str, str, list[str]]:
    """A merchant with a mailbox and a shop's widget whose visitors have each written once (made
    here, not over HTTP: one shop takes 60 new chats a minute): the tenant, the mailbox's
    address and key, the widget's key, the visitors."""
    from daiyun.core.db import unit_of_work
    from daiyun.platform.customer_service import mail, service, widget
    from daiyun.platform.customer_service.models import Channel
    from daiyun.platform.customer_service.schemas import MailboxIn, WidgetIn

    tenant_id = common.new_tenant("bench-inbound")
    shop_id, _ = common.new_shop(tenant_id, "bench-inbound.myshopify.com")
    with unit_of_work(tenant_id) as session:
        mailbox = mail.create_mailbox(session, MailboxIn(address="service@bench-shop.example"))
        chat = widget.create_widget(session, WidgetIn(shop_id=shop_id, allowed_origins=[ORIGIN]))
        address, mailbox_key, widget_key = mailbox.address, mailbox.key, chat.key
    visitors = [uuid.uuid4().hex for _ in range(visitor_count)]
    with unit_of_work(tenant_id) as session:
        for visitor in visitors:
            contact = service.contact_for(session, Channel.widget, visitor, "Visitor")
            conv = service.open_conversation(
                session, contact, Channel.widget, subject="你好 / hello", shop_id=shop_id
            )
            service.add_inbound(session, conv, "你好 / hello", external_id=f"widget:{visitor}:m0")
    return tenant_id, address, mailbox_key, widget_key, visitors


def _log_tail(server: Server) -> str:
    return server.log.read_text(errors="replace")[-3000:] or "(empty log)"


def measure(backend: str, args: argparse.Namespace, workdir: Path) -> list[list[object]]:
    from daiyun.platform.customer_service.models import InboundEmail, Message

    requests = args.requests - args.requests % args.rounds  # equal parts per round
    visitor_count = math.ceil((WARMUP_REQUESTS + requests) / MESSAGES_PER_VISITOR)
    rows: list[list[object]] = []
    with common.database(backend, workdir, args.postgres_url):
        tenant_id, address, mailbox_key, widget_key, visitors = _merchant(visitor_count)
        paths = {
            "email": f"/webhooks/email/{mailbox_key}/inbound",
            "widget": f"/widget/{widget_key}/messages",
        }
        expected = {"email": "200 accepted", "widget": "201"}
        broker_before = broker_messages(os.environ["DAIYUN_BROKER_URL"])
        servers: dict[str, Server] = {}
        try:
            for kind in ("bare", "daiyun"):
                servers[kind] = start_server(kind, workdir)
            for name, path in paths.items():
                # Built just before their volleys: an e-mail's signature is fresh five minutes.
                if name == "email":
                    batch = emails(WARMUP_REQUESTS + requests, address)
                else:
                    batch = widget_messages(WARMUP_REQUESTS + requests, widget_key, visitors)
                warmup, timed = batch[:WARMUP_REQUESTS], batch[WARMUP_REQUESTS:]
                for server in servers.values():
                    fire(server, path, warmup[:1], 1)
                    fire(server, path, warmup[1:], args.threads)
                loads = interleaved(servers, path, timed, args.threads, args.rounds)
                bare, daiyun = loads["bare"], loads["daiyun"]
                statuses = {kind: dict(load.statuses) for kind, load in loads.items()}
                cpu = ", ".join(f"{kind} {load.cpu_ms:.2f}" for kind, load in loads.items())
                size = sum(len(body) for body, _ in timed) / len(timed)
                print(
                    f"[{backend}] {name} (body ~{size:,.0f} bytes): {statuses};"
                    f" server CPU ms/request: {cpu}",
                    flush=True,
                )
                for kind, load in loads.items():
                    if set(load.statuses) != {expected[name]}:
                        print(f"[{backend}] warning: {kind} {name} answered {dict(load.statuses)}")
                        print(f"--- tail of {servers[kind].log} ---\n{_log_tail(servers[kind])}")
                rows.append(
                    [
                        f"{backend}: {name}",
                        f"{bare.per_second:,.0f}",
                        f"{daiyun.per_second:,.0f}",
                        common.ratio(daiyun.per_second, bare.per_second),
                        common.verdict(daiyun.per_second >= 0.5 * bare.per_second),
                        f"{daiyun.percentile(0.5):.1f} / {daiyun.percentile(0.99):.1f}",
                    ]
                )
        finally:
            for server in servers.values():
                server.stop()
        # What the answers say was kept, checked in the database (and the broker).
        stored = common.count_rows(tenant_id, InboundEmail)
        queued = broker_messages(os.environ["DAIYUN_BROKER_URL"]) - broker_before
        written = common.count_rows(tenant_id, Message) - visitor_count
        sent = WARMUP_REQUESTS + requests
        print(
            f"[{backend}] e-mails stored {stored} of {sent}, tasks queued {queued}; "
            f"widget messages stored {written} of {sent} ({visitor_count} visitors)",
            flush=True,
        )
    return rows


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    common.add_database_arguments(parser)
    parser.add_argument("--requests", type=int, default=1000, help="requests per path and server")
    parser.add_argument("--threads", type=int, default=8, help="concurrent clients")
    parser.add_argument("--rounds", type=int, default=5, help="volleys per server, taking turns")
    parser.add_argument("--serve", choices=("daiyun", "bare"), help=argparse.SUPPRESS)
    parser.add_argument("--port", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.serve:
        serve(args.serve, args.port)
        return
    common.exit_on_sigterm()
    # Before prepare_environment reloads the settings; the servers inherit it.
    os.environ["DAIYUN_EMAIL_SIGNING_KEY"] = EMAIL_SIGNING_KEY
    rows: list[list[object]] = []
    with tempfile.TemporaryDirectory(prefix="daiyun-bench-") as tmp:
        workdir = Path(tmp)
        common.prepare_environment(workdir)
        for backend in common.backends(args.database):
            rows.extend(measure(backend, args, workdir))
    common.print_table(
        f"Inbound messages acknowledged: {args.requests} requests per path and server in"
        f" {args.rounds} volleys taking turns, {args.threads} concurrent clients, 1 uvicorn"
        f" worker ({common.machine()})",
        ["path", "bare req/s", "Daiyun req/s", "Daiyun/bare", "goal >= 50%", "Daiyun p50/p99 ms"],
        rows,
    )


if __name__ == "__main__":
    main()
