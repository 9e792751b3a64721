"""Listing prices on a real database: the margin floor in each mode on a price, the override a
permitted user gives (audited), the prior price, scheduled price lists applied once (however
often or concurrently beat runs) and restored at their end, and listings another tenant cannot
see or change."""

from __future__ import annotations

import threading
import uuid
from datetime import timedelta

import pytest
from sqlalchemy import select
from sqlalchemy.engine import Engine
from sqlalchemy.exc import OperationalError

from daiyun.core.audit.models import AuditEntry
from daiyun.core.db import unit_of_work
from daiyun.core.errors import Problem
from daiyun.core.ids import utcnow
from daiyun.platform.storefront import listings, prices
from daiyun.platform.storefront.listing_rules import PriceListStatus, SyncStatus
from daiyun.platform.storefront.listing_schemas import (
    ListingCreate,
    ListingRead,
    PriceListCreate,
    PriceListItemIn,
    PriceSet,
)
from daiyun.platform.storefront.listing_tasks import price_lists
from daiyun.platform.storefront.rules import FloorMode
from daiyun.tenants import service as tenant_service
from daiyun.tenants.schemas import TenantCreate
from tests import factories
from tests.conftest import World
from tests.platform.storefront.listing_helpers import catalog, floor, listed

# Cost 10.00 CNY with a 20 % minimum margin: the floor is 12.00.
FLOOR = 12_00


def _listing(tenant_id: uuid.UUID, price: int = 20_00) -> uuid.UUID:
    skus = catalog(tenant_id, count=1)
    shop_id = factories.shop(tenant_id, "woocommerce").id
    return listed(tenant_id, shop_id, skus.skus, price=price)[0]


def _set(
    tenant_id: uuid.UUID, listing_id: uuid.UUID, body: PriceSet, *, can_override: bool = False
) -> ListingRead:
    with unit_of_work(tenant_id) as session:
        listing = prices.set_price(session, listing_id, body, can_override=can_override)
        return listings.read(listing)


def test_block_refuses_a_price_under_the_floor_naming_sku_floor_and_price(world: World) -> None:
    tenant = world.tenant()
    listing_id = _listing(tenant.id)
    floor(tenant.id, FloorMode.block)
    with pytest.raises(Problem) as refused:
        _set(tenant.id, listing_id, PriceSet(list_price_minor=11_99))
    assert refused.value.status == 422
    assert refused.value.kind == "below-margin-floor"
    assert "TEA-0" in refused.value.detail
    assert "1,199" in refused.value.detail and "1,200" in refused.value.detail
    # A sale price is what the buyer pays: it is the one the floor checks.
    with pytest.raises(Problem):
        _set(tenant.id, listing_id, PriceSet(list_price_minor=50_00, sale_price_minor=11_00))
    with unit_of_work(tenant.id) as session:
        kept = listings.get(session, listing_id)
        assert (kept.list_price_minor, kept.sale_price_minor) == (20_00, None)
    assert _set(tenant.id, listing_id, PriceSet(list_price_minor=FLOOR)).floor_flag is None


def test_warn_accepts_and_flags_and_off_says_nothing(world: World) -> None:
    tenant = world.tenant()
    listing_id = _listing(tenant.id)
    floor(tenant.id, FloorMode.warn)
    warned = _set(tenant.id, listing_id, PriceSet(list_price_minor=11_00))
    assert warned.list_price_minor == 11_00
    assert warned.floor_flag is not None and "1,200" in warned.floor_flag
    assert warned.prior_price_minor == 20_00  # the price before, kept as the "was" price
    floor(tenant.id, FloorMode.off)
    quiet = _set(tenant.id, listing_id, PriceSet(list_price_minor=5_00))
    assert (quiet.floor_flag, quiet.prior_price_minor) == (None, 11_00)


def test_an_override_needs_the_permission_and_is_audited(world: World) -> None:
    tenant = world.tenant()
    listing_id = _listing(tenant.id)
    floor(tenant.id, FloorMode.block)
    body = PriceSet(list_price_minor=9_00, override_reason="Clearance of the old harvest")
    with pytest.raises(Problem) as refused:
        _set(tenant.id, listing_id, body, can_override=False)
    assert refused.value.status == 403
    overridden = _set(tenant.id, listing_id, body, can_override=True)
    assert overridden.list_price_minor == 9_00
    assert overridden.price_overridden
    assert overridden.floor_flag == "Overridden: Clearance of the old harvest"
    assert overridden.sync_status is SyncStatus.pending  # a listed price goes to the marketplace
    with unit_of_work(tenant.id) as session:
        [entry] = session.scalars(
            select(AuditEntry).where(AuditEntry.action == "catalog.price.overridden")
        )
    assert entry.target == f"listing:{listing_id}"
    assert entry.changes == {
        "sku": "TEA-0",
        "price_minor": 9_00,
        "floor_minor": FLOOR,
        "currency": "CNY",
        "reason": "Clearance of the old harvest",
    }


def _schedule(tenant_id: uuid.UUID, listing_id: uuid.UUID, price: int, hours: int = 2) -> uuid.UUID:
    starts = utcnow() - timedelta(minutes=1)
    with unit_of_work(tenant_id) as session:
        created = prices.create_list(
            session,
            PriceListCreate(
                name="Double 11",
                starts_at=starts,
                ends_at=starts + timedelta(hours=hours),
                items=[PriceListItemIn(listing_id=listing_id, list_price_minor=price)],
            ),
            can_override=False,
        )
        return created.id


def _price(tenant_id: uuid.UUID, listing_id: uuid.UUID) -> tuple[int, int | None]:
    with unit_of_work(tenant_id) as session:
        listing = listings.get(session, listing_id)
        return listing.list_price_minor, listing.prior_price_minor


def test_a_price_list_is_applied_once_and_restored_at_its_end(world: World) -> None:
    tenant = world.tenant()
    listing_id = _listing(tenant.id, price=20_00)
    list_id = _schedule(tenant.id, listing_id, 15_00)

    assert price_lists()["applied"] >= 1
    assert _price(tenant.id, listing_id) == (15_00, 20_00)
    assert price_lists()["applied"] == 0  # a second beat changes nothing
    assert _price(tenant.id, listing_id) == (15_00, 20_00)
    with unit_of_work(tenant.id) as session:
        applied = prices.get_list(session, list_id)
        assert applied.status is PriceListStatus.active and applied.applied_at is not None
    later = utcnow() + timedelta(hours=3)
    assert price_lists(later)["ended"] >= 1
    assert _price(tenant.id, listing_id) == (20_00, None)
    assert price_lists(later)["ended"] == 0  # restored once
    with unit_of_work(tenant.id) as session:
        read = prices.read_list(session, prices.get_list(session, list_id))
    assert read.status is PriceListStatus.ended
    assert read.items[0].previous_list_price_minor == 20_00


def test_a_price_changed_by_hand_while_a_list_runs_is_not_restored_over(world: World) -> None:
    tenant = world.tenant()
    listing_id = _listing(tenant.id, price=20_00)
    _schedule(tenant.id, listing_id, 15_00)
    price_lists()
    _set(tenant.id, listing_id, PriceSet(list_price_minor=18_00))
    price_lists(utcnow() + timedelta(hours=3))
    assert _price(tenant.id, listing_id)[0] == 18_00


def test_two_beats_at_once_apply_a_price_list_once(real_connections: Engine) -> None:
    # Each beat over its own connection, committing for real: a race needs two transactions.
    slug = f"beats-{uuid.uuid4().hex[:8]}"
    with unit_of_work() as session:
        tenant = tenant_service.create_tenant(
            session, TenantCreate(slug=slug, display_name="Beats", legal_name="Beats Ltd")
        )
    listing_id = _listing(tenant.id, price=20_00)
    _schedule(tenant.id, listing_id, 15_00)
    results: list[int] = []
    errors: list[BaseException] = []
    start = threading.Barrier(2)

    def beat() -> None:
        try:
            start.wait()
            with unit_of_work(tenant.id) as session:
                results.append(prices.run_due(session)["applied"])
        except OperationalError as exc:  # a lost race on SQLite's write lock is refused whole
            errors.append(exc)

    threads = [threading.Thread(target=beat) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sum(results) == 1, (results, errors)
    assert _price(tenant.id, listing_id) == (15_00, 20_00)


def test_a_scheduled_price_meets_the_floor_when_it_is_scheduled(world: World) -> None:
    tenant = world.tenant()
    listing_id = _listing(tenant.id)
    floor(tenant.id, FloorMode.block)
    with pytest.raises(Problem) as refused:
        _schedule(tenant.id, listing_id, 10_00)
    assert refused.value.kind == "below-margin-floor"


def test_another_tenant_cannot_see_or_change_a_listing(world: World) -> None:
    a, b = world.tenant(), world.tenant()
    listing_id = _listing(a.id)
    with unit_of_work(a.id) as session:
        a_sku = listings.get(session, listing_id).sku_id
    with unit_of_work(b.id) as session:
        assert listings.find(session)[0] == []
        for attempt in (
            lambda: listings.get(session, listing_id),
            lambda: listings.publish(session, listing_id),
            lambda: listings.unlist(session, listing_id),
            lambda: prices.set_price(
                session, listing_id, PriceSet(list_price_minor=1_00), can_override=True
            ),
        ):
            with pytest.raises(Problem) as missing:
                attempt()
            assert missing.value.status == 404
    with unit_of_work(b.id) as session:
        with pytest.raises(Problem) as refused:
            listings.create(
                session,
                ListingCreate(
                    sku_id=a_sku,
                    shop_id=uuid.uuid4(),
                    list_price_minor=1_00,
                ),
                can_override=False,
            )
        assert refused.value.kind == "unknown-sku"
    assert _price(a.id, listing_id) == (20_00, None)


def test_a_listing_created_under_the_floor_by_override_is_audited_by_its_id(world: World) -> None:
    tenant = world.tenant()
    skus = catalog(tenant.id, count=1)
    shop_id = factories.shop(tenant.id, "woocommerce").id
    floor(tenant.id, FloorMode.block)
    body = ListingCreate(
        sku_id=skus.skus[0],
        shop_id=shop_id,
        list_price_minor=8_00,
        override_reason="Launch price for the first week",
    )
    with unit_of_work(tenant.id) as session:
        with pytest.raises(Problem) as refused:
            listings.create(
                session, body.model_copy(update={"override_reason": None}), can_override=True
            )
        assert refused.value.kind == "below-margin-floor"
    with unit_of_work(tenant.id) as session:
        created = listings.create(session, body, can_override=True)
        assert created.price_overridden
        [entry] = session.scalars(
            select(AuditEntry).where(AuditEntry.action == "catalog.price.overridden")
        )
        assert entry.target == f"listing:{created.id}"
