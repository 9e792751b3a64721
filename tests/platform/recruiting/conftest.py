"""A merchant hiring: an open requisition with a published posting, and helpers to send the
careers form, read the pipeline and make files a CV may (or may not) be."""

from __future__ import annotations

import email
import io
import socket
import uuid
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, timedelta
from email.message import EmailMessage as Message
from email.policy import default
from typing import Any

import httpx
import pytest
from aiosmtpd.controller import Controller

from daiyun.core import db
from daiyun.core.config import get_settings
from daiyun.core.ids import utcnow
from daiyun.platform.recruiting import rules, service
from daiyun.platform.recruiting.models import (
    ApplicationStatus,
    EmploymentType,
    Placement,
    RequisitionStatus,
)
from daiyun.platform.recruiting.schemas import CandidateCreate, PostingCreate, RequisitionCreate
from daiyun.tenants.models import Tenant
from tests.conftest import World

PDF = b"%PDF-1.7\n1 0 obj <<>> endobj\ntrailer <<>>\n%%EOF\n"


def docx() -> bytes:
    """A minimal Word document: a zip with the parts Word writes."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("[Content_Types].xml", "<Types/>")
        archive.writestr("word/document.xml", "<w:document/>")
    return buffer.getvalue()


def executable() -> bytes:
    return b"MZ\x90\x00\x03\x00\x00\x00" + b"\x00" * 200  # a Windows program's header


@dataclass
class Hiring:
    world: World
    tenant: Tenant
    requisition_id: uuid.UUID
    posting_id: uuid.UUID

    @property
    def form_url(self) -> str:
        return f"/careers/{self.tenant.slug}/{self.posting_id}"

    def token(self) -> str:
        # Shown a minute ago, as a person filling the form in would have it.
        issued = utcnow() - timedelta(minutes=1)
        return rules.form_token(get_settings().secret_key, str(self.posting_id), issued)

    def apply(
        self,
        email: str = "li.na@example.com",
        phone: str = "",
        *,
        consent: bool = True,
        file: tuple[str, bytes, str] | None = ("cv.pdf", PDF, "application/pdf"),
        address: str | None = None,
        **fields: str,
    ) -> httpx.Response:
        data: dict[str, Any] = {
            "token": self.token(),
            "name": "李娜",
            "email": email,
            "phone": phone,
            **({"consent": "yes"} if consent else {}),
            **fields,
        }
        headers = {"X-Forwarded-For": address} if address else {}
        files = {"cv": file} if file else None
        return self.world.client.post(self.form_url, data=data, files=files, headers=headers)


def open_requisition(tenant: Tenant, role: str = "客服专员") -> tuple[uuid.UUID, uuid.UUID]:
    with db.unit_of_work(tenant.id) as session:
        found = service.create_requisition(
            session,
            RequisitionCreate(
                role=role,
                headcount=2,
                pay_min_minor=500_000,
                pay_max_minor=700_000,
                location="杭州",
                employment_type=EmploymentType.full_time,
            ),
        )
        service.set_status(session, found, RequisitionStatus.open)
        posting = service.create_posting(
            session, PostingCreate(requisition_id=found.id, title=role, publish=True)
        )
        return found.id, posting.id


def hired(
    tenant_id: uuid.UUID,
    requisition_id: uuid.UUID,
    person: CandidateCreate,
    starts_on: date,
    left_on: date | None = None,
) -> uuid.UUID:
    """A candidate hired on the requisition and placed (paid by the hour: no salary), as a
    recruiter records it; returns the placement's id."""
    with db.unit_of_work(tenant_id) as session:
        requisition = service.get_requisition(session, requisition_id)
        candidate = service.create_candidate(session, person)
        application, _ = service.open_application(session, requisition, candidate, source="t")
        application.stage, application.status = "hired", ApplicationStatus.hired
        placement = Placement(
            application_id=application.id,
            requisition_id=requisition.id,
            starts_on=starts_on,
            salary_minor=0,
            currency="CNY",
            left_on=left_on,
        )
        session.add(placement)
        session.flush()
        return placement.id


@pytest.fixture
def hiring(world: World) -> Hiring:
    tenant = world.tenant()
    requisition_id, posting_id = open_requisition(tenant)
    return Hiring(world, tenant, requisition_id, posting_id)


class Sink:
    """Keeps every message the SMTP server receives."""

    def __init__(self) -> None:
        self.messages: list[Message] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.messages.append(email.message_from_bytes(envelope.content, policy=default))
        return "250 OK"


@pytest.fixture
def smtp(monkeypatch: pytest.MonkeyPatch) -> Iterator[Sink]:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = int(probe.getsockname()[1])
    sink = Sink()
    controller = Controller(sink, hostname="127.0.0.1", port=port)
    controller.start()
    monkeypatch.setattr(get_settings(), "smtp_host", "127.0.0.1")
    monkeypatch.setattr(get_settings(), "smtp_port", port)
    try:
        yield sink
    finally:
        controller.stop()
