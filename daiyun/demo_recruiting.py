"""The demo's recruiting (人事代理), seeded by :func:`daiyun.demo.seed`: for each demo merchant
two open requisitions with their public postings (a 客服 role, and a seasonal 双11 warehouse
team paid by the hour) and candidates at several stages of the pipeline: new applicants with
their CVs, screened, interviewed, an offer, a hire, a refusal, one on the owner's shortlist and
one flagged as a likely duplicate of another (the same phone, another e-mail).

Idempotent as the rest of the demo: a merchant that has any requisition is left alone.
"""

from __future__ import annotations

import hashlib
import uuid
from datetime import date

from daiyun.core.db import unit_of_work
from daiyun.platform.recruiting import service
from daiyun.platform.recruiting.schemas import (
    EmploymentType,
    PostingCreate,
    RefusalReason,
    RequisitionCreate,
    RequisitionStatus,
)
from daiyun.tenants.models import Tenant

# A one-page PDF, as the careers form would have stored it.
CV = b"%PDF-1.4\n1 0 obj <<>> endobj\ntrailer <<>>\n%%EOF\n"
# (name, e-mail, phone, the stage reached, refused, shortlisted)
SERVICE_PEOPLE = (
    ("陈晓", "chen.xiao@example.com", "13800000001", "applied", False, False),
    ("林芳", "lin.fang@example.com", "13800000002", "applied", False, False),
    ("周杰", "zhou.jie@example.com", "13800000003", "screened", False, True),
    ("吴敏", "wu.min@example.com", "13800000004", "interview", False, True),
    ("郑丽", "zheng.li@example.com", "13800000005", "offer", False, True),
    ("孙浩", "sun.hao@example.com", "13800000006", "screened", True, False),
    # The same phone as 陈晓 with another address: flagged, never merged by itself.
    ("陈晓", "xiao.chen@example.com", "+86 138 0000 0001", "applied", False, False),
)
SEASON_PEOPLE = (
    ("刘强", "liu.qiang@example.com", "13900000011", "applied", False, False),
    ("黄磊", "huang.lei@example.com", "13900000012", "screened", False, False),
    ("何静", "he.jing@example.com", "13900000013", "hired", False, False),
    ("高峰", "gao.feng@example.com", "13900000014", "hired", False, False),
)


def ensure_recruiting(tenant: Tenant, hiring_manager_id: uuid.UUID | None) -> list[str]:
    """The merchant's openings with candidates along their pipelines; what was created."""
    with unit_of_work(tenant.id) as session:
        found, _ = service.find_requisitions(session, None, None, 1)
        if found:
            return []
        support = RequisitionCreate(
            role="客服专员 Customer service agent",
            description="天猫/抖音店铺售前售后客服，早晚班轮换。",
            headcount=2,
            pay_min_minor=600_000,
            pay_max_minor=800_000,
            location="杭州 Hangzhou",
            employment_type=EmploymentType.full_time,
            hiring_manager_id=hiring_manager_id,
        )
        season = RequisitionCreate(
            role="双11 仓库打包临时工 Singles' Day packing team",
            description="双11 大促期间仓库拣货、打包，按小时计薪，包工作餐。",
            headcount=20,
            pay_min_minor=2_500,
            pay_max_minor=3_000,
            pay_period="hour",
            location="嘉兴 Jiaxing",
            employment_type=EmploymentType.seasonal,
            season_starts_on=date(2026, 10, 25),
            season_ends_on=date(2026, 11, 15),
            hiring_manager_id=hiring_manager_id,
        )
        for body, people in ((support, SERVICE_PEOPLE), (season, SEASON_PEOPLE)):
            requisition = service.create_requisition(session, body)
            service.set_status(session, requisition, RequisitionStatus.open)
            posting = service.create_posting(
                session,
                PostingCreate(
                    requisition_id=requisition.id,
                    title=body.role,
                    body=body.description,
                    publish=True,
                ),
            )
            for name, email, phone, stage, refused, shortlisted in people:
                candidate = service.candidate_for(session, name, email, phone, "careers")
                service.consent(session, candidate)
                application, _ = service.open_application(
                    session, requisition, candidate, source="careers", posting_id=posting.id
                )
                service.attach_cv(
                    session, application, "简历.pdf", CV, hashlib.sha256(CV).hexdigest()
                )
                if stage != application.stage:
                    # Through each stage on the way, as a recruiter would have moved it.
                    for step in requisition.stages[1 : requisition.stages.index(stage) + 1]:
                        service.move(session, application, step, None)
                if refused:
                    service.refuse(session, application, RefusalReason.pay_mismatch, "", None)
                if shortlisted:
                    service.set_shortlisted(session, application, True)
    return [f"requisitions of {tenant.slug}"]
