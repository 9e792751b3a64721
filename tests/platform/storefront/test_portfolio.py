"""Portfolio analysis on a hand-computed month: shares, growth, margins, quadrants by the default
and by stored thresholds (a SKU exactly on one counts as high), each SKU's path over six months,
sales in another currency at each day's rate; read from the rollups, never another tenant's."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any

from fastapi.testclient import TestClient

from daiyun.connectors import service as shop_service
from daiyun.core.db import unit_of_work
from daiyun.platform.rates import service as rates
from daiyun.platform.rates.rules import Quote
from daiyun.platform.reports import service as reports
from daiyun.platform.storefront.portfolio import Month, Quadrant, ThresholdsRead, place
from daiyun.tenants.auth.permissions import Role
from daiyun.tenants.models import Tenant
from tests import factories
from tests.conftest import Actor, World
from tests.platform.reports.test_reports import ingest, local, make_order

API = "/api/v1/tenants"
SEP, OCT = date(2026, 9, 10), date(2026, 10, 14)


def _catalog(client: TestClient, manager: Actor, tenant: Tenant) -> None:
    """SKUs A (cost 10.00), B (20.00), C (5.00), D (3.00, never sold) and a bundle SET of two A
    (its cost 20.00 derived); all on sale."""
    base = f"{API}/{tenant.slug}"
    variants = [
        {"code": code, "cost_minor": cost, "currency": "CNY", "attributes": {"size": code}}
        for code, cost in (("A", 1000), ("B", 2000), ("C", 500), ("D", 300))
    ]
    product = client.post(
        f"{base}/products",
        json={"name": "Longjing", "status": "active", "variants": variants},
        headers=manager.headers,
    )
    assert product.status_code == 201, product.text
    a_id = product.json()["variants"][0]["id"]
    bundle = client.post(
        f"{base}/bundles",
        json={
            "code": "SET",
            "product_id": product.json()["id"],
            "currency": "CNY",
            "status": "active",
            "parts": [{"sku_id": a_id, "quantity": 2}],
        },
        headers=manager.headers,
    )
    assert bundle.status_code == 201, bundle.text


def _sales(tenant: Tenant) -> None:
    """August: A 300.00. September: A 300.00, B 100.00, SET 50.00, X-OLD (not in the catalog)
    50.00. October: A 300.00, B 300.00, C 40.00, SET 50.00; one order refunds 20.00. Every order
    adds 10.00 of shipping, which belongs to no SKU. The refund names its lines: two of the four
    C."""
    shop = factories.shop(tenant.id)
    returned = make_order(
        "p-oct-2", local(OCT, 11), lines=[("B", 2, 5000), ("C", 4, 1000)], refunded=2000
    )
    returned.refunds[0].lines = [{"sku": "C", "quantity": 2, "amount_minor": 2000}]
    aug = date(2026, 8, 20)
    ingest(
        tenant.id,
        shop.id,
        "shopify",
        make_order("p-aug", local(aug, 10), lines=[("A", 10, 3000)]),
        make_order("p-sep-1", local(SEP, 10), lines=[("A", 10, 3000), ("B", 2, 5000)]),
        make_order("p-sep-2", local(SEP, 11), lines=[("SET", 1, 5000), ("X-OLD", 1, 5000)]),
        make_order("p-oct-1", local(OCT, 10), lines=[("A", 10, 3000), ("B", 4, 5000)]),
        returned,
        make_order("p-oct-3", local(OCT, 12), lines=[("SET", 1, 5000)]),
    )
    with unit_of_work(tenant.id) as session:
        reports.rebuild(session, tenant)


def _portfolio(client: TestClient, actor: Actor, tenant: Tenant, period: str) -> dict[str, Any]:
    answer = client.get(
        f"{API}/{tenant.slug}/portfolio", params={"period": period}, headers=actor.headers
    )
    assert answer.status_code == 200, answer.text
    return dict(answer.json())


def _by_code(portfolio: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {row["code"]: row for row in portfolio["skus"]}


def test_the_portfolio_of_a_hand_computed_month(world: World, client: TestClient) -> None:
    tenant = world.tenant()
    manager = world.actor(Role.account_manager, tenant)
    owner = world.actor(Role.merchant_owner, tenant)
    _catalog(client, manager, tenant)
    _sales(tenant)

    found = _portfolio(client, owner, tenant, "2026-10")
    assert found["currency"] == "CNY"
    assert found["thresholds"] == {
        "share_threshold_bp": 1000,
        "growth_threshold_bp": 1000,
        "default": True,
    }
    assert found["months"] == ["2026-05", "2026-06", "2026-07", "2026-08", "2026-09", "2026-10"]
    # October's SKUs sold 300 + 300 + 40 + 50 = 690.00; September's 300 + 100 + 50 + 50.
    assert (found["gmv_minor"], found["previous_gmv_minor"]) == (69000, 50000)
    # The orders' GMV adds three orders' shipping; 20.00 of it was refunded.
    assert found["order_gmv_minor"] == 69000 + 3000
    assert Decimal(found["refund_rate"]) == Decimal("0.0278")  # 2000 / 72000
    rows = _by_code(found)
    # Largest GMV first, ties by last month's GMV, then code; D never sold, X-OLD not this month.
    assert [r["code"] for r in found["skus"]] == ["A", "B", "SET", "C", "X-OLD", "D"]

    a, b, c, d, bundle, old = (rows[k] for k in ("A", "B", "C", "D", "SET", "X-OLD"))
    # A: 300/690 = 43.48 % of GMV, no growth (300 both months): a cash cow, margin (300-100)/300.
    assert (a["gmv_minor"], a["previous_gmv_minor"], a["units"]) == (30000, 30000, 10)
    assert (Decimal(a["share"]), Decimal(a["growth"])) == (Decimal("0.4348"), Decimal(0))
    assert Decimal(a["margin"]) == Decimal("0.6667")
    assert a["quadrant"] == "cash_cow"
    # A was new in August (100 % of it), then flat.
    assert a["path"] == [None, None, None, "star", "cash_cow", "cash_cow"]
    # B: 300/690, up 200 % from 100: a star; margin (300 - 6 x 20)/300.
    assert (Decimal(b["share"]), Decimal(b["growth"])) == (Decimal("0.4348"), Decimal(2))
    assert (b["quadrant"], Decimal(b["margin"]), b["units"]) == ("star", Decimal("0.6"), 6)
    assert b["path"] == [None, None, None, None, "star", "star"]
    # C: new this month (growth without bound), 5.80 % of GMV: a question mark.
    assert (Decimal(c["share"]), c["growth"]) == (Decimal("0.0580"), None)
    assert (c["quadrant"], Decimal(c["margin"])) == ("question_mark", Decimal("0.5"))
    # Two of the four C sold came back; nothing of A; D sold nothing to return.
    assert (Decimal(c["return_rate"]), Decimal(a["return_rate"])) == (Decimal("0.5"), 0)
    assert d["return_rate"] is None
    # SET: 7.25 % and flat: a dog; its cost is its two A's (20.00) and so its margin 60 %.
    assert (bundle["quadrant"], bundle["unit_cost_minor"]) == ("dog", 2000)
    assert Decimal(bundle["margin"]) == Decimal("0.6")
    # In September SET and X-OLD each had exactly 10 % of 500.00: on the threshold is high.
    assert bundle["path"][-2:] == ["star", "dog"]
    assert old["path"][-2:] == ["star", "dog"]
    assert (old["in_catalog"], old["sku_id"], old["margin"]) == (False, None, None)
    assert (Decimal(old["growth"]), old["gmv_minor"]) == (Decimal(-1), 0)
    # D is on sale and sold nothing in any month: a dog, with no place on its path.
    assert (d["quadrant"], d["units"], d["growth"], d["path"]) == ("dog", 0, None, [None] * 6)
    assert d["attributes"] == {"size": "D"} and d["name"] == "Longjing"
    assert found["counts"] == {"star": 1, "cash_cow": 1, "question_mark": 1, "dog": 3}
    assert found["conversions"] == []


def test_stored_thresholds_place_skus_and_a_sku_on_one_counts_as_high(
    world: World, client: TestClient
) -> None:
    tenant = world.tenant()
    manager = world.actor(Role.account_manager, tenant)
    viewer = world.actor(Role.merchant_viewer, tenant)
    _catalog(client, manager, tenant)
    _sales(tenant)
    url = f"{API}/{tenant.slug}/portfolio/settings"

    # B grew exactly 200 % (20000 bp); A has 43.48 % (4347 bp is under it, 4349 over it).
    body = {"share_threshold_bp": 4347, "growth_threshold_bp": 20000}
    denied = client.put(url, json=body, headers=viewer.headers)
    assert denied.status_code == 403
    assert _portfolio(client, viewer, tenant, "2026-10")["thresholds"]["default"] is True
    saved = client.put(url, json=body, headers=manager.headers)
    assert saved.status_code == 200, saved.text
    assert saved.json() == {**body, "default": False}
    rows = _by_code(_portfolio(client, viewer, tenant, "2026-10"))
    assert (rows["A"]["quadrant"], rows["B"]["quadrant"]) == ("cash_cow", "star")

    body = {"share_threshold_bp": 4349, "growth_threshold_bp": 20001}
    assert client.put(url, json=body, headers=manager.headers).status_code == 200
    rows = _by_code(_portfolio(client, viewer, tenant, "2026-10"))
    assert (rows["A"]["quadrant"], rows["B"]["quadrant"]) == ("dog", "dog")
    assert rows["C"]["quadrant"] == "question_mark"  # new: growth without bound

    for bad in (
        {"share_threshold_bp": 10001, "growth_threshold_bp": 0},
        {"share_threshold_bp": 1000, "growth_threshold_bp": -10001},
        {"share_threshold_bp": "1000", "growth_threshold_bp": 0},
        {"share_threshold_bp": 1000},
    ):
        refused = client.put(url, json=bad, headers=manager.headers)
        assert refused.status_code == 422, bad
    assert _portfolio(client, viewer, tenant, "2026-10")["thresholds"] == {**body, "default": False}


def test_sales_in_another_currency_join_at_each_days_rate(world: World, client: TestClient) -> None:
    tenant = world.tenant()
    manager = world.actor(Role.account_manager, tenant)
    _catalog(client, manager, tenant)
    shop = factories.shop(tenant.id)
    day_with_rate, day_without = date(2026, 10, 14), date(2026, 10, 15)
    ingest(
        tenant.id,
        shop.id,
        "shopify",
        make_order("fx-1", local(day_with_rate, 10), lines=[("A", 10, 3000)]),
        # 3 x 3.33 USD on a day at 7.1234: 9.99 x 7.1234 = 71.16 CNY (71.162766, half up).
        make_order("fx-2", local(day_with_rate, 11), lines=[("A", 3, 333)], currency="USD"),
        make_order("fx-3", local(day_without, 11), lines=[("B", 1, 500)], currency="USD"),
    )
    with unit_of_work() as session:
        rates.record(
            session, [Quote("USD", "CNY", day_with_rate, Decimal("7.1234"), "test")], "test"
        )
    with unit_of_work(tenant.id) as session:
        reports.rebuild(session, tenant)

    found = _portfolio(client, manager, tenant, "2026-10")
    assert found["currency"] == "CNY"
    rows = _by_code(found)
    assert rows["A"]["gmv_minor"] == 30000 + 7116
    assert rows["A"]["units"] == 13
    # Every unit had its GMV counted: (371.16 - 13 x 10.00) / 371.16.
    assert Decimal(rows["A"]["margin"]) == Decimal("0.6497")
    # B sold only on a day without a rate: its units count, its GMV is left out and the day named.
    assert (rows["B"]["units"], rows["B"]["gmv_minor"], rows["B"]["margin"]) == (1, 0, None)
    # The orders' GMV: 310.00 in CNY, and the first USD order's 19.99 (with its shipping) at
    # 7.1234 = 142.40; the order on the day without a rate is left out.
    assert found["order_gmv_minor"] == 31000 + 14240
    (usd,) = found["conversions"]
    assert usd["currency"] == "USD" and usd["days_without_rate"] == [day_without.isoformat()]
    assert Decimal(usd["lowest_rate"]) == Decimal("7.1234")


def test_another_tenant_sees_neither_the_portfolio_nor_its_sales(
    world: World, client: TestClient
) -> None:
    a, b = world.tenant(), world.tenant()
    manager = world.actor(Role.account_manager, a)
    _catalog(client, manager, a)
    _sales(a)
    stranger = world.actor(Role.merchant_owner, b)
    answer = client.get(
        f"{API}/{a.slug}/portfolio", params={"period": "2026-10"}, headers=stranger.headers
    )
    assert answer.status_code == 404
    own = _portfolio(client, stranger, b, "2026-10")
    assert (own["skus"], own["gmv_minor"], own["order_gmv_minor"]) == ([], 0, 0)
    refused = client.put(
        f"{API}/{a.slug}/portfolio/settings",
        json={"share_threshold_bp": 1, "growth_threshold_bp": 1},
        headers=stranger.headers,
    )
    assert refused.status_code == 404
    assert _portfolio(client, manager, a, "2026-10")["thresholds"]["default"] is True


def test_placing_compares_integers_at_the_thresholds() -> None:
    limits = ThresholdsRead(share_threshold_bp=1000, growth_threshold_bp=1000, default=True)
    assert place(100, 0, 1000, limits) == Quadrant.star  # exactly 10 %, new
    assert place(99, 0, 1000, limits) == Quadrant.question_mark
    assert place(110, 100, 1000, limits) == Quadrant.star  # exactly +10 %
    assert place(109, 100, 1000, limits) == Quadrant.cash_cow
    assert place(0, 0, 0, limits) == Quadrant.dog
    assert Month.parse("2026-01").shift(-1) == Month(2025, 12)
    assert str(Month(2026, 3).shift(10)) == "2027-01"


def test_a_mapped_or_listed_string_counts_as_its_catalog_sku(
    world: World, client: TestClient
) -> None:
    tenant = world.tenant()
    manager = world.actor(Role.account_manager, tenant)
    _catalog(client, manager, tenant)
    _sales(tenant)
    base = f"{API}/{tenant.slug}"
    with unit_of_work(tenant.id) as session:
        shop_id = str(shop_service.shops(session)[0].id)
    ids = {
        s["code"]: s["id"]
        for s in client.get(f"{base}/skus", headers=manager.headers).json()["items"]
    }
    # September's X-OLD lines (50.00) were C: C then grew from 50.00 to 40.00, -20 %.
    mapping = {"shop_id": shop_id, "marketplace_sku": "X-OLD", "sku_id": ids["C"]}
    answer = client.post(
        f"{base}/catalog/unmatched-lines/mappings", json=mapping, headers=manager.headers
    )
    assert answer.status_code in (200, 201), answer.text
    rows = _by_code(_portfolio(client, manager, tenant, "2026-10"))
    assert "X-OLD" not in rows
    c = rows["C"]
    assert (c["previous_gmv_minor"], Decimal(c["growth"]), c["quadrant"]) == (
        5000,
        Decimal("-0.2"),
        "dog",
    )
    assert c["path"][-2:] == ["star", "dog"]  # 10 % of September's 500.00, new then
