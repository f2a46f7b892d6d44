"""How long a 5 MiB assignment upload keeps the API's event loop from serving other requests.

One API process (uvicorn, uvloop, the served protocol) and a course with an assignment. Three phases:
1. `--uploads` uploads one after the other, nothing else: the API's CPU per upload and its latency;
2. the same again while a prober sends `GET /health` back to back on its own connection: every probe
   answered later than usual waited for the event loop, so the longest probe (and the total probe delay
   per upload) bound the loop's blocking by the upload;
3. `--burst` uploads at once (as in the launch scenario): their p50/p95/max.

Run: `flock /work/wt/bench.lock .venv/bin/python bench/upload_blocking.py` (DATABASE_URL/REDIS_URL, or
embedded servers). Its database is dropped at the end.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import subprocess
import sys
import tempfile
import time
from contextlib import suppress
from pathlib import Path
from urllib.parse import urlsplit

sys.path.insert(0, str(Path(__file__).resolve().parent))
from load_scenario import FILE_BYTES, _assignment, _wait_for, start_services
from quiz_submit import build_world
from raw_http import Connection
from support import bench_settings, free_port, percentile, process_tree_cpu_seconds

from lms.db.migrate import migrate


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--uploads", type=int, default=10, help="uploads in phases 1 and 2")
    parser.add_argument("--burst", type=int, default=10, help="uploads at once in phase 3 (0 = skip)")
    parser.add_argument("--profile", default="", help="write a py-spy raw profile of the API during phase 1 here")
    return parser.parse_args()


async def upload(conn: Connection, url: str, token: dict[str, str], payload: bytes) -> float:
    started = time.perf_counter()
    answer = await conn.post_file(url, token, "files", "report.pdf", "application/pdf", payload)
    if answer.status_code not in (200, 201):
        raise RuntimeError(f"upload: {answer.status_code} {answer.text[:200]}")
    return time.perf_counter() - started


async def probe_until(conn: Connection, done: asyncio.Event, latencies: list[float]) -> None:
    while not done.is_set():
        started = time.perf_counter()
        answer = await conn.get("/health", {})
        assert answer.status_code == 200, answer.text
        latencies.append(time.perf_counter() - started)


async def measure(base_url: str, host: str, assignment_id: str, tokens: list[dict[str, str]], args: argparse.Namespace,
                  api_pid: int) -> None:  # fmt: skip
    port = urlsplit(base_url).port or 80
    url = f"/api/v1/assignments/{assignment_id}/submissions"
    payload = b"%PDF-1.4\n" + os.urandom(FILE_BYTES - 9)
    conns = [Connection(port, host) for _ in tokens]
    prober = Connection(port, host)
    # Warm-up: caches, signing keys, the pool, the first temporary files.
    await upload(conns[0], url, tokens[0], payload)
    idle: list[float] = []
    stop = asyncio.Event()
    probing = asyncio.create_task(probe_until(prober, stop, idle))
    await asyncio.sleep(1.0)
    stop.set()
    await probing

    profiler = _profiler(api_pid, args.profile) if args.profile else None
    cpu_before = process_tree_cpu_seconds(api_pid)
    alone = [await upload(conns[i % len(conns)], url, tokens[i % len(tokens)], payload) for i in range(args.uploads)]
    cpu_per_upload = (process_tree_cpu_seconds(api_pid) - cpu_before) / args.uploads
    if profiler is not None:
        profiler.send_signal(signal.SIGINT)
        profiler.wait(60)

    worst: list[float] = []
    delay: list[float] = []
    typical = percentile(idle, 50)
    for i in range(args.uploads):
        probes: list[float] = []
        stop = asyncio.Event()
        probing = asyncio.create_task(probe_until(prober, stop, probes))
        await asyncio.sleep(0.05)
        await upload(conns[i % len(conns)], url, tokens[i % len(tokens)], payload)
        stop.set()
        await probing
        worst.append(max(probes))
        delay.append(sum(max(0.0, p - typical) for p in probes))

    print(f"upload of {FILE_BYTES // 2**20} MiB, one API process")
    print(f"  API CPU per upload           {cpu_per_upload * 1000:.1f} ms")
    print(f"  upload latency alone p50     {percentile(alone, 50) * 1000:.1f} ms  (max {max(alone) * 1000:.1f})")
    print(f"  probe latency idle p50/max   {typical * 1000:.2f} / {max(idle) * 1000:.2f} ms")
    print(f"  longest probe during upload  p50 {percentile(worst, 50) * 1000:.1f} ms, max {max(worst) * 1000:.1f} ms")
    print(f"  probe delay per upload       p50 {percentile(delay, 50) * 1000:.1f} ms, max {max(delay) * 1000:.1f} ms")
    if args.burst:
        burst = await asyncio.gather(
            *(upload(conns[i % len(conns)], url, tokens[i % len(tokens)], payload) for i in range(args.burst))
        )
        print(
            f"  {args.burst} at once                   p50 {percentile(burst, 50) * 1000:.0f} ms, "
            f"p95 {percentile(burst, 95) * 1000:.0f} ms, max {max(burst) * 1000:.0f} ms"
        )
    for conn in [*conns, prober]:
        conn.close()


def _profiler(pid: int, path: str) -> subprocess.Popen[bytes]:
    py_spy = str(Path(sys.executable).parent / "py-spy")
    command = [py_spy, "record", "--subprocesses", "--pid", str(pid), "-o", path, "--rate", "500", "--format", "raw"]
    return subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def main() -> int:
    args = parse_args()
    options = argparse.Namespace(processes=1, pool_size=10)
    with bench_settings("lms_bench_upload") as settings, tempfile.TemporaryDirectory() as folder:
        migrate(settings)
        port = free_port()
        api, worker = start_services(settings, options, port, Path(folder) / "storage")
        base_url = f"http://127.0.0.1:{port}"
        try:
            _wait_for(base_url)
            world = asyncio.run(build_world(settings, base_url, max(args.burst, 1)))
            assignment_id = asyncio.run(_assignment(base_url, world))
            asyncio.run(measure(base_url, world.host, assignment_id, world.learners, args, api.pid))
        finally:
            for process in (api, worker):
                process.terminate()
                with suppress(subprocess.TimeoutExpired):
                    process.wait(30)
    return 0


if __name__ == "__main__":
    sys.exit(main())
