"""The recruiting report API: a period's time to fill and to hire, the stage funnel, sources and
offer acceptance (``reports``), for anyone who reviews the merchant's hiring."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends

from daiyun.core import periods
from daiyun.core.ids import Day
from daiyun.core.openapi import problems
from daiyun.platform.recruiting import reports
from daiyun.platform.recruiting.schemas import RecruitingReport
from daiyun.tenants.auth.deps import SessionDep, TenantAccess, tenant_access
from daiyun.tenants.auth.permissions import Permission

router = APIRouter(tags=["recruiting"])
Reviewer = Annotated[TenantAccess, Depends(tenant_access(Permission.recruiting_review))]


@router.get(
    "/tenants/{tenant}/recruiting-reports",
    response_model=RecruitingReport,
    responses=problems(422),
)
def recruiting_report(
    session: SessionDep, access: Reviewer, first: Day | None = None, last: Day | None = None
) -> RecruitingReport:
    """The figures from ``first`` to ``last`` (the merchant's days; by default the 90 days to
    today). A period longer than a year, or backwards: 422."""
    first, last = periods.window(access.tenant.time_zone, 90, first, last)
    return reports.report(session, first, last, access.tenant.time_zone)
