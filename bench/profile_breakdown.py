"""Where a request's CPU goes: a py-spy raw profile (collapsed stacks) summarised by layer.

Each sample is charged to the innermost frame that belongs to a known layer (self time by layer), and
separately counted for every layer on its stack (inclusive time). Idle samples (the event loop waiting)
are left out. Run: `.venv/bin/python bench/profile_breakdown.py profile.txt` (from `bench/requests.py --profile`).
"""

from __future__ import annotations

import sys
from collections import Counter
from pathlib import Path

# (layer, substring of a frame's file path), innermost match wins; order matters for nested packages.
LAYERS = [
    ("asyncpg", "asyncpg/"),
    ("SQLAlchemy ORM (compile, hydrate, session)", "sqlalchemy/orm/"),
    ("SQLAlchemy core/engine/pool", "sqlalchemy/"),
    ("advanced-alchemy", "advanced_alchemy/"),
    ("msgspec", "msgspec/"),
    ("JWT / crypto", "jwt/"),
    ("JWT / crypto", "cryptography/"),
    ("logging / metrics", "structlog/"),
    ("logging / metrics", "prometheus_client/"),
    ("logging / metrics", "litestar/plugins/prometheus"),
    ("Litestar (routing, DI, serialisation)", "litestar/"),
    ("uvicorn / HTTP parsing", "uvicorn/"),
    ("uvicorn / HTTP parsing", "httptools/"),
    ("uvicorn / HTTP parsing", "granian/"),
    ("uvicorn / HTTP parsing", "lms/lib/http_protocol"),  # the served protocol's socket writes
    ("tenant binding (lms.db)", "lms/db/"),
    ("lms application code", "lms/"),
    ("asyncio / event loop", "asyncio/"),
    ("asyncio / event loop", "uvloop/"),
]
# Leaf frames of a waiting process: the event loop polling (uvloop's C loop shows as Runner.run), idle threads.
IDLE = (
    "select (selectors.py",
    "run_forever (uvloop",
    "_run_once (asyncio",
    "poll (selectors",
    "Runner.run (",
    "Condition.wait (",
)


def layer_of(frame: str) -> str | None:
    for name, needle in LAYERS:
        if needle in frame:
            return name
    return None


def summarise(path: Path) -> tuple[Counter[str], Counter[str], int]:
    own: Counter[str] = Counter()
    inclusive: Counter[str] = Counter()
    total = 0
    for line in path.read_text().splitlines():
        stack, _, count_text = line.rpartition(" ")
        if not stack or not count_text.isdigit():
            continue
        frames = stack.split(";")
        if any(frames[-1].startswith(idle) for idle in IDLE):
            continue
        count = int(count_text)
        total += count
        layers = [layer_of(f) for f in frames]
        innermost = next((lay for lay in reversed(layers) if lay), "other (C, interpreter)")
        own[innermost] += count
        for lay in set(filter(None, layers)):
            inclusive[lay] += count
    return own, inclusive, total


def main(argv: list[str]) -> int:
    for name in argv:
        own, inclusive, total = summarise(Path(name))
        print(f"{name}: {total} busy samples")
        print(f"  {'layer':<44}{'self %':>8}{'incl. %':>9}")
        for layer, count in own.most_common():
            print(f"  {layer:<44}{100 * count / total:8.1f}{100 * inclusive[layer] / total:9.1f}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
