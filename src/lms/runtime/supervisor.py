"""`lms serve` supervises the processes it starts: the API and the Celery worker.

A child that dies is started again, unless it keeps dying (more than MAX_RESTARTS within
RESTART_WINDOW seconds): then everything is stopped and `lms serve` exits non-zero, so that a
container runtime or an operator notices. SIGTERM, SIGINT and SIGHUP stop every child (warm: each
gets its own grace period) and return, so that the caller stops the embedded services too.
"""

from __future__ import annotations

import ctypes
import signal
import subprocess
import sys
import time
from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import FrameType

import structlog

MAX_RESTARTS = 5
RESTART_WINDOW = 60.0
POLL_SECONDS = 0.2
STOP_SIGNALS = (signal.SIGTERM, signal.SIGINT, signal.SIGHUP)
_PR_SET_PDEATHSIG = 1

log = structlog.get_logger(__name__)


@dataclass
class Child:
    """One supervised command and its current process."""

    name: str
    argv: list[str]
    stop_seconds: float
    process: subprocess.Popen[bytes] | None = None
    restarts: deque[float] = field(default_factory=deque)


class TooManyRestarts(Exception):
    """A child kept dying; everything was stopped."""


class Supervisor:
    def __init__(self, children: list[Child], env: Mapping[str, str] | None = None) -> None:
        self.children = children
        self.env = dict(env) if env is not None else None
        self.stop_signal: int | None = None

    def run(self) -> int:
        """Start every child and keep them running until a stop signal; returns the exit status.

        The stop handlers stay installed afterwards: a repeated signal (a process manager insisting)
        then cannot cut short what the caller stops next, the embedded services."""
        for sig in STOP_SIGNALS:
            signal.signal(sig, self._request_stop)
        for child in self.children:
            self._start(child)
        try:
            self._watch()
        except TooManyRestarts as exc:
            log.error("stopping everything", reason=str(exc))
            return 1
        finally:
            self._stop_all()
        return 0

    def _request_stop(self, signum: int, _: FrameType | None) -> None:
        self.stop_signal = signum

    def _watch(self) -> None:
        while self.stop_signal is None:
            for child in self.children:
                assert child.process is not None
                code = child.process.poll()
                if code is None or self.stop_signal is not None:
                    continue
                now = time.monotonic()
                while child.restarts and child.restarts[0] < now - RESTART_WINDOW:
                    child.restarts.popleft()
                if len(child.restarts) >= MAX_RESTARTS:
                    raise TooManyRestarts(f"{child.name} exited {MAX_RESTARTS + 1} times within {RESTART_WINDOW:.0f}s")
                child.restarts.append(now)
                log.warning("child exited; starting it again", child=child.name, exit_code=code)
                self._start(child)
            time.sleep(POLL_SECONDS)
        log.info("stopping", signal=signal.Signals(self.stop_signal).name)

    def _start(self, child: Child) -> None:
        child.process = subprocess.Popen(child.argv, env=self.env, preexec_fn=_die_with_parent)  # noqa: S603 - fixed argv, no shell
        log.info("started", child=child.name, pid=child.process.pid)

    def _stop_all(self) -> None:
        running = [c for c in self.children if c.process is not None and c.process.poll() is None]
        for child in running:
            assert child.process is not None
            child.process.send_signal(signal.SIGTERM)
        for child in running:
            assert child.process is not None
            try:
                child.process.wait(child.stop_seconds)
            except subprocess.TimeoutExpired:
                log.warning("child did not stop in time; killing it", child=child.name)
                child.process.kill()
                child.process.wait()


def _die_with_parent() -> None:
    """In the child before exec: receive SIGTERM if `lms serve` itself is killed (SIGKILL, OOM)."""
    if sys.platform.startswith("linux"):
        ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)
