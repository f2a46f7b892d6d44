"""What the media pipeline costs on top of FFmpeg: upload-complete -> ready, versus the bare ladder.

A generated source (default: 10 minutes of 1080p30 with audio) is put into local storage as an
upload would leave it. Then, in the same run and on the same file:
  * baseline: the bare FFmpeg ladder command (1080p/720p/480p/360p HLS, same encoder settings);
  * pipeline: the worker's job body (`process_asset`): storage download, ffprobe validation,
    the ladder plus thumbnail sprite, poster, upload of every output, database updates.
It prints both wall times, their ratio (target <= 1.10), and minutes to "ready" per minute of video,
against the 15-minute availability target for a typical (60-minute) lecture.

Run: `.venv/bin/python bench/transcode.py [--minutes 10]`. With DATABASE_URL set it uses that
server; without it, an embedded PostgreSQL. Its database and files are removed at the end.
Exit status 0 when the ratio meets the target, 1 otherwise.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import resource
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from dataclasses import replace
from pathlib import Path

from lms.config import Settings
from lms.db.binding import tenant_session
from lms.db.engines import create_database
from lms.db.migrate import migrate
from lms.db.scratch import scratch_database
from lms.identity.models import User
from lms.lib.storage import storage_from_url
from lms.media.models import AssetStatus, MediaAsset
from lms.media.services import ffmpeg
from lms.media.services.pipeline import process_asset, source_key
from lms.runtime.embedded import EmbeddedServices, start_embedded
from lms.tenancy.models import Plan
from lms.tenancy.services import Actor, TenantAdmin

TYPICAL_LECTURE_MINUTES = 60
AVAILABILITY_TARGET_MINUTES = 15


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--minutes", type=float, default=10.0, help="length of the generated source")
    parser.add_argument("--height", type=int, default=1080, help="source height (16:9)")
    parser.add_argument("--fps", type=int, default=30)
    parser.add_argument("--target", type=float, default=1.10, help="largest acceptable pipeline/baseline ratio")
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


def cpu_seconds() -> float:
    """CPU time of this process and its finished children (FFmpeg): unlike wall time, it barely
    moves when other work shares the machine."""
    own = resource.getrusage(resource.RUSAGE_SELF)
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def bare_ladder(source: Path, work: Path) -> tuple[float, float]:
    """The FFmpeg ladder alone, as an operator would run it by hand."""
    info = asyncio.run(ffmpeg.probe(source))
    rungs = ffmpeg.ladder_for(info.height)
    for rung in rungs:
        (work / "hls" / rung.name).mkdir(parents=True, exist_ok=True)
    command = ffmpeg.ladder_command(source, work, info, rungs, with_sprite=False)
    command = [part for part in command if part not in ("-progress", "pipe:1")]
    started, cpu = time.perf_counter(), cpu_seconds()
    subprocess.run(command, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return time.perf_counter() - started, cpu_seconds() - cpu


async def pipeline(settings: Settings, source: Path, size: int) -> tuple[float, float, float]:
    """Seed a tenant and an uploaded asset, then time the job from 'upload complete' to 'ready'."""
    database = create_database(settings)
    storage = storage_from_url(settings.storage_url, settings.data_dir)
    try:
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
        started, cpu = time.perf_counter(), cpu_seconds()
        status = await process_asset(database, storage, settings, tenant.id, asset.id, final_attempt=True)
        elapsed, used = time.perf_counter() - started, cpu_seconds() - cpu
        async with tenant_session(database.app_sessions, tenant.id) as session:
            ready = await session.get(MediaAsset, asset.id)
            assert ready is not None
        if status != "ready":
            raise RuntimeError(f"pipeline ended {status}: {ready.failure_reason}")
        return elapsed, used, ready.duration_seconds or 0.0
    finally:
        await database.dispose()


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    # A stopped run still drops its database and files (the `finally` below).
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    settings = Settings.from_env()
    services = EmbeddedServices()
    if not settings.database_url:
        settings, services = start_embedded(settings)
    scratch = Path(tempfile.mkdtemp(prefix="lms-bench-transcode-"))
    try:
        source = scratch / "source.mp4"
        print(f"generating {args.minutes:g} min of {args.height}p{args.fps} ...", file=sys.stderr)
        generate_source(source, args.minutes, args.height, args.fps)
        with scratch_database(settings, prefix="lms_bench") as db_settings:
            migrate(db_settings)
            run_settings = replace(db_settings, data_dir=scratch / "data", storage_url=f"file://{scratch / 'storage'}")
            print("bare FFmpeg ladder ...", file=sys.stderr)
            baseline, baseline_cpu = bare_ladder(source, scratch / "bare")
            shutil.rmtree(scratch / "bare", ignore_errors=True)
            print("pipeline (upload complete -> ready) ...", file=sys.stderr)
            elapsed, pipeline_cpu, duration = asyncio.run(pipeline(run_settings, source, source.stat().st_size))
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
        services.stop()
    video_minutes = duration / 60
    ratio = elapsed / baseline
    per_minute = elapsed / 60 / video_minutes
    lecture = per_minute * TYPICAL_LECTURE_MINUTES
    print(f"source: {video_minutes:.2f} min of {args.height}p{args.fps}, {os.cpu_count()} CPU cores")
    print(f"bare ffmpeg ladder:          {baseline:8.1f} s wall, {baseline_cpu:8.1f} s CPU")
    print(f"pipeline complete -> ready:  {elapsed:8.1f} s wall, {pipeline_cpu:8.1f} s CPU")
    print(f"CPU ratio pipeline / bare:   {pipeline_cpu / baseline_cpu:8.3f}   (insensitive to other load)")
    verdict = "met" if ratio <= args.target else "MISSED"
    print(f"ratio pipeline / bare:       {ratio:8.3f}   (target <= {args.target:.2f}: {verdict})")
    print(f"minutes to ready per minute of video: {per_minute:.2f}")
    print(
        f"a {TYPICAL_LECTURE_MINUTES}-minute lecture is ready in ~{lecture:.0f} min on this machine "
        f"(availability target {AVAILABILITY_TARGET_MINUTES} min: "
        f"{'met' if lecture <= AVAILABILITY_TARGET_MINUTES else 'MISSED'})"
    )
    return 0 if ratio <= args.target else 1


if __name__ == "__main__":
    sys.exit(main())
