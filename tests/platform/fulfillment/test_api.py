"""The fulfilment API over HTTP: a wave in one warehouse gathering two merchants' parcels, each
merchant seeing only its own; the pick list PDF read back (CJK); the pack station refusing a
wrong item as problem+json while counting it; settings, exceptions and merging."""

from __future__ import annotations

import io
import uuid

from pypdf import PdfReader

from daiyun.core import db
from daiyun.tenants import service as tenant_service
from daiyun.tenants.auth.permissions import Role
from daiyun.tenants.models import Tenant
from daiyun.tenants.schemas import TenantCreate
from tests import factories
from tests.conftest import World
from tests.platform.fulfillment.conftest import Floor
from tests.platform.warehouse.conftest import Stockroom, seed_catalog

API = "/api/v1"


def _merchant(name: str) -> Tenant:
    slug = f"t-{uuid.uuid4().hex[:10]}"
    with db.unit_of_work() as session:
        return tenant_service.create_tenant(
            session, TenantCreate(slug=slug, display_name=name, legal_name=f"{name}有限公司")
        )


def _second_floor(floor: Floor, name: str) -> Floor:
    """Another merchant whose goods sit in the same two warehouses."""
    tenant = _merchant(name)
    room = Stockroom(
        tenant=tenant,
        shop_id=factories.shop(tenant.id).id,
        hz=floor.room.hz,
        sz=floor.room.sz,
        skus=seed_catalog(tenant),
    )
    return Floor(room)


def test_a_wave_gathers_two_merchants_and_each_sees_only_its_own(
    floor: Floor, world: World
) -> None:
    other = _second_floor(floor, "西湖茶庄")
    floor.room.receive("TEA", 10)
    other.room.receive("CUP", 10)
    mine = floor.order("X1", [("TEA", 2)])
    theirs = other.order("Y1", [("CUP", 1)])
    operator = world.user(Role.warehouse_operator, floor.room.tenant)
    world.assign(operator, other.room.tenant, Role.warehouse_operator)
    headers = world.sign_in(operator)
    lonely = world.actor(Role.warehouse_operator, other.room.tenant)
    hz = floor.room.hz.id
    made = world.client.post(
        f"{API}/warehouses/{hz}/waves",
        json={"max_orders": 10},
        headers={**headers, "Idempotency-Key": f"wave-{hz}"},
    )
    assert made.status_code == 201, made.text
    wave = made.json()
    assert len(wave["fulfillment_order_ids"]) == 2
    assert [(p["sku"], p["merchant"]) for p in wave["pick_list"]] == [
        ("CUP", "西湖茶庄"),
        ("TEA", floor.room.tenant.display_name),
    ]
    again = world.client.post(
        f"{API}/warehouses/{hz}/waves",
        json={"max_orders": 10},
        headers={**headers, "Idempotency-Key": f"wave-{hz}"},
    )
    assert again.json() == wave
    nothing = world.client.post(f"{API}/warehouses/{hz}/waves", json={}, headers=headers)
    assert nothing.status_code == 409
    # The operator of one merchant only sees that merchant's half of the wave.
    half = world.client.get(f"{API}/warehouses/{hz}/waves/{wave['id']}", headers=lonely.headers)
    assert [p["merchant"] for p in half.json()["pick_list"]] == ["西湖茶庄"]
    for room, order_id in ((floor.room, mine), (other.room, theirs)):
        owner = world.actor(Role.merchant_owner, room.tenant)
        base = f"{API}/tenants/{room.tenant.slug}"
        seen = world.client.get(f"{base}/waves/{wave['id']}", headers=owner.headers)
        assert seen.status_code == 200, seen.text
        parcels = world.client.get(
            f"{base}/fulfillment-orders", params={"wave_id": wave["id"]}, headers=owner.headers
        ).json()["items"]
        assert [p["order_id"] for p in parcels] == [str(order_id)]
        assert seen.json()["fulfillment_order_ids"] == [parcels[0]["id"]]
        assert {p["merchant"] for p in seen.json()["pick_list"]} == {room.tenant.display_name}
        listed = world.client.get(f"{base}/waves", headers=owner.headers).json()["items"]
        assert [w["fulfillment_order_ids"] for w in listed] == [[parcels[0]["id"]]]
    elsewhere = world.tenant()
    stranger = world.actor(Role.merchant_owner, elsewhere)
    hidden = world.client.get(
        f"{API}/tenants/{elsewhere.slug}/waves/{wave['id']}", headers=stranger.headers
    )
    assert hidden.status_code == 404
    picked = world.client.post(f"{API}/warehouses/{hz}/waves/{wave['id']}/pick", headers=headers)
    assert picked.status_code == 200 and picked.json()["status"] == "picked"


def test_the_pick_list_pdf_reads_back_in_chinese_in_walk_order(floor: Floor, world: World) -> None:
    other = _second_floor(floor, "西湖茶庄")
    floor.room.receive("TEA", 10)
    other.room.receive("CUP", 10)
    floor.order("PL1", [("TEA", 1)])
    other.order("PL2", [("CUP", 3)])
    admin = world.actor(Role.agency_admin)
    hz = floor.room.hz.id
    wave = world.client.post(f"{API}/warehouses/{hz}/waves", json={}, headers=admin.headers)
    assert wave.status_code == 201, wave.text
    answer = world.client.get(
        f"{API}/warehouses/{hz}/waves/{wave.json()['id']}/pick-list", headers=admin.headers
    )
    assert answer.status_code == 200
    assert answer.headers["content-type"] == "application/pdf"
    text = "".join(page.extract_text() for page in PdfReader(io.BytesIO(answer.content)).pages)
    assert "拣货单" in text and "西湖茶庄" in text and "库位" in text and "货主" in text
    assert wave.json()["number"] in text
    assert "A-01-01-01" in text and text.index("CUP") < text.index("TEA")
    owner = world.actor(Role.merchant_owner, other.room.tenant)
    own = world.client.get(
        f"{API}/tenants/{other.room.tenant.slug}/waves/{wave.json()['id']}/pick-list",
        headers=owner.headers,
    )
    own_text = "".join(p.extract_text() for p in PdfReader(io.BytesIO(own.content)).pages)
    assert "西湖茶庄" in own_text and "TEA" not in own_text


def test_the_pack_station_refuses_a_wrong_item_and_keeps_the_scan_error(
    floor: Floor, world: World
) -> None:
    floor.room.receive("TEA", 10)
    floor.room.receive("CUP", 10)
    order_id = floor.order("PK1", [("TEA", 1)])
    operator = world.actor(Role.warehouse_operator, floor.room.tenant)
    base = f"{API}/tenants/{floor.room.tenant.slug}"
    wave = world.client.post(
        f"{base}/waves", json={"warehouse_id": str(floor.room.hz.id)}, headers=operator.headers
    )
    assert wave.status_code == 201, wave.text
    world.client.post(f"{base}/waves/{wave.json()['id']}/pick", headers=operator.headers)
    [parcel] = floor.parcels(order_id)
    scan = f"{base}/fulfillment-orders/{parcel.id}/pack/scan"
    wrong = world.client.post(scan, json={"barcode": "CUP"}, headers=operator.headers)
    assert wrong.status_code == 422
    assert wrong.headers["content-type"].startswith("application/problem+json")
    assert wrong.json()["type"].endswith("/wrong-item") and "CUP" in wrong.json()["detail"]
    assert floor.parcels(order_id)[0].scan_errors == 1
    ok = world.client.post(scan, json={"barcode": "TEA"}, headers=operator.headers)
    assert ok.status_code == 200 and ok.json()["complete"]
    finish = f"{base}/fulfillment-orders/{parcel.id}/pack/finish"
    done = world.client.post(finish, json={"weight_grams": 300}, headers=operator.headers)
    assert done.status_code == 200 and done.json()["state"] == "packed"
    again = world.client.post(finish, json={"weight_grams": 300}, headers=operator.headers)
    assert again.status_code == 409
    viewer = world.actor(Role.merchant_viewer, floor.room.tenant)
    refused = world.client.post(scan, json={"barcode": "TEA"}, headers=viewer.headers)
    assert refused.status_code == 403
    detail = world.client.get(f"{base}/fulfillment-orders/{parcel.id}", headers=viewer.headers)
    assert [e["to_state"] for e in detail.json()["history"]][-1] == "packed"


def test_settings_exceptions_and_merging_over_http(floor: Floor, world: World) -> None:
    floor.room.receive("TEA", 1)
    operator = world.actor(Role.warehouse_operator, floor.room.tenant)
    base = f"{API}/tenants/{floor.room.tenant.slug}"
    put = world.client.put(
        f"{base}/fulfillment-settings",
        json={"merge_mode": "suggest", "allow_partial": True, "ship_within_hours": 24},
        headers=operator.headers,
    )
    assert put.status_code == 200 and put.json()["ship_within_hours"] == 24
    floor.order("E1", [("TEA", 5)])
    [opened] = world.client.get(f"{base}/exceptions", headers=operator.headers).json()["items"]
    assert opened["kind"] == "out_of_stock"
    wrong = world.client.post(
        f"{base}/exceptions/{opened['id']}/resolve",
        json={"action": "acknowledge"},
        headers=operator.headers,
    )
    assert wrong.status_code == 422
    cancel = world.client.post(
        f"{base}/exceptions/{opened['id']}/resolve",
        json={"action": "cancel"},
        headers=operator.headers,
    )
    assert cancel.status_code == 200 and cancel.json()["resolution"] == "cancel"
    floor.room.receive("TEA", 10)
    floor.order("E2", [("TEA", 1)])
    floor.order("E3", [("TEA", 1)])
    [suggestion] = world.client.get(
        f"{base}/fulfillment-orders/merge-suggestions", headers=operator.headers
    ).json()
    merged = world.client.post(
        f"{base}/fulfillment-orders/{suggestion['ids'][0]}/merge",
        json={"ids": suggestion["ids"][1:]},
        headers=operator.headers,
    )
    assert merged.status_code == 200 and len(merged.json()["order_ids"]) == 2
    ready = world.client.get(
        f"{base}/fulfillment-orders", params={"state": "merged"}, headers=operator.headers
    )
    assert len(ready.json()["items"]) == 1
