"""The warehouse API over HTTP: the agency's warehouses and bins, an owner's receipts, stock,
ledger pages, adjustments refused as problem+json, exceptions, reservations and transfers."""

from __future__ import annotations

import uuid

from daiyun.tenants.auth.permissions import Role
from tests.conftest import World
from tests.platform.warehouse.conftest import Stockroom

API = "/api/v1"


def test_warehouses_are_the_agencys_and_created_once_per_key(world: World) -> None:
    operator = world.actor(Role.warehouse_operator)
    merchant = world.actor(Role.merchant_owner, world.tenant())
    code = f"HZ{uuid.uuid4().hex[:6]}"
    body = {"code": code, "name": "Hangzhou", "time_zone": "Asia/Shanghai"}
    key = {"Idempotency-Key": f"wh-{code}"}
    first = world.client.post(f"{API}/warehouses", json=body, headers={**operator.headers, **key})
    again = world.client.post(f"{API}/warehouses", json=body, headers={**operator.headers, **key})
    assert first.status_code == 201, first.text
    assert again.json() == first.json()
    taken = world.client.post(f"{API}/warehouses", json=body, headers=operator.headers)
    assert taken.status_code == 409
    assert taken.headers["content-type"].startswith("application/problem+json")
    refused = world.client.post(
        f"{API}/warehouses", json={**body, "code": "X1"}, headers=merchant.headers
    )
    assert refused.status_code == 403
    bad_zone = world.client.post(
        f"{API}/warehouses",
        json={**body, "code": "X2", "time_zone": "Mars/Base"},
        headers=operator.headers,
    )
    assert bad_zone.status_code == 422
    warehouse_id = first.json()["id"]
    bin_ = {"zone": "A", "aisle": "01", "shelf": "02", "bin": "03", "pickable": False}
    made = world.client.post(
        f"{API}/warehouses/{warehouse_id}/locations", json=bin_, headers=operator.headers
    )
    assert made.status_code == 201
    assert (made.json()["code"], made.json()["pickable"]) == ("A-01-02-03", False)
    listed = world.client.get(
        f"{API}/warehouses/{warehouse_id}/locations", headers=merchant.headers
    )
    assert [loc["code"] for loc in listed.json()["items"]] == ["A-01-02-03"]


def test_an_owner_receives_reads_stock_and_pages_the_ledger(room: Stockroom, world: World) -> None:
    operator = world.actor(Role.warehouse_operator, room.tenant)
    viewer = world.actor(Role.merchant_viewer, room.tenant)
    base = f"{API}/tenants/{room.tenant.slug}"
    tea = str(room.skus["TEA"])
    for n, lot in enumerate(("L1", "L2", "L3")):
        line = {
            "sku_id": tea,
            "quantity": 5,
            "location_id": str(room.hz.shelf),
            "lot": lot,
            "expires_on": f"2027-0{n + 1}-01",
        }
        answer = world.client.post(
            f"{base}/receipts",
            json={"warehouse_id": str(room.hz.id), "received": [line]},
            headers=operator.headers,
        )
        assert answer.status_code == 201, answer.text
        assert answer.json()["status"] == "closed"
    stock = world.client.get(f"{base}/stock", params={"sku_id": tea}, headers=viewer.headers)
    [row] = stock.json()["items"]
    assert (row["on_hand"], row["reserved"], row["sellable"]) == (15, 0, 15)
    assert sorted(b["lot"] for b in row["batches"]) == ["L1", "L2", "L3"]
    page = world.client.get(
        f"{base}/stock/ledger", params={"kind": "receipt", "limit": 2}, headers=viewer.headers
    )
    assert len(page.json()["items"]) == 2
    rest = world.client.get(
        f"{base}/stock/ledger",
        params={"kind": "receipt", "limit": 2, "cursor": page.json()["next_cursor"]},
        headers=viewer.headers,
    )
    assert len(rest.json()["items"]) == 1 and rest.json()["next_cursor"] is None
    assert world.client.post(f"{base}/receipts", json={}, headers=viewer.headers).status_code == 403


def test_a_negative_adjustment_is_a_problem_and_changes_nothing(
    room: Stockroom, world: World
) -> None:
    operator = world.actor(Role.warehouse_operator, room.tenant)
    base = f"{API}/tenants/{room.tenant.slug}"
    room.receive("CUP", 2)
    line = {"sku_id": str(room.skus["CUP"]), "location_id": str(room.hz.shelf), "delta": -3}
    answer = world.client.post(
        f"{base}/adjustments", json={"reason": "broken", "lines": [line]}, headers=operator.headers
    )
    assert answer.status_code == 409
    assert answer.json()["type"].endswith("negative-stock")
    assert "CUP" in answer.json()["detail"]
    assert room.stock("CUP") == (2, 0, 2)


def test_exceptions_reservations_and_transfers_over_http(room: Stockroom, world: World) -> None:
    operator = world.actor(Role.warehouse_operator, room.tenant)
    owner = world.actor(Role.merchant_owner, room.tenant)
    base = f"{API}/tenants/{room.tenant.slug}"
    room.receive("TEA", 3)
    short = room.order("h1", quantity=5)
    room.sync(short)
    held = room.order("h2", quantity=2)
    room.sync(held)
    [exception] = world.client.get(f"{base}/stock-exceptions", headers=owner.headers).json()[
        "items"
    ]
    assert exception["order_id"] == str(short)
    assert [(m["sku"], m["wanted"], m["available"]) for m in exception["missing"]] == [
        ("TEA", 5, 3)
    ]
    reservation = world.client.get(f"{base}/reservations/{held}", headers=owner.headers).json()
    assert reservation["status"] == "reserved"
    assert sum(line["quantity"] for line in reservation["lines"]) == 2
    body = {
        "from_warehouse_id": str(room.hz.id),
        "to_warehouse_id": str(room.sz.id),
        "lines": [{"sku_id": str(room.skus["TEA"]), "quantity": 1}],
    }
    shipped = world.client.post(f"{base}/transfers", json=body, headers=operator.headers)
    assert shipped.status_code == 201, shipped.text
    too_much = world.client.post(
        f"{base}/transfers",
        json={**body, "lines": [{"sku_id": str(room.skus["TEA"]), "quantity": 1}]},
        headers=operator.headers,
    )
    assert too_much.status_code == 409  # 3 on hand, 2 reserved, 1 already shipped
    received = world.client.post(
        f"{base}/transfers/{shipped.json()['id']}/receive",
        json={"location_id": str(room.sz.shelf), "lines": []},
        headers=operator.headers,
    )
    assert received.json()["status"] == "received"
    assert room.stock("TEA", room.sz)[:2] == (1, 0)


def test_a_stocktake_over_http_is_approved_by_an_admin_only(room: Stockroom, world: World) -> None:
    operator = world.actor(Role.warehouse_operator, room.tenant)
    admin = world.actor(Role.agency_admin, room.tenant)
    base = f"{API}/tenants/{room.tenant.slug}"
    room.receive("TEA", 12)
    body = {"warehouse_id": str(room.hz.id), "kind": "cycle", "location_ids": [str(room.hz.shelf)]}
    key = {"Idempotency-Key": f"count-{uuid.uuid4().hex}"}
    started = world.client.post(
        f"{base}/stocktakes", json=body, headers={**operator.headers, **key}
    )
    assert started.status_code == 201, started.text
    again = world.client.post(f"{base}/stocktakes", json=body, headers={**operator.headers, **key})
    assert again.json()["id"] == started.json()["id"]
    overlap = world.client.post(f"{base}/stocktakes", json=body, headers=operator.headers)
    assert overlap.status_code == 409
    count = f"{base}/stocktakes/{started.json()['id']}"
    scan = {"sku_id": str(room.skus["TEA"]), "location_id": str(room.hz.shelf), "quantity": 1}
    for _ in range(11):
        world.client.post(
            f"{count}/lines", json={"lines": [scan], "add": True}, headers=operator.headers
        )
    submitted = world.client.post(f"{count}/submit", json={}, headers=operator.headers)
    [line] = submitted.json()["lines"]
    assert (line["expected"], line["counted"], line["difference"]) == (12, 11, -1)
    refused = world.client.post(f"{count}/approve", headers=operator.headers)
    assert refused.status_code == 403
    approved = world.client.post(f"{count}/approve", headers=admin.headers)
    assert approved.status_code == 200, approved.text
    assert approved.json()["lines"][0]["posted"] == -1
    assert room.stock("TEA")[0] == 11
    twice = world.client.post(f"{count}/approve", headers=admin.headers)
    assert twice.status_code == 409
    assert twice.headers["content-type"].startswith("application/problem+json")
    listed = world.client.get(
        f"{base}/stocktakes", params={"status": "approved"}, headers=operator.headers
    )
    assert [c["id"] for c in listed.json()["items"]] == [started.json()["id"]]


def test_replenishment_rules_suggestions_and_alerts_over_http(
    room: Stockroom, world: World
) -> None:
    operator = world.actor(Role.warehouse_operator, room.tenant)
    viewer = world.actor(Role.merchant_viewer, room.tenant)
    base = f"{API}/tenants/{room.tenant.slug}"
    room.receive("CUP", 2)
    rule = {
        "sku_id": str(room.skus["CUP"]),
        "warehouse_id": str(room.hz.id),
        "min_quantity": 5,
        "max_quantity": 20,
        "lead_time_days": 7,
    }
    put = world.client.put(
        f"{base}/replenishment/rules", json={"rules": [rule]}, headers=operator.headers
    )
    assert put.status_code == 200, put.text
    bad = world.client.put(
        f"{base}/replenishment/rules",
        json={"rules": [{**rule, "min_quantity": 30}]},
        headers=operator.headers,
    )
    assert bad.status_code == 422
    denied = world.client.put(
        f"{base}/replenishment/rules", json={"rules": []}, headers=viewer.headers
    )
    assert denied.status_code == 403
    [suggestion] = world.client.get(f"{base}/replenishment", headers=viewer.headers).json()
    assert (suggestion["sku"], suggestion["quantity"]) == ("CUP", 18)
    alerts = world.client.get(f"{base}/stock-alerts", headers=viewer.headers).json()
    assert ("low_stock", "CUP") in {(a["kind"], a["sku"]) for a in alerts}
