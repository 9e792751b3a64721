"""The ship step's pages: an operator ships a packed parcel from the pack station and the label
opens to print; an address the carrier does not serve lands in the exceptions; the console lists
shipments with the push's state (a failure with its error, pushed again from there) and changes
the carrier rules; the merchant sees shipments with tracking and the order-to-ship figures,
without labels or buttons; zh is complete."""

from __future__ import annotations

import io
import uuid

from pypdf import PdfReader

from daiyun.core import db
from daiyun.platform.fulfillment import service, shipping
from daiyun.platform.fulfillment.models import PushStatus
from daiyun.platform.fulfillment.schemas import FoState
from daiyun.sandboxes.carriers import CarrierSandbox
from daiyun.tenants.auth.permissions import Role
from tests.conftest import World
from tests.platform.fulfillment.conftest import Floor, floor, room  # noqa: F401 (fixtures)
from tests.platform.fulfillment.test_shipping import _packed, carrier  # noqa: F401 (fixture)
from tests.portal.conftest import PortalClient
from tests.portal.test_stocktake_pages import _post
from tests.portal.test_zh_and_time import choose_chinese, untranslated  # noqa: F401 (fixture)

PORTAL = "/portal"


def test_an_operator_ships_from_the_pack_station_and_prints_the_label(
    floor: Floor,  # noqa: F811
    carrier: CarrierSandbox,  # noqa: F811
    world: World,
    portal_as: PortalClient,
    untranslated: set[str],  # noqa: F811
) -> None:
    floor.room.receive("TEA", 10)
    fo_id = _packed(floor, "P1")
    tenant = floor.room.tenant
    base = f"{PORTAL}/t/{tenant.slug}"
    operator = portal_as(world.user(Role.warehouse_operator, tenant))
    station = f"{base}/pack?fo={fo_id}"
    assert f'action="{base}/parcels/{fo_id}/ship"' in operator.get(station).text
    assert f'href="{base}/pack?fo={fo_id}"' in operator.get(f"{base}/pack").text  # packed list

    landed = _post(operator, station, f"{base}/parcels/{fo_id}/ship", carrier="sf")
    assert landed.startswith(f"{base}/shipments?shipped="), landed
    shipment_id = uuid.UUID(landed.rsplit("=", 1)[1])
    with db.unit_of_work(tenant.id) as session:
        number = shipping.get(session, shipment_id).waybill_no
    page = operator.get(landed).text
    label_url = f"{base}/shipments/{shipment_id}/label.pdf"
    assert number.startswith("SF") and number in page
    assert 'id="print-label"' in page and f'<iframe src="{label_url}"' in page
    pdf = operator.get(label_url)
    assert pdf.headers["content-type"] == "application/pdf"
    assert number in PdfReader(io.BytesIO(pdf.content)).pages[0].extract_text()
    # Shipping twice (a double click) asks for no second waybill.
    _post(operator, station, f"{base}/parcels/{fo_id}/ship")
    assert carrier.state.stats()["waybills"] == 1

    # An address the carrier does not serve: back at the parcel, which is in the exceptions.
    far = _packed(floor, "P2", units=1, street="不派送 村 1 号")
    refused = _post(operator, f"{base}/pack?fo={far}", f"{base}/parcels/{far}/ship")
    assert "error=address-unserviceable" in refused
    assert "does not deliver to this address" in operator.get(refused).text
    with db.unit_of_work(tenant.id) as session:
        assert service.get(session, far).state == FoState.exception

    # The console: the failed push with its error, and pushing it again.
    with db.unit_of_work(tenant.id) as session:
        failed = shipping.get(session, shipment_id)
        failed.push_status, failed.push_error = PushStatus.refused, "422 no such order"
    listing = f"{PORTAL}/console/shipments"
    console = operator.get(listing).text
    assert f'data-waybill="{number}" data-push="refused"' in console
    assert (
        "422 no such order" in console
        and f'action="{base}/shipments/{shipment_id}/push"' in console
    )
    assert "notice=push-queued" in _post(operator, listing, f"{base}/shipments/{shipment_id}/push")
    with db.unit_of_work(tenant.id) as session:
        assert shipping.get(session, shipment_id).push_status == PushStatus.pending
    assert f'data-waybill="{number}" data-push="pending"' in operator.get(listing).text

    # The carrier rules: added after one another, refused when wrong, removed by place.
    rules_page = f"{PORTAL}/console/carriers"
    assert f'data-tenant="{tenant.slug}"' in operator.get(rules_page).text
    _post(
        operator,
        rules_page,
        f"{base}/carriers",
        carrier="jd",
        warehouse_id=str(floor.room.hz.id),
        provinces="广东省，上海市",
        max_weight_grams="2000",
    )
    _post(operator, rules_page, f"{base}/carriers", carrier="yto", warehouse_id="", provinces="")
    for wrong in ({"carrier": "ems"}, {"carrier": "sf", "max_weight_grams": "0"}):
        assert "error=bad-form" in _post(operator, rules_page, f"{base}/carriers", **wrong)
    with db.unit_of_work(tenant.id) as session:
        made = [
            (r.carrier, r.warehouse_id, r.provinces, r.max_weight_grams)
            for r in shipping.carrier_rules(session)
        ]
    assert made == [("jd", floor.room.hz.id, ["广东省", "上海市"], 2000), ("yto", None, [], None)]
    assert "notice=rule-removed" in _post(operator, rules_page, f"{base}/carriers/1/remove")
    assert "error=not-found" in _post(operator, rules_page, f"{base}/carriers/5/remove")
    with db.unit_of_work(tenant.id) as session:
        assert [r.carrier for r in shipping.carrier_rules(session)] == ["yto"]

    # The merchant: tracking and the figures, no label, no button.
    viewer = portal_as(world.user(Role.merchant_viewer, tenant))
    mine = viewer.get(f"{base}/shipments").text
    assert f'data-waybill="{number}"' in mine and 'data-shop="all"' in mine
    assert "label.pdf" not in mine and "/push" not in mine
    # The floor's figures: one parcel of two in an exception; the packers' pace is staff's.
    assert '<dd data-figure="exception-rate">50.0%</dd>' in mine and 'class="packers"' not in mine
    assert 'class="packers"' in operator.get(f"{base}/shipments").text
    assert f'href="{base}/shipments"' in viewer.get(f"{base}/fulfillment").text  # a stock tab
    assert viewer.get(label_url).status_code == 404

    for browser in (operator, viewer):
        choose_chinese(browser)
    assert "发货时效" in viewer.get(f"{base}/shipments").text
    for path in (listing, rules_page, f"{base}/shipments", station, landed):
        answer = operator.get(path)
        assert answer.status_code == 200 and 'lang="zh-CN"' in answer.text, path
    assert not untranslated, sorted(untranslated)
