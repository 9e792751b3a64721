"""The catalog's service on a real database: the margin floor other departments call, in each
mode and resolved SKU → nearest category → tenant; bundle costs; audit and events; keys that
cannot cross tenants."""

from __future__ import annotations

import uuid
from decimal import Decimal

import pytest
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from daiyun.core.audit.models import AuditEntry
from daiyun.core.db import unit_of_work
from daiyun.core.errors import Problem
from daiyun.core.events.models import OutboxEvent
from daiyun.platform.storefront import service
from daiyun.platform.storefront.models import BundlePart, Category, Sku
from daiyun.platform.storefront.rules import FloorMode
from daiyun.platform.storefront.schemas import (
    BundleCreate,
    CategoryCreate,
    CategoryFloorIn,
    CategoryUpdate,
    FloorIn,
    MarginFloorsIn,
    PartIn,
    ProductCreate,
    SkuCreate,
    SkuFloorIn,
    SkuUpdate,
)
from daiyun.tenants.models import Tenant
from tests.conftest import World


def _catalog(tenant: Tenant) -> dict[str, uuid.UUID]:
    """Tea (root) > Green tea > a product with SKUs LJ (cost 10000) and LJ-S (cost 5000), and
    a loose product with SKU CUP (cost 2000), all in CNY."""
    with unit_of_work(tenant.id) as session:
        tea = service.create_category(session, CategoryCreate(name="Tea"))
        green = service.create_category(session, CategoryCreate(name="Green", parent_id=tea.id))
        tea_product = service.create_product(
            session,
            ProductCreate(
                name="Longjing",
                category_id=green.id,
                variants=[
                    SkuCreate(code="LJ", cost_minor=10000, currency="CNY"),
                    SkuCreate(code="LJ-S", cost_minor=5000, currency="CNY"),
                ],
            ),
        )
        cup = service.create_product(
            session,
            ProductCreate(
                name="Cup", variants=[SkuCreate(code="CUP", cost_minor=2000, currency="CNY")]
            ),
        )
    ids = {v.code: v.id for v in tea_product.variants + cup.variants}
    return {**ids, "tea": tea.id, "green": green.id}


def _floor(mode: FloorMode, margin: str) -> FloorIn:
    return FloorIn(mode=mode, minimum_margin=Decimal(margin))


def test_the_floor_resolves_sku_then_nearest_category_then_tenant(world: World) -> None:
    tenant = world.tenant()
    ids = _catalog(tenant)
    with unit_of_work(tenant.id) as session:
        assert service.floor_for(session, ids["LJ"])[0] == "default"
        service.set_margin_floors(
            session,
            MarginFloorsIn(
                tenant=_floor(FloorMode.warn, "0.1"),
                categories=[
                    CategoryFloorIn(
                        category_id=ids["tea"], mode=FloorMode.block, minimum_margin=Decimal("0.3")
                    )
                ],
                skus=[SkuFloorIn(sku_id=ids["LJ-S"], mode=FloorMode.off)],
            ),
        )
    with unit_of_work(tenant.id) as session:
        # LJ has no override; its category (Green) has none; Tea, Green's parent, has one.
        source, floor = service.floor_for(session, ids["LJ"])
        assert (source, floor.mode, floor.minimum_margin) == (
            f"category:{ids['tea'].hex}",
            FloorMode.block,
            Decimal("0.3"),
        )
        assert service.floor_for(session, ids["LJ-S"])[1].mode is FloorMode.off
        assert service.floor_for(session, ids["CUP"])[0] == "tenant"

        # The nearest category wins over one further up.
        current = service.margin_floors(session)
        service.set_margin_floors(
            session,
            MarginFloorsIn(
                tenant=_floor(FloorMode.warn, "0.1"),
                categories=[
                    CategoryFloorIn(
                        category_id=c.category_id, mode=c.mode, minimum_margin=c.minimum_margin
                    )
                    for c in current.categories
                ]
                + [
                    CategoryFloorIn(
                        category_id=ids["green"], mode=FloorMode.warn, minimum_margin=Decimal("0.5")
                    )
                ],
            ),
        )
        source, floor = service.floor_for(session, ids["LJ"])
        assert (source, floor.mode) == (f"category:{ids['green'].hex}", FloorMode.warn)
        # The SKU override went with the replaced set.
        assert service.floor_for(session, ids["LJ-S"])[0] == f"category:{ids['green'].hex}"


def test_prices_are_judged_in_each_mode_and_a_blocked_one_is_refused_by_name(
    world: World,
) -> None:
    tenant = world.tenant()
    ids = _catalog(tenant)
    with unit_of_work(tenant.id) as session:
        service.set_margin_floors(
            session,
            MarginFloorsIn(
                tenant=_floor(FloorMode.block, "0.2"),
                skus=[
                    SkuFloorIn(sku_id=ids["LJ-S"], mode=FloorMode.warn, minimum_margin=Decimal(1)),
                    SkuFloorIn(sku_id=ids["CUP"], mode=FloorMode.off),
                ],
            ),
        )
    with unit_of_work(tenant.id) as session:
        ok = service.enforce_price(session, ids["LJ"], 12000, "CNY")
        assert (ok.allowed, ok.flagged, ok.floor_minor, ok.source) == (True, False, 12000, "tenant")
        with pytest.raises(Problem) as refused:
            service.enforce_price(session, ids["LJ"], 11999, "CNY")
        assert (refused.value.status, refused.value.kind) == (422, "below-margin-floor")
        assert refused.value.extra == {"sku": "LJ", "floor_minor": 12000, "price_minor": 11999}
        assert "LJ" in refused.value.detail and "12,000" in refused.value.detail
        flagged = service.enforce_price(session, ids["LJ-S"], 6000, "CNY")
        assert (flagged.allowed, flagged.flagged, flagged.floor_minor) == (True, True, 10000)
        free = service.enforce_price(session, ids["CUP"], 1, "CNY")
        assert (free.allowed, free.flagged) == (True, False)
        with pytest.raises(Problem) as foreign:
            service.check_price(session, ids["LJ"], 12000, "USD")
        assert foreign.value.kind == "currency-mismatch"
        with pytest.raises(Problem) as missing:
            service.check_price(session, uuid.uuid4(), 1, "CNY")
        assert missing.value.status == 404


def test_a_bundle_is_priced_against_its_derived_cost(world: World) -> None:
    tenant = world.tenant()
    ids = _catalog(tenant)
    with unit_of_work(tenant.id) as session:
        bundle = service.create_bundle(
            session,
            BundleCreate(
                code="SET",
                name="Tea set",
                currency="CNY",
                parts=[PartIn(sku_id=ids["LJ-S"], quantity=2), PartIn(sku_id=ids["CUP"])],
            ),
        )
        assert bundle.cost_minor == 2 * 5000 + 2000
        service.set_margin_floors(session, MarginFloorsIn(tenant=_floor(FloorMode.block, "0.5")))
        assert service.check_price(session, bundle.id, 18000, "CNY").allowed
        assert not service.check_price(session, bundle.id, 17999, "CNY").allowed
        service.update_sku(session, ids["CUP"], SkuUpdate(cost_minor=4000))
        assert service.check_price(session, bundle.id, 18000, "CNY").floor_minor == 21000


def test_changes_are_audited_and_announced(world: World) -> None:
    tenant = world.tenant()
    ids = _catalog(tenant)
    with unit_of_work(tenant.id) as session:
        service.update_sku(session, ids["LJ"], SkuUpdate(barcode="123", cost_minor=9000))
        service.update_category(session, ids["green"], CategoryUpdate(name="Green tea"))
    with unit_of_work(tenant.id) as session:
        # Named explicitly: platform entries (no tenant) and other tests' committed rows are
        # visible to a plain read of the audit log.
        audited = select(AuditEntry).where(AuditEntry.tenant_id == tenant.id)
        actions = [e.action for e in session.scalars(audited.order_by(AuditEntry.id))]
        outbox = select(OutboxEvent).where(OutboxEvent.tenant_id == tenant.id)
        topics = [e.topic for e in session.scalars(outbox.order_by(OutboxEvent.id))]
        changed = session.scalar(audited.where(AuditEntry.action == "catalog.sku.updated"))
    assert actions.count("catalog.product.created") == 2
    assert actions[-2:] == ["catalog.sku.updated", "catalog.category.updated"]
    assert changed is not None and changed.changes["cost_minor"] == {
        "before": 10000,
        "after": 9000,
    }
    assert topics == [
        "catalog.product.created",
        "catalog.sku.created",
        "catalog.sku.created",
        "catalog.product.created",
        "catalog.sku.created",
        "catalog.sku.updated",
    ]


def test_a_move_carries_the_subtree(world: World) -> None:
    tenant = world.tenant()
    ids = _catalog(tenant)
    with unit_of_work(tenant.id) as session:
        other = service.create_category(session, CategoryCreate(name="Gifts"))
        service.update_category(session, ids["tea"], CategoryUpdate(parent_id=other.id))
        tree = service.category_tree(session)
        with pytest.raises(Problem) as cycle:
            service.update_category(session, other.id, CategoryUpdate(parent_id=ids["green"]))
    assert [c.path for c in tree.items] == [["Gifts"], ["Gifts", "Tea"], ["Gifts", "Tea", "Green"]]
    assert cycle.value.kind == "category-cycle"
    with unit_of_work(tenant.id) as session:
        green = session.scalar(select(Category).where(Category.id == ids["green"]))
        assert green is not None
        assert green.path == f"{other.id.hex}/{ids['tea'].hex}/{ids['green'].hex}"


def test_keys_cannot_cross_tenants(world: World) -> None:
    a, b = world.tenant(), world.tenant()
    ids_a, ids_b = _catalog(a), _catalog(b)
    with unit_of_work(a.id) as session:
        # The ORM guard: only A's SKUs, though B uses the same codes.
        assert {s.code for s in session.scalars(select(Sku))} == {"LJ", "LJ-S", "CUP"}
        assert session.scalar(select(Sku).where(Sku.id == ids_b["LJ"])) is None
    # SECURITY.md 10: a bundle part in A naming B's SKU fails on the composite key.
    with pytest.raises(IntegrityError), unit_of_work(a.id) as session:
        bundle = service.create_bundle(
            session,
            BundleCreate(code="X", name="X", currency="CNY", parts=[PartIn(sku_id=ids_a["CUP"])]),
        )
        session.add(BundlePart(bundle_id=bundle.id, part_id=ids_b["CUP"], quantity=1))
        session.flush()
