"""WebSocket push: Taobao's TMC and Pinduoduo's message service, on top of one queue per shop.

Both marketplaces keep a seller's messages until the client confirms them, and send whatever is
unconfirmed again when the client reconnects; every message is only a hint to fetch the order
again. The hub holds that queue: every order created (with ``notify``) or moved on adds a message
with its content rendered at that moment, every open connection of the shop is woken to send it,
and a confirmation removes it. Connections run on the server's event loop while orders change in
worker threads, so the hub has its own short-held lock and wakes connections thread-safely.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from starlette.websockets import WebSocket, WebSocketDisconnect

if TYPE_CHECKING:
    from daiyun.sandboxes.marketplaces.state import Order, Shop

# Real TMC keeps messages for three days; the sandbox keeps the newest this many per shop.
MAX_PENDING = 10_000


@dataclass(frozen=True, slots=True)
class Message:
    id: int
    topic: str
    # The marketplace's content: a JSON document as a string.
    content: str
    created_ms: int


class Connection:
    """One open WebSocket of a shop: what it has been sent, and how to wake its sender."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.loop = loop
        self.event = asyncio.Event()
        self.last_sent = 0
        self.closed = False

    def wake(self) -> None:
        with contextlib.suppress(RuntimeError):
            # The loop may already be closed if the server is stopping.
            self.loop.call_soon_threadsafe(self.event.set)


@dataclass
class _Queue:
    pending: dict[int, Message] = field(default_factory=dict)
    connections: set[Connection] = field(default_factory=set)
    sent: int = 0
    confirmed: int = 0


class MessageHub:
    """Per-shop queues of unconfirmed messages, keyed by the shop's label (``taobao/nick``)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._queues: dict[str, _Queue] = {}
        self._last_id = 0

    def publish(self, shop: Shop, changes: list[tuple[Order, str]]) -> None:
        """Queue the messages for these changes (called with the state's lock held)."""
        # Imported here: the channel modules import this one for their WebSocket routes.
        from daiyun.sandboxes.marketplaces import pinduoduo, taobao

        render = taobao.tmc_messages if shop.channel == "taobao" else pinduoduo.push_messages
        items = [item for order, action in changes for item in render(shop, order, action)]
        self.add(shop.label, items)

    def add(self, label: str, items: list[tuple[str, str]]) -> list[Message]:
        now = int(time.time() * 1000)
        with self._lock:
            queue = self._queues.setdefault(label, _Queue())
            added = []
            for topic, content in items:
                self._last_id += 1
                message = Message(self._last_id, topic, content, now)
                queue.pending[message.id] = message
                added.append(message)
            if len(queue.pending) > MAX_PENDING:
                newest = list(queue.pending.items())[-MAX_PENDING:]
                queue.pending = dict(newest)
            connections = list(queue.connections)
        for connection in connections:
            connection.wake()
        return added

    def attach(self, label: str, connection: Connection) -> None:
        with self._lock:
            self._queues.setdefault(label, _Queue()).connections.add(connection)

    def detach(self, label: str, connection: Connection) -> None:
        with self._lock:
            queue = self._queues.get(label)
            if queue is not None:
                queue.connections.discard(connection)

    def unsent(self, label: str, connection: Connection) -> list[Message]:
        """Pending messages this connection has not been sent yet, counted as sent."""
        with self._lock:
            queue = self._queues.setdefault(label, _Queue())
            fresh = [m for m in queue.pending.values() if m.id > connection.last_sent]
            if fresh:
                connection.last_sent = fresh[-1].id
                queue.sent += len(fresh)
            return fresh

    def confirm(self, label: str, ids: list[int]) -> int:
        """Forget confirmed messages; how many of the ids were still pending."""
        with self._lock:
            queue = self._queues.setdefault(label, _Queue())
            found = [one for one in ids if queue.pending.pop(one, None) is not None]
            queue.confirmed += len(found)
            return len(found)

    def pending(self, label: str) -> list[Message]:
        with self._lock:
            queue = self._queues.get(label)
            return list(queue.pending.values()) if queue else []

    def stats(self) -> dict[str, Any]:
        with self._lock:
            per_shop = {
                label: {
                    "sent": queue.sent,
                    "confirmed": queue.confirmed,
                    "pending": len(queue.pending),
                    "connections": len(queue.connections),
                }
                for label, queue in self._queues.items()
            }
        return {
            "messages_sent": sum(one["sent"] for one in per_shop.values()),
            "messages_confirmed": sum(one["confirmed"] for one in per_shop.values()),
            "messages": per_shop,
        }

    def clear(self) -> None:
        with self._lock:
            for queue in self._queues.values():
                queue.pending.clear()
                queue.sent = queue.confirmed = 0


async def run_session(
    websocket: WebSocket,
    hub: MessageHub,
    label: str,
    frame: Callable[[Message], dict[str, Any]],
    confirmed: Callable[[Any], list[int]],
) -> None:
    """Send the shop's unconfirmed messages, then each new one, until the client goes away.

    ``frame`` renders a message as the marketplace's frame; ``confirmed`` reads the ids a
    client frame confirms (none for anything else, heartbeats included).
    """
    connection = Connection(asyncio.get_running_loop())
    hub.attach(label, connection)

    async def read() -> None:
        try:
            while True:
                text = await websocket.receive_text()
                try:
                    ids = confirmed(json.loads(text))
                except (ValueError, TypeError, KeyError):
                    continue
                if ids:
                    hub.confirm(label, ids)
        except (WebSocketDisconnect, RuntimeError, KeyError):
            # RuntimeError: the socket closed under us; KeyError: a binary frame.
            pass
        finally:
            connection.closed = True
            connection.event.set()

    reader = asyncio.create_task(read())
    try:
        while not connection.closed:
            connection.event.clear()
            for message in hub.unsent(label, connection):
                await websocket.send_text(json.dumps(frame(message), ensure_ascii=False))
            await connection.event.wait()
    except (WebSocketDisconnect, RuntimeError, OSError):
        pass
    finally:
        hub.detach(label, connection)
        reader.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await reader
        with contextlib.suppress(RuntimeError):
            await websocket.close()
