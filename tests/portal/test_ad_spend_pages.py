"""Ad spend and ROAS pages: a marketer imports a channel's report on the console (a bad file
shows its validation report and writes nothing; a good one is imported); the merchant's ROAS
page charts the daily spend and attributed GMV and gives ROAS per campaign and channel, in
Chinese with every message translated, and its CSV. A day whose spend moved after it was
billed is listed on the console."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from daiyun.core import db
from daiyun.platform.marketing import ad_billing
from daiyun.tenants.auth.permissions import Role
from tests.conftest import World
from tests.platform.marketing.test_ad_spend import ZTC, _campaign, _orders, _rows
from tests.portal.conftest import PortalClient, csrf_of
from tests.portal.test_zh_and_time import choose_chinese, untranslated  # noqa: F401 (fixture)

PORTAL = "/portal"


def test_a_marketer_imports_ad_spend_and_the_merchant_sees_roas(
    world: World,
    portal_as: PortalClient,
    untranslated: set[str],  # noqa: F811
) -> None:
    tenant = world.tenant()
    campaign_id = _campaign(tenant)
    marketer = portal_as(world.user(Role.marketer, tenant))
    console = marketer.get(f"{PORTAL}/console/ad-spend", params={"tenant": tenant.slug})
    assert console.status_code == 200, console.text
    assert f'action="/portal/t/{tenant.slug}/ad-spend"' in console.text
    token = csrf_of(console.text)

    def upload(text: str):  # type: ignore[no-untyped-def]
        return marketer.post(
            f"{PORTAL}/t/{tenant.slug}/ad-spend",
            data={"csrf_token": token, "channel": "ztc", "next": f"{PORTAL}/console/ad-spend"},
            files={"file": ("ztc.csv", text.encode(), "text/csv")},
            follow_redirects=False,
        )

    bad = upload(ZTC.replace("200.00,20000", "二百,20000"))
    assert bad.status_code == 422
    assert 'data-problems="1"' in bad.text and 'data-row="3" data-column="spend"' in bad.text
    assert _rows(tenant) == []
    good = upload(ZTC)
    assert good.status_code == 303
    done = marketer.get(good.headers["location"])
    assert 'data-imported="3"' in done.text
    assert len(_rows(tenant)) == 3
    _orders(tenant, campaign_id, ("order:a", datetime(2026, 3, 1, 3, tzinfo=UTC), 600_00))
    owner = portal_as(world.user(Role.merchant_owner, tenant))
    period = {"from": "2026-03-01", "to": "2026-03-02"}
    page = owner.get(f"{PORTAL}/t/{tenant.slug}/roas", params=period)
    assert page.status_code == 200, page.text
    assert page.text.count("<svg") >= 2
    # The campaign: 600 / 300 = 2; unlinked 50.50 of spend; per channel 2300 / 350.50.
    assert f'data-campaign="{campaign_id}"' in page.text and 'data-roas="2.0000"' in page.text
    assert 'data-channel="ztc"' in page.text and 'data-roas="6.5621"' in page.text
    assert f'href="/portal/t/{tenant.slug}/roas"' in page.text  # the ROAS tab
    exported = owner.get(f"{PORTAL}/t/{tenant.slug}/roas.csv", params=period)
    assert exported.headers["content-type"].startswith("text/csv")
    assert "618 大促" in exported.text
    choose_chinese(owner)
    assert "投产比" in owner.get(f"{PORTAL}/t/{tenant.slug}/roas", params=period).text
    choose_chinese(marketer)
    assert marketer.get(f"{PORTAL}/console/ad-spend").status_code == 200
    assert not untranslated, sorted(untranslated)
    # A merchant does not import.
    refused = owner.post(
        f"{PORTAL}/t/{tenant.slug}/ad-spend",
        data={"csrf_token": csrf_of(page.text), "channel": "ztc"},
        files={"file": ("ztc.csv", ZTC.encode(), "text/csv")},
        follow_redirects=False,
    )
    assert refused.status_code == 403


def test_spend_that_moved_after_billing_is_listed(
    world: World,
    portal_as: PortalClient,
    untranslated: set[str],  # noqa: F811
) -> None:
    tenant = world.tenant()
    marketer = portal_as(world.user(Role.marketer, tenant))
    today = datetime.now(UTC).date()
    day = today - timedelta(days=10)
    report = "日期,计划名称,单元名称,花费\n{day},日常,红茶,{spend}\n"
    console = f"{PORTAL}/console/ad-spend?tenant={tenant.slug}"
    token = csrf_of(marketer.get(console).text)

    def upload(spend: str) -> None:
        answer = marketer.post(
            f"{PORTAL}/t/{tenant.slug}/ad-spend",
            data={"csrf_token": token, "channel": "ztc", "next": console},
            files={"file": ("ztc.csv", report.format(day=day, spend=spend).encode(), "text/csv")},
            follow_redirects=False,
        )
        assert answer.status_code == 303, answer.text

    upload("80.00")
    with db.unit_of_work(tenant.id) as session:
        assert ad_billing.bill_settled(session, today).recorded == 1
    assert "data-moved" not in marketer.get(console).text
    upload("95.00")  # the channel revised the day after it was billed
    choose_chinese(marketer)
    page = marketer.get(console).text
    assert f'data-moved="ztc:{day}"' in page and "80.00" in page and "95.00" in page
    assert not untranslated, sorted(untranslated)
