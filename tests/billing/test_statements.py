"""Statements end to end: contracts, facts from the order book, drafts, finalizing, late facts,
clawbacks, voids, exports, and collection through the Stripe sandbox over real HTTP."""

from __future__ import annotations

import csv
import http.server
import io
import threading
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
import stripe
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from daiyun.billing import payments
from daiyun.billing.models import BilledFact, PaymentState
from daiyun.billing.tasks import cycle, process_stripe_event
from daiyun.core.config import get_settings
from daiyun.core.db import unit_of_work
from daiyun.core.events import service as events
from daiyun.platform.orders import service as order_service
from daiyun.platform.orders.normalized import NormalizedRefund, OrderStatus
from daiyun.sandboxes.stripe import StripeSandbox, running_stripe_sandbox
from daiyun.tenants.auth.permissions import Role
from daiyun.tenants.models import Tenant
from tests import factories
from tests.conftest import Actor, World

API = "/api/v1/tenants"
# Paid in October 2026, Shanghai time.
OCT = datetime(2026, 10, 15, 4, 0, tzinfo=UTC)
NOV = datetime(2026, 11, 10, 4, 0, tzinfo=UTC)
CONTRACT = {
    "name": "代运营服务合同 2026",
    "effective_from": "2026-10-01",
    "terms": {
        "currency": "CNY",
        "time_zone": "Asia/Shanghai",
        "base_fee_minor": 300_000,  # 3,000.00 a month
        "commission": {"mode": "flat", "rate": "0.05"},
    },
}


@pytest.fixture
def finance(world: World) -> tuple[Tenant, Actor, uuid.UUID]:
    tenant = world.tenant()
    actor = world.actor(Role.finance, tenant)
    shop = factories.shop(tenant.id)
    return tenant, actor, shop.id


def _contract(client: TestClient, tenant: Tenant, actor: Actor) -> dict[str, Any]:
    answer = client.post(f"{API}/{tenant.slug}/contracts", json=CONTRACT, headers=actor.headers)
    assert answer.status_code == 201, answer.text
    return dict(answer.json())


def _paid_order(
    tenant: Tenant, shop_id: uuid.UUID, external_id: str, total: int, paid: datetime
) -> None:
    # Each its own SKU: the same buyer buying the same items again would be held as a duplicate.
    order = factories.order(
        external_id, updated=paid, total_minor=total, placed=paid, sku=external_id
    )
    order.paid_at = paid
    with unit_of_work(tenant.id) as session:
        order_service.ingest(session, shop_id, "shopify", [order])
    deliver_all(tenant.id)


def deliver_all(tenant_id: uuid.UUID) -> None:
    """What the worker does: run the handlers of every pending event (billing records late-order
    candidates from the order events)."""
    with unit_of_work(tenant_id) as session:
        ids = [event.id for event in events.pending(session, 10_000)]
    for event_id in ids:
        with unit_of_work(tenant_id) as session:
            events.handle(session, event_id)


def _generate(client: TestClient, tenant: Tenant, actor: Actor, period: str) -> dict[str, Any]:
    answer = client.post(
        f"{API}/{tenant.slug}/statements", params={"period": period}, headers=actor.headers
    )
    assert answer.status_code == 201, answer.text
    return dict(answer.json())


def _finalize(client: TestClient, tenant: Tenant, actor: Actor, statement_id: str) -> Any:
    return client.post(
        f"{API}/{tenant.slug}/statements/{statement_id}/finalize", headers=actor.headers
    )


def _drill_down(
    client: TestClient, tenant: Tenant, actor: Actor, statement_id: str, position: int
) -> list[str]:
    """Every fact key behind a line, two at a time (so paging is exercised)."""
    keys: list[str] = []
    cursor = None
    while True:
        params: dict[str, Any] = {"line": position, "limit": 2}
        if cursor:
            params["cursor"] = cursor
        page = client.get(
            f"{API}/{tenant.slug}/statements/{statement_id}/sources",
            params=params,
            headers=actor.headers,
        )
        assert page.status_code == 200, page.text
        keys += page.json()["items"]
        cursor = page.json()["next_cursor"]
        if cursor is None:
            return keys


def _amounts(statement: dict[str, Any]) -> dict[str, int]:
    return {line["kind"]: line["amount_minor"] for line in statement["lines"]}


def test_contracts_are_validated_and_versioned(world: World, client: TestClient) -> None:
    tenant = world.tenant()
    actor = world.actor(Role.finance, tenant)
    url = f"{API}/{tenant.slug}/contracts"
    bad = {**CONTRACT, "terms": {"currency": "CNY", "commission": {"mode": "marginal"}}}
    refused = client.post(url, json=bad, headers=actor.headers)
    assert refused.status_code == 422
    contract = _contract(client, tenant, actor)
    assert client.post(url, json=CONTRACT, headers=actor.headers).status_code == 409
    versions = f"{url}/{contract['id']}/versions"
    early = client.post(
        versions,
        json={"effective_from": "2026-09-01", "terms": CONTRACT["terms"]},
        headers=actor.headers,
    )
    assert early.status_code == 422
    later = client.post(
        versions,
        json={"effective_from": "2027-01-01", "terms": {**CONTRACT["terms"], "base_fee_minor": 1}},
        headers=actor.headers,
    )
    assert later.status_code == 201, later.text
    first, second = later.json()["versions"]
    assert (first["ends_on"], second["version"]) == ("2026-12-31", 2)


def test_service_facts_are_recorded_once_per_key(world: World, client: TestClient) -> None:
    tenant = world.tenant()
    actor = world.actor(Role.finance, tenant)
    url = f"{API}/{tenant.slug}/service-facts"
    fact = {
        "kind": "ad_spend",
        "occurred_on": "2026-10-03",
        "amount_minor": 120_000,
        "currency": "CNY",
    }
    first = client.post(url, json=fact, headers={**actor.headers, "Idempotency-Key": "ads-1003"})
    again = client.post(url, json=fact, headers={**actor.headers, "Idempotency-Key": "ads-1003"})
    assert (first.status_code, again.status_code) == (201, 200)
    assert first.json()["id"] == again.json()["id"]
    other = client.post(
        url,
        json={**fact, "amount_minor": 1},
        headers={**actor.headers, "Idempotency-Key": "ads-1003"},
    )
    assert other.status_code == 409
    assert client.post(url, json=fact, headers=actor.headers).status_code == 422  # no key
    listed = client.get(url, headers=actor.headers).json()["items"]
    assert len(listed) == 1


def test_a_month_from_orders_to_a_finalized_statement(
    finance: tuple[Tenant, Actor, uuid.UUID], client: TestClient
) -> None:
    tenant, actor, shop_id = finance
    _contract(client, tenant, actor)
    _paid_order(tenant, shop_id, "A1", 100_000, OCT)  # 1,000.00
    _paid_order(tenant, shop_id, "A2", 50_000, OCT)  # 500.00
    _paid_order(tenant, shop_id, "N1", 70_000, NOV)  # November: not in October
    preview = client.get(
        f"{API}/{tenant.slug}/statements/preview",
        params={"period": "2026-10"},
        headers=actor.headers,
    )
    assert preview.status_code == 200, preview.text
    # Hand-computed: base fee 3,000.00 + 5% of 1,500.00 = 75.00.
    assert _amounts(preview.json())["base_fee"] == 300_000
    assert _amounts(preview.json())["commission"] == 7_500
    assert preview.json()["total_minor"] == 307_500
    assert preview.json()["id"] is None

    draft = _generate(client, tenant, actor, "2026-10")
    _paid_order(tenant, shop_id, "A3", 20_000, OCT)
    redrawn = _generate(client, tenant, actor, "2026-10")
    assert redrawn["id"] == draft["id"]
    assert redrawn["total_minor"] == 308_500
    commission = next(line for line in redrawn["lines"] if line["kind"] == "commission")
    # The line names its orders by a selector; the drill-down pages through them.
    assert commission["sources"] == ["orders:commission"]
    assert commission["quantity"] == "3"
    orders = _drill_down(client, tenant, actor, draft["id"], commission["position"])
    assert len(orders) == 3 and all(key.startswith("order:") for key in orders)

    final = _finalize(client, tenant, actor, draft["id"])
    assert final.status_code == 200, final.text
    assert final.json()["status"] == "finalized"
    assert final.json()["lines"] == redrawn["lines"]
    assert _finalize(client, tenant, actor, draft["id"]).status_code == 409
    closed = client.get(
        f"{API}/{tenant.slug}/statements/preview",
        params={"period": "2026-10"},
        headers=actor.headers,
    )
    assert closed.json()["id"] == draft["id"]
    assert closed.json()["lines"] == redrawn["lines"]
    again = client.post(
        f"{API}/{tenant.slug}/statements", params={"period": "2026-10"}, headers=actor.headers
    )
    assert again.status_code == 409
    with unit_of_work(tenant.id) as session:
        keys = set(session.scalars(select(BilledFact.fact_key)))
        assert len([k for k in keys if k.startswith("order:")]) == 3
        # What each order was billed adds up to the commission line.
        billed = session.scalars(select(BilledFact.commission_minor)).all()
        assert sum(billed) == commission["amount_minor"]
    # Once finalized, the drill-down answers the orders the statement billed: the same three.
    assert _drill_down(client, tenant, actor, draft["id"], commission["position"]) == orders
    _paid_order(tenant, shop_id, "A4", 10_000, OCT)  # late: not on the closed line
    assert _drill_down(client, tenant, actor, draft["id"], commission["position"]) == orders


def test_a_late_order_becomes_an_adjustment_of_the_next_month(
    finance: tuple[Tenant, Actor, uuid.UUID], client: TestClient
) -> None:
    tenant, actor, shop_id = finance
    _contract(client, tenant, actor)
    _paid_order(tenant, shop_id, "A1", 100_000, OCT)
    october = _generate(client, tenant, actor, "2026-10")
    _finalize(client, tenant, actor, october["id"])
    _paid_order(tenant, shop_id, "LATE", 40_000, OCT)  # arrives after October closed
    november = _generate(client, tenant, actor, "2026-11")
    [adjustment] = [line for line in november["lines"] if line["adjusts_period"] == "2026-10"]
    assert adjustment["amount_minor"] == 2_000  # 5% of 400.00
    stored = client.get(
        f"{API}/{tenant.slug}/statements/{october['id']}", headers=actor.headers
    ).json()
    assert stored["lines"] == october["lines"]  # the closed month is untouched
    _finalize(client, tenant, actor, november["id"])
    with unit_of_work(tenant.id) as session:
        late = session.scalar(
            select(BilledFact)
            .where(BilledFact.fact_key.like("order:%"))
            .where(BilledFact.period == "2026-10")
            .order_by(BilledFact.id.desc())
        )
        assert late is not None
        count = session.scalar(
            select(func.count()).select_from(BilledFact).where(BilledFact.fact_key.like("order:%"))
        )
        assert count == 2  # each order billed once


def test_an_order_billed_once_stays_billed_when_its_date_moves_into_the_next_month(
    finance: tuple[Tenant, Actor, uuid.UUID], client: TestClient
) -> None:
    """Billed orders are looked up only among orders older than the newest billed one: an older
    order billed already (its payment date corrected into November) is left out, an older one
    never billed is counted."""
    tenant, actor, shop_id = finance
    _contract(client, tenant, actor)
    _paid_order(tenant, shop_id, "OLDER", 20_000, NOV)  # created first, paid in November
    _paid_order(tenant, shop_id, "MOVED", 100_000, OCT)
    october = _generate(client, tenant, actor, "2026-10")
    assert _amounts(october)["commission"] == 5_000
    assert _finalize(client, tenant, actor, october["id"]).status_code == 200
    corrected = factories.order("MOVED", updated=NOV, total_minor=100_000, placed=OCT, sku="MOVED")
    corrected.paid_at = NOV  # the marketplace corrects the payment date into November
    with unit_of_work(tenant.id) as session:
        order_service.ingest(session, shop_id, "shopify", [corrected])
    november = _generate(client, tenant, actor, "2026-11")
    [commission] = [line for line in november["lines"] if line["kind"] == "commission"]
    assert commission["basis_minor"] == 20_000  # OLDER only: MOVED was billed in October
    assert commission["amount_minor"] == 1_000
    assert _drill_down(client, tenant, actor, november["id"], commission["position"]) == [
        f"order:{_order_id(tenant, 'OLDER')}"
    ]


def _order_id(tenant: Tenant, external_id: str) -> uuid.UUID:
    from daiyun.platform.orders.models import Order

    with unit_of_work(tenant.id) as session:
        found = session.scalar(select(Order.id).where(Order.external_id == external_id))
    assert found is not None
    return found


def test_a_refund_of_last_months_order_is_clawed_back_within_its_commission(
    finance: tuple[Tenant, Actor, uuid.UUID], client: TestClient
) -> None:
    tenant, actor, shop_id = finance
    _contract(client, tenant, actor)
    _paid_order(tenant, shop_id, "A1", 100_000, OCT)
    october = _generate(client, tenant, actor, "2026-10")
    _finalize(client, tenant, actor, october["id"])
    refund = NormalizedRefund("r1", 100_000, NOV, "returned")
    refunded = factories.order(
        "A1",
        updated=NOV,
        total_minor=100_000,
        status=OrderStatus.refunded,
        refunds=[refund],
        placed=OCT,
    )
    refunded.paid_at = OCT
    with unit_of_work(tenant.id) as session:
        order_service.ingest(session, shop_id, "shopify", [refunded])
    november = _generate(client, tenant, actor, "2026-11")
    clawback = [line for line in november["lines"] if line["kind"] == "clawback"]
    assert sum(line["amount_minor"] for line in clawback) == -5_000  # the 50.00 billed
    assert november["total_minor"] == 300_000 - 5_000


def test_void_releases_the_facts_and_the_month_can_be_billed_again(
    finance: tuple[Tenant, Actor, uuid.UUID], client: TestClient
) -> None:
    tenant, actor, shop_id = finance
    _contract(client, tenant, actor)
    _paid_order(tenant, shop_id, "A1", 100_000, OCT)
    october = _generate(client, tenant, actor, "2026-10")
    _finalize(client, tenant, actor, october["id"])
    url = f"{API}/{tenant.slug}/statements/{october['id']}/void"
    assert client.post(url, json={}, headers=actor.headers).status_code == 422
    voided = client.post(url, json={"reason": "wrong rate"}, headers=actor.headers)
    assert voided.json()["status"] == "void"
    rebilled = _generate(client, tenant, actor, "2026-10")
    assert rebilled["id"] != october["id"]
    assert rebilled["total_minor"] == october["total_minor"]
    listed = client.get(f"{API}/{tenant.slug}/statements", headers=actor.headers).json()["items"]
    assert [s["status"] for s in listed] == ["void", "draft"]


def test_csv_and_pdf_downloads(
    finance: tuple[Tenant, Actor, uuid.UUID], client: TestClient
) -> None:
    tenant, actor, shop_id = finance
    _contract(client, tenant, actor)
    _paid_order(tenant, shop_id, "A1", 100_000, OCT)
    statement = _generate(client, tenant, actor, "2026-10")
    base = f"{API}/{tenant.slug}/statements/{statement['id']}"
    exported = client.get(f"{base}/csv", headers=actor.headers)
    assert exported.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(exported.text)))
    assert rows[-1]["kind"] == "total"
    assert sum(float(r["amount"]) * 100 for r in rows[:-1]) == pytest.approx(
        statement["total_minor"]
    )
    assert rows[-1]["amount"] == "3050.00"
    pdf = client.get(f"{base}/pdf", headers=actor.headers)
    assert pdf.headers["content-type"] == "application/pdf"
    assert pdf.content.startswith(b"%PDF")
    other = client.get(f"{API}/{tenant.slug}/statements/{uuid.uuid4()}/csv", headers=actor.headers)
    assert other.status_code == 404


# --- Stripe ----------------------------------------------------------------------------------


class _Inbox(http.server.BaseHTTPRequestHandler):
    """Receives the sandbox's webhooks as they are sent: raw body and headers."""

    received: list[tuple[dict[str, str], bytes]]

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"]))
        type(self).received.append(({k.lower(): v for k, v in self.headers.items()}, body))
        self.send_response(200)
        self.end_headers()

    def log_message(self, *_args: Any) -> None:
        return


@pytest.fixture
def stripe_sandbox(monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[StripeSandbox, type[_Inbox]]]:
    inbox = type("Inbox", (_Inbox,), {"received": []})
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), inbox)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    with running_stripe_sandbox() as sandbox:
        endpoint = sandbox.state.add_endpoint(f"http://127.0.0.1:{server.server_address[1]}/")
        settings = get_settings()
        monkeypatch.setattr(settings, "stripe_api_key", sandbox.api_key)
        monkeypatch.setattr(settings, "stripe_api_base", sandbox.url)
        monkeypatch.setattr(settings, "stripe_webhook_secret", endpoint.secret)
        yield sandbox, inbox
    server.shutdown()


def _finalized(client: TestClient, finance: tuple[Tenant, Actor, uuid.UUID]) -> str:
    tenant, actor, shop_id = finance
    _contract(client, tenant, actor)
    _paid_order(tenant, shop_id, "A1", 100_000, OCT)
    statement = _generate(client, tenant, actor, "2026-10")
    _finalize(client, tenant, actor, statement["id"])
    return str(statement["id"])


def test_a_finalized_statement_becomes_one_stripe_invoice_even_when_retried(
    finance: tuple[Tenant, Actor, uuid.UUID],
    client: TestClient,
    stripe_sandbox: tuple[StripeSandbox, type[_Inbox]],
) -> None:
    sandbox, _ = stripe_sandbox
    tenant = finance[0]
    statement_id = uuid.UUID(_finalized(client, finance))

    class Crash(Exception):
        pass

    # The first push reaches Stripe, then the worker dies before committing what it learnt.
    with pytest.raises(Crash), unit_of_work(tenant.id) as session:
        payments.push(session, statement_id)
        raise Crash
    with unit_of_work(tenant.id) as session:
        pushed = payments.push(session, statement_id)
        assert pushed is not None and pushed.stripe_invoice_id
        invoice_id = pushed.stripe_invoice_id
    with unit_of_work(tenant.id) as session:
        payments.push(session, statement_id)  # already pushed: nothing to do
    invoices = httpx.get(f"{sandbox.url}/_sandbox/invoices").json()["data"]
    assert [i["id"] for i in invoices] == [invoice_id]
    sdk = stripe.StripeClient(sandbox.api_key, base_addresses={"api": sandbox.url})
    invoice = sdk.v1.invoices.retrieve(invoice_id)
    assert invoice.status == "open"
    assert invoice.total == 305_000  # 3,000.00 + 5% of 1,000.00
    assert invoice.metadata["statement_id"] == str(statement_id)


def test_stripe_webhooks_move_the_payment_state_in_any_order(
    finance: tuple[Tenant, Actor, uuid.UUID],
    client: TestClient,
    stripe_sandbox: tuple[StripeSandbox, type[_Inbox]],
) -> None:
    sandbox, inbox = stripe_sandbox
    tenant, actor, _ = finance
    statement_id = uuid.UUID(_finalized(client, finance))
    with unit_of_work(tenant.id) as session:
        pushed = payments.push(session, statement_id)
        assert pushed is not None
        invoice_id = pushed.stripe_invoice_id
    httpx.post(f"{sandbox.url}/_sandbox/invoices/{invoice_id}/fail_payment")
    sdk = stripe.StripeClient(sandbox.api_key, base_addresses={"api": sandbox.url})
    sdk.v1.invoices.pay(invoice_id)
    sandbox.state.webhooks.wait_idle(10)
    deliveries = [d for d in inbox.received if b"invoice." in d[1]]
    assert len(deliveries) >= 3  # finalized, payment_failed, paid (created may come too)

    def send(headers: dict[str, str], body: bytes) -> Any:
        return client.post(
            "/webhooks/stripe",
            content=body,
            headers={
                "Stripe-Signature": headers["stripe-signature"],
                "Content-Type": "application/json",
            },
        )

    for headers, body in reversed(deliveries):  # newest first: paid arrives before failed
        answer = send(headers, body)
        assert answer.status_code == 200, answer.text
        assert answer.json()["status"] == "accepted"
        process_stripe_event.run(str(tenant.id), answer.json()["event_id"])
    assert send(*deliveries[0]).json()["status"] == "duplicate"
    tampered = send(deliveries[0][0], deliveries[0][1].replace(b"invoice", b"invoicf", 1))
    assert tampered.status_code == 401
    shown = client.get(
        f"{API}/{tenant.slug}/statements/{statement_id}", headers=actor.headers
    ).json()
    assert shown["payment_state"] == PaymentState.paid
    assert shown["payment_failures"] == 1


def test_the_monthly_cycle_drafts_last_month_and_finalizes_it_after_review(
    finance: tuple[Tenant, Actor, uuid.UUID], client: TestClient
) -> None:
    tenant, actor, shop_id = finance
    _contract(client, tenant, actor)
    _paid_order(tenant, shop_id, "A1", 100_000, OCT)
    now = datetime(2026, 11, 2, 4, 0, tzinfo=UTC)  # 2 November in Shanghai: in review
    assert cycle.run(now=now)["drafted"] >= 1
    [draft] = client.get(f"{API}/{tenant.slug}/statements", headers=actor.headers).json()["items"]
    assert (draft["period"], draft["status"]) == ("2026-10", "draft")
    later = datetime(2026, 11, 7, 4, 0, tzinfo=UTC)  # past the 5-day review window
    cycle.run(now=later)
    [final] = client.get(f"{API}/{tenant.slug}/statements", headers=actor.headers).json()["items"]
    assert (final["id"], final["status"]) == (draft["id"], "finalized")
