"""Placements: a hire is billed once as a placement fee (fixed plus a share of the first-year
salary, under the contract in force when the hire starts), however often it is recorded; a
hire who leaves within the contract's guarantee brings the fee back on the statement of the
month they left, or makes the next hire for the role free; after the guarantee nothing moves."""

from __future__ import annotations

import uuid
from datetime import date, timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from daiyun.billing import service as billing
from daiyun.billing.facts import Period
from daiyun.billing.models import ServiceFactRecord
from daiyun.billing.schemas import ContractCreate
from daiyun.billing.terms import ContractTerms
from daiyun.core import db, periods
from daiyun.platform.recruiting import placements, service
from daiyun.platform.recruiting.models import Offer, OfferStatus
from daiyun.platform.recruiting.schemas import CandidateCreate
from daiyun.tenants.auth.permissions import Role
from tests.conftest import Actor
from tests.platform.recruiting.conftest import Hiring

API = "/api/v1"
# The world's merchants keep Beijing time: a departure happened once their day has come.
TODAY = periods.today("Asia/Shanghai")
STARTED = TODAY - timedelta(days=40)
# ¥3,000.00 fixed plus 10 % of the first-year salary.
FEE_TERMS = {"fixed_minor": 300_000, "salary_rate": "0.1", "guarantee_days": 90}


class Agency:
    def __init__(self, hiring: Hiring, remedy: str = "refund") -> None:
        world = hiring.world
        self.hiring, self.client = hiring, world.client
        self.tenant = hiring.tenant
        self.recruiter = world.actor(Role.recruiter, hiring.tenant)
        self.owner = world.actor(Role.merchant_owner, hiring.tenant)
        self.base = f"{API}/tenants/{hiring.tenant.slug}"
        terms = ContractTerms.model_validate(
            {"currency": "CNY", "placement": {**FEE_TERMS, "guarantee_remedy": remedy}}
        )
        with db.unit_of_work(self.tenant.id) as session:
            billing.create_contract(
                session,
                ContractCreate(name="人事代理", effective_from=date(2026, 1, 1), terms=terms),
                self.recruiter.user.id,
            )

    def hired(self, name: str, *, pay_period: str = "month", salary: int = 1_000_000) -> str:
        """An application hired through an accepted offer (¥10,000.00 a month by default)."""
        with db.unit_of_work(self.tenant.id) as session:
            requisition = service.get_requisition(session, self.hiring.requisition_id)
            person = service.create_candidate(
                session, CandidateCreate(name=name, email=f"{uuid.uuid4().hex[:8]}@example.com")
            )
            application, _ = service.open_application(session, requisition, person, source="t")
            service.move(session, application, "offer", None)
            offer = Offer(
                application_id=application.id,
                salary_minor=salary,
                currency="CNY",
                pay_period=pay_period,
                starts_on=STARTED,
                status=OfferStatus.sent,
            )
            session.add(offer)
            session.flush()
            offer_id = offer.id
        accepted = self.post(f"/offers/{offer_id}/accept", self.recruiter)
        assert accepted.status_code == 200, accepted.text
        return str(application.id)

    def post(self, path: str, who: Actor, body: dict[str, Any] | None = None) -> httpx.Response:
        return self.client.post(f"{self.base}{path}", headers=who.headers, json=body or {})

    def placements(self, **query: Any) -> list[dict[str, Any]]:
        answer = self.client.get(
            f"{self.base}/placements", headers=self.owner.headers, params=query
        )
        assert answer.status_code == 200, answer.text
        items: list[dict[str, Any]] = answer.json()["items"]
        return items

    def facts(self) -> list[tuple[str, str, int, date]]:
        with db.unit_of_work(self.tenant.id) as session:
            rows = session.scalars(
                select(ServiceFactRecord).order_by(ServiceFactRecord.idempotency_key)
            )
            return [(r.idempotency_key, r.kind, r.amount_minor, r.occurred_on) for r in rows]

    def placement_lines(self, on: date) -> list[int]:
        with db.unit_of_work(self.tenant.id) as session:
            computed = billing.compute(session, Period(on.year, on.month))
            return [line.amount_minor for line in computed.lines if line.kind == "placement"]


@pytest.fixture
def agency(hiring: Hiring) -> Agency:
    return Agency(hiring)


def test_an_accepted_offer_is_billed_once_and_refunded_when_the_hire_leaves_early(
    agency: Agency,
) -> None:
    application_id = agency.hired("周婷")
    [made] = agency.placements()
    assert made["application_id"] == application_id
    assert made["salary_minor"] == 12_000_000  # twelve months of ¥10,000.00
    assert made["billed"] is True and made["remedy"] == "refund"
    assert made["guarantee_ends_on"] == (STARTED + timedelta(days=90)).isoformat()
    # Recording the same hire again answers the placement made; nothing more is billed.
    again = agency.post(
        "/placements",
        agency.recruiter,
        {"application_id": application_id, "salary_minor": 1, "starts_on": TODAY.isoformat()},
    )
    assert again.status_code == 200 and again.json()["id"] == made["id"]
    key = placements.fact_key(uuid.UUID(application_id))
    assert agency.facts() == [(key, "placement", 12_000_000, STARTED)]
    # The start month's statement: ¥3,000.00 + 10 % of ¥120,000.00.
    assert agency.placement_lines(STARTED) == [1_500_000]

    url = f"/placements/{made['id']}/leave"
    left = agency.post(url, agency.recruiter, {"left_on": TODAY.isoformat(), "reason": "回老家"})
    assert left.status_code == 200, left.text
    assert left.json()["guarantee"] == "refunded"
    # Said twice, the same day: nothing more; another day: refused, nothing changed.
    assert agency.post(url, agency.recruiter, {"left_on": TODAY.isoformat()}).status_code == 200
    other = agency.post(url, agency.recruiter, {"left_on": STARTED.isoformat()})
    assert other.status_code == 409 and other.json()["type"].endswith("already-left")
    refund = placements.refund_key(uuid.UUID(application_id))
    assert (refund, "placement_refund", 1_500_000, TODAY) in agency.facts()
    assert len(agency.facts()) == 2
    expected = [1_500_000, -1_500_000] if STARTED.month == TODAY.month else [-1_500_000]
    assert agency.placement_lines(TODAY) == expected
    assert agency.placements(active=False)[0]["left_reason"] == "回老家"
    assert agency.placements(active=True) == []


def test_a_departure_after_the_guarantee_changes_nothing_in_billing(agency: Agency) -> None:
    agency.hired("陈静")
    [made] = agency.placements()
    with db.unit_of_work(agency.tenant.id) as session:
        found = placements.get(session, uuid.UUID(made["id"]))
        found.guarantee_ends_on = TODAY - timedelta(days=2)  # it ended two days ago
    before = agency.facts()
    left = agency.post(f"/placements/{made['id']}/leave", agency.recruiter, {"left_on": str(TODAY)})
    assert left.status_code == 200 and left.json()["guarantee"] == "none"
    assert agency.facts() == before


def test_a_replacement_guarantee_makes_the_next_hire_for_the_role_free(hiring: Hiring) -> None:
    agency = Agency(hiring, remedy="replacement")
    first_id = agency.hired("刘洋")
    [first] = agency.placements()
    requisition = f"/requisitions/{hiring.requisition_id}"
    filled = agency.post(f"{requisition}/status", agency.recruiter, {"status": "filled"})
    assert filled.json()["status"] == "filled"
    left = agency.post(
        f"/placements/{first['id']}/leave", agency.recruiter, {"left_on": str(TODAY)}
    )
    assert left.json()["guarantee"] == "replacement_due"
    # The filled requisition opens again for the replacement, its time to fill restarting.
    reopened = agency.client.get(f"{agency.base}{requisition}", headers=agency.owner.headers)
    assert (reopened.json()["status"], reopened.json()["filled_at"]) == ("open", None)
    second_id = agency.hired("孙悦")
    by_application = {p["application_id"]: p for p in agency.placements()}
    second = by_application[second_id]
    assert second["replaces_id"] == first["id"] and second["billed"] is False
    assert by_application[first_id]["guarantee"] == "replaced"
    # Only the first hire was ever billed, and no refund was made.
    assert [f[1] for f in agency.facts()] == ["placement"]
    # The hire after that is billed again: the replacement owed was given.
    third_id = agency.hired("高翔")
    assert {p["application_id"]: p for p in agency.placements()}[third_id]["billed"] is True


def test_a_hire_paid_by_the_hour_is_recorded_by_hand_in_the_contracts_currency(
    agency: Agency,
) -> None:
    application_id = agency.hired("钱多", pay_period="hour", salary=2_500)
    assert agency.placements() == []  # no first-year salary to bill from an hourly wage
    with db.unit_of_work(agency.tenant.id) as session:
        assert [a.id for a in placements.unplaced(session)] == [uuid.UUID(application_id)]
    body = {"application_id": application_id, "salary_minor": 4_800_000, "starts_on": str(STARTED)}
    wrong = agency.post("/placements", agency.recruiter, {**body, "currency": "USD"})
    assert wrong.status_code == 422 and wrong.json()["type"].endswith("placement-currency")
    assert agency.facts() == []
    # The merchant's owner reads placements but does not record them.
    assert agency.post("/placements", agency.owner, body).status_code == 403
    made = agency.post("/placements", agency.recruiter, body)
    assert made.status_code == 201, made.text
    assert agency.placement_lines(STARTED) == [300_000 + 480_000]
    with db.unit_of_work(agency.tenant.id) as session:
        assert placements.unplaced(session) == []


def test_only_a_hire_is_placed_and_only_a_departure_that_happened_is_recorded(
    agency: Agency,
) -> None:
    with db.unit_of_work(agency.tenant.id) as session:
        requisition = service.get_requisition(session, agency.hiring.requisition_id)
        person = service.create_candidate(
            session, CandidateCreate(name="未录用", email="wei@example.com")
        )
        application, _ = service.open_application(session, requisition, person, source="t")
    body = {"application_id": str(application.id), "salary_minor": 1, "starts_on": str(TODAY)}
    refused = agency.post("/placements", agency.recruiter, body)
    assert refused.status_code == 409 and refused.json()["type"].endswith("not-hired")
    assert agency.facts() == []
    agency.hired("冯雪")
    [made] = agency.placements()
    tomorrow = str(TODAY + timedelta(days=1))
    future = agency.post(f"/placements/{made['id']}/leave", agency.recruiter, {"left_on": tomorrow})
    assert future.status_code == 422 and future.json()["type"].endswith("left-in-future")
    assert agency.placements()[0]["left_on"] is None
