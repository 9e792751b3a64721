"""The demo's warehouse operator plays a round of the floor's work through the services: the
ready parcels are waved and picked, each picked one is packed line by line and shipped through
the carrier sandbox; one whose address the carrier refuses lands in the exceptions; a round with
nothing ready does nothing."""

from __future__ import annotations

from daiyun import demo_operator
from daiyun.platform.fulfillment import waves
from daiyun.platform.fulfillment.schemas import FoState
from daiyun.sandboxes.carriers import CarrierSandbox
from tests.platform.fulfillment.conftest import Floor
from tests.platform.fulfillment.test_shipping import carrier  # noqa: F401 (fixture)


def test_a_round_ships_what_is_ready_and_parks_a_refused_address(
    floor: Floor,
    carrier: CarrierSandbox,  # noqa: F811
) -> None:
    floor.room.receive("TEA", 10)
    fine = floor.order("D1", [("TEA", 2)])
    refused = floor.order("D2", [("TEA", 1)], street="不派送 村 1 号")
    merchants = [waves.Merchant(floor.tenant_id, "杭州茶行")]

    done = demo_operator.play_round(merchants, floor.room.hz.id)
    assert done == {"picked": 2, "shipped": 1, "refused": 1}
    [shipped] = floor.parcels(fine)
    [parked] = floor.parcels(refused)
    assert shipped.state == FoState.shipped and shipped.weight_grams == 600
    assert parked.state == FoState.exception
    assert floor.room.stock("TEA") == (8, 1, 7)  # the shipped units left; the parked one waits

    assert demo_operator.play_round(merchants, floor.room.hz.id) == {
        "picked": 0,
        "shipped": 0,
        "refused": 0,
    }
