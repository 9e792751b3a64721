"""The returns dock (退货入库): an expected return received line by line (resellable into a
shelf, damaged only into quarantine, all in one warehouse, never more than the case names), a
parcel no request announced registered as its own accepted case, and the dock's API kept to
the warehouse's operators. Each receipt is one return receipt, billed once."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from sqlalchemy import select

from daiyun.billing.models import ServiceFactRecord
from daiyun.core import db
from daiyun.core.errors import Problem
from daiyun.platform.aftersales import service
from daiyun.platform.aftersales.schemas import (
    CaseCreate,
    CaseLineIn,
    CaseState,
    CaseType,
    Condition,
    DockReturn,
    ReturnIn,
    ReturnLineIn,
    Source,
)
from daiyun.platform.warehouse import billing_facts
from daiyun.tenants.auth.permissions import Role
from tests.platform.aftersales.conftest import SKU, Counter
from tests.platform.warehouse.conftest import make_site


def _awaiting(counter: Counter, quantity: int = 3) -> uuid.UUID:
    order_id = counter.order(quantity=quantity)
    with db.unit_of_work(counter.tenant.id) as session:
        body = CaseCreate(
            type=CaseType.return_refund,
            order_id=order_id,
            reason="Not as pictured",
            lines=[CaseLineIn(line=SKU, quantity=quantity)],
        )
        case = service.create_case(session, body, counter.agent)
        service.approve(session, case.id, counter.agent, True, None)
        return case.id


def _line(quantity: int, condition: Condition, location_id: uuid.UUID) -> ReturnLineIn:
    return ReturnLineIn(sku=SKU, quantity=quantity, condition=condition, location_id=location_id)


def _refused(counter: Counter, case_id: uuid.UUID, lines: list[ReturnLineIn]) -> Problem:
    with pytest.raises(Problem) as caught, db.unit_of_work(counter.tenant.id) as session:
        service.receive(session, case_id, None, ReturnIn(lines=lines))
    return caught.value


def test_each_line_goes_where_its_condition_says(counter: Counter) -> None:
    site = counter.site
    case_id = _awaiting(counter, quantity=3)
    damaged_on_shelf = _refused(counter, case_id, [_line(1, Condition.damaged, site.shelf)])
    assert (damaged_on_shelf.status, damaged_on_shelf.kind) == (422, "quarantine-needed")
    too_many = _refused(counter, case_id, [_line(4, Condition.resellable, site.shelf)])
    assert (too_many.status, too_many.kind) == (422, "more-than-the-case")
    elsewhere = make_site(f"AT{uuid.uuid4().hex[:6].upper()}", 20)
    split = [
        _line(1, Condition.resellable, site.shelf),
        _line(1, Condition.damaged, elsewhere.cage),
    ]
    assert _refused(counter, case_id, split).kind == "one-warehouse"
    assert counter.on_hand(site.shelf) == 0  # nothing of a refused receipt stays
    lines = [_line(2, Condition.resellable, site.shelf), _line(1, Condition.damaged, site.cage)]
    with db.unit_of_work(counter.tenant.id) as session:
        case = service.receive(session, case_id, None, ReturnIn(lines=lines))
        assert case.state == CaseState.received and case.condition == Condition.damaged
        receipt_id = case.receipt_id
    assert (counter.on_hand(site.shelf), counter.on_hand(site.cage)) == (2, 1)
    assert receipt_id is not None
    with db.unit_of_work(counter.tenant.id) as session:
        assert billing_facts.record_return(session, receipt_id) is True
        assert billing_facts.record_return(session, receipt_id) is False
        keys = session.scalars(
            select(ServiceFactRecord.idempotency_key).where(ServiceFactRecord.kind == "returns")
        )
        assert list(keys) == [billing_facts.return_key(receipt_id)]


def test_a_parcel_without_a_request_opens_its_own_case(counter: Counter) -> None:
    order_id = counter.order(quantity=2)
    body = DockReturn(order_id=order_id, lines=[_line(1, Condition.resellable, counter.site.shelf)])
    with db.unit_of_work(counter.tenant.id) as session:
        case = service.register_return(session, body, None)
        found = service.detail(session, case)
    assert (found.source, found.state, found.type) == (
        Source.dock,
        CaseState.received,
        CaseType.return_refund,
    )
    assert [e.kind for e in found.events] == ["requested", "approve", "receive"]
    assert [(li.sku, li.quantity) for li in found.lines] == [(SKU, 1)]
    assert counter.on_hand(counter.site.shelf) == 1
    # A SKU the order does not have opens nothing.
    wrong = DockReturn(
        order_id=order_id,
        lines=[
            ReturnLineIn(
                sku="NOT-OURS", quantity=1, condition="resellable", location_id=counter.site.shelf
            )
        ],
    )
    with pytest.raises(Problem) as caught, db.unit_of_work(counter.tenant.id) as session:
        service.register_return(session, wrong, None)
    assert caught.value.kind == "unknown-line"
    with db.unit_of_work(counter.tenant.id) as session:
        cases, _ = service.find_cases(session, service.Filters(order_id=order_id), None, 10)
    assert len(cases) == 1


def test_the_dock_api_is_the_warehouse_operators(counter: Counter) -> None:
    client = counter.world.client
    base = f"/api/v1/tenants/{counter.tenant.slug}/returns"
    operator = counter.world.actor(Role.warehouse_operator, counter.tenant)
    agent = counter.world.actor(Role.cs_agent, counter.tenant)
    case_id = _awaiting(counter, quantity=1)
    listed = client.get(base, headers=operator.headers)
    assert listed.status_code == 200
    assert [c["id"] for c in listed.json()["items"]] == [str(case_id)]
    line: dict[str, Any] = {
        "sku": SKU,
        "quantity": 1,
        "condition": "resellable",
        "location_id": str(counter.site.shelf),
    }
    url = f"{base}/{case_id}/receive"
    denied = client.post(url, headers=agent.headers, json={"lines": [line]})
    assert denied.status_code == 403
    assert counter.on_hand(counter.site.shelf) == 0
    bad = client.post(url, headers=operator.headers, json={"lines": [{**line, "condition": "?"}]})
    assert bad.status_code == 422 and bad.headers["content-type"] == "application/problem+json"
    retry = {**operator.headers, "Idempotency-Key": "dock-1"}
    first = client.post(url, headers=retry, json={"lines": [line]})
    again = client.post(url, headers=retry, json={"lines": [line]})
    assert first.status_code == again.status_code == 200, first.text
    assert first.json() == again.json() and first.json()["state"] == "received"
    assert counter.on_hand(counter.site.shelf) == 1  # received once
    assert client.get(base, headers=operator.headers).json()["items"] == []
    registered = client.post(
        base,
        headers=operator.headers,
        json={"order_id": str(counter.order()), "lines": [line], "note": "No slip inside"},
    )
    assert registered.status_code == 201, registered.text
    assert registered.json()["source"] == "dock" and registered.json()["reason"] == "No slip inside"
