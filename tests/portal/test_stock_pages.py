"""The warehouse's portal pages: a merchant sees its stock per SKU and warehouse (on hand,
reserved, sellable, batches and bins), a SKU's ledger with each movement's document, and the
orders waiting for stock; the console gathers receipts to receive, orders short of stock and
low stock across the merchants the staff member reads, and no one else's."""

from __future__ import annotations

import re
from datetime import date

from daiyun.core import db
from daiyun.platform.warehouse import service
from daiyun.platform.warehouse.schemas import (
    ExpectedLine,
    ReceiptCreate,
    SkuRuleIn,
    StockSettingsIn,
)
from daiyun.tenants.auth.permissions import Role
from tests.conftest import World
from tests.platform.warehouse.conftest import Stockroom, room  # noqa: F401 (fixture)
from tests.portal.conftest import PortalClient
from tests.portal.test_zh_and_time import choose_chinese, untranslated  # noqa: F401 (fixture)

PORTAL = "/portal"
ROW = re.compile(r'<tr data-sku="([^"]+)" data-sellable="(-?\d+)">')


def _stocked(stockroom: Stockroom) -> str:
    """20 TEA in lot L1 at HZ, 3 CUP at SZ, an order for 30 TEA that cannot be reserved (the
    exception) and one for 2 TEA that is. Returns the short order's id."""
    stockroom.receive("TEA", 20, lot="L1", expires=date(2027, 3, 1))
    stockroom.receive("CUP", 3, stockroom.sz)
    short = stockroom.order("SHORT-1", "TEA", 30)
    stockroom.sync(short)
    stockroom.sync(stockroom.order("FITS-1", "TEA", 2))
    return str(short)


def _safety(stockroom: Stockroom, units: int) -> StockSettingsIn:
    """Safety stock of CUP at SZ."""
    rule = SkuRuleIn(sku_id=stockroom.skus["CUP"], warehouse_id=stockroom.sz.id, safety_stock=units)
    return StockSettingsIn(skus=[rule])


def test_the_merchant_sees_stock_its_ledger_and_orders_waiting(
    room: Stockroom,  # noqa: F811
    world: World,
    portal_as: PortalClient,
) -> None:
    short = _stocked(room)
    viewer = portal_as(world.user(Role.merchant_viewer, room.tenant))
    base = f"{PORTAL}/t/{room.tenant.slug}"

    page = viewer.get(f"{base}/stock")
    assert page.status_code == 200, page.text
    # TEA: 20 on hand, 2 reserved for the order that fits, 18 sellable; CUP at the other site.
    assert ("TEA", "18") in ROW.findall(page.text) and ("CUP", "3") in ROW.findall(page.text)
    assert "lot L1" in page.text and "A-01-01-01" in page.text
    assert "1 orders wait for stock." in page.text
    only_sz = viewer.get(f"{base}/stock", params={"warehouse": str(room.sz.id)})
    # The tea set's parts are split across the sites: at SZ it lists with nothing sellable.
    assert ROW.findall(only_sz.text) == [("CUP", "3"), ("SET", "0")]
    by_code = viewer.get(f"{base}/stock", params={"q": "cup"})
    assert [code for code, _ in ROW.findall(by_code.text)] == ["CUP"]

    ledger = viewer.get(f"{base}/stock/ledger", params={"sku": "TEA"})
    assert ledger.status_code == 200
    assert ledger.text.count('data-kind="receipt"') == 1
    assert ledger.text.count('data-kind="reservation"') == 1
    assert "+20" in ledger.text and "20 on hand, 2 reserved, 18 sellable" in ledger.text
    receipts_only = viewer.get(f"{base}/stock/ledger", params={"sku": "TEA", "kind": "receipt"})
    assert 'data-kind="reservation"' not in receipts_only.text
    unknown = viewer.get(f"{base}/stock/ledger", params={"sku": "NOPE"})
    assert "No SKU has the code NOPE." in unknown.text

    waiting = viewer.get(f"{base}/stock/exceptions")
    assert f'data-order="{short}"' in waiting.text and "SHORT-1" in waiting.text
    assert "wanted 30, 20 available" in waiting.text  # when it came in

    # Receiving enough lets the order reserve: it leaves the open list, stays in the history.
    room.receive("TEA", 20)
    room.sync(room.order("SHORT-1", "TEA", 30, updated_minutes=5))
    assert f'data-order="{short}"' not in viewer.get(f"{base}/stock/exceptions").text
    history = viewer.get(f"{base}/stock/exceptions", params={"all": "1"})
    assert f'data-order="{short}"' in history.text and "Resolved" in history.text


def test_a_role_without_warehouse_read_opens_no_stock_page(
    room: Stockroom,  # noqa: F811
    world: World,
    portal_as: PortalClient,
) -> None:
    recruiter = portal_as(world.user(Role.recruiter, room.tenant))
    base = f"{PORTAL}/t/{room.tenant.slug}"
    for path in ("stock", "stock/ledger", "stock/exceptions"):
        assert recruiter.get(f"{base}/{path}").status_code == 403
    stranger = portal_as(world.user(Role.merchant_owner, world.tenant()))
    assert stranger.get(f"{base}/stock").status_code == 404


def test_the_console_gathers_warehouse_work_of_assigned_merchants(
    room: Stockroom,  # noqa: F811
    world: World,
    portal_as: PortalClient,
) -> None:
    _stocked(room)
    with db.unit_of_work(room.tenant.id) as session:
        service.set_stock_settings(session, _safety(room, 2))
        asn = service.create_receipt(
            session,
            ReceiptCreate(
                warehouse_id=room.hz.id,
                reference="PO-77",
                expected=[ExpectedLine(sku_id=room.skus["CUP"], quantity=40)],
            ),
        )
    other = world.tenant()
    operator = portal_as(world.user(Role.warehouse_operator, room.tenant))
    page = operator.get(f"{PORTAL}/console/warehouse")
    assert page.status_code == 200, page.text
    assert f'data-receipt="{asn.id}"' in page.text and "PO-77" in page.text
    assert "0 of 40" in page.text
    assert "SHORT-1" in page.text
    # CUP: 3 on hand at SZ, none reserved, safety stock 2: still one above it, so not low.
    assert f'data-merchant="{room.tenant.slug}" data-low="CUP"' not in page.text
    with db.unit_of_work(room.tenant.id) as session:
        service.set_stock_settings(session, _safety(room, 3))
    low = operator.get(f"{PORTAL}/console/warehouse")
    assert f'data-merchant="{room.tenant.slug}" data-low="CUP"' in low.text
    assert f'data-merchant="{other.slug}"' not in low.text

    recruiter = portal_as(world.user(Role.recruiter, room.tenant)).get(
        f"{PORTAL}/console/warehouse"
    )
    assert "Your role does not see stock" in recruiter.text
    owner = portal_as(world.user(Role.merchant_owner, room.tenant))
    assert owner.get(f"{PORTAL}/console/warehouse").status_code == 404


def test_the_stock_pages_read_in_chinese(
    room: Stockroom,  # noqa: F811
    world: World,
    portal_as: PortalClient,
    untranslated: set[str],  # noqa: F811
) -> None:
    _stocked(room)
    staff = portal_as(world.user(Role.warehouse_operator, room.tenant))
    choose_chinese(staff)
    base = f"{PORTAL}/t/{room.tenant.slug}"
    for path in ("stock", "stock/ledger?sku=TEA", "stock/exceptions"):
        answer = staff.get(f"{base}/{path}")
        assert answer.status_code == 200 and 'lang="zh-CN"' in answer.text
    assert staff.get(f"{PORTAL}/console/warehouse").status_code == 200
    assert not untranslated, sorted(untranslated)
