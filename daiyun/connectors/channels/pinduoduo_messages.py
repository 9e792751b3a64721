"""Pinduoduo's message service: order changes pushed over a WebSocket, acknowledged after use.

The connection URL itself signs in: ``.../message/{client_id}/{timestamp}/{sign}``. Frames with
``commandType`` ``Common`` carry a message whose ``content`` names the order (``tid``, the order
sn); the consumer hands a batch's order sns to ``on_hints`` and acknowledges each message by id
only once ``on_hints`` returned. PDD sends unacknowledged messages again after a reconnect.

A refused signature shows as a close with code 1008 (or a refused handshake) and ends ``run``
with :class:`~daiyun.connectors.errors.ReauthorizationNeeded`.
"""

from __future__ import annotations

import hashlib
import json
import time
from typing import Any

from websockets.exceptions import ConnectionClosed
from websockets.sync.client import ClientConnection

from daiyun.connectors.channels.pinduoduo import PinduoduoConnector
from daiyun.connectors.channels.taobao_tmc import (
    PushMessage,
    WebSocketConsumer,
    order_id_in,
    websocket_base,
)

# The production message endpoint. With an api_base_url the consumer connects to
# ``{api_base_url}/message/...`` (http -> ws, https -> wss) instead.
MESSAGE_URL = "wss://message-api.pinduoduo.com/message"
MESSAGE_PATH = "/message"
# UNCONFIRMED: the URL's timestamp is in milliseconds.
TIMESTAMP_IN_MILLISECONDS = True
POLICY_VIOLATION = 1008
MESSAGE_COMMAND = "Common"
ACK_COMMAND = "Ack"


def message_sign(client_id: str, timestamp: str, client_secret: str) -> str:
    """Upper-case hex MD5 of ``client_secret + client_id + timestamp + client_secret``."""
    text = client_secret + client_id + timestamp + client_secret
    return hashlib.md5(text.encode()).hexdigest().upper()  # noqa: S324 (PDD's scheme)


def _now_ms() -> int:
    return time.time_ns() // 1_000_000


class PddMessageConsumer(WebSocketConsumer):
    """The message service for one Pinduoduo shop: hands on order sns, acknowledges after.

    ``ws_url``, when given, replaces the base the ``/{client_id}/{timestamp}/{sign}`` part is
    appended to.
    """

    channel = "pinduoduo"
    connector = PinduoduoConnector

    def base(self) -> str:
        if self.ws_url:
            return self.ws_url.rstrip("/")
        if self.shop.api_base_url:
            return websocket_base(self.shop.api_base_url) + MESSAGE_PATH
        return MESSAGE_URL

    def url(self) -> str:
        credentials = self.shop.credentials
        client_id = str(credentials["client_id"])
        timestamp = str(_now_ms() if TIMESTAMP_IN_MILLISECONDS else int(time.time()))
        signature = message_sign(client_id, timestamp, str(credentials["client_secret"]))
        return f"{self.base()}/{client_id}/{timestamp}/{signature}"

    def refused(self, exc: Exception) -> bool:
        if isinstance(exc, ConnectionClosed) and exc.rcvd is not None:
            return exc.rcvd.code == POLICY_VIOLATION
        return super().refused(exc)

    def parse(self, doc: dict[str, Any]) -> PushMessage | None:
        if doc.get("commandType") != MESSAGE_COMMAND:
            return None
        ack_id = doc.get("id")
        if isinstance(ack_id, bool) or not isinstance(ack_id, int):
            return None
        message = doc.get("message")
        if not isinstance(message, dict):
            return PushMessage(ack_id=ack_id, order_id=None)
        return PushMessage(
            ack_id=ack_id,
            order_id=order_id_in(message.get("content"), "tid"),
            topic=str(message.get("type") or ""),
        )

    def acknowledge(self, ws: ClientConnection, ack_ids: list[int]) -> None:
        for ack_id in ack_ids:
            ws.send(json.dumps({"commandType": ACK_COMMAND, "id": ack_id, "sendTime": _now_ms()}))
