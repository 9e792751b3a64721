"""Stock sync to shops (库存同步) against the sandbox marketplaces over real HTTP on loopback.

Each shop shows its share of the sellable stock (a bundle's from its parts); ratios of one SKU
over 100 % are refused; a burst of stock changes queues one push per shop and makes the fewest
marketplace calls; a 5xx or a 429 is waited out, a push that cannot get through is kept on each
listing and tried again after its backoff; the last pushed quantity and time are visible; a
paused shop or a suspended tenant gets no call; the sandbox refuses orders beyond what it holds.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import delete, select

from daiyun.connectors import service as shop_service
from daiyun.connectors.http import forget_rate_limits
from daiyun.connectors.schemas import ShopUpdate
from daiyun.core.db import unit_of_work
from daiyun.core.errors import Problem
from daiyun.core.ids import utcnow
from daiyun.platform.storefront import sync
from daiyun.platform.warehouse import service, stock_push, stock_sync, sync_marks
from daiyun.platform.warehouse.models import (
    ShareKind,
    StockSyncListing,
    StockSyncRule,
    StockSyncStatus,
)
from daiyun.platform.warehouse.schemas import AdjustmentCreate, AdjustmentLine
from daiyun.platform.warehouse.sync_schemas import SyncRuleCreate
from daiyun.sandboxes.marketplaces.generator import PRODUCTS
from daiyun.sandboxes.marketplaces.server import Sandbox, running_sandbox
from daiyun.sandboxes.marketplaces.state import Faults, SandboxState
from daiyun.sandboxes.marketplaces.stock import state_stock
from daiyun.tenants import service as tenant_service
from daiyun.tenants.auth.permissions import Role
from daiyun.tenants.models import Tenant, TenantStatus
from tests.conftest import World
from tests.platform.storefront.listing_helpers import SHOP_NAMES, connect, listed
from tests.platform.warehouse.conftest import Site, Stockroom, make_site, seed_catalog

CHANNELS = ("woocommerce", "shopify")


@pytest.fixture
def sandbox() -> Iterator[Sandbox]:
    with running_sandbox(SandboxState(seed=17)) as served:
        yield served
    forget_rate_limits()


@dataclass
class Shops:
    """A merchant with TEA, CUP and the bundle SET (2 TEA + 1 CUP) listed on two shops."""

    room: Stockroom
    sandbox: Sandbox
    shops: dict[str, uuid.UUID] = field(default_factory=dict)

    @property
    def tenant(self) -> Tenant:
        return self.room.tenant

    def adjust(self, code: str, delta: int, site: Site | None = None) -> None:
        line = AdjustmentLine(
            sku_id=self.room.skus[code], location_id=(site or self.room.hz).shelf, delta=delta
        )
        with unit_of_work(self.tenant.id) as session:
            service.create_adjustment(session, AdjustmentCreate(reason="found", lines=[line]))

    def push(self, channel: str, **options: Any) -> stock_push.StockReport:
        return stock_push.push_shop(self.tenant.id, self.shops[channel], **options)

    def held(self, channel: str) -> dict[str, int]:
        return dict(state_stock(self.sandbox.state).shop(channel, SHOP_NAMES[channel]).quantities)

    def set_calls(self, channel: str) -> int:
        return state_stock(self.sandbox.state).shop(channel, SHOP_NAMES[channel]).calls

    def rows(self, channel: str) -> dict[str, StockSyncListing]:
        codes = {v: k for k, v in self.room.skus.items()}
        with unit_of_work(self.tenant.id) as session:
            stmt = select(StockSyncListing).where(StockSyncListing.shop_id == self.shops[channel])
            return {codes[r.sku_id]: r for r in session.scalars(stmt)}

    def rule(self, channel: str, code: str | None, **share: Any) -> None:
        body = SyncRuleCreate(
            shop_id=self.shops[channel],
            sku_id=self.room.skus[code] if code else None,
            **share,
        )
        with unit_of_work(self.tenant.id) as session:
            stock_sync.create_rule(session, body)


@pytest.fixture
def shops(world: World, sandbox: Sandbox) -> Shops:
    tenant = world.tenant()
    tag = uuid.uuid4().hex[:6].upper()
    room = Stockroom(
        tenant=tenant,
        shop_id=uuid.uuid4(),
        hz=make_site(f"HZ{tag}", 10),
        sz=make_site(f"SZ{tag}", 20),
        skus=seed_catalog(tenant),
    )
    found = Shops(room, sandbox)
    for channel in CHANNELS:
        shop_id = connect(sandbox, tenant.id, channel)
        listed(tenant.id, shop_id, [room.skus["TEA"], room.skus["SET"]])
        assert sync.push_shop(tenant.id, shop_id).synced == 2  # on the marketplace now
        found.shops[channel] = shop_id
    return found


def _problem(call: Any) -> Problem:
    with pytest.raises(Problem) as caught:
        call()
    return caught.value


def test_ratios_of_one_sku_over_100_percent_are_refused(shops: Shops) -> None:
    shops.rule("woocommerce", "TEA", kind=ShareKind.ratio, ratio_percent=60)
    over = _problem(lambda: shops.rule("shopify", "TEA", kind=ShareKind.ratio, ratio_percent=50))
    assert (over.status, over.kind) == (422, "ratio-over-100")
    assert over.extra == {"sku": "TEA", "total_percent": 110}
    # A shop's default counts for every SKU without its own rule there: 60 + 70 for TEA.
    shops.rule("shopify", None, kind=ShareKind.ratio, ratio_percent=40)
    over = _problem(lambda: shops.rule("woocommerce", None, kind=ShareKind.ratio, ratio_percent=70))
    assert over.extra == {"sku": "*", "total_percent": 110}
    # A fixed quantity is no ratio; 60 + 40 is allowed.
    shops.rule("woocommerce", "CUP", kind=ShareKind.fixed, fixed_quantity=500)
    with unit_of_work(shops.tenant.id) as session:
        stored = {
            (r.shop_id, r.sku_id, r.ratio_percent) for r in session.scalars(select(StockSyncRule))
        }
    tea, cup = shops.room.skus["TEA"], shops.room.skus["CUP"]
    woo, shopify = shops.shops["woocommerce"], shops.shops["shopify"]
    # The refused rules left nothing behind.
    assert stored == {(woo, tea, 60), (shopify, None, 40), (woo, cup, None)}


def test_each_shop_shows_its_share_and_the_last_push_is_visible(shops: Shops) -> None:
    shops.rule("woocommerce", "TEA", kind=ShareKind.ratio, ratio_percent=50)
    shops.rule("shopify", "TEA", kind=ShareKind.fixed, fixed_quantity=3, safety_floor=2)
    shops.adjust("TEA", 9)
    shops.adjust("TEA", 2, shops.room.sz)  # 11 sellable over both warehouses
    shops.adjust("CUP", 4)
    before = utcnow()
    for channel in CHANNELS:
        report = shops.push(channel)
        assert (report.synced, report.failed) == (2, 0)
    # Woo: half of 11, rounded down; the bundle from its parts in each warehouse (HZ: 9 TEA
    # and 4 CUP make 4 sets; SZ: no CUP, none). Shopify: 3 fixed.
    assert shops.held("woocommerce") == {"TEA": 5, "SET": 4}
    assert shops.held("shopify") == {"TEA": 3, "SET": 4}
    rows = shops.rows("shopify")
    assert {c: (r.status, r.desired, r.pushed_quantity) for c, r in rows.items()} == {
        "TEA": (StockSyncStatus.synced, 3, 3),
        "SET": (StockSyncStatus.synced, 4, 4),
    }
    assert all(r.pushed_at is not None and r.pushed_at >= before for r in rows.values())
    # The safety floor: at 2 sellable or fewer the shop shows none.
    shops.adjust("TEA", -9)  # 2 left (in SZ)
    shops.push("shopify")
    assert shops.held("shopify")["TEA"] == 0
    # Nothing changed since: a second push makes no call.
    calls = shops.set_calls("shopify")
    assert shops.push("shopify").sent == 0
    assert shops.set_calls("shopify") == calls


def test_a_burst_of_changes_makes_one_push_per_shop(
    shops: Shops, monkeypatch: pytest.MonkeyPatch
) -> None:
    queued: list[tuple[Any, ...]] = []
    monkeypatch.setattr(
        sync_marks, "enqueue_after_commit", lambda session, task, *args, **kw: queued.append(args)
    )
    shops.adjust("CUP", 100)
    for channel in CHANNELS:
        shops.push(channel)
    queued.clear()
    for _ in range(20):
        shops.adjust("TEA", 1)
    # One push queued per shop, not one per change.
    assert sorted(q[1] for q in queued) == sorted(str(s) for s in shops.shops.values())
    woo_calls, shopify_calls = shops.set_calls("woocommerce"), shops.set_calls("shopify")
    for channel in CHANNELS:
        assert shops.push(channel).synced == 2
    # The fewest calls: one batch on WooCommerce, one per listing on Shopify (no batch method).
    assert shops.set_calls("woocommerce") - woo_calls == 1
    assert shops.set_calls("shopify") - shopify_calls == 2
    assert shops.held("woocommerce") == {"TEA": 20, "SET": 10}
    # The push cleared the shop's queue: the next change queues again.
    queued.clear()
    shops.adjust("TEA", 1)
    assert len(queued) == 2


def test_a_push_waits_out_5xx_and_429_and_retries_after_its_backoff(shops: Shops) -> None:
    shops.adjust("TEA", 7)
    shops.sandbox.state.set_faults(Faults(throttle_next=1, retry_after=0.1, fail_next=1))
    report = shops.push("woocommerce")
    assert (report.synced, report.failed) == (2, 0)
    assert shops.held("woocommerce")["TEA"] == 7
    # A marketplace down for longer than a push waits: kept on each listing, tried later.
    shops.adjust("TEA", 3)
    shops.sandbox.state.set_faults(Faults(fail_next=50))
    now = utcnow()
    report = shops.push("woocommerce", now=now)
    # SET (no CUP) still shows 0, as pushed: only TEA needs a call.
    assert (report.failed, report.unchanged) == (1, 1)
    tea = shops.rows("woocommerce")["TEA"]
    assert tea.status is StockSyncStatus.failed
    assert "500" in (tea.error or "")
    assert tea.next_attempt_at is not None and tea.next_attempt_at > now
    assert tea.pushed_quantity == 7  # what the marketplace still holds
    with unit_of_work(shops.tenant.id) as session:
        woo = shops.shops["woocommerce"]
        assert woo not in stock_push.shops_with_due(session, now)  # not before its backoff
        later = now + timedelta(hours=1)
        assert woo in stock_push.shops_with_due(session, later)
    shops.sandbox.state.set_faults(Faults())
    report = shops.push("woocommerce", now=later)
    assert (report.synced, report.failed) == (1, 0)
    assert shops.held("woocommerce")["TEA"] == 10
    assert {r.error for r in shops.rows("woocommerce").values()} == {None}


def test_a_paused_shop_or_a_suspended_tenant_gets_no_call(shops: Shops) -> None:
    shops.adjust("TEA", 5)
    with unit_of_work(shops.tenant.id) as session:
        shop_service.update(session, shops.shops["shopify"], ShopUpdate(status="paused"))
    assert shops.push("shopify").halted == "The shop is paused"
    with unit_of_work() as session:
        found = tenant_service.get_tenant(session, shops.tenant.id)
        assert found is not None
        found.status = TenantStatus.suspended
    assert shops.push("woocommerce").halted == "The tenant is suspended"
    assert shops.held("shopify") == shops.held("woocommerce") == {}
    assert {r.status for r in shops.rows("woocommerce").values()} == {StockSyncStatus.pending}
    with unit_of_work() as session:
        found = tenant_service.get_tenant(session, shops.tenant.id)
        assert found is not None
        found.status = TenantStatus.active
    assert shops.push("woocommerce").synced == 2


def test_a_resync_sends_every_quantity_again(shops: Shops) -> None:
    shops.adjust("TEA", 4)
    shops.push("woocommerce")
    # Someone set the quantity by hand in the seller centre: the marketplace drifted.
    state_stock(shops.sandbox.state).shop("woocommerce", SHOP_NAMES["woocommerce"]).quantities[
        "TEA"
    ] = 99
    assert shops.push("woocommerce").sent == 0
    with unit_of_work(shops.tenant.id) as session:
        assert stock_sync.resync(session, shops.shops["woocommerce"]).listings == 2
    report = shops.push("woocommerce")
    assert (report.sent, report.synced) == (2, 2)
    assert shops.held("woocommerce")["TEA"] == 4


def test_the_sandbox_refuses_orders_beyond_the_pushed_quantity(shops: Shops) -> None:
    shops.adjust("TEA", 5)
    shops.push("woocommerce")
    url = f"{shops.sandbox.url}/_sandbox/woocommerce/{SHOP_NAMES['woocommerce']}/stock/orders"
    assert httpx.post(url, json={"sku": "TEA", "quantity": 6}).status_code == 409
    assert httpx.post(url, json={"sku": "TEA", "quantity": 5}).status_code == 201
    assert httpx.post(url, json={"sku": "TEA", "quantity": 1}).status_code == 409
    # Generated orders too: none while the shop holds none of what they sell.
    state, name = shops.sandbox.state, SHOP_NAMES["woocommerce"]
    for sku, *_ in PRODUCTS:
        state_stock(state).set("woocommerce", name, sku, 0)
    assert state.create_orders("woocommerce", name, 20) == []
    assert state_stock(state).shop("woocommerce", name).refused_orders == 22


def test_the_stock_sync_api(shops: Shops, world: World) -> None:
    operator = world.actor(Role.warehouse_operator, shops.tenant)
    viewer = world.actor(Role.merchant_viewer, shops.tenant)
    base = f"/api/v1/tenants/{shops.tenant.slug}/stock-sync"
    woo, shopify = (str(shops.shops[c]) for c in CHANNELS)
    tea = str(shops.room.skus["TEA"])
    rule = {"shop_id": woo, "sku_id": tea, "kind": "ratio", "ratio_percent": 70}
    made = world.client.post(f"{base}/rules", json=rule, headers=operator.headers)
    assert made.status_code == 201, made.text
    assert (made.json()["sku"], made.json()["ratio_percent"]) == ("TEA", 70)
    over = world.client.post(
        f"{base}/rules",
        json={**rule, "shop_id": shopify, "ratio_percent": 40},
        headers=operator.headers,
    )
    assert over.status_code == 422
    assert over.headers["content-type"].startswith("application/problem+json")
    assert (over.json()["sku"], over.json()["total_percent"]) == ("TEA", 110)
    assert "TEA" in over.json()["detail"] and "110" in over.json()["detail"]
    twice = world.client.post(f"{base}/rules", json=rule, headers=operator.headers)
    assert twice.status_code == 409
    bad = world.client.post(
        f"{base}/rules", json={**rule, "fixed_quantity": 3}, headers=operator.headers
    )
    assert bad.status_code == 422
    refused = world.client.post(
        f"{base}/rules", json={**rule, "shop_id": shopify}, headers=viewer.headers
    )
    assert refused.status_code == 403
    rule_url = f"{base}/rules/{made.json()['id']}"
    changed = world.client.put(
        rule_url, json={"kind": "fixed", "fixed_quantity": 2}, headers=operator.headers
    )
    assert (changed.status_code, changed.json()["fixed_quantity"]) == (200, 2)
    listed = world.client.get(f"{base}/rules", params={"shop_id": woo}, headers=viewer.headers)
    assert [r["kind"] for r in listed.json()["items"]] == ["fixed"]
    shops.adjust("TEA", 9)
    shops.push("woocommerce")
    rows = world.client.get(
        f"{base}/listings", params={"shop_id": woo, "sku_id": tea}, headers=viewer.headers
    ).json()["items"]
    assert [(r["sku"], r["status"], r["pushed_quantity"]) for r in rows] == [("TEA", "synced", 2)]
    assert rows[0]["pushed_at"] is not None
    failed = world.client.get(
        f"{base}/listings", params={"status": "failed"}, headers=viewer.headers
    )
    assert failed.json()["items"] == []
    again = world.client.post(f"{base}/resync", json={"shop_id": woo}, headers=operator.headers)
    assert (again.status_code, again.json()["listings"]) == (202, 2)
    unknown = world.client.post(
        f"{base}/resync", json={"shop_id": str(uuid.uuid4())}, headers=operator.headers
    )
    assert unknown.status_code == 422
    assert world.client.delete(rule_url, headers=operator.headers).status_code == 204
    assert world.client.get(rule_url, headers=viewer.headers).status_code == 404


def test_a_listing_newly_on_its_marketplace_gets_its_quantity(shops: Shops) -> None:
    shops.adjust("CUP", 3)
    shops.push("woocommerce")
    shops.adjust("TEA", 4)
    with unit_of_work(shops.tenant.id) as session:
        session.execute(delete(StockSyncListing))  # as before the first publish
        assert sync_marks.mark_new(session) == 4
        assert sync_marks.mark_new(session) == 0  # once
    shops.push("woocommerce")
    assert shops.held("woocommerce") == {"TEA": 4, "SET": 2}
