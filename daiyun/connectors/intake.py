"""Group commit of webhook deliveries: one writer thread per process, one commit per group.

A request thread hands its verified delivery to :data:`writer` and waits. The writer takes
whatever is waiting (up to :data:`GROUP_LIMIT` deliveries), inserts each under its unique key in
one transaction per tenant, commits, and only then answers each waiter: an acknowledgment still
means the delivery is stored durably. Under load many acknowledgments share one commit (on
SQLite one sync to disk, and no request waiting on another's write lock); a lone delivery is
written at once. If the database fails, every delivery of the group gets the error (the
marketplace is answered 503 and retries); nothing is half-written.
"""

from __future__ import annotations

import queue
import threading
import uuid
from collections import defaultdict
from concurrent.futures import Future
from dataclasses import dataclass, field
from typing import Any

from daiyun.connectors import repository
from daiyun.core.db import unit_of_work
from daiyun.core.errors import Problem

GROUP_LIMIT = 100
# A request waits at most this long for its group's commit before answering 503.
WAIT_SECONDS = 30.0


@dataclass(frozen=True)
class Stored:
    delivery_id: uuid.UUID | None
    duplicate: bool


@dataclass
class _Waiting:
    row: dict[str, Any]
    done: Future[Stored] = field(default_factory=Future)


class DeliveryWriter:
    def __init__(self) -> None:
        self._queue: queue.SimpleQueue[_Waiting] = queue.SimpleQueue()
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None

    def store(self, row: dict[str, Any]) -> Stored:
        """Insert one delivery row (unless its key is stored already) and wait for the commit."""
        waiting = _Waiting(row)
        self._start()
        self._queue.put(waiting)
        try:
            return waiting.done.result(timeout=WAIT_SECONDS)
        except TimeoutError as exc:
            raise Problem(
                503, "storage-unavailable", "The delivery could not be stored in time: retry"
            ) from exc

    def _start(self) -> None:
        """Start the writer in this process (after a fork, the parent's thread is not here)."""
        with self._lock:
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(
                    target=self._run, name="webhook-writer", daemon=True
                )
                self._thread.start()

    def _run(self) -> None:
        while True:
            group = [self._queue.get()]
            while len(group) < GROUP_LIMIT:
                try:
                    group.append(self._queue.get_nowait())
                except queue.Empty:
                    break
            by_tenant: dict[uuid.UUID, list[_Waiting]] = defaultdict(list)
            for waiting in group:
                by_tenant[waiting.row["tenant_id"]].append(waiting)
            for tenant_id, waiting_rows in by_tenant.items():
                _write(tenant_id, waiting_rows)


def _write(tenant_id: uuid.UUID, group: list[_Waiting]) -> None:
    try:
        results = []
        with unit_of_work(tenant_id) as session:
            for waiting in group:
                row = waiting.row
                delivery_id = repository.add_delivery(session, row)
                if delivery_id is not None:
                    results.append(Stored(delivery_id, duplicate=False))
                    continue
                existing = repository.delivery_by_key(session, row["source"], row["external_id"])
                results.append(Stored(existing.id if existing else None, duplicate=True))
    except Exception as exc:  # the database refused or is down: every waiter is told
        for waiting in group:
            waiting.done.set_exception(exc)
        return
    for waiting, stored in zip(group, results, strict=True):
        waiting.done.set_result(stored)


writer = DeliveryWriter()
