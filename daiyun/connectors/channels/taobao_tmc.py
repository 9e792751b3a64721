"""Taobao's TMC message service: trade changes pushed over a WebSocket, confirmed after use.

The consumer connects, signs in with the app key, and reads ``message`` frames. Each one names a
trade that changed; the message is only a hint, so the consumer hands the trade ids of a batch to
``on_hints`` (which queues a re-read of those trades) and confirms the batch's message ids only
once ``on_hints`` returned. TMC sends unconfirmed messages again after a reconnect, so a crash
between receipt and confirmation loses nothing; a repeat is harmless because a re-read is.

:class:`WebSocketConsumer` holds the connect / batch / acknowledge / reconnect loop that the
Pinduoduo message consumer shares; each marketplace supplies its URL, sign-in and frame format.
"""

from __future__ import annotations

import json
import random
import threading
from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import structlog
from websockets.exceptions import ConnectionClosed, InvalidStatus, WebSocketException
from websockets.sync.client import ClientConnection, connect

from daiyun.connectors.channels.base import Connector, ShopAccess
from daiyun.connectors.channels.china_wire import beijing_now
from daiyun.connectors.channels.taobao import TaobaoConnector, sign
from daiyun.connectors.errors import ConnectorError, ReauthorizationNeeded
from daiyun.connectors.hosts import HostPolicy, allowlist_only

log = structlog.get_logger("daiyun.connectors.push")

# UNCONFIRMED: the production TMC endpoint. With an api_base_url the consumer connects to
# ``{api_base_url}/tmc`` (http -> ws, https -> wss) instead. TLS, like every official host:
# the session travels over this connection.
TMC_URL = "wss://mc.api.taobao.com/"
TMC_PATH = "/tmc"
# The app signs its sign-in like a gateway call, with MD5.
TMC_SIGN_METHOD = "md5"
SIGNATURE_REFUSED = 25

# Waiting for frames: how long one receive blocks before ``stop`` is looked at again, how long a
# batch lingers for more frames once one arrived, and how large it grows.
POLL_SECONDS = 1.0
BATCH_LINGER_SECONDS = 0.2
BATCH_MAX = 100
OPEN_TIMEOUT = 10.0
CLOSE_TIMEOUT = 5.0
SIGN_IN_TIMEOUT = 10.0
# Reconnecting: exponential from the first delay up to the cap, each with up to 50 % jitter.
RECONNECT_FIRST = 1.0
RECONNECT_MAX = 60.0

_random = random.SystemRandom()

Hints = Callable[[list[str]], None]


@dataclass(frozen=True)
class PushMessage:
    """One pushed message: the id to acknowledge and the order it names (None: names none)."""

    ack_id: int
    order_id: str | None
    topic: str = ""


class HintsFailed(Exception):
    """``on_hints`` raised: the batch stays unacknowledged and comes back after a reconnect."""


def websocket_base(api_base_url: str) -> str:
    """An ``http(s)://`` base URL as the matching ``ws(s)://`` one, without a trailing slash."""
    base = api_base_url.rstrip("/")
    if base.startswith("https://"):
        return "wss://" + base.removeprefix("https://")
    if base.startswith("http://"):
        return "ws://" + base.removeprefix("http://")
    return base


def frame_text(frame: str | bytes) -> str:
    return frame.decode("utf-8", errors="replace") if isinstance(frame, bytes) else frame


def json_frame(frame: str | bytes) -> dict[str, Any] | None:
    """A frame as a JSON object, or None for anything else (which is then ignored)."""
    try:
        doc = json.loads(frame_text(frame))
    except ValueError:
        return None
    return doc if isinstance(doc, dict) else None


def order_id_in(content: Any, name: str) -> str | None:
    """The order id a message's ``content`` (a JSON string, or an object) carries under ``name``."""
    if isinstance(content, str):
        try:
            content = json.loads(content)
        except ValueError:
            return None
    if not isinstance(content, dict):
        return None
    value = content.get(name)
    if value is None or isinstance(value, bool) or not isinstance(value, str | int):
        return None
    text = str(value).strip()
    return text or None


class WebSocketConsumer(ABC):
    """A shop's long-lived push connection: hints handed on in batches, acknowledged after.

    ``run`` keeps a connection open until ``stop`` is set, reconnecting with bounded, jittered
    exponential backoff whenever it drops (or ``on_hints`` fails, which leaves the batch
    unacknowledged for the marketplace to send again). A refused signature ends ``run`` with
    :class:`ReauthorizationNeeded`: retrying cannot fix it.
    """

    channel: str = ""
    # The marketplace's connector, whose official hosts this consumer may connect to.
    connector: type[Connector] | None = None

    def __init__(self, shop: ShopAccess, *, ws_url: str | None = None) -> None:
        self.shop = shop
        self.ws_url = ws_url
        # For monitoring and tests: connections opened and messages acknowledged.
        self.connections = 0
        self.acknowledged = 0

    @abstractmethod
    def url(self) -> str:
        """Where to connect now (may carry a fresh timestamp and signature)."""

    def sign_in(self, ws: ClientConnection) -> None:
        """Whatever the marketplace wants once connected; raises to drop the connection."""
        return None

    @abstractmethod
    def parse(self, doc: dict[str, Any]) -> PushMessage | None:
        """A frame as a message to hand on and acknowledge, or None for a frame to ignore."""

    @abstractmethod
    def acknowledge(self, ws: ClientConnection, ack_ids: list[int]) -> None:
        """Tell the marketplace these messages are taken care of."""

    def refused(self, exc: Exception) -> bool:
        """Whether a connection failure means the marketplace refuses the credentials."""
        return isinstance(exc, InvalidStatus) and exc.response.status_code in (401, 403)

    def hosts(self) -> HostPolicy:
        """Where this consumer may connect (daiyun.connectors.hosts)."""
        if self.connector is None:
            return allowlist_only()
        return self.connector.host_policy(self.shop)

    def run(self, on_hints: Hints, stop: threading.Event) -> None:
        """Consume until ``stop``; ends with :class:`ReauthorizationNeeded` or
        :class:`HostNotAllowed` (before connecting), which no retry can fix."""
        delay = RECONNECT_FIRST
        while not stop.is_set():
            signed_in = False
            url = self.url()
            # Checked before every connection: the URL is built from the stored shop.
            self.hosts().check(url)
            try:
                with connect(
                    url,
                    open_timeout=OPEN_TIMEOUT,
                    close_timeout=CLOSE_TIMEOUT,
                    max_size=2**22,
                ) as ws:
                    self.connections += 1
                    self.sign_in(ws)
                    signed_in = True
                    self._consume(ws, on_hints, stop)
            except ReauthorizationNeeded:
                raise
            except HintsFailed as exc:
                cause = exc.__cause__
                log.warning(
                    "push_hints_failed",
                    channel=self.channel,
                    shop=self.shop.external_id,
                    error=type(cause).__name__ if cause else "unknown",
                )
            except (OSError, TimeoutError, WebSocketException, ConnectorError) as exc:
                if self.refused(exc):
                    raise ReauthorizationNeeded(
                        f"{self.channel} push service refused the app's signature"
                    ) from exc
                log.warning(
                    "push_connection_lost",
                    channel=self.channel,
                    shop=self.shop.external_id,
                    error=type(exc).__name__,
                )
            if stop.is_set():
                return
            if signed_in:
                delay = RECONNECT_FIRST
            if stop.wait(delay * (1 + _random.uniform(0.0, 0.5))):
                return
            delay = min(delay * 2, RECONNECT_MAX)

    def _consume(self, ws: ClientConnection, on_hints: Hints, stop: threading.Event) -> None:
        while not stop.is_set():
            try:
                frames = [ws.recv(timeout=POLL_SECONDS)]
            except TimeoutError:
                continue
            while len(frames) < BATCH_MAX:
                try:
                    frames.append(ws.recv(timeout=BATCH_LINGER_SECONDS))
                except TimeoutError:
                    break
            messages = []
            for frame in frames:
                doc = json_frame(frame)
                message = self.parse(doc) if doc is not None else None
                if message is not None:
                    messages.append(message)
            if not messages:
                continue
            hints = list(dict.fromkeys(m.order_id for m in messages if m.order_id is not None))
            if hints:
                try:
                    on_hints(hints)
                except Exception as exc:
                    raise HintsFailed from exc
            skipped = sum(1 for m in messages if m.order_id is None)
            if skipped:
                # Acknowledged anyway: a message naming no order would come back for ever.
                log.warning(
                    "push_message_without_order",
                    channel=self.channel,
                    shop=self.shop.external_id,
                    count=skipped,
                )
            ack_ids = list(dict.fromkeys(m.ack_id for m in messages))
            self.acknowledge(ws, ack_ids)
            self.acknowledged += len(ack_ids)


class TmcConsumer(WebSocketConsumer):
    """TMC for one Taobao shop: ``run(on_hints, stop)`` hands on trade ids, confirms after."""

    channel = "taobao"
    connector = TaobaoConnector

    def url(self) -> str:
        if self.ws_url:
            return self.ws_url
        if self.shop.api_base_url:
            return websocket_base(self.shop.api_base_url) + TMC_PATH
        return TMC_URL

    def sign_in(self, ws: ClientConnection) -> None:
        credentials = self.shop.credentials
        app_key = str(credentials["app_key"])
        timestamp = beijing_now()
        signature = sign(
            {"app_key": app_key, "timestamp": timestamp},
            str(credentials["app_secret"]),
            TMC_SIGN_METHOD,
        )
        ws.send(
            json.dumps(
                {"type": "connect", "app_key": app_key, "timestamp": timestamp, "sign": signature}
            )
        )
        try:
            answer = json_frame(ws.recv(timeout=SIGN_IN_TIMEOUT))
        except ConnectionClosed as exc:
            raise ConnectorError("TMC closed the connection during sign-in") from exc
        if answer is not None and answer.get("type") == "connected":
            return
        code = answer.get("code") if answer is not None else None
        if code == SIGNATURE_REFUSED or str(code) == str(SIGNATURE_REFUSED):
            raise ReauthorizationNeeded("TMC refused the app's signature (code 25)")
        raise ConnectorError(f"TMC did not accept the sign-in (code {code})")

    def parse(self, doc: dict[str, Any]) -> PushMessage | None:
        if doc.get("type") != "message":
            return None
        ack_id = doc.get("id")
        if isinstance(ack_id, bool) or not isinstance(ack_id, int):
            return None
        return PushMessage(
            ack_id=ack_id,
            order_id=order_id_in(doc.get("content"), "tid"),
            topic=str(doc.get("topic") or ""),
        )

    def acknowledge(self, ws: ClientConnection, ack_ids: list[int]) -> None:
        ws.send(json.dumps({"type": "confirm", "ids": ack_ids}))
