"""The stocktake and replenishment pages: an operator starts a count in the console, scans
and types what is on the shelf, submits it; only an admin approves and posts the difference.
Merchants see their stock alerts and replenishment beside their stock tabs; zh is complete."""

from __future__ import annotations

import re
from datetime import timedelta

from sqlalchemy.orm import Session

from daiyun.core import db, periods
from daiyun.platform.warehouse import replenishment
from daiyun.platform.warehouse import service as warehouse
from daiyun.platform.warehouse.schemas import ReceiptRead, ReplenishmentRuleIn, ReplenishmentRules
from daiyun.tenants.auth.permissions import Role
from tests import factories
from tests.conftest import World
from tests.platform.warehouse.conftest import Stockroom, room  # noqa: F401 (fixture)
from tests.portal.conftest import PortalClient, csrf_of
from tests.portal.test_zh_and_time import choose_chinese, untranslated  # noqa: F401 (fixture)

PORTAL = "/portal"


def _post(client: PortalClient, page: str, action: str, **fields: str) -> str:
    """Post a form of ``page`` (with its CSRF token); returns where it lands."""
    token = csrf_of(client.get(page).text)
    answer = client.post(
        action, data={"csrf_token": token, "next": page, **fields}, follow_redirects=False
    )
    assert answer.status_code == 303, answer.text
    return str(answer.headers["location"])


def test_a_count_is_started_scanned_submitted_and_approved_by_an_admin(
    room: Stockroom,  # noqa: F811
    world: World,
    portal_as: PortalClient,
) -> None:
    room.receive("TEA", 5)
    operator = portal_as(world.user(Role.warehouse_operator, room.tenant))
    admin = portal_as(world.user(Role.agency_admin))
    listing = f"{PORTAL}/console/stocktakes"
    assert f'data-merchant="{room.tenant.slug}"' in operator.get(listing).text
    base = f"{PORTAL}/t/{room.tenant.slug}"
    count_url = _post(
        operator,
        listing,
        f"{base}/stocktakes",
        warehouse_id=str(room.hz.id),
        kind="cycle",
        bins="A-01-01-01",
    )
    assert re.fullmatch(rf"{base}/stocktakes/[0-9a-f-]+", count_url), count_url
    for _ in range(3):  # three scans, one unit each
        _post(operator, count_url, f"{count_url}/lines", sku="TEA", bin="A-01-01-01", quantity="")
    wrong = _post(operator, count_url, f"{count_url}/lines", sku="NOPE", bin="A-01-01-01")
    assert "error=unknown-sku" in wrong
    assert "No SKU has that code or barcode." in operator.get(wrong).text
    page = operator.get(count_url).text
    assert '<tr data-sku="TEA">' in page and "-2" in page
    _post(operator, count_url, f"{count_url}/submit")
    # The operator may not approve: the page offers no button, the action is refused.
    assert "Approve and post the differences" not in operator.get(count_url).text
    token = csrf_of(operator.get(count_url).text)
    refused = operator.post(
        f"{count_url}/approve", data={"csrf_token": token}, follow_redirects=False
    )
    assert refused.status_code == 403
    assert room.stock("TEA")[0] == 5
    assert "Approve and post the differences" in admin.get(count_url).text
    done = _post(admin, count_url, f"{count_url}/approve")
    assert "notice=approved" in done
    assert room.stock("TEA")[0] == 3


def _order_tea_at_five(stock: Stockroom) -> None:
    """A rule for TEA in Hangzhou: order up to 25 at 5 or fewer, ten days' lead time."""
    with db.unit_of_work(stock.tenant.id) as session:
        rule = ReplenishmentRuleIn(
            sku_id=stock.skus["TEA"],
            warehouse_id=stock.hz.id,
            min_quantity=5,
            max_quantity=25,
            lead_time_days=10,
        )
        replenishment.set_rules(session, ReplenishmentRules(rules=[rule]))


def test_merchants_see_alerts_and_replenishment_in_chinese_too(
    room: Stockroom,  # noqa: F811
    world: World,
    portal_as: PortalClient,
    untranslated: set[str],  # noqa: F811
) -> None:
    room.receive("TEA", 3, lot="SOON", expires=factories.T0.date() + timedelta(days=5))
    _order_tea_at_five(room)
    viewer = portal_as(world.user(Role.merchant_viewer, room.tenant))
    base = f"{PORTAL}/t/{room.tenant.slug}"
    alerts = viewer.get(f"{base}/stock/alerts")
    assert alerts.status_code == 200, alerts.text
    assert 'data-alert="low_stock"' in alerts.text
    suggested = viewer.get(f"{base}/stock/replenishment")
    assert 'data-suggestion="TEA"' in suggested.text and "<strong>22</strong>" in suggested.text
    assert f'href="{base}/stock/alerts"' in viewer.get(f"{base}/stock").text
    staff = portal_as(world.user(Role.warehouse_operator, room.tenant))
    choose_chinese(staff)
    for path in (f"{base}/stock/alerts", f"{base}/stock/replenishment"):
        assert 'lang="zh-CN"' in staff.get(path).text
    for path in ("stocktakes", "replenishment"):
        answer = staff.get(f"{PORTAL}/console/{path}")
        assert answer.status_code == 200 and 'lang="zh-CN"' in answer.text
    assert not untranslated, sorted(untranslated)


def test_an_operator_expects_the_suggested_delivery_once_and_a_merchant_cannot(
    room: Stockroom,  # noqa: F811
    world: World,
    portal_as: PortalClient,
) -> None:
    room.receive("TEA", 3)
    _order_tea_at_five(room)
    operator = portal_as(world.user(Role.warehouse_operator, room.tenant))
    today = periods.today(room.tenant.time_zone)
    listing = f"{PORTAL}/console/replenishment"
    page = operator.get(listing).text
    assert f'data-delivery="{room.tenant.slug}:{room.hz.id}"' in page
    key = re.search(r'name="key" value="([^"]+)"', page)
    assert key is not None
    action = f"{PORTAL}/t/{room.tenant.slug}/replenishment/expect"
    form = {
        "csrf_token": csrf_of(page),
        "key": key.group(1),
        "warehouse_id": str(room.hz.id),
        "sku_id": str(room.skus["TEA"]),
        "quantity": "20",  # the suggestion was 22: the operator ordered fewer
        "next": listing,
    }
    for _ in range(2):  # a double click: the same form twice
        sent = operator.post(action, data=form, follow_redirects=False)
        assert sent.status_code == 303 and "done=expected" in sent.headers["location"]
    with db.unit_of_work(room.tenant.id) as session:
        [expected] = replenishment.suggestions(session, all_rules=True)
        to_order = replenishment.suggestions(session)
        receipts = _expected_deliveries(session)
    lines = [(line.sku_id, line.expected, line.received) for line in receipts[0].lines]
    assert [(r.warehouse_id, r.reference) for r in receipts] == [(room.hz.id, f"补货 {today}")]
    assert lines == [(room.skus["TEA"], 20, 0)]
    # 3 on hand and 20 coming: above the minimum, nothing more to order for now.
    assert (expected.incoming, expected.quantity, to_order) == (20, 0, [])
    assert "The delivery is expected" in operator.get(sent.headers["location"]).text
    nothing = operator.post(
        action, data={**form, "key": "other", "quantity": "0"}, follow_redirects=False
    )
    assert "error=empty-receipt" in nothing.headers["location"]
    # A merchant reads the suggestions but orders nothing through the agency's console.
    owner = portal_as(world.user(Role.merchant_owner, room.tenant))
    token = csrf_of(owner.get(f"{PORTAL}/t/{room.tenant.slug}/stock/replenishment").text)
    refused = owner.post(
        action, data={**form, "key": "owner", "csrf_token": token}, follow_redirects=False
    )
    assert refused.status_code in (403, 404)
    with db.unit_of_work(room.tenant.id) as session:
        assert len(_expected_deliveries(session)) == 1


def _expected_deliveries(session: Session) -> list[ReceiptRead]:
    """The receipts made from the console's form (the room's own stock came in one too)."""
    found, _ = warehouse.find_receipts(session, None, 100)
    return [r for r in found if (r.reference or "").startswith("补货")]
