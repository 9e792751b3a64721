"""Sandbox buyer messages of the Chinese gateways that have them (the client's wire and its
UNCONFIRMED details: daiyun/connectors/channels/china_messages.py).

Each gateway hands its two message methods, once signed, token and flow control checked, to
:func:`handle` and wraps what it returns in its own envelope. Buyers' messages come from the
control API (``POST /_sandbox/{channel}/{shop}/buyer-messages``) or from the demo's stream
(:func:`buyer_writes`); replies are kept, once per ``client_msg_id``, and listed by the control
API, so a test or the demo can see what the shop answered.
"""

from __future__ import annotations

import itertools
from datetime import datetime
from typing import Any

from fastapi import APIRouter, HTTPException, Request
from pydantic import BaseModel, ConfigDict, Field

from daiyun.sandboxes.marketplaces.china import beijing, parse_beijing
from daiyun.sandboxes.marketplaces.china_listings import Refused
from daiyun.sandboxes.marketplaces.state import SandboxState, Shop, utc_now

# (list, send) per gateway: the client's constants, UNCONFIRMED as there.
METHODS = {
    "pinduoduo": ("pdd.cs.message.list", "pdd.cs.message.send"),
    "jd": ("jingdong.dd.message.list", "jingdong.dd.message.send"),
    "douyin": ("im.messageList", "im.sendMessage"),
}
PAGE_MAX = 100
TEXT_MAX = 1000
_ids = itertools.count(1)
control = APIRouter(prefix="/_sandbox", tags=["sandbox: control"])

# What the demo's buyers ask, in turn.
QUESTIONS = (
    ("小王", "请问什么时候发货？"),
    ("Lily", "Is this available in a larger size?"),
    ("张先生", "收到的商品有破损，怎么处理？"),
    ("阿梅", "可以开发票吗？"),
)


def buyer_writes(
    shop: Shop, buyer_id: str, buyer_nick: str, content: str, order_id: str | None = None
) -> dict[str, Any]:
    """A buyer's message to the shop (called with the state's lock held)."""
    message = {
        "msg_id": f"m{next(_ids)}",
        "buyer_id": buyer_id,
        "buyer_nick": buyer_nick,
        "content": content,
        "send_time": beijing(utc_now()),
        "order_id": order_id,
        "at": utc_now(),
    }
    shop.buyer_messages.append(message)
    return message


def _shown(message: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in message.items() if k != "at"}


def handle(
    state: SandboxState, shop: Shop, method: str, business: dict[str, Any]
) -> dict[str, Any]:
    """The payload of a message method's success answer; raises :class:`Refused`."""
    if method == METHODS[shop.channel][0]:  # the list method; the other one sends
        try:
            since: datetime = parse_beijing(str(business.get("start_time") or ""))
        except ValueError:
            raise Refused("start_time 须为 yyyy-MM-dd HH:mm:ss") from None
        size = min(int(business.get("page_size") or PAGE_MAX), PAGE_MAX)
        with state.lock:
            found = [m for m in shop.buyer_messages if m["at"] >= since][:size]
        return {"messages": [_shown(m) for m in found], "total": len(found)}
    buyer, content = str(business.get("buyer_id") or ""), str(business.get("content") or "")
    key = str(business.get("client_msg_id") or "")
    if not buyer or not content.strip():
        raise Refused("buyer_id 和 content 必填")
    if len(content) > TEXT_MAX:
        raise Refused(f"content 不能超过 {TEXT_MAX} 字")
    with state.lock:
        if not any(m["buyer_id"] == buyer for m in shop.buyer_messages):
            # The chat tools let a shop answer only buyers who wrote to it.
            raise Refused("该买家未咨询过本店，无法发送消息")
        if key and key in shop.sent_messages:
            return {"msg_id": shop.sent_messages[key]["msg_id"]}
        sent = {"msg_id": f"r{next(_ids)}", "buyer_id": buyer, "content": content, "key": key}
        shop.sent_messages[key or sent["msg_id"]] = sent
    return {"msg_id": sent["msg_id"]}


class BuyerMessageIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    buyer_id: str = Field(min_length=1, max_length=64)
    buyer_nick: str = Field("", max_length=64)
    content: str = Field(min_length=1, max_length=TEXT_MAX)
    order_id: str | None = Field(None, max_length=64)


def _shop(request: Request, channel: str, shop: str) -> Shop:
    state: SandboxState = request.app.state.sandbox
    found = state.shop(channel, shop) if channel in METHODS else None
    if found is None:
        raise HTTPException(404, f"no {channel} shop {shop} with buyer messages")
    return found


@control.post("/{channel}/{shop}/buyer-messages", status_code=201)
def write(channel: str, shop: str, body: BuyerMessageIn, request: Request) -> dict[str, Any]:
    """A buyer writes to the shop (as the marketplace's chat would deliver it)."""
    found = _shop(request, channel, shop)
    with request.app.state.sandbox.lock:
        message = buyer_writes(found, body.buyer_id, body.buyer_nick or body.buyer_id, body.content)
        message["order_id"] = body.order_id
    return _shown(message)


@control.get("/{channel}/{shop}/buyer-messages")
def read(channel: str, shop: str, request: Request) -> dict[str, Any]:
    """What buyers wrote, and what the shop answered."""
    found = _shop(request, channel, shop)
    with request.app.state.sandbox.lock:
        return {
            "received": [_shown(m) for m in found.buyer_messages],
            "sent": list(found.sent_messages.values()),
        }
