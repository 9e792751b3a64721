"""Run several processes as one: start them, watch them, stop them all together.

``daiyun serve`` uses it to run the API, a worker, beat (and the sandbox) as children: Ctrl-C or
SIGTERM stops every one, and if one dies the others are stopped too.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from types import FrameType

import typer

STOP_TIMEOUT_SECONDS = 20.0


def _die_with_parent() -> Callable[[], None] | None:
    """A pre-exec hook asking Linux to SIGTERM the child if the supervisor dies abruptly."""
    if not sys.platform.startswith("linux"):
        return None
    import ctypes

    try:
        prctl = ctypes.CDLL(None, use_errno=True).prctl
    except (OSError, AttributeError):
        return None
    parent = os.getpid()

    def hook() -> None:
        prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
        if os.getppid() != parent:  # the supervisor died before the hook ran
            os.kill(os.getpid(), signal.SIGTERM)

    return hook


@dataclass
class Child:
    name: str
    argv: list[str]
    process: subprocess.Popen[bytes] | None = None

    def start(self, preexec: Callable[[], None] | None) -> None:
        # Its own process group: a terminal's Ctrl-C reaches only the supervisor, which stops
        # the children in order, and a child's own children can be cleaned up with it.
        self.process = subprocess.Popen(  # noqa: S603
            self.argv, start_new_session=True, preexec_fn=preexec
        )

    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def signal_group(self, signum: int, leader_only: bool = False) -> None:
        if self.process is None:
            return
        try:
            if leader_only:
                self.process.send_signal(signum)
            else:
                os.killpg(self.process.pid, signum)
        except (ProcessLookupError, PermissionError):
            pass


@dataclass
class Supervisor:
    """Runs child processes until a signal asks it to stop or one of them dies."""

    children: list[Child]
    probe: tuple[str, int]
    on_ready: Callable[[], None]
    signals: int = field(default=0)

    def _on_signal(self, signum: int, _frame: FrameType | None) -> None:
        self.signals += 1

    def run(self) -> int:
        previous = {s: signal.signal(s, self._on_signal) for s in (signal.SIGINT, signal.SIGTERM)}
        try:
            preexec = _die_with_parent()
            for child in self.children:
                child.start(preexec)
            failed = self._watch()
        finally:
            self._stop_all()
            for signum, handler in previous.items():
                signal.signal(signum, handler)
        return 1 if failed else 0

    def _answers(self) -> bool:
        try:
            with socket.create_connection(self.probe, timeout=0.5):
                return True
        except OSError:
            return False

    def _watch(self) -> bool:
        ready = False
        while not self.signals:
            for child in self.children:
                code = child.process.poll() if child.process else None
                if code is not None:
                    typer.echo(
                        f"error: the {child.name} process exited with code {code};"
                        " stopping the others",
                        err=True,
                    )
                    return True
            if not ready and self._answers():
                ready = True
                self.on_ready()
            time.sleep(0.2)
        typer.echo("Stopping...", err=True)
        return False

    def _stop_all(self) -> None:
        # Each child is asked once (SIGTERM to the leader, which shuts its own pool down),
        # then whatever is left of its process group is killed: nothing outlives `serve`.
        seen = self.signals
        for child in self.children:
            if child.running():
                child.signal_group(signal.SIGTERM, leader_only=True)
        deadline = time.monotonic() + STOP_TIMEOUT_SECONDS
        while any(c.running() for c in self.children) and time.monotonic() < deadline:
            if self.signals > max(seen, 1):  # asked again: stop waiting
                break
            time.sleep(0.1)
        for child in self.children:
            child.signal_group(signal.SIGKILL)
            if child.process is not None:
                child.process.wait()
