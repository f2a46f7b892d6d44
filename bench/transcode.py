"""Video availability: upload-complete -> playable, and the chunked ladder's scaling with workers.

Generated sources (1080p30 H.264 with AAC audio) are put into local storage as an upload would
leave them: one of `--minutes` (default 10) for the playable part, one of `--ladder-minutes`
(default 2) for the ladder part, whose three full ladders would take most of an hour on 10 minutes
of 1080p. The longer source repeats the shorter one by stream copy (generating 10 minutes of 1080p
costs as much as the rest of the run). Then, in the same run:
  1. playable (long source): the preparing job (`process_asset`: ffprobe, HLS stream copy that
     validates the source, rendition row) until the asset is marked playable, against a bare
     `ffmpeg -c copy` HLS packaging of the same file (targets: ratio <= 1.3, and playable in
     < 30 s); medians of `--playable-turns` turns, which of the two goes first alternating (the
     second of a pair tends to run slower, whichever it is), the chunk jobs the preparing job sends
     going nowhere;
  2. ladder, today's single task (ladder source): the one-run FFmpeg ladder (every rung, one
     decode), pinned to one core;
  3. ladder, chunked, 1 worker: a real Celery worker process (concurrency 1) pinned to one core,
     encoding every `media.encode_chunk` job and joining; target ratio to (2) <= 1.10;
  4. ladder, chunked, 2 workers: two such worker processes, each pinned to its own core; target
     speedup over (3) >= 1.7.
Besides wall times it prints the CPU seconds of (2) and (3) (FFmpeg and the workers: what the
machine's other load does not change much) and where the chunk jobs' time went (encoder, storing
segments, the rest: delivery, database, join, a worker waiting for the other). From (3) and (4) it
states how many worker cores a 60-minute lecture's ladder needs to be done in 10 minutes. Wall
times depend on what else the machine runs: the load average is printed with them.

Run: `.venv/bin/python bench/transcode.py [--minutes 10] [--ladder-minutes 2] [--chunk-seconds 60]
[--playable-only]`.
With DATABASE_URL and REDIS_URL set it uses those servers; without them, embedded ones. Its
database and files are removed at the end. Exit status 0 when every target is met, 1 otherwise.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import os
import resource
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from pathlib import Path

import structlog
from celery import Celery

from lms.config import PROJECT_ROOT, Settings
from lms.db.binding import tenant_session
from lms.db.engines import Database, create_database
from lms.db.migrate import migrate
from lms.db.scratch import scratch_database
from lms.identity.models import User
from lms.lib.jobs import build_celery, redirect_jobs
from lms.lib.storage import Storage, media_prefix, storage_from_url
from lms.media.models import AssetStatus, MediaAsset
from lms.media.services import ffmpeg
from lms.media.services.pipeline import process_asset, remove_outputs, set_asset, source_key
from lms.runtime.embedded import EmbeddedServices, start_embedded
from lms.tenancy.models import Plan
from lms.tenancy.services import Actor, TenantAdmin

LECTURE_MINUTES = 60
LADDER_TARGET_MINUTES = 10


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--minutes", type=float, default=10.0, help="length of the source made playable")
    parser.add_argument("--ladder-minutes", type=float, default=2.0, help="length of the source of the ladders")
    parser.add_argument("--height", type=int, default=1080, help="source height (16:9)")
    parser.add_argument("--fps", type=int, default=30)
    parser.add_argument("--playable-turns", type=int, default=6, help="bare copies and preparations, in turns")
    parser.add_argument("--playable-only", action="store_true", help="measure only upload complete -> playable")
    parser.add_argument("--chunk-seconds", type=int, default=60, help="MEDIA_CHUNK_SECONDS of the workers")
    return parser.parse_args(argv)


def generate_source(path: Path, minutes: float, height: int, fps: int) -> None:
    width = round(height * 16 / 9 / 2) * 2
    seconds = minutes * 60
    subprocess.run(
        [
            "ffmpeg", "-v", "error", "-y",
            "-f", "lavfi", "-i", f"testsrc2=size={width}x{height}:rate={fps}:duration={seconds}",
            "-f", "lavfi", "-i", f"sine=frequency=440:duration={seconds}",
            "-c:v", "libx264", "-preset", "ultrafast", "-crf", "20", "-pix_fmt", "yuv420p",
            "-c:a", "aac", "-shortest", str(path),
        ],
        check=True,
    )  # fmt: skip


def repeat_source(short: Path, path: Path, minutes: float) -> None:
    """A longer source made of the short one played again and again, by stream copy (seconds, not minutes)."""
    subprocess.run(
        ["ffmpeg", "-v", "error", "-y", "-stream_loop", "-1", "-i", str(short), "-c", "copy", "-t", f"{minutes * 60}",
         str(path)],
        check=True,
    )  # fmt: skip


def make_sources(scratch: Path, args: argparse.Namespace) -> tuple[Path, Path]:
    """(the source made playable, the source of the ladders)."""
    shorter = min(args.minutes, args.ladder_minutes)
    generated = scratch / "source.mp4"
    print(f"generating {shorter:g} min of {args.height}p{args.fps} ...", file=sys.stderr)
    generate_source(generated, shorter, args.height, args.fps)
    if args.minutes == args.ladder_minutes:
        return generated, generated
    longer = scratch / "source-long.mp4"
    repeat_source(generated, longer, max(args.minutes, args.ladder_minutes))
    return (longer, generated) if args.minutes > args.ladder_minutes else (generated, longer)


def load_average() -> str:
    return " ".join(f"{value:.2f}" for value in os.getloadavg())


def pinned(cores: set[int]) -> None:
    os.sched_setaffinity(0, cores)


def bare_copy(source: Path, info: ffmpeg.Probe, work: Path) -> float:
    """What an operator would run by hand to make the file streamable: HLS by stream copy."""
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    command = [part for part in ffmpeg.copy_command(source, work, info) if part not in ("-progress", "pipe:1")]
    os.sync()  # the writes of the step before are not this one's to flush
    started = time.perf_counter()
    subprocess.run(command, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return time.perf_counter() - started


def children_cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def tree_cpu_seconds(pid: int) -> float:
    """CPU seconds of a process and its descendants so far (ended children included once reaped)."""
    ticks = 0
    pending = [pid]
    while pending:
        current = pending.pop()
        try:
            fields = Path(f"/proc/{current}/stat").read_text().rsplit(")", 1)[1].split()
            for task in Path(f"/proc/{current}/task").iterdir():
                pending += [int(child) for child in (task / "children").read_text().split()]
        except OSError:
            continue
        ticks += sum(int(value) for value in fields[11:15])  # utime, stime, cutime, cstime
    return ticks / os.sysconf("SC_CLK_TCK")


def bare_ladder(source: Path, work: Path, core: int) -> tuple[float, float]:
    """Today's single-task ladder (one FFmpeg run, every rung), on one core: (wall, CPU seconds)."""
    info = asyncio.run(ffmpeg.probe(source))
    rungs = ffmpeg.ladder_for(info.height)
    for rung in rungs:
        (work / "hls" / rung.name).mkdir(parents=True, exist_ok=True)
    command = ffmpeg.ladder_command(source, work, info, rungs, with_sprite=False)
    command = [part for part in command if part not in ("-progress", "pipe:1")]
    started, cpu = time.perf_counter(), children_cpu_seconds()
    subprocess.run(
        command, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, preexec_fn=lambda: pinned({core})
    )
    return time.perf_counter() - started, children_cpu_seconds() - cpu


async def seed_asset(database: Database, settings: Settings, source: Path) -> tuple[uuid.UUID, uuid.UUID]:
    size = source.stat().st_size  # noqa: ASYNC240 - one stat before the timed part
    storage = storage_from_url(settings.storage_url, settings.data_dir)
    async with database.operator_sessions() as session, session.begin():
        admin = TenantAdmin(session, Actor(name="bench"), settings.public_base_domain)
        tenant = await admin.create(f"bench-{uuid.uuid4().hex[:6]}", "Bench", Plan.TEAM, 10, None)
    async with tenant_session(database.app_sessions, tenant.id) as session:
        user = User(tenant_id=tenant.id, email="instructor@bench.test", display_name="Bench", roles=["instructor"])
        session.add(user)
        await session.flush()
        asset = MediaAsset(
            tenant_id=tenant.id,
            title="Bench lecture",
            uploaded_by=user.id,
            source_filename=source.name,
            size_bytes=size,
            status=AssetStatus.QUEUED,
            details={},
        )
        session.add(asset)
    storage.put_file(source_key(tenant.id, asset.id), source, "video/mp4")
    return tenant.id, asset.id


async def load_asset(database: Database, tenant_id: uuid.UUID, asset_id: uuid.UUID) -> MediaAsset:
    async with tenant_session(database.app_sessions, tenant_id) as session:
        asset = await session.get(MediaAsset, asset_id)
        assert asset is not None
        return asset


@dataclass
class PlayableRun:
    copy: float
    playable: float
    steps: dict[str, float]


async def playable_runs(settings: Settings, source: Path, scratch: Path, repeats: int) -> list[PlayableRun]:
    """Bare copy and upload complete -> playable, in turns, on one uploaded asset prepared again each time.

    The chunk jobs the preparing job sends go to an in-memory broker: no worker encodes them.
    """
    info = await ffmpeg.probe(source)
    database = create_database(settings)
    storage = storage_from_url(settings.storage_url, settings.data_dir)
    redirect_jobs(Celery("bench", broker="memory://"))
    runs = []
    try:
        tenant_id, asset_id = await seed_asset(database, settings, source)
        for turn in range(repeats):
            # Which of the two goes first alternates, so neither always finds the other's writes.
            if turn % 2 == 0:
                copy = await asyncio.to_thread(bare_copy, source, info, scratch / "bare-copy")
            # As the upload left it: the outputs of the turn before go first.
            await asyncio.to_thread(remove_outputs, storage, tenant_id, asset_id)
            await set_asset(database, tenant_id, asset_id, status=AssetStatus.QUEUED, details={}, playable_at=None)
            await asyncio.to_thread(os.sync)
            with structlog.testing.capture_logs() as logs:
                started_wall = time.time()
                status = await process_asset(database, storage, settings, tenant_id, asset_id, final_attempt=True)
            if turn % 2 == 1:
                copy = await asyncio.to_thread(bare_copy, source, info, scratch / "bare-copy")
            asset = await load_asset(database, tenant_id, asset_id)
            if status != "processing" or asset.playable_at is None:
                raise RuntimeError(f"preparing ended {status}: {asset.failure_reason}")
            steps = next(entry.get("seconds", {}) for entry in logs if entry["event"] == "media playable (stream copy)")
            runs.append(PlayableRun(copy, asset.playable_at.timestamp() - started_wall, steps))
        return runs
    finally:
        redirect_jobs(None)
        shutil.rmtree(scratch / "bare-copy", ignore_errors=True)
        await database.dispose()


@dataclass
class ChunkTimes:
    """Summed over the chunk jobs, from their markers."""

    chunks: int
    encode: float
    store: float
    jobs: float


@dataclass
class Prepared:
    to_playable: float
    prepare_total: float
    ladder: float | None = None
    chunk_times: ChunkTimes | None = None
    worker_cpu: float | None = None


def chunk_times(storage: Storage, tenant_id: uuid.UUID, asset_id: uuid.UUID) -> ChunkTimes:
    markers = [
        json.loads(storage.get_bytes(key))["timing"]
        for key in storage.list_keys(media_prefix(tenant_id, asset_id) + "chunks/")
        if key.endswith(".json")
    ]
    return ChunkTimes(
        len(markers),
        sum(m["encode_seconds"] for m in markers),
        sum(m["store_seconds"] for m in markers),
        sum(m["seconds"] for m in markers),
    )


async def prepare_and_ladder(settings: Settings, source: Path, wait_for_ladder: bool) -> Prepared:
    """Upload complete -> playable (the preparing job), then, with workers running, -> ready."""
    database = create_database(settings)
    storage = storage_from_url(settings.storage_url, settings.data_dir)
    try:
        tenant_id, asset_id = await seed_asset(database, settings, source)
        started_wall, started = time.time(), time.perf_counter()
        status = await process_asset(database, storage, settings, tenant_id, asset_id, final_attempt=True)
        prepared = time.perf_counter()
        asset = await load_asset(database, tenant_id, asset_id)
        if status != "processing" or asset.playable_at is None:
            raise RuntimeError(f"preparing ended {status}: {asset.failure_reason}")
        result = Prepared(asset.playable_at.timestamp() - started_wall, prepared - started)
        if wait_for_ladder:
            while asset.status is AssetStatus.PROCESSING:
                await asyncio.sleep(0.5)
                asset = await load_asset(database, tenant_id, asset_id)
            if asset.status is not AssetStatus.READY:
                raise RuntimeError(f"ladder ended {asset.status.value}: {asset.failure_reason}")
            assert asset.ready_at is not None
            result.ladder = asset.ready_at.timestamp() - (started_wall + (prepared - started))
            result.chunk_times = chunk_times(storage, tenant_id, asset_id)
        return result
    finally:
        await database.dispose()


@contextmanager
def workers(settings: Settings, cores: list[int], logs: Path) -> Iterator[list[int]]:
    """Celery worker processes of concurrency 1, each pinned to its own core."""
    env = dict(os.environ)
    env.update(
        DATABASE_URL=settings.database_url or "",
        REDIS_URL=settings.redis_url or "",
        CELERY_QUEUE=settings.celery_queue,
        LMS_DATA_DIR=str(settings.data_dir),
        STORAGE_URL=settings.storage_url or "",
        DATABASE_ROLE_PASSWORD=settings.database_role_password,
        MEDIA_CHUNK_SECONDS=str(settings.media_chunk_seconds),
        LOG_FORMAT="console",
    )
    processes = []
    for core in cores:
        log = logs / f"worker-{core}-{uuid.uuid4().hex[:4]}.log"
        command = [sys.executable, "-m", "celery", "-A", "workers.app", "worker", "--queues", settings.celery_queue]
        command += ["--concurrency", "1", "--loglevel", "INFO", "--hostname", f"bench-{core}-{uuid.uuid4().hex[:4]}@%h"]
        with log.open("wb") as out:
            processes.append(
                (
                    subprocess.Popen(
                        command,
                        cwd=PROJECT_ROOT,
                        env=env,
                        stdout=out,
                        stderr=out,
                        start_new_session=True,
                        preexec_fn=lambda core=core: pinned({core}),  # type: ignore[misc]
                    ),
                    log,
                )
            )
    try:
        for process, log in processes:
            deadline = time.monotonic() + 90
            while " ready." not in log.read_text(errors="replace"):
                if process.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"worker did not start:\n{log.read_text()}")
                time.sleep(0.2)
        yield [process.pid for process, _ in processes]
    finally:
        for process, _ in processes:
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGTERM)
        for process, _ in processes:
            try:
                process.wait(30)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)


def chunked_ladder(run: Settings, source: Path, cores: list[int], logs: Path) -> Prepared:
    """The preparing job, then the chunk jobs on worker processes pinned to `cores`, until ready."""
    with workers(run, cores, logs) as pids:
        cpu = sum(tree_cpu_seconds(pid) for pid in pids)
        result = asyncio.run(prepare_and_ladder(run, source, wait_for_ladder=True))
        result.worker_cpu = sum(tree_cpu_seconds(pid) for pid in pids) - cpu
    return result


def breakdown(label: str, result: Prepared, worker_count: int) -> str:
    """Where the workers' wall time went: the encoder, storing segments, and the rest (delivery,
    database, progress, the join, a worker idle while the other finishes)."""
    times, wall = result.chunk_times, result.ladder
    assert times is not None
    assert wall is not None
    available = wall * worker_count
    rest = available - times.jobs
    return (
        f"  {label}: {times.chunks} chunk jobs; of {available:.1f} worker-seconds: encoder {times.encode:.1f}, "
        f"storing {times.store:.1f}, rest of the jobs {times.jobs - times.encode - times.store:.1f}, "
        f"outside the jobs {rest:.1f} ({100 * rest / available:.1f} %)"
    )


def report_playable(playables: list[PlayableRun], duration: float, loads: dict[str, str]) -> dict[str, bool]:
    copy = statistics.median(turn.copy for turn in playables)
    playable = statistics.median(turn.playable for turn in playables)
    ratio = playable / copy
    typical = min(playables, key=lambda turn: abs(turn.playable - playable))
    print(f"playable part: {duration / 60:.2f} min source, median of {len(playables)} turns "
          f"(load {loads['playable']})")  # fmt: skip
    print(f"bare ffmpeg -c copy HLS:              {copy:8.2f} s   ({', '.join(f'{t.copy:.2f}' for t in playables)})")
    print(f"upload complete -> playable:          {playable:8.2f} s   ratio {ratio:6.2f}   "
          f"({', '.join(f'{t.playable:.2f}' for t in playables)})")  # fmt: skip
    print(f"  steps of the median turn (s): {typical.steps}")
    return {"playable ratio <= 1.3": ratio <= 1.3, "playable < 30 s": playable < 30}


@dataclass
class LadderRuns:
    duration: float
    single: float
    single_cpu: float
    one: Prepared
    two: Prepared


def report_ladder(runs: LadderRuns, args: argparse.Namespace, loads: dict[str, str]) -> dict[str, bool]:
    one, two = runs.one, runs.two
    assert one.ladder is not None
    assert one.worker_cpu is not None
    assert two.ladder is not None
    assert two.worker_cpu is not None
    chunk_ratio = one.ladder / runs.single
    cpu_ratio = one.worker_cpu / runs.single_cpu
    speedup = one.ladder / two.ladder
    # Video seconds one core encodes per wall second, and how well a second core adds to it (at most
    # fully: a higher figure means the machine's other load fell between the runs).
    per_core = runs.duration / one.ladder
    efficiency = min(1.0, speedup / 2)
    lecture, target = LECTURE_MINUTES * 60, LADDER_TARGET_MINUTES * 60
    needed = lecture / (target * per_core * efficiency)
    # The same from the CPU seconds of the 2-worker run (chunking and joining included): cores that
    # run nothing else, whatever the machine's other load did to the wall times.
    needed_idle = lecture * (two.worker_cpu / runs.duration) / target
    print(f"ladder part: {runs.duration / 60:.2f} min source, chunks of {args.chunk_seconds} s")
    print(f"single-task ladder, 1 core:           {runs.single:8.1f} s          (load {loads['single']})")
    print(
        f"chunked ladder, 1 worker, 1 core:     {one.ladder:8.1f} s   ratio {chunk_ratio:6.2f}  (load {loads['one']})"
    )
    print(f"chunked ladder, 2 workers, 2 cores:   {two.ladder:8.1f} s   speedup {speedup:5.2f}  (load {loads['two']})")
    print(f"CPU seconds: single task {runs.single_cpu:.1f}, chunked 1 worker {one.worker_cpu:.1f} "
          f"(ratio {cpu_ratio:.2f}), chunked 2 workers {two.worker_cpu:.1f}")  # fmt: skip
    print(breakdown("1 worker", one, 1))
    print(breakdown("2 workers", two, 2))
    print(f"one core encodes {per_core * 60:.1f} s of video per minute here; a {LECTURE_MINUTES}-minute lecture's "
          f"ladder in <= {LADDER_TARGET_MINUTES} min needs ~{math.ceil(needed)} worker cores at this run's speed "
          f"({needed:.1f}), ~{math.ceil(needed_idle)} cores that run nothing else ({needed_idle:.1f}, from CPU "
          f"seconds)")  # fmt: skip
    return {"chunked 1 worker / single task <= 1.10": chunk_ratio <= 1.10, "speedup 2 workers >= 1.7": speedup >= 1.7}


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    if (os.cpu_count() or 1) < 2:
        print("needs at least 2 CPU cores", file=sys.stderr)
        return 1
    settings = Settings.from_env()
    services = EmbeddedServices()
    if not settings.database_url or not settings.redis_url:
        settings, services = start_embedded(settings)
    scratch = Path(tempfile.mkdtemp(prefix="lms-bench-transcode-"))
    loads: dict[str, str] = {"start": load_average()}
    ladder: LadderRuns | None = None
    try:
        long_source, ladder_source = make_sources(scratch, args)
        duration = asyncio.run(ffmpeg.probe(long_source)).duration
        ladder_duration = asyncio.run(ffmpeg.probe(ladder_source)).duration
        with scratch_database(settings, prefix="lms_bench") as db_settings:
            migrate(db_settings)
            run = replace(
                db_settings,
                data_dir=scratch / "data",
                storage_url=f"file://{scratch / 'storage'}",
                celery_queue=f"bench-{uuid.uuid4().hex[:8]}",
                media_chunk_seconds=args.chunk_seconds,
            )
            run.data_dir.mkdir(parents=True)

            print("bare ffmpeg -c copy HLS and upload complete -> playable, in turns ...", file=sys.stderr)
            playables = asyncio.run(playable_runs(run, long_source, scratch, args.playable_turns))
            loads["playable"] = load_average()
            for turn in playables:
                print(f"  copy {turn.copy:.2f} s, playable {turn.playable:.2f} s: {turn.steps}", file=sys.stderr)
            if long_source != ladder_source:
                long_source.unlink()
            if not args.playable_only:
                ladder = ladder_runs(run, ladder_source, ladder_duration, scratch, loads)
    finally:
        redirect_jobs(None)
        shutil.rmtree(scratch, ignore_errors=True)
        services.stop()
    print(f"{os.cpu_count()} CPU cores, {args.height}p{args.fps} sources; load at start {loads['start']}")
    checks = report_playable(playables, duration, loads)
    if ladder is not None:
        checks |= report_ladder(ladder, args, loads)
    for name, met in checks.items():
        print(f"  {name}: {'met' if met else 'MISSED'}")
    print(f"load at end {load_average()}")
    return 0 if all(checks.values()) else 1


def ladder_runs(run: Settings, source: Path, duration: float, scratch: Path, loads: dict[str, str]) -> LadderRuns:
    redirect_jobs(build_celery(run))
    print("single-task ladder on 1 core ...", file=sys.stderr)
    single, single_cpu = bare_ladder(source, scratch / "bare-ladder", core=0)
    loads["single"] = load_average()
    print(f"  single-task ladder {single:.1f} s (load {loads['single']})", file=sys.stderr)
    shutil.rmtree(scratch / "bare-ladder", ignore_errors=True)
    print("chunked ladder, 1 worker on 1 core ...", file=sys.stderr)
    one = chunked_ladder(run, source, [0], scratch)
    loads["one"] = load_average()
    print(f"  chunked, 1 worker {one.ladder:.1f} s (load {loads['one']})", file=sys.stderr)
    print("chunked ladder, 2 workers on 2 cores ...", file=sys.stderr)
    two = chunked_ladder(run, source, [0, 1], scratch)
    loads["two"] = load_average()
    return LadderRuns(duration, single, single_cpu, one, two)


if __name__ == "__main__":
    sys.exit(main())
