"""The Stripe sandbox driven by the official stripe-python SDK over real HTTP, and webhook checks.

Every test starts its own sandbox on an ephemeral loopback port. The SDK talks to it exactly as it
talks to Stripe (form-encoded bodies, Bearer key, idempotency keys); the control API is reached
with httpx. Webhooks go to a plain ``http.server`` recording raw bodies and headers, and are
verified with :func:`daiyun.billing.stripe_client.verify_webhook`, cross-checked against the
SDK's own ``WebhookSignature``.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import socket
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx
import pytest
import stripe

from daiyun.billing.stripe_client import SignatureError, client, verify_webhook
from daiyun.sandboxes.stripe import StripeSandbox, running_stripe_sandbox

SECRET = "whsec_test_lotus_tea"


class Receiver:
    """A webhook target recording every POST it gets (lower-cased headers, raw body)."""

    def __init__(self) -> None:
        self.received: list[tuple[dict[str, str], bytes]] = []
        lock = threading.Lock()
        received = self.received

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                with lock:
                    received.append(({k.lower(): v for k, v in self.headers.items()}, body))
                self.send_response(200)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, format: str, *args: Any) -> None:
                return

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/stripe/webhooks"
        self.thread = threading.Thread(target=self.server.serve_forever, args=(0.05,), daemon=True)
        self.thread.start()

    def events(self) -> list[dict[str, Any]]:
        return [
            verify_webhook(body, headers["stripe-signature"], SECRET)
            for headers, body in self.received
        ]

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def sandbox() -> Iterator[StripeSandbox]:
    with running_stripe_sandbox() as running:
        yield running


@pytest.fixture
def sdk(sandbox: StripeSandbox) -> stripe.StripeClient:
    return client(sandbox.api_key, sandbox.url)


@pytest.fixture
def control(sandbox: StripeSandbox) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=sandbox.url, trust_env=False, timeout=30) as http:
        yield http


@pytest.fixture
def receiver(control: httpx.Client) -> Iterator[Receiver]:
    target = Receiver()
    response = control.post(
        "/_sandbox/webhook_endpoints", json={"url": target.url, "secret": SECRET}
    )
    assert response.status_code == 201, response.text
    yield target
    target.close()


def settle(sandbox: StripeSandbox) -> None:
    assert sandbox.state.webhooks.wait_idle(10), "webhook deliveries did not finish"


def new_customer(sdk: stripe.StripeClient) -> stripe.Customer:
    return sdk.v1.customers.create(
        {
            "name": "莲花茶业 Lotus Tea",
            "email": "finance@lotus-tea.cn",
            "metadata": {"tenant": "t1"},
        }
    )


def draft(sdk: stripe.StripeClient, customer: str, key: str | None = None) -> stripe.Invoice:
    params: stripe.params.InvoiceCreateParams = {
        "customer": customer,
        "currency": "cny",
        "collection_method": "send_invoice",
        "days_until_due": 30,
        "auto_advance": False,
        "description": "2025-06 service statement",
        "metadata": {"statement": "st_2025_06", "version": "1"},
    }
    if key is None:
        return sdk.v1.invoices.create(params)
    return sdk.v1.invoices.create(params, options={"idempotency_key": key})


def add_line(sdk: stripe.StripeClient, customer: str, invoice: str, amount: int) -> None:
    sdk.v1.invoice_items.create(
        {
            "customer": customer,
            "invoice": invoice,
            "amount": amount,
            "currency": "cny",
            "description": f"line {amount}",
            "metadata": {"line": str(amount)},
        }
    )


def error_type(error: stripe.StripeError) -> str:
    body = error.json_body
    assert isinstance(body, dict)
    return str(body["error"]["type"])


def invoices(control: httpx.Client) -> list[dict[str, Any]]:
    return list(control.get("/_sandbox/invoices").json()["data"])


def requests_log(control: httpx.Client) -> list[dict[str, Any]]:
    return list(control.get("/_sandbox/requests").json()["data"])


# -- the API ---------------------------------------------------------------------------------------


def test_customer_is_created_and_retrieved(sdk: stripe.StripeClient) -> None:
    customer = new_customer(sdk)
    assert customer.id.startswith("cus_")
    assert customer.object == "customer"
    assert customer.livemode is False
    assert isinstance(customer.created, int) and abs(customer.created - time.time()) < 60
    assert customer.name == "莲花茶业 Lotus Tea"
    assert customer.metadata is not None and customer.metadata["tenant"] == "t1"
    again = sdk.v1.customers.retrieve(customer.id)
    assert (again.id, again.email, again.balance) == (customer.id, "finance@lotus-tea.cn", 0)


def test_draft_with_items_finalizes_to_the_sum_of_its_lines(sdk: stripe.StripeClient) -> None:
    customer = new_customer(sdk)
    invoice = draft(sdk, customer.id)
    assert invoice.id.startswith("in_") and invoice.status == "draft"
    assert invoice.number is None and invoice.total == 0
    amounts = [1_250_000, 37_512, -8_800, 1]
    for amount in amounts:
        add_line(sdk, customer.id, invoice.id, amount)
    final = sdk.v1.invoices.finalize_invoice(invoice.id)
    assert final.status == "open"
    assert final.number is not None and final.number.endswith("-0001")
    assert final.currency == "cny"
    assert final.total == final.amount_due == final.amount_remaining == sum(amounts)
    assert final.amount_paid == 0
    assert [line.amount for line in final.lines.data] == amounts
    assert all(isinstance(line.amount, int) for line in final.lines.data)
    assert final.lines.data[0].metadata["line"] == "1250000"
    assert final.due_date is not None and final.status_transitions.finalized_at is not None
    assert sdk.v1.invoices.retrieve(invoice.id).total == sum(amounts)


def test_many_lines_embed_ten_and_page_the_rest(sdk: stripe.StripeClient) -> None:
    customer = new_customer(sdk)
    invoice = draft(sdk, customer.id)
    for amount in range(100, 1300, 100):
        add_line(sdk, customer.id, invoice.id, amount)
    final = sdk.v1.invoices.finalize_invoice(invoice.id)
    assert len(final.lines.data) == 10 and final.lines.has_more is True
    paged = sdk.v1.invoices.line_items.list(invoice.id, {"limit": 5})
    assert [line.amount for line in paged.auto_paging_iter()] == list(range(100, 1300, 100))
    assert final.total == sum(range(100, 1300, 100))


def test_pending_items_join_only_when_included(sdk: stripe.StripeClient) -> None:
    customer = new_customer(sdk)
    pending = sdk.v1.invoice_items.create(
        {"customer": customer.id, "amount": 500, "currency": "cny"}
    )
    assert pending.invoice is None
    assert draft(sdk, customer.id).total == 0
    included = sdk.v1.invoices.create(
        {"customer": customer.id, "currency": "cny", "pending_invoice_items_behavior": "include"}
    )
    assert included.total == 500
    assert sdk.v1.invoice_items.retrieve(pending.id).invoice == included.id


def test_same_idempotency_key_replays_the_same_invoice(
    sdk: stripe.StripeClient, control: httpx.Client
) -> None:
    customer = new_customer(sdk)
    first = draft(sdk, customer.id, key="statement-st_2025_06-v1")
    second = draft(sdk, customer.id, key="statement-st_2025_06-v1")
    assert second.id == first.id
    assert second.last_response is not None
    assert second.last_response.headers["Idempotent-Replayed"] == "true"
    assert len(invoices(control)) == 1
    creations = [r for r in requests_log(control) if r["path"] == "/v1/invoices"]
    assert [(r["idempotency_key"], r["status"], r["replayed"]) for r in creations] == [
        ("statement-st_2025_06-v1", 200, False),
        ("statement-st_2025_06-v1", 200, True),
    ]
    # Every POST the SDK sends carries a key, even when the caller gave none.
    assert all(r["idempotency_key"] for r in requests_log(control) if r["method"] == "POST")


def test_reused_key_with_other_parameters_or_endpoint_is_refused(
    sdk: stripe.StripeClient, control: httpx.Client
) -> None:
    customer = new_customer(sdk)
    draft(sdk, customer.id, key="k-1")
    with pytest.raises(stripe.IdempotencyError) as other_params:
        sdk.v1.invoices.create(
            {"customer": customer.id, "currency": "usd"}, options={"idempotency_key": "k-1"}
        )
    assert other_params.value.http_status == 400
    assert error_type(other_params.value) == "idempotency_error"
    with pytest.raises(stripe.IdempotencyError):
        sdk.v1.customers.create({"name": "x"}, options={"idempotency_key": "k-1"})
    assert len(invoices(control)) == 1


def test_idempotency_keys_are_scoped_per_api_key(
    sandbox: StripeSandbox, sdk: stripe.StripeClient, control: httpx.Client
) -> None:
    customer = new_customer(sdk)
    other = client(control.post("/_sandbox/api_keys").json()["api_key"], sandbox.url)
    first = draft(sdk, customer.id, key="shared")
    second = draft(other, customer.id, key="shared")
    assert first.id != second.id
    assert len(invoices(control)) == 2


def test_concurrent_requests_with_one_key_create_one_invoice(
    sdk: stripe.StripeClient, control: httpx.Client
) -> None:
    customer = new_customer(sdk)
    with ThreadPoolExecutor(8) as pool:
        ids = set(pool.map(lambda _: draft(sdk, customer.id, key="race").id, range(8)))
    assert len(ids) == 1 and len(invoices(control)) == 1


def test_item_on_a_finalized_invoice_is_refused_and_the_refusal_replayed(
    sdk: stripe.StripeClient, control: httpx.Client
) -> None:
    customer = new_customer(sdk)
    invoice = draft(sdk, customer.id)
    add_line(sdk, customer.id, invoice.id, 1000)
    sdk.v1.invoices.finalize_invoice(invoice.id)
    params: stripe.params.InvoiceItemCreateParams = {
        "customer": customer.id,
        "invoice": invoice.id,
        "amount": 99,
        "currency": "cny",
    }
    errors = []
    for _ in range(2):
        with pytest.raises(stripe.InvalidRequestError) as refused:
            sdk.v1.invoice_items.create(params, options={"idempotency_key": "late-line"})
        errors.append(refused.value)
    assert errors[0].http_status == 400
    assert errors[0].code == "invoice_not_editable" and errors[0].param == "invoice"
    assert errors[0].json_body == errors[1].json_body
    assert error_type(errors[0]) == "invalid_request_error"
    late = [r for r in requests_log(control) if r["idempotency_key"] == "late-line"]
    assert [(r["status"], r["replayed"]) for r in late] == [(400, False), (400, True)]
    assert sdk.v1.invoices.retrieve(invoice.id).total == 1000


def test_a_validation_failure_saves_no_idempotent_result(sdk: stripe.StripeClient) -> None:
    customer = new_customer(sdk)
    with pytest.raises(stripe.InvalidRequestError) as refused:
        sdk.v1.invoices.create(
            {"customer": customer.id, "collection_method": "send_invoice"},
            options={"idempotency_key": "fix-me"},
        )
    assert refused.value.param == "days_until_due"
    assert draft(sdk, customer.id, key="fix-me").status == "draft"


def test_errors_have_stripes_shape_and_status(
    sandbox: StripeSandbox, sdk: stripe.StripeClient, control: httpx.Client
) -> None:
    with pytest.raises(stripe.AuthenticationError) as bad_key:
        client("sk_test_not_a_key_of_this_account", sandbox.url).v1.customers.create({})
    assert bad_key.value.http_status == 401
    no_key = control.post("/v1/customers", data={"name": "x"})
    assert no_key.status_code == 401
    assert no_key.json()["error"]["type"] == "invalid_request_error"
    # As in Stripe's curl examples, the key may also be the Basic user name.
    assert control.post("/v1/customers", auth=(sandbox.api_key, "")).status_code == 200
    with pytest.raises(stripe.InvalidRequestError) as missing:
        sdk.v1.invoices.retrieve("in_doesnotexist")
    assert (missing.value.http_status, missing.value.code) == (404, "resource_missing")
    with pytest.raises(stripe.InvalidRequestError) as unknown_customer:
        sdk.v1.invoices.create({"customer": "cus_nobody"})
    assert (unknown_customer.value.http_status, unknown_customer.value.param) == (400, "customer")
    customer = new_customer(sdk)
    with pytest.raises(stripe.InvalidRequestError) as unknown_param:
        unknown: Any = {"customer": customer.id, "amount": 1, "unit_amount": 1}
        sdk.v1.invoice_items.create(unknown)
    assert unknown_param.value.code == "parameter_unknown"
    with pytest.raises(stripe.InvalidRequestError) as not_integer:
        fractional: Any = {"customer": customer.id, "amount": "12.50"}
        sdk.v1.invoice_items.create(fractional)
    assert not_integer.value.code == "parameter_invalid_integer"
    auth = {"Authorization": f"Bearer {sandbox.api_key}"}
    unrecognized = control.get("/v1/charges", headers=auth)
    assert unrecognized.status_code == 404
    assert unrecognized.json()["error"]["message"].startswith("Unrecognized request URL")


def test_zero_and_negative_totals_use_the_customer_balance(sdk: stripe.StripeClient) -> None:
    customer = new_customer(sdk)
    credit = draft(sdk, customer.id)
    add_line(sdk, customer.id, credit.id, -3000)
    credited = sdk.v1.invoices.finalize_invoice(credit.id)
    # Nothing due: paid on finalization, the credit carried to the customer.
    assert (credited.status, credited.amount_due, credited.ending_balance) == ("paid", 0, -3000)
    assert sdk.v1.customers.retrieve(customer.id).balance == -3000
    nxt = draft(sdk, customer.id)
    add_line(sdk, customer.id, nxt.id, 5000)
    final = sdk.v1.invoices.finalize_invoice(nxt.id)
    assert (final.total, final.starting_balance, final.amount_due) == (5000, -3000, 2000)
    assert final.number is not None and final.number.endswith("-0002")
    assert sdk.v1.invoices.void_invoice(nxt.id).status == "void"
    assert sdk.v1.customers.retrieve(customer.id).balance == -3000


def test_invoice_life_pay_void_and_uncollectible(sdk: stripe.StripeClient) -> None:
    customer = new_customer(sdk)
    ids = []
    for _ in range(3):
        invoice = draft(sdk, customer.id)
        add_line(sdk, customer.id, invoice.id, 1200)
        ids.append(sdk.v1.invoices.finalize_invoice(invoice.id).id)
    paid = sdk.v1.invoices.pay(ids[0], {"paid_out_of_band": True})
    assert (paid.status, paid.amount_paid, paid.amount_remaining) == ("paid", 1200, 0)
    with pytest.raises(stripe.InvalidRequestError):
        sdk.v1.invoices.pay(ids[0])
    assert sdk.v1.invoices.void_invoice(ids[1]).status == "void"
    assert sdk.v1.invoices.mark_uncollectible(ids[2]).status == "uncollectible"
    assert sdk.v1.invoices.pay(ids[2]).status == "paid"
    with pytest.raises(stripe.InvalidRequestError):
        sdk.v1.invoices.finalize_invoice(ids[1])


# -- webhooks --------------------------------------------------------------------------------------


def test_events_are_delivered_signed_and_verify(
    sandbox: StripeSandbox, sdk: stripe.StripeClient, control: httpx.Client, receiver: Receiver
) -> None:
    customer = new_customer(sdk)
    invoice = draft(sdk, customer.id, key="st-1")
    add_line(sdk, customer.id, invoice.id, 4200)
    sdk.v1.invoices.finalize_invoice(invoice.id)
    control.post(f"/_sandbox/invoices/{invoice.id}/fail_payment").raise_for_status()
    sdk.v1.invoices.pay(invoice.id)
    settle(sandbox)
    events = receiver.events()
    assert [e["type"] for e in events] == [
        "invoice.created",
        "invoice.finalized",
        "invoice.payment_failed",
        "invoice.paid",
    ]
    assert all(e["id"].startswith("evt_") and e["object"] == "event" for e in events)
    assert all(e["livemode"] is False and e["api_version"] for e in events)
    assert all(e["data"]["object"]["id"] == invoice.id for e in events)
    # Bodies show the invoice as it was when the event happened.
    assert [e["data"]["object"]["status"] for e in events] == ["draft", "open", "open", "paid"]
    assert events[0]["request"]["idempotency_key"] == "st-1"
    assert events[2]["data"]["object"]["attempt_count"] == 1
    headers, body = receiver.received[0]
    stripe.WebhookSignature.verify_header(body.decode(), headers["stripe-signature"], SECRET, 300)
    assert headers["content-type"].startswith("application/json")
    assert len({e["id"] for e in events}) == 4


def test_void_and_uncollectible_events(
    sandbox: StripeSandbox, sdk: stripe.StripeClient, receiver: Receiver
) -> None:
    customer = new_customer(sdk)
    a, b = draft(sdk, customer.id), draft(sdk, customer.id)
    for invoice in (a, b):
        add_line(sdk, customer.id, invoice.id, 10)
        sdk.v1.invoices.finalize_invoice(invoice.id)
    sdk.v1.invoices.void_invoice(a.id)
    sdk.v1.invoices.mark_uncollectible(b.id)
    settle(sandbox)
    types = [e["type"] for e in receiver.events()]
    assert types[-2:] == ["invoice.voided", "invoice.marked_uncollectible"]


def test_verify_webhook_rejects_what_it_must(
    sandbox: StripeSandbox, sdk: stripe.StripeClient, receiver: Receiver
) -> None:
    new_customer(sdk)
    draft(sdk, new_customer(sdk).id)
    settle(sandbox)
    headers, body = receiver.received[0]
    header = headers["stripe-signature"]
    t = int(header.split(",")[0].removeprefix("t="))
    assert verify_webhook(body, header, SECRET, now=t + 299)["type"] == "invoice.created"
    with pytest.raises(SignatureError, match="no v1 signature matches"):
        verify_webhook(body, header, "whsec_wrong")
    with pytest.raises(SignatureError, match="old"):
        verify_webhook(body, header, SECRET, now=t + 301)
    with pytest.raises(SignatureError, match="future"):
        verify_webhook(body, header, SECRET, now=t - 301)
    tampered = body.replace(b'"invoice.created"', b'"invoice.paid"')
    assert tampered != body
    with pytest.raises(SignatureError):
        verify_webhook(tampered, header, SECRET)
    # Re-serialized JSON is not the signed bytes either.
    with pytest.raises(SignatureError):
        verify_webhook(json.dumps(json.loads(body)).encode(), header, SECRET)
    for broken in (
        None,
        "",
        "v1=abc",
        f"t={t}",
        "t=soon,v1=abc",
        "t=²,v1=ab",
        f"t={t},t={t},v1=ab",
    ):
        with pytest.raises(SignatureError):
            verify_webhook(body, broken, SECRET)


def sign(secret: str, t: int, body: bytes) -> str:
    return hmac.new(secret.encode(), f"{t}.".encode() + body, hashlib.sha256).hexdigest()


def test_verify_webhook_accepts_one_valid_signature_among_several() -> None:
    body = b'{"id": "evt_1", "object": "event", "type": "invoice.paid"}'
    t = int(time.time())
    header = f"t={t},v1={sign('whsec_old', t, body)},v1={sign(SECRET, t, body)},v0=ignored"
    assert verify_webhook(body, header, SECRET)["id"] == "evt_1"
    stripe.WebhookSignature.verify_header(body.decode(), header, SECRET, 300)
    with pytest.raises(SignatureError):
        verify_webhook(body, f"t={t},v1={sign('whsec_old', t, body)}", SECRET)
    not_json = b"not json"
    with pytest.raises(SignatureError, match="JSON"):
        verify_webhook(not_json, f"t={t},v1={sign(SECRET, t, not_json)}", SECRET)
    with pytest.raises(ValueError):
        verify_webhook(b"[1]", f"t={t},v1={sign(SECRET, t, b'[1]')}", SECRET)


def test_duplicated_deliveries_share_the_event_id(
    sandbox: StripeSandbox, sdk: stripe.StripeClient, control: httpx.Client, receiver: Receiver
) -> None:
    control.post("/_sandbox/faults", json={"duplicate": 2}).raise_for_status()
    customer = new_customer(sdk)
    invoice = draft(sdk, customer.id)
    sdk.v1.invoices.finalize_invoice(invoice.id)  # nothing due: finalized, then paid
    settle(sandbox)
    events = receiver.events()
    assert len(events) == 6
    ids = [e["id"] for e in events]
    assert ids[0] == ids[1] and ids[2] == ids[3] and ids[4] == ids[5]
    assert receiver.received[0][1] == receiver.received[1][1]
    deduped = list(dict.fromkeys(ids))
    assert [next(e["type"] for e in events if e["id"] == i) for i in deduped] == [
        "invoice.created",
        "invoice.finalized",
        "invoice.paid",
    ]


def test_held_events_flush_in_reverse_and_resend_replays(
    sandbox: StripeSandbox, sdk: stripe.StripeClient, control: httpx.Client, receiver: Receiver
) -> None:
    control.post(
        "/_sandbox/faults", json={"duplicate": 2, "reverse": True, "hold": True}
    ).raise_for_status()
    customer = new_customer(sdk)
    invoice = draft(sdk, customer.id)
    add_line(sdk, customer.id, invoice.id, 700)
    sdk.v1.invoices.finalize_invoice(invoice.id)
    sdk.v1.invoices.pay(invoice.id)
    settle(sandbox)
    assert receiver.received == []
    deliveries = control.get("/_sandbox/webhooks/deliveries").json()
    assert deliveries["held"] == 6 and deliveries["data"] == []
    # The flush follows the fault in force: newest first.
    assert control.post("/_sandbox/webhooks/flush").json() == {"flushed": 6}
    control.delete("/_sandbox/faults").raise_for_status()
    settle(sandbox)
    types = [e["type"] for e in receiver.events()]
    assert types == ["invoice.paid"] * 2 + ["invoice.finalized"] * 2 + ["invoice.created"] * 2
    paid = receiver.events()[0]
    resent = control.post(f"/_sandbox/events/{paid['id']}/resend")
    assert resent.json() == {"id": paid["id"], "queued": 1}
    settle(sandbox)
    headers, body = receiver.received[-1]
    assert body == receiver.received[0][1]
    assert verify_webhook(body, headers["stripe-signature"], SECRET)["id"] == paid["id"]
    assert control.post("/_sandbox/events/evt_unknown/resend").status_code == 404
    records = control.get("/_sandbox/webhooks/deliveries").json()["data"]
    assert len(records) == 7 and all(r["delivered"] and r["status"] == 200 for r in records)


def test_client_points_the_sdk_at_another_host(sandbox: StripeSandbox) -> None:
    sdk = client(sandbox.api_key, sandbox.url + "/")
    assert sdk.v1.customers.create({"name": "x"}).id.startswith("cus_")
    # Without a base the client is Stripe's; building it makes no call.
    assert isinstance(client("sk_test_x", None), stripe.StripeClient)


def test_a_failed_delivery_is_recorded_and_not_fatal(
    sandbox: StripeSandbox, sdk: stripe.StripeClient, control: httpx.Client, receiver: Receiver
) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        dead = f"http://127.0.0.1:{probe.getsockname()[1]}/gone"
    control.post("/_sandbox/webhook_endpoints", json={"url": dead}).raise_for_status()
    draft(sdk, new_customer(sdk).id)
    settle(sandbox)
    records = control.get("/_sandbox/webhooks/deliveries").json()["data"]
    by_url = {r["url"]: r for r in records}
    assert by_url[dead]["delivered"] is False and by_url[dead]["error"]
    assert by_url[receiver.url]["delivered"] is True
