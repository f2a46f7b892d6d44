"""Video availability: upload-complete -> playable, and the chunked ladder's scaling with workers.

A generated source (default: 10 minutes of 1080p30 H.264 with AAC audio) is put into local storage
as an upload would leave it. Then, in the same run and on the same file:
  1. playable: the preparing job (`process_asset`: storage download, ffprobe, poster, HLS stream
     copy, rendition row) until the asset is marked playable, against a bare `ffmpeg -c copy` HLS
     packaging of the same file (targets: ratio <= 1.3, and playable in < 30 s);
  2. ladder, today's single task: the one-run FFmpeg ladder (every rung, one decode), pinned to one core;
  3. ladder, chunked, 1 worker: real Celery worker process (concurrency 1) pinned to one core,
     encoding every `media.encode_chunk` job and joining; target ratio to (2) <= 1.10;
  4. ladder, chunked, 2 workers: two such worker processes, each pinned to its own core; target
     speedup over (3) >= 1.7.
From (3) and (4) it states how many worker cores a 60-minute lecture's ladder needs to be done in
10 minutes. Wall times depend on what else the machine runs: the load average is printed with them.

Run: `.venv/bin/python bench/transcode.py [--minutes 10] [--chunk-seconds 60]`. With DATABASE_URL and
REDIS_URL set it uses those servers; without them, embedded ones. Its database and files are
removed at the end. Exit status 0 when every target is met, 1 otherwise.
"""

from __future__ import annotations

import argparse
import asyncio
import math
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from pathlib import Path

from lms.config import PROJECT_ROOT, Settings
from lms.db.binding import tenant_session
from lms.db.engines import Database, create_database
from lms.db.migrate import migrate
from lms.db.scratch import scratch_database
from lms.identity.models import User
from lms.lib.jobs import build_celery, redirect_jobs
from lms.lib.storage import storage_from_url
from lms.media.models import AssetStatus, MediaAsset
from lms.media.services import ffmpeg
from lms.media.services.pipeline import process_asset, source_key
from lms.runtime.embedded import EmbeddedServices, start_embedded
from lms.tenancy.models import Plan
from lms.tenancy.services import Actor, TenantAdmin

LECTURE_MINUTES = 60
LADDER_TARGET_MINUTES = 10


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--minutes", type=float, default=10.0, help="length of the generated source")
    parser.add_argument("--height", type=int, default=1080, help="source height (16:9)")
    parser.add_argument("--fps", type=int, default=30)
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


def load_average() -> str:
    return " ".join(f"{value:.2f}" for value in os.getloadavg())


def pinned(cores: set[int]) -> None:
    os.sched_setaffinity(0, cores)


def bare_copy(source: Path, work: Path) -> float:
    """What an operator would run by hand to make the file streamable: HLS by stream copy."""
    info = asyncio.run(ffmpeg.probe(source))
    work.mkdir(parents=True, exist_ok=True)
    command = [part for part in ffmpeg.copy_command(source, work, info) if part not in ("-progress", "pipe:1")]
    started = time.perf_counter()
    subprocess.run(command, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return time.perf_counter() - started


def bare_ladder(source: Path, work: Path, core: int) -> float:
    """Today's single-task ladder (one FFmpeg run, every rung), on one core."""
    info = asyncio.run(ffmpeg.probe(source))
    rungs = ffmpeg.ladder_for(info.height)
    for rung in rungs:
        (work / "hls" / rung.name).mkdir(parents=True, exist_ok=True)
    command = ffmpeg.ladder_command(source, work, info, rungs, with_sprite=False)
    command = [part for part in command if part not in ("-progress", "pipe:1")]
    started = time.perf_counter()
    subprocess.run(
        command, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, preexec_fn=lambda: pinned({core})
    )
    return time.perf_counter() - started


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
class Prepared:
    to_playable: float
    prepare_total: float
    ladder: float | None = None


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
        return result
    finally:
        await database.dispose()


@contextmanager
def workers(settings: Settings, cores: list[int], logs: Path) -> Iterator[None]:
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
        yield
    finally:
        for process, _ in processes:
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGTERM)
        for process, _ in processes:
            try:
                process.wait(30)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)


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
    loads: dict[str, str] = {}
    try:
        source = scratch / "source.mp4"
        print(f"generating {args.minutes:g} min of {args.height}p{args.fps} ...", file=sys.stderr)
        generate_source(source, args.minutes, args.height, args.fps)
        duration = asyncio.run(ffmpeg.probe(source)).duration
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
            redirect_jobs(build_celery(run))

            print("bare ffmpeg -c copy HLS ...", file=sys.stderr)
            copy_wall = bare_copy(source, scratch / "bare-copy")
            print("upload complete -> playable ...", file=sys.stderr)
            playable = asyncio.run(prepare_and_ladder(run, source, wait_for_ladder=False))
            loads["playable"] = load_average()
            print(f"  copy {copy_wall:.1f} s, playable {playable.to_playable:.1f} s", file=sys.stderr)

            print("single-task ladder on 1 core ...", file=sys.stderr)
            single = bare_ladder(source, scratch / "bare-ladder", core=0)
            loads["single"] = load_average()
            print(f"  single-task ladder {single:.1f} s (load {loads['single']})", file=sys.stderr)
            shutil.rmtree(scratch / "bare-ladder", ignore_errors=True)

            print("chunked ladder, 1 worker on 1 core ...", file=sys.stderr)
            with workers(run, [0], scratch):
                one = asyncio.run(prepare_and_ladder(run, source, wait_for_ladder=True))
            loads["one"] = load_average()
            print(f"  chunked, 1 worker {one.ladder:.1f} s (load {loads['one']})", file=sys.stderr)
            print("chunked ladder, 2 workers on 2 cores ...", file=sys.stderr)
            with workers(run, [0, 1], scratch):
                two = asyncio.run(prepare_and_ladder(run, source, wait_for_ladder=True))
            loads["two"] = load_average()
    finally:
        redirect_jobs(None)
        shutil.rmtree(scratch, ignore_errors=True)
        services.stop()
    assert one.ladder is not None
    assert two.ladder is not None
    minutes = duration / 60
    playable_ratio = playable.to_playable / copy_wall
    chunk_ratio = one.ladder / single
    speedup = one.ladder / two.ladder
    # Video seconds one core encodes per wall second, and how well a second core adds to it (at most
    # fully: a higher figure means the machine's other load fell between the runs).
    per_core = duration / one.ladder
    efficiency = min(1.0, speedup / 2)
    needed = LECTURE_MINUTES * 60 / (LADDER_TARGET_MINUTES * 60 * per_core * efficiency)
    checks = {
        "playable ratio <= 1.3": playable_ratio <= 1.3,
        "playable < 30 s": playable.to_playable < 30,
        "chunked 1 worker / single task <= 1.10": chunk_ratio <= 1.10,
        "speedup 2 workers >= 1.7": speedup >= 1.7,
    }
    print(f"source: {minutes:.2f} min of {args.height}p{args.fps}, chunks of {args.chunk_seconds} s, "
          f"{os.cpu_count()} CPU cores")  # fmt: skip
    print(f"bare ffmpeg -c copy HLS:              {copy_wall:8.1f} s          (load {loads['playable']})")
    print(f"upload complete -> playable:          {playable.to_playable:8.1f} s   ratio {playable_ratio:6.2f}")
    print(f"  (whole preparing job, sprite and plan included: {playable.prepare_total:.1f} s)")
    print(f"single-task ladder, 1 core:           {single:8.1f} s          (load {loads['single']})")
    print(
        f"chunked ladder, 1 worker, 1 core:     {one.ladder:8.1f} s   ratio {chunk_ratio:6.2f}  (load {loads['one']})"
    )
    print(f"chunked ladder, 2 workers, 2 cores:   {two.ladder:8.1f} s   speedup {speedup:5.2f}  (load {loads['two']})")
    print(f"one core encodes {per_core * 60:.1f} s of video per minute; a {LECTURE_MINUTES}-minute lecture's ladder "
          f"in <= {LADDER_TARGET_MINUTES} min needs ~{math.ceil(needed)} worker cores "
          f"({needed:.1f} at the measured scaling)")  # fmt: skip
    for name, met in checks.items():
        print(f"  {name}: {'met' if met else 'MISSED'}")
    return 0 if all(checks.values()) else 1


if __name__ == "__main__":
    sys.exit(main())
