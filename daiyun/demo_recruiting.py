"""The demo's recruiting (人事代理), seeded by :func:`daiyun.demo.seed`: for each demo merchant
two open requisitions with their public postings (a 客服 role, and a seasonal 双11 warehouse team
paid by the hour; the 客服 form asks its own three questions) and candidates at several stages
of the pipeline: new applicants with their CVs, screened, interviewed, an offer, a hire, a
refusal, one on the owner's shortlist and one flagged as a likely duplicate of another (the
same phone, another e-mail). The one at the interview stage has an interview tomorrow; the one
at the offer stage was interviewed last week, both panel members' scorecards are in, and an
offer waits for the merchant's approval. The 客服 hire is a placement started this month, on the
current statement as a placement fee. Four seasonal hires (paid by the hour) are placements on
this month's peak team (双12): two on the early shift, two on the late one, every day from the
1st to the 20th, attendance marked for the days gone by (a late arrival, an absence, agreed
leave, overtime among them); the fifth waits for the recruiter to record their pay.

Every demo merchant is listed on the agency's careers page (``/careers``).

Idempotent as the rest of the demo: a merchant that has any requisition is left alone.
"""

from __future__ import annotations

import hashlib
import uuid
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from daiyun.billing import service as billing
from daiyun.core import periods
from daiyun.core.db import unit_of_work
from daiyun.core.ids import utcnow
from daiyun.platform.recruiting import interviews, offers, placements, rules, service, teams
from daiyun.platform.recruiting.schemas import (
    EmploymentType,
    FormField,
    InterviewCreate,
    InterviewKind,
    OfferCreate,
    PlacementCreate,
    PostingCreate,
    Recommendation,
    RefusalReason,
    RequisitionCreate,
    RequisitionStatus,
    ScorecardCreate,
    SettingsIn,
)
from daiyun.platform.recruiting.team_schemas import Mark, ShiftCreate, TeamCreate, WorkerRead
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
    ("马骏", "ma.jun@example.com", "13800000007", "hired", False, False),
    ("孙浩", "sun.hao@example.com", "13800000006", "screened", True, False),
    # The same phone as 陈晓 with another address: flagged, never merged by itself.
    ("陈晓", "xiao.chen@example.com", "+86 138 0000 0001", "applied", False, False),
)
SEASON_PEOPLE = (
    ("刘强", "liu.qiang@example.com", "13900000011", "applied", False, False),
    ("黄磊", "huang.lei@example.com", "13900000012", "screened", False, False),
    ("何静", "he.jing@example.com", "13900000013", "hired", False, False),
    ("高峰", "gao.feng@example.com", "13900000014", "hired", False, False),
    ("许婷", "xu.ting@example.com", "13900000015", "hired", False, False),
    ("冯伟", "feng.wei@example.com", "13900000016", "hired", False, False),
    ("韩雪", "han.xue@example.com", "13900000017", "hired", False, False),
)


def ensure_recruiting(tenant: Tenant, hiring_manager_id: uuid.UUID | None) -> list[str]:
    """The merchant's openings with candidates along their pipelines; what was created."""
    with unit_of_work(tenant.id) as session:
        found, _ = service.find_requisitions(session, None, None, 1)
        if found:
            return []
        # The default pipeline; the merchant's openings listed on the agency's careers page.
        service.put_settings(
            session, SettingsIn(stages=list(rules.DEFAULT_STAGES), agency_page=True)
        )
        support = RequisitionCreate(
            role="客服专员 Customer service agent",
            description="天猫/抖音店铺售前售后客服，早晚班轮换。",
            headcount=2,
            pay_min_minor=600_000,
            pay_max_minor=800_000,
            location="杭州 Hangzhou",
            employment_type=EmploymentType.full_time,
            hiring_manager_id=hiring_manager_id,
            form_fields=[
                FormField(key="years", label="客服经验（年）Years in customer service",
                          kind="number", required=True),
                FormField(key="evenings", label="能否上晚班 Can you work evenings?",
                          kind="yes_no", required=True),
                FormField(key="platform", label="最熟悉的平台 Platform you know best",
                          kind="choice", options=["淘宝/天猫 Taobao/Tmall", "抖音 Douyin",
                                                  "京东 JD", "拼多多 Pinduoduo"]),
            ],
        )  # fmt: skip
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


# (who, the rating of each criterion, the recommendation, notes) for the past interview's cards.
CARDS = (
    (
        {"Communication": 4, "Skills for the role": 3, "Reliability": 4},
        "strong_yes",
        "语气耐心，熟悉千牛。",
    ),
    ({"Communication": 3, "Skills for the role": 3, "Reliability": 3}, "yes", "Good with refunds."),
)


def ensure_interviews(tenant: Tenant, panel: list[uuid.UUID], hour: int = 10) -> list[str]:
    """An interview tomorrow at ``hour`` (the merchant's time) for the 客服 applicant at the
    interview stage, and last week's at that hour, scored by the whole panel, for the one at the
    offer stage (nobody on a panel sits two interviews at once, for one merchant or two). Left
    alone once the merchant has any interview; marked as mailed (the demo sends no invitation
    to its made-up addresses)."""
    with unit_of_work(tenant.id) as session:
        found, _ = service.find_applications(session, None, None, None, None, None, None, 200)
        if any(interviews.of_application(session, a.id) for a in found):
            return []
        by_stage = {a.stage: a for a in found if a.status.value == "active"}
        local = ZoneInfo(tenant.time_zone)
        today = utcnow().astimezone(local).date()
        made = []
        for stage, day, kind in (
            ("interview", today + timedelta(days=1), InterviewKind.video),
            ("offer", today - timedelta(days=7), InterviewKind.onsite),
        ):
            application = by_stage.get(stage)
            if application is None:
                continue
            starts = datetime.combine(day, time(hour), local)
            interview = interviews.schedule(
                session,
                application,
                InterviewCreate(
                    title="一面 First round",
                    kind=kind,
                    starts_at=starts,
                    ends_at=starts + timedelta(minutes=45),
                    location="https://meeting.example.com/daiyun"
                    if kind == InterviewKind.video
                    else "杭州市西湖区文三路 1 号",
                    interviewer_ids=panel,
                ),
                None,
                tenant.time_zone,
            )
            interview.mailed_sequence = interview.sequence
            made.append(interview)
        if len(made) == 2:
            for user_id, (ratings, recommendation, notes) in zip(panel, CARDS, strict=True):
                interviews.submit(
                    session,
                    made[1],
                    user_id,
                    ScorecardCreate(
                        ratings=ratings,
                        recommendation=Recommendation(recommendation),
                        notes=notes,
                    ),
                )
        if "offer" in by_stage:
            # Interviewed and scored: the terms wait for the merchant's approval.
            offers.create(
                session,
                by_stage["offer"],
                OfferCreate(
                    salary_minor=750_000,
                    currency="CNY",
                    starts_on=today + timedelta(days=14),
                    terms="五险一金，双休，试用期 3 个月 (social insurance, weekends off)",
                ),
                None,
            )
    return [f"interviews of {tenant.slug}"] if made else []


# The 客服 hire's first-year salary in each contract currency (illustrative figures).
FIRST_YEAR = {"CNY": 8_400_000, "USD": 1_200_000}


def ensure_placements(tenant: Tenant) -> list[str]:
    """The 客服 hire as a placement that started on the 1st of this month (so the month's draft
    statement bills it); nothing when it is there."""
    with unit_of_work(tenant.id) as session:
        hires = [
            a
            for a in placements.unplaced(session)
            if service.get_requisition(session, a.requisition_id).employment_type
            == EmploymentType.full_time
        ]
        if not hires:
            return []
        starts = utcnow().astimezone(ZoneInfo(tenant.time_zone)).date().replace(day=1)
        contract = billing.terms_on(session, starts)
        currency = contract.currency if contract is not None else "CNY"
        for application in hires:
            body = PlacementCreate(
                application_id=application.id,
                salary_minor=FIRST_YEAR.get(currency, FIRST_YEAR["CNY"]),
                currency=currency,
                starts_on=starts,
            )
            placements.create(session, application, body, None)
    return [f"placements of {tenant.slug}"]


# The peak team: its hires with the job each does, their season's pay (the placement's fee
# basis: 20 days of 8 hours at ¥25), and the two shifts, each worked by two of them.
TEAM_JOBS = {
    "何静": "组长 Team lead",
    "许婷": "拣货 Picking",
    "冯伟": "打包 Packing",
    "韩雪": "打包 Packing",
}
SEASON_PAY = {"CNY": 400_000, "USD": 56_000}
SHIFTS = (("早班 Early", time(7), time(15)), ("晚班 Late", time(15), time(23)))
TEAM_DAYS = 20


def ensure_team(tenant: Tenant) -> list[str]:
    """This month's 双12 packing team; nothing when the merchant has a team."""
    with unit_of_work(tenant.id) as session:
        if teams.find(session, None, 1)[0]:
            return []
        today = periods.today(tenant.time_zone)
        first = today.replace(day=1)
        contract = billing.terms_on(session, first)
        currency = contract.currency if contract is not None else "CNY"
        hires = {}
        for application in placements.unplaced(session):
            name = service.get_candidate(session, application.candidate_id).name
            if name in TEAM_JOBS:
                body = PlacementCreate(
                    application_id=application.id,
                    salary_minor=SEASON_PAY.get(currency, SEASON_PAY["CNY"]),
                    currency=currency,
                    starts_on=first,
                )
                hires[name] = placements.create(session, application, body, None)[0].id
        season = TeamCreate(
            name="双12 仓库打包团队 Double-12 packing team",
            starts_on=first,
            ends_on=first + timedelta(days=TEAM_DAYS - 1),
            location="嘉兴 Jiaxing",
        )
        team = teams.create(session, season, None)
        for name, placement_id in hires.items():
            teams.join(session, team, placement_id, TEAM_JOBS[name])
        crew = sorted(hires.values())
        for (name, starts, ends), pair in zip(SHIFTS, (crew[:2], crew[2:]), strict=True):
            plan = ShiftCreate(
                name=name,
                first_day=season.starts_on,
                last_day=season.ends_on,
                starts=starts,
                ends=ends,
                needed=2,
                placement_ids=pair,
            )
            for shift in teams.add_shifts(session, team, plan)[0]:
                if shift.day < today:
                    marks = [_mark(shift.day, starts, w) for w in shift.workers]
                    teams.mark(session, teams.get_shift(session, shift.id), marks, None, today)
    return [f"team of {tenant.slug}"]


def _mark(day: date, starts: time, worker: WorkerRead) -> Mark:
    """A worker's day, varied but the same on every run: mostly on time, now and then late,
    absent, on agreed leave or staying an hour longer."""
    placement_id = worker.placement_id
    turn = (day.day * 3 + placement_id.int % 7) % 13
    status = {4: "late", 8: "absent", 11: "excused"}.get(turn, "present")
    body: dict[str, object] = {"placement_id": placement_id, "status": status}
    if status == "late":
        body["clock_in"] = (datetime.combine(day, starts) + timedelta(minutes=25)).time()
        body["note"] = "交通延误 Traffic"
    if turn == 2:
        body["clock_out"] = (datetime.combine(day, starts) + timedelta(hours=9)).time()
        body["note"] = "加班一小时 One hour of overtime"
    return Mark.model_validate(body)
