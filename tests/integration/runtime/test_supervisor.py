"""The supervisor of `lms serve`: a child that keeps dying stops everything, with exit status 1.

Real child processes, no services: the API is a process that exits at once, the worker one that would
run for a minute. (tests/e2e/test_serve.py starts the whole `lms serve` and restarts a killed API.)"""

from __future__ import annotations

import signal
import sys
import time

import structlog

from lms.runtime.supervisor import MAX_RESTARTS, STOP_SIGNALS, Child, Supervisor


def test_an_api_that_keeps_dying_stops_the_worker_and_serve_exits_1() -> None:
    dying = Child("api", [sys.executable, "-S", "-c", "raise SystemExit(3)"], stop_seconds=5)
    worker = Child("worker", [sys.executable, "-S", "-c", "import time; time.sleep(60)"], stop_seconds=5)
    handlers = {sig: signal.getsignal(sig) for sig in STOP_SIGNALS}
    started = time.monotonic()
    try:
        with structlog.testing.capture_logs() as logs:
            status = Supervisor([dying, worker]).run()
    finally:
        for sig, handler in handlers.items():
            signal.signal(sig, handler)

    assert status == 1
    assert time.monotonic() - started < 30
    # Started once, then again after each of its MAX_RESTARTS exits; the next exit stopped everything.
    assert len(dying.restarts) == MAX_RESTARTS
    assert dying.process is not None
    assert dying.process.returncode == 3
    assert worker.process is not None
    assert worker.process.returncode == -signal.SIGTERM  # stopped, not left running
    stopping = [entry for entry in logs if entry["event"] == "stopping everything"]
    assert len(stopping) == 1
    assert f"api exited {MAX_RESTARTS + 1} times" in stopping[0]["reason"]
    restarts = [entry for entry in logs if entry["event"] == "child exited; starting it again"]
    assert [(entry["child"], entry["exit_code"]) for entry in restarts] == [("api", 3)] * MAX_RESTARTS
