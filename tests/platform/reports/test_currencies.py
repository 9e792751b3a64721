"""Each tenant in its own currency, and its sales in every currency converted at recorded rates."""

from __future__ import annotations

from datetime import timedelta
from decimal import ROUND_HALF_UP, Decimal

from fastapi.testclient import TestClient

from daiyun.core.db import unit_of_work
from daiyun.platform.rates import service as rates
from daiyun.platform.rates.rules import Quote
from daiyun.platform.reports import service
from daiyun.tenants.auth.permissions import Role
from tests import factories
from tests.conftest import World
from tests.platform.reports.test_reports import (
    D1,
    D3,
    dashboard,
    deliver_all,
    ingest,
    local,
    make_order,
    new_tenant,
)
from tests.portal.conftest import sign_in_portal

D2 = D1 + timedelta(days=1)
# JPY has no minor unit and CNY two: a conversion must scale between them.
JPY_CNY = {D1: Decimal("0.0481"), D2: Decimal("0.0479")}


def test_a_tenant_that_sells_only_in_another_currency_opens_in_it(world: World) -> None:
    tenant = new_tenant()  # its default currency is CNY
    shop = factories.shop(tenant.id, "amazon").id
    ingest(tenant.id, shop, "amazon", make_order("A-1", local(D1, 10), currency="USD"))
    deliver_all(tenant.id)
    board = dashboard(tenant)
    assert board.currency == "USD"
    assert board.totals.gmv_minor == 2 * 2999 + 1000
    assert board.converted is None  # one currency: nothing to convert
    with unit_of_work(tenant.id) as session:
        console = service.bound_daily_gmv(session, D1, D3)
    assert (console.currency, console.gmv_minor) == ("USD", 2 * 2999 + 1000)


def test_other_currencies_convert_at_each_days_rate_and_missing_days_are_named(
    world: World,
) -> None:
    tenant = new_tenant()
    shop = factories.shop(tenant.id, "shopify").id
    orders = [make_order("C-1", local(D1, 9), currency="CNY")]
    orders += [
        make_order(f"J-{n}", local(day, 11), currency="JPY", lines=[("TEA-001", n + 1, 1999)])
        for n, day in enumerate((D1, D2, D3))
    ]
    ingest(tenant.id, shop, "shopify", *orders)
    deliver_all(tenant.id)
    with unit_of_work() as session:
        rates.record(
            session,
            [Quote("JPY", "CNY", day, rate, "test bank") for day, rate in JPY_CNY.items()],
            "test",
        )

    board = dashboard(tenant)
    assert board.currency == "CNY"
    yen = {d.day: d.figures.gmv_minor for d in dashboard(tenant, currency="JPY").daily}
    converted = board.converted
    assert converted is not None and converted.currency == "CNY"
    assert converted.own_minor == board.totals.gmv_minor
    (jpy,) = converted.conversions
    exact = sum(Decimal(yen[day]) * rate * 100 for day, rate in JPY_CNY.items())
    assert jpy.converted_minor == int(exact.quantize(Decimal(1), rounding=ROUND_HALF_UP))
    assert (jpy.lowest_rate, jpy.highest_rate) == (Decimal("0.0479"), Decimal("0.0481"))
    assert jpy.sources == ("test bank",)
    # D3 has no rate: it is named and left out, never converted at a neighbouring day's rate.
    assert jpy.days_without_rate == (D3,)
    assert jpy.gmv_without_rate_minor == yen[D3]
    assert jpy.gmv_minor == sum(yen.values())
    assert converted.total_minor == converted.own_minor + jpy.converted_minor
    assert not converted.complete

    with unit_of_work() as session:
        rates.record(session, [Quote("CNY", "JPY", D3, Decimal("20"), "test bank")], "test")
    after = dashboard(tenant).converted
    assert after is not None and after.complete
    # The rate recorded the other way round (JPY per CNY) is read inverted: 1/20 = 0.05.
    assert after.conversions[0].converted_minor == jpy.converted_minor + yen[D3] * 5


def test_the_pages_show_the_converted_total_with_its_rates(
    world: World, client: TestClient
) -> None:
    tenant = new_tenant()
    shop = factories.shop(tenant.id, "shopify").id
    ingest(
        tenant.id,
        shop,
        "shopify",
        make_order("C-1", local(D1, 9), currency="CNY"),
        make_order("J-1", local(D2, 9), currency="JPY"),
    )
    deliver_all(tenant.id)
    with unit_of_work() as session:
        rates.record(session, [Quote("JPY", "CNY", D2, Decimal("0.0479"), "test bank")], "test")
    sign_in_portal(client, world.user(Role.merchant_owner, tenant))
    page = client.get(f"/portal/t/{tenant.slug}/dashboard", params={"from": str(D1), "to": str(D3)})
    assert page.status_code == 200
    assert 'data-converted="CNY"' in page.text
    assert "All currencies in CNY" in page.text
    assert "at 0.0479" in page.text and "test bank" in page.text
