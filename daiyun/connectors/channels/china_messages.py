"""Buyer messages on the Chinese marketplaces that open their customer-service chat to service
providers (MARKETPLACES.md, Outbound: Pinduoduo's customer-service message API, JD's 咚咚,
Douyin's 飞鸽; Taobao's 千牛 is closed, so Taobao has none).

All three are UNCONFIRMED as to their wire: the method names, fields and answers below are the
project's reading of the providers' documents, each behind one :class:`GatewayMessages` so that
confirming a detail is a one-line change. Two methods each: one lists the messages buyers sent
to the shop from a time on (Beijing wall-clock time, as the gateways write times), one sends a
text to a buyer, carrying Daiyun's own id of the message so that a retry after a lost answer is
kept once. The gateway loop (signing, flow control, token renewal) is
:class:`.china.GatewayConnector`'s; an error answer to a send refuses that message alone.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from daiyun.connectors.channels.china import GatewayConnector
from daiyun.connectors.channels.china_wire import beijing_text, parse_beijing
from daiyun.connectors.channels.outbound import BuyerMessage, MessageRefused, MessageReply
from daiyun.connectors.errors import MalformedPayload

# Messages one list call answers at most.
PAGE_SIZE = 100


@dataclass(frozen=True)
class GatewayMessages:
    list_method: str
    send_method: str
    # The list answer's rows (the success answer's document, see .china.Answer.doc).
    rows: Callable[[dict[str, Any]], Any]
    # The send answer's id of the message sent.
    sent_id: Callable[[dict[str, Any]], Any]


def _in(doc: Any, *path: str) -> Any:
    for key in path:
        doc = doc.get(key) if isinstance(doc, dict) else None
    return doc


def fetch(
    connector: GatewayConnector, wire: GatewayMessages, since: datetime
) -> list[BuyerMessage]:
    business = {"start_time": beijing_text(int(since.timestamp())), "page_size": PAGE_SIZE}
    doc = connector.call(wire.list_method, business)
    rows = wire.rows(doc)
    if rows is None:
        rows = []
    if not isinstance(rows, list) or not all(isinstance(r, dict) for r in rows):
        raise MalformedPayload(f"{connector.channel} {wire.list_method}: messages is not a list")
    found = []
    for row in rows:
        try:
            found.append(
                BuyerMessage(
                    id=str(row["msg_id"]),
                    buyer_id=str(row["buyer_id"]),
                    buyer_name=str(row.get("buyer_nick") or row["buyer_id"])[:200],
                    text=str(row["content"]),
                    sent_at=parse_beijing(row.get("send_time"), "send_time"),
                    order_id=str(row["order_id"]) if row.get("order_id") else None,
                )
            )
        except KeyError as exc:
            raise MalformedPayload(
                f"{connector.channel} {wire.list_method}: a message lacks {exc}"
            ) from exc
    return sorted(found, key=lambda m: (m.sent_at, m.id))


def send(connector: GatewayConnector, wire: GatewayMessages, reply: MessageReply) -> str:
    business = {
        "buyer_id": reply.buyer_id,
        "content": reply.text,
        "client_msg_id": reply.key,
        **({"order_id": reply.order_id} if reply.order_id else {}),
    }
    answer = connector.answer(wire.send_method, business)
    if answer.failed:
        raise MessageRefused(f"{connector.channel} {wire.send_method}: {answer.code} {answer.text}")
    sent = wire.sent_id(answer.doc)
    if sent in (None, ""):
        raise MalformedPayload(f"{connector.channel} {wire.send_method}: no message id answered")
    return str(sent)


# UNCONFIRMED: method names and the answers' shapes, all three.
PINDUODUO = GatewayMessages(
    "pdd.cs.message.list",
    "pdd.cs.message.send",
    lambda doc: _in(doc, "cs_message_list_response", "messages"),
    lambda doc: _in(doc, "cs_message_send_response", "msg_id"),
)
JD = GatewayMessages(
    "jingdong.dd.message.list",
    "jingdong.dd.message.send",
    lambda doc: _in(doc, "jingdong_dd_message_list_responce", "messages"),
    lambda doc: _in(doc, "jingdong_dd_message_send_responce", "msg_id"),
)
DOUYIN = GatewayMessages(
    "im.messageList",
    "im.sendMessage",
    # Douyin's envelope gives its data as the document.
    lambda data: data.get("messages"),
    lambda data: data.get("msg_id"),
)
