"""The sandbox marketplaces over real HTTP: auth, pagination, throttling, tokens and webhooks.

Every test starts its own sandbox on an ephemeral loopback port and talks to it with httpx, as
the connectors do. Webhooks go to a plain ``http.server`` that records what it receives;
signatures are checked here with an HMAC computed independently of the sandbox's code.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest

from daiyun.sandboxes.marketplaces.server import OrderStream, Sandbox, load_shops, running_sandbox
from daiyun.sandboxes.marketplaces.state import SandboxState

SHOP = "lotus-tea.myshopify.com"
STORE = "north-peak"
SELLER = "A2SELLER0001"
MARKET = "ATVPDKIKX0DER"
SHOPIFY_CREDS = {"access_token": "shpat_test", "api_secret": "shpss_secret"}
WOO_CREDS = {"consumer_key": "ck_test", "consumer_secret": "cs_test", "webhook_secret": "whsec"}
AMAZON_CREDS = {
    "lwa_client_id": "amzn1.application-oa2-client.test",
    "lwa_client_secret": "lwa-secret",
    "refresh_token": "Atzr|refresh",
    "marketplace_ids": [MARKET],
}
ORDERS = "/admin/api/2024-10/orders.json"


class Receiver:
    """A webhook target recording every POST it gets (path, lower-cased headers, raw body)."""

    def __init__(self) -> None:
        self.received: list[tuple[str, dict[str, str], bytes]] = []
        lock = threading.Lock()
        received = self.received

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                with lock:
                    received.append(
                        (self.path, {k.lower(): v for k, v in self.headers.items()}, body)
                    )
                self.send_response(200)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, format: str, *args: Any) -> None:
                return

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hooks"
        self.thread = threading.Thread(target=self.server.serve_forever, args=(0.05,), daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def sandbox() -> Iterator[Sandbox]:
    with running_sandbox(SandboxState(seed=7)) as running:
        yield running


@pytest.fixture
def control(sandbox: Sandbox) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=sandbox.url, trust_env=False, timeout=30) as http:
        yield http


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    target = Receiver()
    yield target
    target.close()


def register(
    control: httpx.Client, channel: str, shop: str, creds: dict[str, Any], **extra: Any
) -> dict[str, Any]:
    response = control.post(
        "/_sandbox/shops", json={"channel": channel, "shop": shop, "credentials": creds, **extra}
    )
    assert response.status_code == 201, response.text
    return dict(response.json())


def create(control: httpx.Client, channel: str, shop: str, count: int, **extra: Any) -> list[Any]:
    response = control.post(f"/_sandbox/{channel}/{shop}/orders", json={"count": count, **extra})
    assert response.status_code == 201, response.text
    return list(response.json()["ids"])


def past(minutes: float) -> str:
    return (datetime.now(UTC) - timedelta(minutes=minutes)).isoformat()


def hmac_b64(secret: str, body: bytes) -> str:
    return base64.b64encode(hmac.new(secret.encode(), body, hashlib.sha256).digest()).decode()


def amazon_token(control: httpx.Client) -> str:
    response = control.post(
        "/amazon/auth/o2/token",
        data={
            "grant_type": "refresh_token",
            "refresh_token": AMAZON_CREDS["refresh_token"],
            "client_id": AMAZON_CREDS["lwa_client_id"],
            "client_secret": AMAZON_CREDS["lwa_client_secret"],
        },
    )
    assert response.status_code == 200, response.text
    token = response.json()
    assert token["token_type"] == "bearer" and token["expires_in"] == 3600
    assert token["access_token"].startswith("Atza|")
    return str(token["access_token"])


# -- authentication --------------------------------------------------------------------------


def test_each_channel_refuses_bad_credentials(control: httpx.Client) -> None:
    register(control, "shopify", SHOP, SHOPIFY_CREDS)
    register(control, "woocommerce", STORE, WOO_CREDS)
    register(control, "amazon", SELLER, AMAZON_CREDS)

    shopify = control.get(f"/shopify/{SHOP}{ORDERS}", headers={"X-Shopify-Access-Token": "nope"})
    assert shopify.status_code == 401
    assert shopify.json() == {
        "errors": "[API] Invalid API key or access token (unrecognized login or wrong password)"
    }
    woo = control.get(f"/woocommerce/{STORE}/wp-json/wc/v3/orders", auth=("ck_test", "wrong"))
    assert woo.status_code == 401
    assert woo.json()["code"] == "woocommerce_rest_cannot_view"
    assert woo.json()["data"]["status"] == 401
    amazon = control.get("/amazon/orders/v0/orders", params={"MarketplaceIds": MARKET})
    assert amazon.status_code == 403
    assert amazon.json()["errors"][0]["code"] == "Unauthorized"
    grant = control.post(
        "/amazon/auth/o2/token",
        data={
            "grant_type": "refresh_token",
            "refresh_token": "Atzr|other",
            "client_id": AMAZON_CREDS["lwa_client_id"],
            "client_secret": "lwa-secret",
        },
    )
    assert grant.status_code == 400
    assert grant.json()["error"] == "invalid_grant"


# -- pagination ------------------------------------------------------------------------------


def test_shopify_link_pages_walk_every_order_once(sandbox: Sandbox, control: httpx.Client) -> None:
    register(control, "shopify", SHOP, SHOPIFY_CREDS, rate={"leak_per_second": 1000})
    ids = create(control, "shopify", SHOP, 537, start=past(600), end=past(5), seed=1)
    headers = {"X-Shopify-Access-Token": "shpat_test"}
    url: str | None = f"{sandbox.url}/shopify/{SHOP}{ORDERS}"
    params: dict[str, Any] | None = {"status": "any", "order": "updated_at asc", "limit": 50}
    seen: list[tuple[str, int]] = []
    pages: list[httpx.Response] = []
    while url:
        response = control.get(url, params=params, headers=headers)
        assert response.status_code == 200, response.text
        assert response.headers["X-Shopify-Shop-Api-Call-Limit"].endswith("/40")
        pages.append(response)
        seen += [
            (datetime.fromisoformat(o["updated_at"]).astimezone(UTC).isoformat(), o["id"])
            for o in response.json()["orders"]
        ]
        links = dict(
            (part.split(";")[1].strip(), part.split(";")[0].strip(" <>"))
            for part in response.headers.get("Link", "").split(",")
            if part
        )
        url, params = links.get('rel="next"'), None
    assert len(pages) == 11
    assert sorted(o for _, o in seen) == sorted(ids)
    assert seen == sorted(seen)
    assert 'rel="previous"' not in pages[0].headers["Link"]
    second_page_links = pages[1].headers["Link"].split(", ")
    previous = second_page_links[0].split(";")[0].strip("<>")
    again = control.get(previous, headers=headers).json()["orders"]
    assert [o["id"] for o in again] == [o["id"] for o in pages[0].json()["orders"]]

    with_filter = control.get(previous + "&status=any", headers=headers)
    assert with_filter.status_code == 400
    assert "page_info" in with_filter.json()["errors"]
    too_many = control.get(f"/shopify/{SHOP}{ORDERS}", params={"limit": 251}, headers=headers)
    assert too_many.status_code == 400


def test_shopify_window_is_inclusive_and_status_defaults_to_open(control: httpx.Client) -> None:
    register(control, "shopify", SHOP, SHOPIFY_CREDS, rate={"leak_per_second": 1000})
    create(control, "shopify", SHOP, 200, start=past(300), end=past(5), seed=2)
    everything = control.get(f"/_sandbox/shopify/{SHOP}/orders").json()["orders"]
    middle = everything[100]["updated_at"]
    headers = {"X-Shopify-Access-Token": "shpat_test"}
    window = {"status": "any", "limit": 250, "updated_at_min": middle, "updated_at_max": middle}
    hits = control.get(f"/shopify/{SHOP}{ORDERS}", params=window, headers=headers).json()
    assert everything[100]["id"] in [o["id"] for o in hits["orders"]]

    # Like Shopify, without status=any only open orders come back: cancelled ones are missed.
    open_only = control.get(f"/shopify/{SHOP}{ORDERS}", params={"limit": 250}, headers=headers)
    cancelled = sum(o["status"] == "cancelled" for o in everything)
    closed = sum(o["status"] == "delivered" for o in everything)
    assert cancelled > 0
    assert len(open_only.json()["orders"]) == len(everything) - cancelled - closed
    assert not any(o["cancelled_at"] for o in open_only.json()["orders"])

    register(control, "shopify", SHOP, {**SHOPIFY_CREDS, "access_token": "rotated"})
    assert len(control.get(f"/_sandbox/shopify/{SHOP}/orders").json()["orders"]) == 200
    stale = control.get(f"/shopify/{SHOP}{ORDERS}", headers=headers)
    assert stale.status_code == 401


def test_woocommerce_pages_walk_every_order_once(control: httpx.Client) -> None:
    register(control, "woocommerce", STORE, WOO_CREDS, utc_offset_minutes=480)
    ids = create(control, "woocommerce", STORE, 250, start=past(600), end=past(5), seed=3)
    create(control, "woocommerce", STORE, 20, start=past(2000), end=past(1500), seed=4)
    since = (datetime.now(UTC) - timedelta(minutes=601)).replace(tzinfo=None).isoformat()
    params = {
        "status": "any",
        "orderby": "modified",
        "order": "asc",
        "per_page": 100,
        "modified_after": since,
        "dates_are_gmt": "true",
    }
    seen: list[tuple[str, int]] = []
    page = 1
    while True:
        response = control.get(
            f"/woocommerce/{STORE}/wp-json/wc/v3/orders",
            params={**params, "page": page},
            auth=("ck_test", "cs_test"),
        )
        assert response.status_code == 200, response.text
        assert response.headers["X-WP-Total"] == "250"
        assert response.headers["X-WP-TotalPages"] == "3"
        batch = response.json()
        seen += [(o["date_modified_gmt"], o["id"]) for o in batch]
        if page >= int(response.headers["X-WP-TotalPages"]):
            break
        page += 1
    assert sorted(o for _, o in seen) == sorted(ids)
    assert seen == sorted(seen)
    order = batch[-1]
    site = datetime.fromisoformat(order["date_modified"])
    assert site - datetime.fromisoformat(order["date_modified_gmt"]) == timedelta(hours=8)
    for refund in (r for o in batch for r in o["refunds"]):
        assert refund["total"].startswith("-")

    too_big = control.get(
        f"/woocommerce/{STORE}/wp-json/wc/v3/orders",
        params={"per_page": 101},
        auth=("ck_test", "cs_test"),
    )
    assert too_big.status_code == 400
    assert too_big.json()["code"] == "rest_invalid_param"


def test_amazon_next_token_walks_every_order_once(control: httpx.Client) -> None:
    register(control, "amazon", SELLER, AMAZON_CREDS)
    ids = create(control, "amazon", SELLER, 130, start=past(600), end=past(10), seed=5)
    token = amazon_token(control)
    headers = {"x-amz-access-token": token}
    params: dict[str, Any] = {
        "MarketplaceIds": MARKET,
        "LastUpdatedAfter": past(601),
        "MaxResultsPerPage": 25,
    }
    seen: list[tuple[str, str]] = []
    while True:
        response = control.get("/amazon/orders/v0/orders", params=params, headers=headers)
        assert response.status_code == 200, response.text
        assert float(response.headers["x-amzn-RateLimit-Limit"]) == 5.0
        payload = response.json()["payload"]
        seen += [(o["LastUpdateDate"], o["AmazonOrderId"]) for o in payload["Orders"]]
        if "NextToken" not in payload:
            break
        params = {"MarketplaceIds": MARKET, "NextToken": payload["NextToken"]}
    assert sorted(o for _, o in seen) == sorted(ids)
    assert seen == sorted(seen)
    assert all(o.count("-") == 2 and len(o) == 19 for _, o in seen)

    order_id = seen[0][1]
    items = control.get(f"/amazon/orders/v0/orders/{order_id}/orderItems", headers=headers)
    assert items.status_code == 200
    assert items.json()["payload"]["AmazonOrderId"] == order_id
    assert items.json()["payload"]["OrderItems"][0]["ItemPrice"]["CurrencyCode"] == "USD"


def test_amazon_refuses_a_window_ending_less_than_two_minutes_ago(control: httpx.Client) -> None:
    register(control, "amazon", SELLER, AMAZON_CREDS)
    headers = {"x-amz-access-token": amazon_token(control)}
    params = {"MarketplaceIds": MARKET, "LastUpdatedAfter": past(60), "LastUpdatedBefore": past(1)}
    response = control.get("/amazon/orders/v0/orders", params=params, headers=headers)
    assert response.status_code == 400
    assert response.json()["errors"][0]["code"] == "InvalidInput"
    params["LastUpdatedBefore"] = past(3)
    assert (
        control.get("/amazon/orders/v0/orders", params=params, headers=headers).status_code == 200
    )


# -- rate limits, tokens, faults -------------------------------------------------------------


def test_shopify_bucket_throttles_and_counts_ignored_retry_after(control: httpx.Client) -> None:
    # So slow a leak that even a slow machine cannot drain a request's worth during the test.
    register(control, "shopify", SHOP, SHOPIFY_CREDS, rate={"leak_per_second": 0.02})
    headers = {"X-Shopify-Access-Token": "shpat_test"}
    levels = []
    for _ in range(40):
        response = control.get(f"/shopify/{SHOP}{ORDERS}", headers=headers)
        assert response.status_code == 200
        levels.append(int(response.headers["X-Shopify-Shop-Api-Call-Limit"].split("/")[0]))
    assert levels[0] == 1 and levels[-1] >= 38
    full = control.get(f"/shopify/{SHOP}{ORDERS}", headers=headers)
    assert full.status_code == 429
    assert float(full.headers["Retry-After"]) > 0
    assert "." in full.headers["Retry-After"]
    assert full.json()["errors"].startswith("Exceeded 2 calls per second")
    assert control.get("/_sandbox/stats").json()["violations"] == 0

    impatient = control.get(f"/shopify/{SHOP}{ORDERS}", headers=headers)
    assert impatient.status_code == 429
    stats = control.get("/_sandbox/stats").json()
    assert stats["violations"] == 1
    assert stats["throttled"] == 2
    assert stats["requests"][f"shopify/{SHOP}"] == 42


def test_amazon_token_expires_and_a_new_one_works(control: httpx.Client) -> None:
    register(control, "amazon", SELLER, AMAZON_CREDS)
    token = amazon_token(control)
    params = {"MarketplaceIds": MARKET, "LastUpdatedAfter": past(60)}
    ok = control.get(
        "/amazon/orders/v0/orders", params=params, headers={"x-amz-access-token": token}
    )
    assert ok.status_code == 200
    faults = control.put("/_sandbox/faults", json={"expire_tokens": True})
    assert faults.json()["expire_tokens"] is True
    expired = control.get(
        "/amazon/orders/v0/orders", params=params, headers={"x-amz-access-token": token}
    )
    assert expired.status_code == 403
    assert expired.json()["errors"][0]["details"] == "The access token you provided has expired."
    fresh = amazon_token(control)
    again = control.get(
        "/amazon/orders/v0/orders", params=params, headers={"x-amz-access-token": fresh}
    )
    assert again.status_code == 200


def test_injected_faults_hit_channel_calls_but_never_the_control_api(control: httpx.Client) -> None:
    register(control, "shopify", SHOP, SHOPIFY_CREDS)
    headers = {"X-Shopify-Access-Token": "shpat_test"}
    control.put("/_sandbox/faults", json={"fail_next": 1, "throttle_next": 1, "retry_after": 1.5})
    assert control.get("/_sandbox/stats").status_code == 200
    throttled = control.get(f"/shopify/{SHOP}{ORDERS}", headers=headers)
    assert throttled.status_code == 429
    assert throttled.headers["Retry-After"] == "1.5"
    assert control.get(f"/shopify/{SHOP}{ORDERS}", headers=headers).status_code == 500
    assert control.get("/_sandbox/faults").json()["fail_next"] == 0
    control.delete("/_sandbox/faults")
    assert control.get(f"/shopify/{SHOP}{ORDERS}", headers=headers).status_code == 200
    stats = control.get("/_sandbox/stats").json()
    assert stats["throttled"] == 1
    # The call after the 429 came before its Retry-After had elapsed.
    assert stats["violations"] >= 1


def test_events_move_orders_and_refuse_impossible_steps(control: httpx.Client) -> None:
    register(control, "woocommerce", STORE, WOO_CREDS)
    [order_id] = create(control, "woocommerce", STORE, 1, history=False, seed=11)
    events = f"/_sandbox/woocommerce/{STORE}/orders/{order_id}/events"
    state = control.get(f"/_sandbox/woocommerce/{STORE}/orders").json()["orders"][0]
    if state["status"] == "pending":
        assert control.post(events, json={"action": "refund"}).status_code == 409
        assert control.post(events, json={"action": "pay"}).status_code == 200
    assert control.post(events, json={"action": "ship"}).json()["status"] == "completed"
    refunded = control.post(events, json={"action": "refund", "amount": "5.00"}).json()
    assert refunded["refunds"][-1]["total"] == "-5.00"
    assert control.post(events, json={"action": "refund", "amount": "1.001"}).status_code == 400
    assert (
        control.post(
            f"/_sandbox/woocommerce/{STORE}/orders/999999/events", json={"action": "pay"}
        ).status_code
        == 404
    )


# -- webhooks --------------------------------------------------------------------------------


def test_shopify_webhooks_are_signed_with_the_api_secret(
    sandbox: Sandbox, control: httpx.Client, receiver: Receiver
) -> None:
    register(control, "shopify", SHOP, SHOPIFY_CREDS, webhook_url=receiver.url)
    ids = create(control, "shopify", SHOP, 3, notify=True, history=False)
    assert sandbox.state.webhooks_idle(10)
    assert len(receiver.received) == 3
    for path, headers, body in receiver.received:
        assert path == "/hooks"
        assert headers["x-shopify-topic"] == "orders/create"
        assert headers["x-shopify-shop-domain"] == SHOP
        assert headers["x-shopify-api-version"] == "2024-10"
        assert hmac.compare_digest(headers["x-shopify-hmac-sha256"], hmac_b64("shpss_secret", body))
        assert json.loads(body)["id"] in ids
    assert len({h["x-shopify-event-id"] for _, h, _ in receiver.received}) == 3

    events = f"/_sandbox/shopify/{SHOP}/orders/{ids[0]}/events"
    control.post(events, json={"action": "pay"})
    control.post(events, json={"action": "refund", "amount": "1.00"})
    assert sandbox.state.webhooks_idle(10)
    topics = [h["x-shopify-topic"] for _, h, _ in receiver.received[3:]]
    assert topics[-1] == "refunds/create"
    refund = json.loads(receiver.received[-1][2])
    assert refund["order_id"] == ids[0]
    assert refund["transactions"][0]["amount"] == "1.00"
    assert control.get("/_sandbox/stats").json()["webhooks_sent"] == len(receiver.received)


def test_woocommerce_ping_then_signed_deliveries(
    sandbox: Sandbox, control: httpx.Client, receiver: Receiver
) -> None:
    shop = register(control, "woocommerce", STORE, WOO_CREDS, webhook_url=receiver.url)
    create(control, "woocommerce", STORE, 2, notify=True)
    assert sandbox.state.webhooks_idle(10)
    (_, ping_headers, ping_body), *deliveries = receiver.received
    assert ping_body == f"webhook_id={shop['webhook_id']}".encode()
    assert ping_headers["content-type"] == "application/x-www-form-urlencoded"
    assert "x-wc-webhook-signature" not in ping_headers
    assert len(deliveries) == 2
    for _, headers, body in deliveries:
        assert headers["x-wc-webhook-topic"] == "order.created"
        assert headers["x-wc-webhook-resource"] == "order"
        assert headers["x-wc-webhook-event"] == "created"
        assert headers["x-wc-webhook-id"] == str(shop["webhook_id"])
        assert headers["x-wc-webhook-source"] == f"{sandbox.url}/woocommerce/{STORE}/"
        assert hmac.compare_digest(headers["x-wc-webhook-signature"], hmac_b64("whsec", body))


def test_duplicate_webhooks_repeat_the_event_id(
    sandbox: Sandbox, control: httpx.Client, receiver: Receiver
) -> None:
    register(control, "shopify", SHOP, SHOPIFY_CREDS, webhook_url=receiver.url)
    control.put("/_sandbox/faults", json={"duplicate_webhooks": 2})
    create(control, "shopify", SHOP, 2, notify=True)
    assert sandbox.state.webhooks_idle(10)
    assert len(receiver.received) == 4
    events = [h["x-shopify-event-id"] for _, h, _ in receiver.received]
    assert len(set(events)) == 2 and all(events.count(e) == 2 for e in events)
    assert len({h["x-shopify-webhook-id"] for _, h, _ in receiver.received}) == 4


def test_held_webhooks_flush_in_reverse(
    sandbox: Sandbox, control: httpx.Client, receiver: Receiver
) -> None:
    register(control, "shopify", SHOP, SHOPIFY_CREDS, webhook_url=receiver.url)
    control.put("/_sandbox/faults", json={"hold_webhooks": True, "reverse_webhooks": True})
    ids = create(control, "shopify", SHOP, 4, notify=True)
    assert sandbox.state.webhooks_idle(10)
    assert receiver.received == []
    assert control.get("/_sandbox/stats").json()["webhooks_held"] == 4
    assert control.post("/_sandbox/webhooks/flush").json() == {"flushed": 4}
    assert sandbox.state.webhooks_idle(10)
    assert [json.loads(body)["id"] for _, _, body in receiver.received] == ids[::-1]


def test_undeliverable_webhooks_are_counted_not_fatal(
    sandbox: Sandbox, control: httpx.Client
) -> None:
    unused = Receiver()
    unused.close()
    register(control, "shopify", SHOP, SHOPIFY_CREDS, webhook_url=unused.url)
    create(control, "shopify", SHOP, 2, notify=True)
    assert sandbox.state.webhooks_idle(15)
    stats = control.get("/_sandbox/stats").json()
    assert stats["webhooks_failed"] == 2 and stats["webhooks_sent"] == 0
    assert control.get(f"/_sandbox/shopify/{SHOP}/orders").status_code == 200


# -- generated data --------------------------------------------------------------------------


def test_generated_orders_are_realistic_and_reproducible() -> None:
    first, second = SandboxState(), SandboxState()
    for state in (first, second):
        state.register_shop("shopify", SHOP, SHOPIFY_CREDS, currency="USD")
    start = datetime(2026, 1, 1, tzinfo=UTC)
    end = start + timedelta(days=10)
    orders = first.create_orders("shopify", SHOP, 3000, start=start, end=end, seed=42)
    again = second.create_orders("shopify", SHOP, 3000, start=start, end=end, seed=42)
    assert [o.buyer.email for o in orders] == [o.buyer.email for o in again]
    assert all(start <= o.created_at <= o.updated_at <= end for o in orders)
    assert all(o.updated_at.microsecond == 0 for o in orders)
    assert all(o.total == o.subtotal + o.tax + o.shipping for o in orders)
    assert all(o.refunded <= o.total for o in orders)

    def bad_phone(phone: str | None) -> bool:
        digits = "".join(c for c in phone or "" if c.isdigit())
        return phone is not None and not (
            (
                phone.startswith(("+86", "1"))
                and digits.lstrip("86")[:1] == "1"
                and len(digits) in (11, 13)
            )
            or (phone.startswith(("+1", "(")) and len(digits) in (10, 11))
            or (phone.startswith(("+44", "07")) and len(digits) in (11, 12))
        )

    malformed = sum(bad_phone(o.buyer.phone) for o in orders) / len(orders)
    assert 0.02 < malformed < 0.09
    unclear = sum(
        not o.address.city or o.address.address1 in ("TBD", "?") or not o.address.zip
        for o in orders
    ) / len(orders)
    assert 0.01 < unclear < 0.06
    countries = {o.address.country_code for o in orders}
    assert countries == {"US", "CN", "GB"}
    assert any(o.buyer.cjk for o in orders) and any(o.cancelled_at for o in orders)
    assert any(o.refunds for o in orders) and any(
        line.quantity > 3 for o in orders for line in o.lines
    )


def test_demo_shops_file_and_order_stream(tmp_path: Path) -> None:
    state = SandboxState(seed=3)
    shops = [
        {"channel": "shopify", "shop": SHOP, "credentials": SHOPIFY_CREDS, "currency": "USD"},
        {
            "channel": "woocommerce",
            "shop": STORE,
            "credentials": WOO_CREDS,
            "currency": "CNY",
            "utc_offset_minutes": 480,
        },
        {"channel": "amazon", "shop": SELLER, "credentials": AMAZON_CREDS},
    ]
    path = tmp_path / "shops.json"
    path.write_text(json.dumps(shops), encoding="utf-8")
    assert load_shops(state, path) == 3
    stream = OrderStream(state, every=60, seed=1)
    for _ in range(30):
        stream.tick()
    for channel, name in state.shops:
        orders = list(state.shops[(channel, name)].orders.values())
        assert len(orders) == 30
    woo = list(state.shops[("woocommerce", STORE)].orders.values())
    assert all(o.currency == "CNY" for o in woo)
    statuses = {o.status for shop in state.shops.values() for o in shop.orders.values()}
    assert {"pending", "paid"} <= statuses and len(statuses) >= 3


def test_a_merchants_own_storefront_carries_its_chat_widget(control: httpx.Client) -> None:
    script = "http://127.0.0.1:8000/widget/abc123.js"
    register(control, "shopify", "tea.myshopify.com", SHOPIFY_CREDS, widget_script=script)
    register(control, "woocommerce", "tea-store", {})
    page = control.get("/_sites/shopify/tea.myshopify.com")
    assert page.status_code == 200
    assert f'<script src="{script}" async></script>' in page.text
    # A shop without a widget shows none; an unknown shop has no page; a script that is no URL
    # is refused.
    assert "<script" not in control.get("/_sites/woocommerce/tea-store").text
    assert control.get("/_sites/shopify/nobody.myshopify.com").status_code == 404
    bad = {"channel": "shopify", "shop": "x.myshopify.com", "widget_script": "javascript:1"}
    assert control.post("/_sandbox/shops", json=bad).status_code == 422
