"""Shared by the learning benchmarks: servers (the environment's or embedded) and a throw-away database."""

from __future__ import annotations

import os
import socket
import sys
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path

from lms.config import Settings
from lms.db.scratch import scratch_database
from lms.runtime.embedded import EmbeddedServices, start_embedded


@contextmanager
def bench_settings(prefix: str, needs_redis: bool = True) -> Iterator[Settings]:
    """Settings pointing at a new, empty database (dropped afterwards); embedded servers for what is unset."""
    settings = Settings.from_env()
    services = EmbeddedServices()
    if not settings.database_url or (needs_redis and not settings.redis_url):
        settings, services = start_embedded(settings)
        print(f"embedded services under {settings.data_dir.resolve()}", file=sys.stderr)
    try:
        with scratch_database(settings, prefix=prefix) as scratch:
            yield replace(scratch, celery_queue=f"bench-{uuid.uuid4().hex[:8]}")
    finally:
        services.stop()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def percentile(values: list[float], pct: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(pct / 100 * len(ordered)) - 1))
    return ordered[index]


def process_tree_cpu_seconds(root: int) -> float:
    """User + system CPU time of a process and all its descendants (Linux /proc), in seconds."""
    ticks = os.sysconf("SC_CLK_TCK")
    parents: dict[int, int] = {}
    times: dict[int, float] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        pid = int(entry.name)
        parents[pid] = int(fields[1])
        times[pid] = (int(fields[11]) + int(fields[12])) / ticks
    tree, frontier = {root}, [root]
    while frontier:
        current = frontier.pop()
        for pid, parent in parents.items():
            if parent == current and pid not in tree:
                tree.add(pid)
                frontier.append(pid)
    return sum(times.get(pid, 0.0) for pid in tree)


def named_processes_cpu_seconds(name: str) -> float:
    """User + system CPU time of every process whose command name is `name` (e.g. "postgres": the
    server's backends, whether its own or embedded), in seconds."""
    ticks = os.sysconf("SC_CLK_TCK")
    total = 0.0
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            head, tail = (entry / "stat").read_text().rsplit(")", 1)
        except OSError:
            continue
        if head.split("(", 1)[1] == name:
            fields = tail.split()
            total += (int(fields[11]) + int(fields[12])) / ticks
    return total
