"""The returns dock in the console (退货入库): the operator finds an expected return, receives it
line by line into a scanned bin (a damaged line into a shelf is refused and nothing moves),
registers a parcel nobody announced by its order number; a customer-service agent sees the
expected returns but no form; every string is in Chinese too."""

from __future__ import annotations

import uuid

from daiyun.core import db
from daiyun.platform.aftersales import service
from daiyun.platform.aftersales.schemas import CaseCreate, CaseLineIn, CaseState, CaseType, Source
from daiyun.tenants.auth.permissions import Role
from tests.conftest import World
from tests.platform.aftersales.conftest import SKU, Counter, make_counter
from tests.portal.conftest import PortalClient, csrf_of
from tests.portal.test_zh_and_time import choose_chinese, untranslated  # noqa: F401 (fixture)

PORTAL = "/portal"
DOCK = f"{PORTAL}/console/returns"
SHELF, CAGE = "A-01-01-01", "Q-01-01-01"


def _expected(counter: Counter) -> tuple[uuid.UUID, str]:
    """A return of two units, approved: (its case, its order's number)."""
    order_id = counter.order(quantity=2, external_id=f"R{uuid.uuid4().hex[:8]}")
    with db.unit_of_work(counter.tenant.id) as session:
        body = CaseCreate(
            type=CaseType.return_refund,
            order_id=order_id,
            reason="Too small",
            lines=[CaseLineIn(line=SKU, quantity=2)],
        )
        case = service.create_case(session, body, counter.agent)
        service.approve(session, case.id, counter.agent, True, None)
        return case.id, case.order_id.hex


def _receive_form(counter: Counter, token: str, condition: str, bin_: str) -> dict[str, str]:
    return {
        "csrf_token": token,
        "lines": "1",
        "warehouse_id": str(counter.site.id),
        "sku-0": SKU,
        "quantity-0": "2",
        "condition-0": condition,
        "bin-0": bin_,
    }


def test_the_operator_receives_and_registers_returns(world: World, portal_as: PortalClient) -> None:
    counter = make_counter(world)
    case_id, _ = _expected(counter)
    operator = portal_as(world.user(Role.warehouse_operator, counter.tenant))
    page = operator.get(DOCK).text
    assert f'data-case="{case_id}"' in page and "Too small" in page
    token = csrf_of(page)
    url = f"{PORTAL}/t/{counter.tenant.slug}/returns"
    damaged_on_shelf = operator.post(
        f"{url}/{case_id}",
        data=_receive_form(counter, token, "damaged", SHELF),
        follow_redirects=False,
    )
    assert "error=quarantine-needed" in damaged_on_shelf.headers["location"]
    assert counter.on_hand(counter.site.shelf) == 0
    unknown_bin = operator.post(
        f"{url}/{case_id}",
        data=_receive_form(counter, token, "resellable", "Z-9"),
        follow_redirects=False,
    )
    assert "error=unknown-bin" in unknown_bin.headers["location"]
    received = operator.post(
        f"{url}/{case_id}",
        data=_receive_form(counter, token, "damaged", CAGE),
        follow_redirects=False,
    )
    assert "done=received" in received.headers["location"]
    assert counter.on_hand(counter.site.cage) == 2
    assert f'data-case="{case_id}"' not in operator.get(DOCK).text
    number = f"U{uuid.uuid4().hex[:8]}"
    order_id = counter.order(quantity=1, external_id=number)
    registered = operator.post(
        url,
        data={
            "csrf_token": token,
            "order": number,
            "sku": SKU,
            "quantity": "1",
            "warehouse_id": str(counter.site.id),
            "condition": "resellable",
            "bin": SHELF,
            "note": "No slip inside",
        },
        follow_redirects=False,
    )
    assert "done=registered" in registered.headers["location"]
    assert counter.on_hand(counter.site.shelf) == 1
    with db.unit_of_work(counter.tenant.id) as session:
        [case], _ = service.find_cases(session, service.Filters(order_id=order_id), None, 5)
        assert (case.source, case.state, case.reason) == (
            Source.dock,
            CaseState.received,
            "No slip inside",
        )
    nobody = operator.post(
        url,
        data={"csrf_token": token, "order": "NO-SUCH", "sku": SKU, "quantity": "1"},
        follow_redirects=False,
    )
    assert "error=unknown-order" in nobody.headers["location"]


def test_an_agent_sees_the_dock_without_forms_in_chinese(
    world: World,
    portal_as: PortalClient,
    untranslated: set[str],  # noqa: F811
) -> None:
    counter = make_counter(world)
    case_id, _ = _expected(counter)
    agent = portal_as(world.user(Role.cs_agent, counter.tenant))
    choose_chinese(agent)
    page = agent.get(DOCK).text
    assert f'data-case="{case_id}"' in page
    assert f"/returns/{case_id}" not in page  # no form to receive with
    assert "退货入库" in page
    assert untranslated == set()
