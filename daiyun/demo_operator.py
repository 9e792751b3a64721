"""The demo's warehouse operator, a process ``daiyun serve --sandbox`` runs beside the others
(``python -m daiyun.demo_operator``): every round it does what the Hangzhou warehouse's staff
would, through the same services their pages use. It plans a wave over every demo merchant's
ready parcels, confirms the pick, packs each picked parcel line by line at a weight, and ships
it through the carrier sandbox, whose tracking then moves it on to delivered; the ship step
tells the sandbox shops the tracking numbers. A parcel whose address the carrier refuses lands
in the fulfilment exceptions, as on the floor. So the demo's orders flow on their own while a
person can still take any parcel over from the console.
"""

from __future__ import annotations

import argparse
import time
import uuid

import structlog
from sqlalchemy import select

from daiyun.core.db import unit_of_work
from daiyun.core.errors import Problem
from daiyun.demo import TENANTS
from daiyun.demo_warehouse import WAREHOUSES
from daiyun.platform.fulfillment import pack, service, shipping, waves
from daiyun.platform.fulfillment.schemas import FoState, WaveRuleIn
from daiyun.platform.warehouse import service as warehouse
from daiyun.tenants.models import Tenant

log = structlog.get_logger()
# Parcels a round takes at most per merchant: a steady pace, not a flush of the queue.
PER_ROUND = 5
ACTOR = "demo operator"


def _merchants() -> list[waves.Merchant]:
    with unit_of_work() as session:
        slugs = [t.slug for t in TENANTS]
        found = session.scalars(select(Tenant).where(Tenant.slug.in_(slugs)).order_by(Tenant.slug))
        return [waves.Merchant(t.id, t.display_name) for t in found]


def _warehouse_id() -> uuid.UUID | None:
    code = WAREHOUSES[0][0]  # Hangzhou: the demo's parcels ship from there
    with unit_of_work() as session:
        found = warehouse.find_warehouses(session, None, 500)[0]
        return next((w.id for w in found if w.code == code), None)


def _plan(merchants: list[waves.Merchant], warehouse_id: uuid.UUID) -> int:
    """A wave over the merchants' ready parcels, picked; how many parcels it holds."""
    with unit_of_work() as session:
        try:
            rule = WaveRuleIn(max_orders=PER_ROUND * len(merchants))
            wave = waves.create(session, warehouse_id, rule, merchants, ACTOR)
        except Problem:  # nothing ready in the warehouse this round
            return 0
        waves.confirm_pick(session, wave.id, merchants, agency=True)
        return len(wave.fulfillment_order_ids)


def _pack_and_ship(merchant: waves.Merchant) -> tuple[int, int]:
    """Each picked parcel of the merchant packed and shipped: (shipped, refused)."""
    with unit_of_work(merchant.id) as session:
        picked, _ = service.find(
            session,
            state=FoState.picked,
            warehouse_id=None,
            wave_id=None,
            order_id=None,
            cursor=None,
            limit=PER_ROUND,
        )
        ids = [(p.id, [(line.sku, line.quantity) for line in p.lines]) for p in picked]
    shipped = refused = 0
    for fo_id, lines in ids:
        try:
            with unit_of_work(merchant.id) as session:
                for sku, quantity in lines:
                    for _ in range(quantity):
                        pack.scan(session, fo_id, sku)
                pack.finish(session, fo_id, 300 + 150 * sum(q for _, q in lines))
            with unit_of_work(merchant.id) as session:
                try:
                    shipping.ship(session, fo_id, actor=ACTOR)
                    shipped += 1
                except shipping.Unserviceable:
                    # Caught inside the unit of work, so it commits the parcel's exception:
                    # what the floor works from now.
                    refused += 1
        except Problem as problem:  # a parcel someone else took over, a carrier away: next round
            log.info("demo operator skipped a parcel", parcel=str(fo_id), problem=problem.kind)
    return shipped, refused


def play_round(merchants: list[waves.Merchant], warehouse_id: uuid.UUID) -> dict[str, int]:
    """One round of the warehouse's work over these merchants' parcels in the warehouse."""
    done = {"picked": _plan(merchants, warehouse_id), "shipped": 0, "refused": 0}
    for merchant in merchants:
        shipped, refused = _pack_and_ship(merchant)
        done["shipped"] += shipped
        done["refused"] += refused
    return done


def play_once() -> dict[str, int]:
    """One round over every demo merchant in the demo's Hangzhou warehouse."""
    merchants = _merchants()
    warehouse_id = _warehouse_id()
    if not merchants or warehouse_id is None:
        return {"picked": 0, "shipped": 0, "refused": 0}
    return play_round(merchants, warehouse_id)


def main() -> None:
    parser = argparse.ArgumentParser(description="Play the demo warehouse at a steady pace")
    parser.add_argument("--every", type=float, default=60.0, help="Seconds between rounds")
    args = parser.parse_args()
    while True:
        try:
            log.info("demo operator round", **play_once())
        except Exception:  # a round that fails is logged; the next one tries again
            log.exception("demo operator round failed")
        time.sleep(args.every)


if __name__ == "__main__":
    main()
