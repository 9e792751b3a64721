"""The CSV downloads open safely in a spreadsheet: a buyer's name or a staff-written description
that starts like a formula is written as text (one quote in front), amounts stay numbers."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from daiyun.core.db import unit_of_work
from daiyun.platform.orders import service as order_service
from daiyun.platform.orders.rules import ReviewSettings
from daiyun.tenants.auth.permissions import Role
from tests import factories
from tests.conftest import World
from tests.portal.conftest import PortalClient

API = "/api/v1/tenants"
PAYLOAD = "=cmd|' /C calc'!A0"
CONTRACT = {
    "name": "Contract",
    "effective_from": "2026-09-01",
    "terms": {
        "currency": "CNY",
        "time_zone": "Asia/Shanghai",
        "base_fee_minor": 300_000,
        "commission": {"mode": "flat", "rate": "0.05"},
    },
}


def rows_of(content: bytes) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(content.decode("utf-8-sig"), newline="")))


def test_a_hostile_buyer_name_is_text_in_the_order_csv(
    world: World, portal_as: PortalClient
) -> None:
    tenant = world.tenant()
    with unit_of_work(tenant.id) as session:
        order_service.update_review_settings(session, ReviewSettings(check_duplicates=False))
    shop = factories.shop(tenant.id)
    placed = datetime(2026, 10, 14, 2, tzinfo=UTC)
    order = factories.order(
        "X-1", placed=placed, updated=placed + timedelta(minutes=5), buyer=PAYLOAD, email=None
    )
    with unit_of_work(tenant.id) as session:
        order_service.ingest(session, shop.id, "shopify", [order])
    owner = world.user(Role.merchant_owner, tenant)

    answer = portal_as(owner).get(f"/portal/t/{tenant.slug}/orders.csv")

    assert answer.status_code == 200, answer.text
    (row,) = rows_of(answer.content)
    assert row["buyer_name"] == "'" + PAYLOAD
    assert row["external_id"] == "X-1"
    assert Decimal(row["total"]) == Decimal("59.98")  # the amount is still a plain number


def test_a_hostile_fact_description_is_text_in_the_statement_csv(
    world: World, portal_as: PortalClient
) -> None:
    tenant = world.tenant()
    finance = world.actor(Role.finance, tenant)
    base = f"{API}/{tenant.slug}"
    made = world.client.post(f"{base}/contracts", json=CONTRACT, headers=finance.headers)
    assert made.status_code == 201, made.text
    fact = world.client.post(
        f"{base}/service-facts",
        json={
            "kind": "one_off",
            "occurred_on": "2026-10-05",
            "amount_minor": 50_000,
            "currency": "CNY",
            "description": "@SUM(1+1)*" + PAYLOAD,
        },
        headers={**finance.headers, "Idempotency-Key": "csv-injection-fact"},
    )
    assert fact.status_code == 201, fact.text
    statement = world.client.post(
        f"{base}/statements", params={"period": "2026-10"}, headers=finance.headers
    )
    assert statement.status_code == 201, statement.text
    owner = world.user(Role.merchant_owner, tenant)

    for url in (
        f"/portal/t/{tenant.slug}/statements/{statement.json()['id']}.csv",
        f"{base}/statements/{statement.json()['id']}/csv",
    ):
        browser = portal_as(owner)
        answer = browser.get(url, headers=finance.headers if url.startswith(API) else None)
        assert answer.status_code == 200, answer.text
        rows = rows_of(answer.content)
        one_off = next(r for r in rows if r["kind"] == "one_off")
        assert one_off["description"].startswith("'@SUM(1+1)*=cmd")
        for row in rows:
            assert not row["description"].startswith(("=", "+", "-", "@", "\t", "\r"))
        assert Decimal(one_off["amount"]) == Decimal("500.00")
        assert rows[-1]["kind"] == "total"
