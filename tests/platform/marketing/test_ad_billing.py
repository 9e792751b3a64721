"""Ad spend passed through to billing: each settled day of a channel becomes one ``ad_spend``
fact at cost, billed with the contract's markup on the statement; a day not settled yet waits;
a run again bills nothing twice; a report re-imported after billing that moves a day is listed
as a difference, never billed again."""

from __future__ import annotations

from datetime import UTC, date, datetime

from daiyun.billing import service as billing
from daiyun.billing.facts import Period
from daiyun.billing.schemas import ContractCreate
from daiyun.billing.terms import ContractTerms
from daiyun.core import db
from daiyun.platform.marketing import ad_billing
from daiyun.platform.marketing import tasks as marketing_tasks
from daiyun.tenants.auth.permissions import Role
from tests.conftest import World
from tests.platform.marketing.test_ad_spend import ZTC, _import

# 2 March settles on 5 March: at 6 March's run both days are billed, on 4 March only the 1st.
SIXTH = datetime(2026, 3, 6, 9, 0, tzinfo=UTC)


def test_settled_days_are_billed_at_cost_once_with_the_markup(world: World) -> None:
    tenant = world.tenant()
    marketer = world.actor(Role.marketer, tenant)
    assert _import(world, tenant, marketer.headers, ZTC).status_code == 200
    with db.unit_of_work(tenant.id) as session:
        early = ad_billing.bill_settled(session, date(2026, 3, 4))
    assert early.recorded == 1  # 1 March only: 2 March may still be revised
    assert marketing_tasks.bill_ad_spend.run(now=SIXTH)["recorded"] == 1
    assert marketing_tasks.bill_ad_spend.run(now=SIXTH)["recorded"] == 0
    with db.unit_of_work(tenant.id) as session:
        facts = {
            day: billing.fact_by_key(session, ad_billing.fact_key("ztc", day, "CNY"))
            for day in (date(2026, 3, 1), date(2026, 3, 2))
        }
        assert {d: f.amount_minor for d, f in facts.items() if f} == {
            date(2026, 3, 1): 150_50,
            date(2026, 3, 2): 200_00,
        }
        terms = ContractTerms(currency="CNY", ad_markup_rate="0.10")  # type: ignore[arg-type]
        billing.create_contract(
            session,
            ContractCreate(name="Ads", effective_from=date(2026, 1, 1), terms=terms),
            marketer.user.id,
        )
        lines = {li.kind: li.amount_minor for li in billing.compute(session, Period(2026, 3)).lines}
    assert lines["ad_spend"] == 350_50 and lines["ad_markup"] == 35_05
    # A corrected report after billing: listed as a difference, billed nothing more.
    fixed = "日期,计划名称,单元名称,花费\n2026/3/1,618 大促,绿茶,90\n"
    assert _import(world, tenant, marketer.headers, fixed).status_code == 200
    with db.unit_of_work(tenant.id) as session:
        later = ad_billing.bill_settled(session, date(2026, 3, 6))
        shown = ad_billing.differences(session, date(2026, 3, 6))
    moved = [ad_billing.Difference("ztc", date(2026, 3, 1), "CNY", 150_50, 90_00)]
    assert later.recorded == 0 and later.differences == shown == moved
