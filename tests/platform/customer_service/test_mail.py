"""The e-mail channel: the signed inbound-parse webhook (store first, dedupe, refuse bad or stale
signatures and reused tokens), processing into threads, and replies over SMTP with threading
headers, received by a real SMTP server on loopback (aiosmtpd)."""

from __future__ import annotations

import email
import socket
import time
import uuid
from collections.abc import Iterator
from datetime import timedelta
from email.message import Message as MailMessage
from typing import Any

import pytest
from aiosmtpd.controller import Controller

from daiyun.core import db
from daiyun.core.config import get_settings
from daiyun.platform.customer_service import mail, repository, rules, service, tasks
from daiyun.platform.customer_service.models import Delivery, InboundEmail, InboundStatus
from daiyun.platform.customer_service.schemas import MailboxIn, MessageCreate
from daiyun.tenants.auth.models import User
from tests.platform.customer_service.conftest import Desk

KEY = "mail-signing-key"


class Sink:
    """Keeps every message the SMTP server receives."""

    def __init__(self) -> None:
        self.messages: list[MailMessage] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.messages.append(email.message_from_bytes(envelope.content))
        return "250 OK"


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture
def smtp(monkeypatch: pytest.MonkeyPatch) -> Iterator[Sink]:
    sink = Sink()
    port = _free_port()
    controller = Controller(sink, hostname="127.0.0.1", port=port)
    controller.start()
    monkeypatch.setattr(get_settings(), "smtp_host", "127.0.0.1")
    monkeypatch.setattr(get_settings(), "smtp_port", port)
    try:
        yield sink
    finally:
        controller.stop()


@pytest.fixture
def signed(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(get_settings(), "email_signing_key", KEY)


def _mailbox(desk: Desk) -> str:
    with db.unit_of_work(desk.tenant.id) as session:
        box = mail.create_mailbox(
            session, MailboxIn(address="help@tea.example", display_name="Tea help")
        )
        return box.key


def _form(message_id: str, token: str | None = None, **extra: str) -> dict[str, str]:
    token = token or uuid.uuid4().hex
    stamp = str(int(time.time()))
    return {
        "timestamp": stamp,
        "token": token,
        "signature": rules.sign(KEY, stamp, token),
        "from": '"Li Na" <li.na@example.com>',
        "recipient": "help@tea.example",
        "subject": "Where is my tea?",
        "body-plain": "Ordered last week, nothing yet.",
        "Message-Id": message_id,
        **extra,
    }


def _stored(desk: Desk) -> list[InboundEmail]:
    from sqlalchemy import select

    with db.unit_of_work(desk.tenant.id) as session:
        return list(session.scalars(select(InboundEmail).order_by(InboundEmail.id)))


def test_signed_delivery_is_stored_once_and_processed(desk: Desk, signed: None) -> None:
    key = _mailbox(desk)
    url = f"/webhooks/email/{key}/inbound"
    form = _form("<first@buyer.example>")
    answer = desk.world.client.post(url, data=form, files={"attachment-1": ("r.txt", b"receipt")})
    assert answer.status_code == 200, answer.text
    assert answer.json() == {"status": "accepted"}
    # The provider retries the same delivery, and sends it again under a new token.
    again = desk.world.client.post(url, data=form)
    assert again.json() == {"status": "duplicate"}
    resent = desk.world.client.post(url, data=_form("<first@buyer.example>"))
    assert resent.json() == {"status": "duplicate"}
    [row] = _stored(desk)
    assert row.status == InboundStatus.received and "signature" not in row.fields
    with db.unit_of_work(desk.tenant.id) as session:
        assert mail.process(session, row.id) == InboundStatus.processed
        assert mail.process(session, row.id) == InboundStatus.processed  # twice: no change
        conversations, _ = service.find_conversations(session, service.Filters(), None, 10)
        [conv] = conversations
        contact = service.get_contact(session, conv.contact_id)
        assert (contact.name, contact.email) == ("Li Na", "li.na@example.com")
        [message] = service.find_messages(session, conv, None, 10)[0]
        assert message.external_id == "<first@buyer.example>"
        assert [a["filename"] for a in message.attachments] == ["r.txt"]


@pytest.mark.parametrize("wrong", ["signature", "stale", "unsigned"])
def test_bad_signatures_are_refused_and_nothing_stored(
    desk: Desk, signed: None, wrong: str
) -> None:
    key = _mailbox(desk)
    form = _form("<bad@buyer.example>")
    if wrong == "signature":
        form["signature"] = rules.sign("another key", form["timestamp"], form["token"])
    elif wrong == "stale":
        form["timestamp"] = str(int(time.time()) - 3600)
        form["signature"] = rules.sign(KEY, form["timestamp"], form["token"])
    else:
        del form["signature"]
    answer = desk.world.client.post(f"/webhooks/email/{key}/inbound", data=form)
    assert answer.status_code == 401
    assert answer.json()["type"].endswith("invalid-signature")
    assert _stored(desk) == []


def test_a_reused_token_with_another_mail_is_refused(desk: Desk, signed: None) -> None:
    key = _mailbox(desk)
    url = f"/webhooks/email/{key}/inbound"
    assert desk.world.client.post(url, data=_form("<a@x>", token="t1")).status_code == 200
    replay = desk.world.client.post(url, data=_form("<b@x>", token="t1"))
    assert replay.status_code == 401
    assert len(_stored(desk)) == 1


def test_unknown_mailbox_is_404(desk: Desk, signed: None) -> None:
    answer = desk.world.client.post("/webhooks/email/nobody/inbound", data=_form("<c@x>"))
    assert answer.status_code == 404


def test_reply_threads_and_the_answer_comes_back(desk: Desk, signed: None, smtp: Sink) -> None:
    agent = desk.agent()
    key = _mailbox(desk)
    url = f"/webhooks/email/{key}/inbound"
    desk.world.client.post(url, data=_form("<q1@buyer.example>"))
    [row] = _stored(desk)
    with db.unit_of_work(desk.tenant.id) as session:
        mail.process(session, row.id)
        [conv] = service.find_conversations(session, service.Filters(), None, 10)[0]
        user = session.get(User, agent.id)
        assert user is not None
        reply = service.reply(session, conv, MessageCreate(body="It ships today."), user)
        assert reply.delivery == Delivery.queued
        assert reply.in_reply_to == "<q1@buyer.example>"
        assert reply.external_id is not None and reply.external_id.endswith("@tea.example>")
        assert mail.send(session, reply.id) == Delivery.sent
        conv_id, reply_id = conv.id, reply.external_id
    [sent] = smtp.messages
    assert sent["To"] == "li.na@example.com"
    assert sent["From"] == "Tea help <help@tea.example>"
    assert sent["Subject"] == "Re: Where is my tea?"
    assert sent["Message-ID"] == reply_id
    assert sent["In-Reply-To"] == "<q1@buyer.example>"
    assert "<q1@buyer.example>" in sent["References"]
    # The buyer answers the reply: the same conversation.
    answer = _form(
        "<q2@buyer.example>",
        **{"In-Reply-To": reply_id, "References": f"<q1@buyer.example> {reply_id}"},
    )
    desk.world.client.post(url, data=answer)
    second = _stored(desk)[-1]
    with db.unit_of_work(desk.tenant.id) as session:
        mail.process(session, second.id)
        conversations = service.find_conversations(session, service.Filters(), None, 10)[0]
        assert [c.id for c in conversations] == [conv_id]
        messages = service.find_messages(session, conversations[0], None, 10)[0]
        assert [m.kind.value for m in messages] == ["inbound", "outbound", "inbound"]


def test_a_reply_that_cannot_be_sent_is_marked_failed(
    desk: Desk, signed: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    agent = desk.agent()
    key = _mailbox(desk)
    desk.world.client.post(f"/webhooks/email/{key}/inbound", data=_form("<q3@buyer.example>"))
    monkeypatch.setattr(get_settings(), "smtp_port", _free_port())  # nobody listens
    with db.unit_of_work(desk.tenant.id) as session:
        mail.process(session, _stored(desk)[0].id)
        [conv] = service.find_conversations(session, service.Filters(), None, 10)[0]
        user = session.get(User, agent.id)
        assert user is not None
        reply = service.reply(session, conv, MessageCreate(body="Sorry"), user)
        assert mail.send(session, reply.id) == Delivery.failed


def test_an_email_whose_task_was_lost_is_sent_by_the_sweep_once(
    desk: Desk, signed: None, smtp: Sink
) -> None:
    key = _mailbox(desk)
    desk.world.client.post(f"/webhooks/email/{key}/inbound", data=_form("<q4@buyer.example>"))
    with db.unit_of_work(desk.tenant.id) as session:
        mail.process(session, _stored(desk)[0].id)
        [conv] = service.find_conversations(session, service.Filters(), None, 10)[0]
        notice = service.notify_buyer(session, conv.id, "您的售后申请已通过。")
        assert notice.delivery == Delivery.queued
        # Written a while ago, and its task never ran (the broker lost it).
        notice.created_at = notice.created_at - tasks.UNSENT_AFTER - timedelta(seconds=1)
        notice_id = notice.id
    assert tasks.sweep_tenant(desk.tenant.id)["sent"] == 1
    assert tasks.sweep_tenant(desk.tenant.id)["sent"] == 0  # sent: not again
    [sent] = smtp.messages
    assert sent["To"] == "li.na@example.com" and "售后" in sent.get_payload(decode=True).decode()
    with db.unit_of_work(desk.tenant.id) as session:
        found = repository.message(session, notice_id)
        assert found is not None and found.delivery == Delivery.sent
