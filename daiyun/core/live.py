"""Live updates as server-sent events, read from the database.

Every API process answers a stream by looking at the database once a tick (through ``poll``), so
what one process writes reaches a browser connected to another: no process memory, no broker a
fresh machine lacks. Each event carries an id; a browser that reconnects (the stream ends after
``live_stream_seconds`` on purpose, or the network drops) sends the last one back as
``Last-Event-ID`` and ``poll`` resumes after it, so nothing written meanwhile is lost.

``poll(last_id)`` runs in a worker thread with a unit of work of its own per tick: a stream holds
no database connection between ticks.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass
from typing import Any

from fastapi import Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import StreamingResponse

from daiyun.core.config import get_settings

# A comment line this often keeps proxies from closing a quiet stream.
HEARTBEAT_SECONDS = 15.0
# How long the browser waits before reconnecting, in milliseconds.
RETRY_MS = 2000


@dataclass(frozen=True)
class Event:
    id: str
    name: str
    data: dict[str, Any]

    def encode(self) -> bytes:
        body = json.dumps(self.data, ensure_ascii=False, separators=(",", ":"))
        return f"id: {self.id}\nevent: {self.name}\ndata: {body}\n\n".encode()


Poll = Callable[[str | None], Sequence[Event]]


async def _events(request: Request, poll: Poll, last_id: str | None) -> AsyncIterator[bytes]:
    settings = get_settings()
    ends = time.monotonic() + settings.live_stream_seconds
    quiet_since = time.monotonic()
    yield f"retry: {RETRY_MS}\n\n".encode()
    while time.monotonic() < ends and not await request.is_disconnected():
        events = await run_in_threadpool(poll, last_id)
        for event in events:
            yield event.encode()
            last_id = event.id
        if events:
            quiet_since = time.monotonic()
        elif time.monotonic() - quiet_since >= HEARTBEAT_SECONDS:
            yield b": still here\n\n"
            quiet_since = time.monotonic()
        await asyncio.sleep(settings.live_tick_seconds)


def stream(
    request: Request, poll: Poll, headers: dict[str, str] | None = None
) -> StreamingResponse:
    """The event stream answering ``request``, resuming after its ``Last-Event-ID``."""
    last_id = request.headers.get("last-event-id") or None
    return StreamingResponse(
        _events(request, poll, last_id[:200] if last_id else None),
        media_type="text/event-stream",
        headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no", **(headers or {})},
    )
