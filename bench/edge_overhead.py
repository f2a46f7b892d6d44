"""What the edge rule costs the hottest route: a progress-event batch, in process, no I/O.

Times (1) the edge middleware around an ASGI app that only reads the body, against the same app
bare, and (2) ingest's per-event decoding with and without its string check, for batches of 10 and
100 video heartbeats. Prints the best of several runs in microseconds per request, and the difference.

Run: `.venv/bin/python bench/edge_overhead.py`
"""

from __future__ import annotations

import asyncio
import time
import uuid
from datetime import UTC, datetime
from typing import Any

import msgspec

from lms.app import create_app
from lms.config import get_settings
from lms.learning.services import ingest
from lms.lib.edge import edge_middleware

ROUNDS = 1000
REPEATS = 7  # the best of several runs: the machine is shared, noise only ever adds time
INGEST_PATH = "/api/v1/progress/events"


def ingest_handler() -> Any:
    """The real route handler of the ingest route (its opt and signature are what the edge reads)."""
    app = create_app(get_settings())
    route = next(r for r in app.routes if r.path == INGEST_PATH)
    return next(h for h in route.route_handlers if "POST" in h.http_methods)  # type: ignore[attr-defined]


def batch(size: int) -> bytes:
    events = [
        {
            "type": "video_heartbeat",
            "client_event_id": uuid.uuid4().hex,
            "lesson_id": str(uuid.uuid4()),
            "course_id": str(uuid.uuid4()),
            "occurred_at": datetime.now(UTC).isoformat(),
            "position": 10.0 * i,
            "watched": [[10.0 * i, 10.0 * i + 10]],
        }
        for i in range(size)
    ]
    return msgspec.json.encode({"events": events})


async def read_body(scope: Any, receive: Any, send: Any) -> None:
    while (await receive()).get("more_body"):
        pass


def scope_for(body: bytes, handler: Any) -> dict[str, Any]:
    return {
        "type": "http",
        "method": "POST",
        "path": INGEST_PATH,
        "raw_path": INGEST_PATH.encode(),
        "query_string": b"",
        "headers": [
            (b"host", b"acme.learn.example.com"),
            (b"content-type", b"application/json"),
            (b"content-length", str(len(body)).encode()),
            (b"authorization", b"Bearer " + b"x" * 600),
        ],
        "route_handler": handler,
        "path_params": {},
    }


async def per_request_us(app: Any, body: bytes, handler: Any) -> float:
    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": body, "more_body": False}

    async def send(_: Any) -> None:
        return None

    best = float("inf")
    for _ in range(REPEATS):
        started = time.perf_counter()
        for _ in range(ROUNDS):
            await app(scope_for(body, handler), receive, send)
        best = min(best, (time.perf_counter() - started) / ROUNDS * 1e6)
    return best


def decode_us(body: bytes, checked: bool) -> float:
    batch_in = ingest.decode_batch(body)
    decode = ingest._decode if checked else lambda _i, raw: ingest._EVENT_DECODER.decode(raw)
    best = float("inf")
    for _ in range(REPEATS):
        started = time.perf_counter()
        for _ in range(ROUNDS):
            for index, raw in enumerate(batch_in.events):
                decode(index, raw)
        best = min(best, (time.perf_counter() - started) / ROUNDS * 1e6)
    return best


async def main() -> None:
    handler = ingest_handler()
    print(f"{'batch':>6} {'middleware off':>15} {'on':>8} {'+us':>6} {'decode':>8} {'checked':>8} {'+us':>6}")
    for size in (10, 100):
        body = batch(size)
        bare = await per_request_us(read_body, body, handler)
        edged = await per_request_us(edge_middleware(read_body), body, handler)
        plain, checked = decode_us(body, False), decode_us(body, True)
        print(
            f"{size:>6} {bare:>15.1f} {edged:>8.1f} {edged - bare:>6.1f} "
            f"{plain:>8.1f} {checked:>8.1f} {checked - plain:>6.1f}"
        )


if __name__ == "__main__":
    asyncio.run(main())
