"""Ad spend and ROAS pages: a marketer imports a channel's report on the console (a bad file
shows its validation report and writes nothing; a good one is imported); the merchant's ROAS
page charts the daily spend and attributed GMV and gives ROAS per campaign and channel, in
Chinese with every message translated, and its CSV."""

from __future__ import annotations

from datetime import UTC, datetime

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
