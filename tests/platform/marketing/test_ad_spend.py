"""Ad spend and ROAS (投产比): a channel's report file imported by its header, re-imported to
replace its days, refused whole when a row is bad; spend in USD converted at the day's recorded
rate and refused without one; ROAS, ROI and CAC on a hand-computed example, as JSON and CSV."""

from __future__ import annotations

import csv
import io
import uuid
from datetime import UTC, date, datetime
from decimal import Decimal

from sqlalchemy import select

from daiyun.core import db
from daiyun.platform.marketing import ad_formats, service
from daiyun.platform.marketing.models import AdChannel, AdSpend, Redemption, RedemptionSource
from daiyun.platform.marketing.rules import Kind
from daiyun.platform.marketing.schemas import CampaignCreate, PromotionCreate
from daiyun.platform.rates import service as rates
from daiyun.platform.rates.rules import Quote
from daiyun.tenants.auth.permissions import Role
from daiyun.tenants.models import Tenant
from tests.conftest import World

API = "/api/v1"

ZTC = """日期,计划名称,单元名称,花费,展现量,点击量,总成交笔数,总成交金额
2026-03-01,618 大促,绿茶,100.00,"10,000",500,4,800.00
2026-03-01,日常,红茶,50.50,2000,80,-,-
2026-03-02,618 大促,绿茶,200.00,20000,900,6,1500.00
合计,,,350.50,32000,1480,10,2300.00
"""


def _campaign(tenant: Tenant, name: str = "618 大促") -> uuid.UUID:
    with db.unit_of_work(tenant.id) as session:
        return service.create_campaign(
            session,
            CampaignCreate(
                name=name,
                starts_at=datetime(2026, 2, 1, tzinfo=UTC),
                ends_at=datetime(2026, 4, 1, tzinfo=UTC),
                currency="CNY",
                budget_minor=10**9,
            ),
        ).id


def _orders(
    tenant: Tenant,
    campaign_id: uuid.UUID,
    *orders: tuple[str, datetime, int],
    currency: str = "CNY",
) -> None:
    """Orders the campaign's promotions were redeemed by (key, when, order total); the first
    order used two of its promotions, and counts once."""
    with db.unit_of_work(tenant.id) as session:
        promotions = [
            service.create_promotion(
                session,
                PromotionCreate(campaign_id=campaign_id, name=f"P{n}", kind=Kind.order, value=1),
            )
            for n in range(2)
        ]
        for n, (key, at, total) in enumerate(orders):
            for promotion in promotions if n == 0 else promotions[:1]:
                session.add(
                    Redemption(
                        key=key,
                        promotion_id=promotion.id,
                        campaign_id=campaign_id,
                        buyer=f"{key}@example.com",
                        source=RedemptionSource.api,
                        currency=currency,
                        discount_minor=100,
                        order_total_minor=total,
                        explanation="test",
                        at=at,
                    )
                )


def _import(world: World, tenant: Tenant, headers: dict[str, str], text: str, **form: str):  # type: ignore[no-untyped-def]
    return world.client.post(
        f"{API}/tenants/{tenant.slug}/ad-spend/import",
        files={"file": ("report.csv", text.encode(), "text/csv")},
        data={"channel": "ztc", **form},
        headers=headers,
    )


def _rows(tenant: Tenant) -> list[tuple[object, ...]]:
    with db.unit_of_work(tenant.id) as session:
        return [
            (r.day, r.ad_campaign, r.ad_group, r.spend_minor, r.home_spend_minor, r.campaign_id)
            for r in session.scalars(select(AdSpend).order_by(AdSpend.day, AdSpend.ad_campaign))
        ]


def test_a_file_is_read_by_its_header_and_a_reimport_replaces_its_days(world: World) -> None:
    tenant = world.tenant()
    campaign_id = _campaign(tenant)
    marketer = world.actor(Role.marketer, tenant)
    first = _import(world, tenant, marketer.headers, ZTC)
    assert first.status_code == 200, first.text
    assert first.json() | {"replaced": 0} == {
        "channel": "ztc",
        "first_day": "2026-03-01",
        "last_day": "2026-03-02",
        "written": 3,
        "replaced": 0,
        "linked": 2,
        "home_currency": "CNY",
        "home_spend_minor": 350_50,
    }
    rows = _rows(tenant)
    assert rows[0] == (date(2026, 3, 1), "618 大促", "绿茶", 100_00, 100_00, campaign_id)
    assert rows[1][1:5] == ("日常", "红茶", 50_50, 50_50)
    # The same file again: the same rows, nothing added.
    again = _import(world, tenant, marketer.headers, ZTC.encode().decode())
    assert again.json()["replaced"] == 3 and _rows(tenant) == rows
    # A corrected file for 1 March alone replaces that day and leaves 2 March.
    fixed = "日期,计划名称,单元名称,花费\n2026/3/1,618 大促,绿茶,90\n"
    assert _import(world, tenant, marketer.headers, fixed).json()["replaced"] == 2
    assert [(r[0], r[3]) for r in _rows(tenant)] == [
        (date(2026, 3, 1), 90_00),
        (date(2026, 3, 2), 200_00),
    ]
    # A GBK file (as the Chinese back offices export) reads the same.
    gbk = world.client.post(
        f"{API}/tenants/{tenant.slug}/ad-spend/import",
        files={"file": ("r.csv", fixed.encode("gbk"), "text/csv")},
        data={"channel": "ztc"},
        headers=marketer.headers,
    )
    assert gbk.status_code == 200 and gbk.json()["written"] == 1


def test_a_bad_row_writes_nothing_and_the_report_names_it(world: World) -> None:
    tenant = world.tenant()
    marketer = world.actor(Role.marketer, tenant)
    merchant = world.actor(Role.merchant_owner, tenant)
    assert _import(world, tenant, marketer.headers, ZTC).status_code == 200
    before = _rows(tenant)
    bad = ZTC.replace("200.00,20000", "二百,20000").replace("2026-03-01,日常", "03/01,日常")
    answer = _import(world, tenant, marketer.headers, bad)
    assert answer.status_code == 422
    assert answer.headers["content-type"].startswith("application/problem+json")
    body = answer.json()
    assert body["problem_count"] == 2
    assert [(p["row"], p["column"]) for p in body["problems"]] == [(2, "day"), (3, "spend")]
    assert _rows(tenant) == before
    headless = _import(world, tenant, marketer.headers, "date,cost\n2026-03-01,1\n")
    assert headless.status_code == 422
    assert {p["column"] for p in headless.json()["problems"]} == {"day", "ad_campaign", "spend"}
    binary = world.client.post(
        f"{API}/tenants/{tenant.slug}/ad-spend/import",
        files={"file": ("r.xlsx", b"PK\x03\x04rest", "application/octet-stream")},
        data={"channel": "ztc"},
        headers=marketer.headers,
    )
    assert binary.status_code == 415
    # A merchant reads ad spend but does not import it.
    assert _import(world, tenant, merchant.headers, ZTC).status_code == 403
    assert _rows(tenant) == before


def test_usd_spend_is_converted_at_the_days_rate_and_refused_without_one(world: World) -> None:
    tenant = world.tenant()
    marketer = world.actor(Role.marketer, tenant)
    with db.unit_of_work() as session:
        rates.record(
            session, [Quote("USD", "CNY", date(2026, 3, 1), Decimal("7.1234"), "test")], "test"
        )
    google = "Day,Campaign,Ad group,Currency code,Cost,Impr.,Clicks,Conversions,Conv. value\n"
    google += "2026-03-01,Brand,Tea,USD,12.345678,1000,50,2.6,99.99\n"
    answer = world.client.post(
        f"{API}/tenants/{tenant.slug}/ad-spend/import",
        files={"file": ("g.csv", google.encode(), "text/csv")},
        data={"channel": "google_ads"},
        headers=marketer.headers,
    )
    assert answer.status_code == 200, answer.text
    listed = world.client.get(
        f"{API}/tenants/{tenant.slug}/ad-spend", headers=marketer.headers
    ).json()["items"]
    # 12.35 USD (Google's cost rounded once to cents) at 7.1234 is 87.97399 CNY: 87.97.
    assert [
        (r["currency"], r["spend_minor"], r["home_spend_minor"], r["rate"], r["attributed_orders"])
        for r in listed
    ] == [("USD", 12_35, 87_97, "7.1234", 3)]
    assert listed[0]["home_gmv_minor"] == 712_27  # 99.99 x 7.1234 = 712.268766
    # 2 March has no rate: refused through the API, naming the pair and the day.
    row = {
        "day": "2026-03-02",
        "channel": "meta",
        "ad_campaign": "Spring",
        "currency": "USD",
        "spend_minor": 10_00,
    }
    refused = world.client.post(
        f"{API}/tenants/{tenant.slug}/ad-spend", json={"rows": [row]}, headers=marketer.headers
    )
    assert refused.status_code == 422
    assert refused.json()["missing"] == [{"currency": "USD", "into": "CNY", "days": ["2026-03-02"]}]
    assert "USD→CNY on 2026-03-02" in refused.json()["detail"]
    # ... and in a file, as the row's problem.
    meta = "Day,Campaign name,Ad set name,Amount spent (USD),Impressions\n2026-03-02,S,A,5,10\n"
    file_refused = world.client.post(
        f"{API}/tenants/{tenant.slug}/ad-spend/import",
        files={"file": ("m.csv", meta.encode(), "text/csv")},
        data={"channel": "meta"},
        headers=marketer.headers,
    )
    assert file_refused.status_code == 422
    assert file_refused.json()["problems"] == [
        {"row": 1, "column": "currency", "problem": "no USD→CNY rate recorded for 2026-03-02"}
    ]
    # Once the rate is recorded, the same rows go in; posting them again replaces, not adds.
    with db.unit_of_work() as session:
        rates.record(
            session, [Quote("USD", "CNY", date(2026, 3, 2), Decimal("7.2"), "test")], "test"
        )
    for replaced in (0, 1):
        recorded = world.client.post(
            f"{API}/tenants/{tenant.slug}/ad-spend", json={"rows": [row]}, headers=marketer.headers
        )
        assert recorded.status_code == 200, recorded.text
        assert (recorded.json()["replaced"], recorded.json()["home_spend_minor"]) == (
            replaced,
            72_00,
        )
    assert len(_rows(tenant)) == 2


def test_roas_roi_and_cac_on_a_hand_computed_example(world: World) -> None:
    """Spend: 1 March 100 + 50.50 (unlinked), 2 March 200 (so 350.50 in all). Orders of the
    campaign (Asia/Shanghai days): A 300 on 1 March 23:30 local (15:30 UTC, using two of its
    promotions: counted once), B 500 on 2 March 00:30 local (1 March 16:30 UTC), C 700 on 2
    March. By day: 1 March 300 / 150.50 = 1.9934; 2 March 1200 / 200 = 6. By campaign: 1500 /
    300 = 5, ROI 4, CAC 100.00; unlinked: 0 / 50.50. In all: 1500 / 350.50 = 4.2796 (sum over
    sum, not the mean of the daily ratios), CAC 350.50 / 3 = 116.83."""
    tenant = world.tenant()
    campaign_id = _campaign(tenant)
    merchant = world.actor(Role.merchant_viewer, tenant)
    marketer = world.actor(Role.marketer, tenant)
    assert _import(world, tenant, marketer.headers, ZTC).status_code == 200
    _orders(
        tenant,
        campaign_id,
        ("order:a", datetime(2026, 3, 1, 15, 30, tzinfo=UTC), 300_00),
        ("order:b", datetime(2026, 3, 1, 16, 30, tzinfo=UTC), 500_00),
        ("order:c", datetime(2026, 3, 2, 9, 0, tzinfo=UTC), 700_00),
        ("order:d", datetime(2026, 3, 2, 16, 0, tzinfo=UTC), 900_00),  # 3 March local
    )
    # Another merchant's campaign, spend and orders of the same days count nowhere here.
    other = world.tenant()
    _orders(other, _campaign(other), ("order:a", datetime(2026, 3, 1, 9, tzinfo=UTC), 10**8))
    _import(world, other, world.actor(Role.marketer, other).headers, ZTC.replace("100.00", "9"))
    base = f"{API}/tenants/{tenant.slug}/marketing-reports/roas"
    period = {"first": "2026-03-01", "last": "2026-03-02"}
    by_day = world.client.get(base, params=period, headers=merchant.headers).json()
    assert [(r["key"], r["spend_minor"], r["gmv_minor"], r["roas"]) for r in by_day["rows"]] == [
        ("2026-03-01", 150_50, 300_00, "1.9934"),
        ("2026-03-02", 200_00, 1200_00, "6.0000"),
    ]
    total = by_day["total"]
    assert (total["spend_minor"], total["gmv_minor"], total["orders"]) == (350_50, 1500_00, 3)
    assert (total["roas"], total["roi"], total["cac_minor"]) == ("4.2796", "3.2796", 116_83)
    by_campaign = world.client.get(
        base, params={**period, "by": "campaign"}, headers=merchant.headers
    ).json()
    assert [
        (r["key"], r["label"], r["roas"], r["roi"], r["cac_minor"]) for r in by_campaign["rows"]
    ] == [
        (str(campaign_id), "618 大促", "5.0000", "4.0000", 100_00),
        ("none", "(no campaign)", "0.0000", "-1.0000", None),
    ]
    # Per channel only the platforms' attribution: 2300 / 350.50.
    channel = world.client.get(base, params={**period, "by": "channel"}, headers=merchant.headers)
    assert channel.status_code == 422
    platform = world.client.get(
        base, params={**period, "by": "channel", "basis": "platform"}, headers=merchant.headers
    ).json()
    assert [(r["label"], r["orders"], r["gmv_minor"], r["roas"]) for r in platform["rows"]] == [
        ("直通车/万相台", 10, 2300_00, "6.5621")
    ]
    exported = world.client.get(
        f"{base}.csv", params={**period, "by": "campaign"}, headers=merchant.headers
    )
    assert exported.status_code == 200
    assert exported.headers["content-type"].startswith("text/csv")
    lines = list(csv.reader(io.StringIO(exported.text)))
    assert lines[0][:4] == ["campaign", "label", "currency", "spend"]
    assert lines[1][1:4] == ["618 大促", "CNY", "300.00"]
    assert lines[-1][0] == "total" and lines[-1][8] == "4.2796"
    backwards = world.client.get(
        base, params={"first": "2026-03-02", "last": "2026-03-01"}, headers=merchant.headers
    )
    assert backwards.status_code == 422


def test_orders_in_another_currency_count_at_their_days_rate(world: World) -> None:
    """A CNY merchant's order paid in USD: its GMV converted at its day's rate in the report,
    per campaign as per day; a day without a rate refuses the report, naming it."""
    tenant = world.tenant()
    campaign_id = _campaign(tenant)
    merchant = world.actor(Role.merchant_owner, tenant)
    with db.unit_of_work() as session:
        rates.record(session, [Quote("USD", "CNY", date(2026, 3, 5), Decimal("7"), "test")], "test")
    usd = ("order:usd", datetime(2026, 3, 5, 4, tzinfo=UTC), 10_00)
    _orders(tenant, campaign_id, usd, currency="USD")
    _orders(tenant, campaign_id, ("order:cny", datetime(2026, 3, 5, 5, tzinfo=UTC), 30_00))
    base = f"{API}/tenants/{tenant.slug}/marketing-reports/roas"
    for by in ("day", "campaign"):
        answer = world.client.get(
            base,
            params={"first": "2026-03-05", "last": "2026-03-05", "by": by},
            headers=merchant.headers,
        )
        assert answer.status_code == 200, answer.text
        assert (answer.json()["total"]["gmv_minor"], answer.json()["total"]["orders"]) == (
            100_00,
            2,
        )
    late = ("order:late", datetime(2026, 3, 6, 4, tzinfo=UTC), 5_00)
    _orders(tenant, campaign_id, late, currency="USD")
    refused = world.client.get(
        base,
        params={"first": "2026-03-05", "last": "2026-03-06", "by": "campaign"},
        headers=merchant.headers,
    )
    assert refused.status_code == 422
    assert refused.json()["missing"] == [{"currency": "USD", "into": "CNY", "days": ["2026-03-06"]}]


def test_channel_formats_name_their_columns() -> None:
    meta = "Reporting starts,Campaign name,Ad set name,Amount spent (EUR),Link clicks\n"
    meta += "2026-03-01,Spring,Tea lovers,3.5,7\n"
    parsed = ad_formats.parse(AdChannel.meta, meta)
    assert parsed.problems == []
    assert [(r.currency, r.spend_minor, r.clicks) for r in parsed.rows] == [("EUR", 350, 7)]
    qianchuan = (
        "日期,计划名称,消耗,展示次数,点击次数,成交订单数,成交金额\n2026-03-01,直播,1.5,9,1,0,0\n"
    )
    assert ad_formats.parse(AdChannel.qianchuan, qianchuan).rows[0].spend_minor == 150
    repeated = "日期,推广计划,花费(元)\n2026-03-01,A,1\n2026-03-01,A,2\n"
    assert [
        (p.row, p.column) for p in ad_formats.parse(AdChannel.pdd_search, repeated).problems
    ] == [(2, "ad_group")]
    google = "Day,Campaign,Cost\n2026-03-01,A,1\n"
    assert [p.column for p in ad_formats.parse(AdChannel.google_ads, google).problems] == [
        "currency"
    ]
    assert ad_formats.parse(AdChannel.google_ads, google, "USD").rows[0].spend_minor == 100
