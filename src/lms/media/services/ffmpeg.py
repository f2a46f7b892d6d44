"""FFmpeg/ffprobe: source validation, the HLS ladder command, poster and thumbnail sprite index."""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import json
import math
import shutil
import signal
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path

from lms.lib.faults import DiskFull

SEGMENT_SECONDS = 6
THUMB_WIDTH = 160
SPRITE_COLUMNS = 10
SPRITE_ROWS = 10
AUDIO_BITRATE = 128_000
# Image "containers" ffprobe happily opens as a one-frame video.
_IMAGE_FORMATS = {"image2", "png_pipe", "jpeg_pipe", "gif", "webp_pipe", "bmp_pipe", "tiff_pipe", "svg_pipe"}


class InvalidMedia(Exception):
    """The source is not a playable video; the message is shown to the uploader."""


@dataclass(frozen=True)
class Probe:
    duration: float
    width: int
    height: int
    has_audio: bool
    format_name: str
    video_codec: str
    video_profile: str = ""
    video_level: int = 0
    pix_fmt: str = ""
    audio_codec: str = ""
    # Video frames the container's header announces (0 when it does not say).
    video_frames: int = 0


@dataclass(frozen=True)
class Rung:
    name: str
    height: int
    video_bitrate: int

    def width_for(self, source_width: int, source_height: int) -> int:
        return max(2, round(source_width * self.height / source_height / 2) * 2)


LADDER = (
    Rung("1080p", 1080, 5_000_000),
    Rung("720p", 720, 2_800_000),
    Rung("480p", 480, 1_400_000),
    Rung("360p", 360, 800_000),
)


def ladder_for(source_height: int) -> list[Rung]:
    """The rungs at or below the source height (never upscale); a tiny source gets one rung of its own."""
    rungs = [r for r in LADDER if r.height <= source_height]
    if not rungs:
        height = max(2, source_height - source_height % 2)
        rungs = [Rung(f"{height}p", height, 500_000)]
    return rungs


def _die_with_parent() -> None:
    # A killed worker must not leave an orphaned encoder burning CPU: PR_SET_PDEATHSIG = 1.
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGKILL)


async def probe(path: Path, *, count_packets: bool = True) -> Probe:
    """Read the container with ffprobe (demuxing every packet, so a truncated file is caught;
    `count_packets=False` reads the headers only)."""
    process = await asyncio.create_subprocess_exec(
        "ffprobe",
        "-v",
        "error",
        *(["-count_packets"] if count_packets else []),
        "-print_format",
        "json",
        "-show_format",
        "-show_streams",
        str(path),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        preexec_fn=_die_with_parent,
    )
    out, err = await process.communicate()
    errors = err.decode(errors="replace").strip()
    if process.returncode != 0:
        raise InvalidMedia(f"not a readable media file ({_first_line(errors) or 'ffprobe failed'})")
    info = json.loads(out or b"{}")
    fmt = info.get("format", {})
    format_name = str(fmt.get("format_name", ""))
    if not format_name or format_name in _IMAGE_FORMATS:
        raise InvalidMedia(f"not a video container (detected {format_name or 'nothing'})")
    videos = [
        s
        for s in info.get("streams", [])
        if s.get("codec_type") == "video" and not s.get("disposition", {}).get("attached_pic")
    ]
    if not videos:
        raise InvalidMedia("the file has no video stream")
    video = videos[0]
    width, height = int(video.get("width") or 0), int(video.get("height") or 0)
    if width <= 0 or height <= 0:
        raise InvalidMedia("the video stream has no resolution")
    duration = float(fmt.get("duration") or video.get("duration") or 0)
    if not math.isfinite(duration) or duration <= 0:
        raise InvalidMedia("the video has no duration")
    frames = int(video.get("nb_frames") or 0)
    check_complete(errors, frames, int(video.get("nb_read_packets") or 0))
    audios = [s for s in info.get("streams", []) if s.get("codec_type") == "audio"]
    return Probe(
        duration,
        width,
        height,
        bool(audios),
        format_name,
        str(video.get("codec_name", "")),
        video_profile=str(video.get("profile", "")),
        video_level=int(video.get("level") or 0),
        pix_fmt=str(video.get("pix_fmt", "")),
        audio_codec=str(audios[0].get("codec_name", "")) if audios else "",
        video_frames=frames,
    )


def check_complete(errors: str, frames: int, read: int) -> None:
    """Whether reading every packet went through: no demuxer damage reported in `errors`, and the
    video packets `read` are (nearly) the `frames` the header announces (0: unknown, not checked)."""
    if "partial file" in errors or "Invalid data" in errors or "truncated" in errors.lower():
        raise InvalidMedia(f"the file is truncated or damaged ({_first_line(errors)})")
    if frames and read and read < frames * 0.98:
        raise InvalidMedia(f"the file is truncated: {read} of {frames} video frames present")


# H.264 profiles every browser decodes (8-bit 4:2:0), and their RFC 6381 profile bytes.
_AVC_PROFILES = {"Constrained Baseline": "42E0", "Baseline": "4200", "Main": "4D40", "High": "6400"}


def copyable(info: Probe) -> bool:
    """Browser-playable video that HLS can carry without re-encoding (audio may still need AAC)."""
    return (
        info.video_codec == "h264" and info.video_profile in _AVC_PROFILES and info.pix_fmt in ("yuv420p", "yuvj420p")
    )


def source_codecs(info: Probe) -> str:
    """The CODECS attribute of a stream-copied rendition (the audio is AAC-LC either way)."""
    video = f"avc1.{_AVC_PROFILES.get(info.video_profile, '6400')}{max(10, min(info.video_level, 62)):02X}".lower()
    return f"{video},mp4a.40.2" if info.has_audio else video


def copy_command(source: Path, out_dir: Path, info: Probe) -> list[str]:
    """HLS without re-encoding the video: segments are cut on the source's own keyframes.

    AAC audio is copied too; any other audio is re-encoded to AAC (cheap next to video).
    """
    command = ["ffmpeg", "-hide_banner", "-nostdin", "-y", "-v", "error", "-nostats", "-progress", "pipe:1"]
    command += ["-i", str(source), "-map", "0:v:0", "-c:v", "copy"]
    if info.has_audio:
        command += ["-map", "0:a:0"]
        if info.audio_codec == "aac":
            command += ["-c:a", "copy"]
        else:
            command += ["-c:a", "aac", "-b:a", str(AUDIO_BITRATE), "-ac", "2", "-ar", "48000"]
    return command + _hls_output(out_dir, "seg_%05d.ts", "index.m3u8")


async def copy_validated(source: Path, out_dir: Path, info: Probe, time_limit: float) -> None:
    """The stream copy (`copy_command`), which reads every packet of the source anyway, doubling as
    the source's full validation (what `probe` checks by demuxing every packet): a truncated or
    damaged file raises InvalidMedia, and no second reading of the whole file delays playback."""
    finished = await run_quietly(copy_command(source, out_dir, info), time_limit, check=False)
    _raise_if_disk_full(finished.stderr)  # a write that failed is not damage in the source
    check_complete(finished.stderr, info.video_frames, int(finished.progress.get("frame") or 0))
    if finished.returncode != 0:
        raise RuntimeError(f"ffmpeg exited with {finished.returncode}: {finished.stderr[-600:]}")


def _hls_output(out_dir: Path, segment_pattern: str, playlist: str) -> list[str]:
    return [
        "-f",
        "hls",
        "-hls_time",
        str(SEGMENT_SECONDS),
        "-hls_playlist_type",
        "vod",
        "-hls_segment_type",
        "mpegts",
        "-hls_segment_filename",
        str(out_dir / segment_pattern),
        str(out_dir / playlist),
    ]


# Every chunk's timestamps start this far after the chunk's place in the video. A positive base
# keeps the first chunk's B-frame and AAC-priming timestamps above zero, where the muxer would
# otherwise shift that chunk alone and break continuity with the next.
CHUNK_TIMESTAMP_BASE = 1.0


def chunk_command(
    source: Path, out_dir: Path, info: Probe, rungs: list[Rung], index: int, start: float, duration: float
) -> list[str]:
    """Encode one time chunk of the source into every given rung, as HLS segments whose names and
    timestamps are those of the whole video (`seg_<chunk>_<n>.ts`, offset by the chunk's start).

    Run it with `out_dir` as the working directory (`run_quietly(..., cwd=out_dir)`): the outputs are
    named relative to it. Chunks start on the 6-second keyframe grid and keyframes are forced on the
    same grid in every rung, so joined playlists cut at the same instants in every rendition. The
    source is decoded once and its audio encoded once: a tee output hands the one AAC stream to
    every rung's HLS muxer (an output per rung would encode the same audio once per rung).
    """
    command = ["ffmpeg", "-hide_banner", "-nostdin", "-y", "-nostats", "-progress", "pipe:1"]
    command += ["-ss", f"{start:.3f}", "-t", f"{duration:.3f}", "-i", str(source)]
    labels = "".join(f"[s{i}]" for i in range(len(rungs)))
    graph = [f"[0:v]split={len(rungs)}{labels}"] if len(rungs) > 1 else []
    for i, rung in enumerate(rungs):
        head = f"[s{i}]" if len(rungs) > 1 else "[0:v]"
        graph.append(f"{head}scale={rung.width_for(info.width, info.height)}:{rung.height}:flags=bicubic[v{i}]")
    command += ["-filter_complex", ";".join(graph)]
    for i, rung in enumerate(rungs):
        bitrate = rung.video_bitrate
        command += ["-map", f"[v{i}]", f"-b:v:{i}", str(bitrate), f"-maxrate:v:{i}", str(int(bitrate * 1.07))]
        command += [f"-bufsize:v:{i}", str(bitrate * 2)]
    command += ["-c:v", "libx264", "-preset", "veryfast", "-profile:v", "high", "-pix_fmt", "yuv420p"]
    command += ["-force_key_frames", f"expr:gte(t,n_forced*{SEGMENT_SECONDS})", "-sc_threshold", "0"]
    if info.has_audio:
        command += ["-map", "0:a:0", "-c:a", "aac", "-b:a", str(AUDIO_BITRATE), "-ac", "2", "-ar", "48000"]
    command += ["-output_ts_offset", f"{start + CHUNK_TIMESTAMP_BASE:.3f}"]
    slaves = []
    for i, rung in enumerate(rungs):
        (out_dir / rung.name).mkdir(parents=True, exist_ok=True)
        streams = f"v:{i},a" if info.has_audio else f"v:{i}"
        options = f"select=\\'{streams}\\':f=hls:hls_time={SEGMENT_SECONDS}:hls_playlist_type=vod"
        options += f":hls_segment_type=mpegts:hls_segment_filename={rung.name}/seg_{index:04d}_%03d.ts"
        slaves.append(f"[{options}]{rung.name}/chunk_{index:04d}.m3u8")
    return [*command, "-f", "tee", "|".join(slaves)]


def keyframe_sprite_command(source: Path, out_dir: Path, info: Probe) -> list[str]:
    """The scrubbing sprite from keyframes only (decoding a fraction of the frames: seconds, not minutes)."""
    interval = sprite_interval(info.duration)
    (out_dir / "thumbs").mkdir(parents=True, exist_ok=True)
    return [
        "ffmpeg", "-hide_banner", "-nostdin", "-y", "-v", "error", "-skip_frame", "nokey", "-i", str(source),
        "-an", "-vf", f"fps=1/{interval},scale={THUMB_WIDTH}:{thumb_height(info)},tile={SPRITE_COLUMNS}x{SPRITE_ROWS}",
        "-q:v", "4", "-start_number", "0", "-vsync", "vfr", str(out_dir / "thumbs" / "sprite_%03d.jpg"),
    ]  # fmt: skip


async def run_quietly(
    command: list[str], time_limit: float, *, cwd: Path | None = None, check: bool = True
) -> Finished:
    """Run a short FFmpeg command (no progress to follow); killed past `time_limit` seconds."""

    async def ignore(_: int) -> None:
        return None

    return await run_with_progress(command, 1.0, ignore, time_limit, cwd=cwd, check=check)


def _raise_if_disk_full(stderr: str) -> None:
    """FFmpeg reports a full disk only in its output; it is not a crash worth retrying."""
    if "No space left on device" in stderr:
        raise DiskFull("no space left on the transcoding disk")


def _first_line(text: str) -> str:
    return text.splitlines()[-1][:200] if text else ""


def sprite_interval(duration: float) -> int:
    """Seconds between scrubbing thumbnails: about 100 per video, one per 1-10 seconds."""
    return int(min(10, max(1, math.ceil(duration / 100))))


def thumb_height(source: Probe) -> int:
    return max(2, round(THUMB_WIDTH * source.height / source.width / 2) * 2)


def ladder_command(
    source: Path, out_dir: Path, info: Probe, rungs: list[Rung], *, with_sprite: bool = True, threads: int = 0
) -> list[str]:
    """One FFmpeg run: decode once, scale to every rung, H.264 + AAC HLS with aligned 6 s keyframes.

    Keyframes are forced at the same timestamps in every rung (and scene-cut keyframes are off),
    so segment boundaries line up across renditions and players can switch at any segment.
    """
    splits = len(rungs) + (1 if with_sprite else 0)
    labels = [f"[s{i}]" for i in range(splits)]
    graph = [f"[0:v]split={splits}{''.join(labels)}"]
    for i, rung in enumerate(rungs):
        graph.append(f"[s{i}]scale={rung.width_for(info.width, info.height)}:{rung.height}:flags=bicubic[v{i}]")
    if with_sprite:
        interval = sprite_interval(info.duration)
        graph.append(
            f"[s{len(rungs)}]fps=1/{interval},scale={THUMB_WIDTH}:{thumb_height(info)},"
            f"tile={SPRITE_COLUMNS}x{SPRITE_ROWS}[sprite]"
        )
    command = ["ffmpeg", "-hide_banner", "-nostdin", "-y", "-nostats", "-progress", "pipe:1", "-i", str(source)]
    command += ["-filter_complex", ";".join(graph)]
    stream_map = []
    for i, rung in enumerate(rungs):
        command += ["-map", f"[v{i}]"]
        if info.has_audio:
            command += ["-map", "0:a:0"]
        bitrate = rung.video_bitrate
        command += [f"-b:v:{i}", str(bitrate), f"-maxrate:v:{i}", str(int(bitrate * 1.07))]
        command += [f"-bufsize:v:{i}", str(bitrate * 2)]
        stream_map.append(f"v:{i},a:{i},name:{rung.name}" if info.has_audio else f"v:{i},name:{rung.name}")
    command += ["-c:v", "libx264", "-preset", "veryfast", "-profile:v", "high", "-pix_fmt", "yuv420p"]
    command += ["-force_key_frames", f"expr:gte(t,n_forced*{SEGMENT_SECONDS})", "-sc_threshold", "0"]
    if threads:
        command += ["-threads", str(threads)]
    if info.has_audio:
        command += ["-c:a", "aac", "-b:a", str(AUDIO_BITRATE), "-ac", "2", "-ar", "48000"]
    command += [
        "-f",
        "hls",
        "-hls_time",
        str(SEGMENT_SECONDS),
        "-hls_playlist_type",
        "vod",
        "-hls_flags",
        "independent_segments",
        "-hls_segment_type",
        "mpegts",
        "-hls_segment_filename",
        str(out_dir / "hls" / "%v" / "seg_%05d.ts"),
        "-var_stream_map",
        " ".join(stream_map),
        str(out_dir / "hls" / "%v" / "index.m3u8"),
    ]
    if with_sprite:
        (out_dir / "thumbs").mkdir(parents=True, exist_ok=True)
        command += ["-map", "[sprite]", "-q:v", "4", "-start_number", "0"]
        command += ["-f", "image2", str(out_dir / "thumbs" / "sprite_%03d.jpg")]
    return command


class TimeLimitExceeded(Exception):
    pass


@dataclass(frozen=True)
class Finished:
    """How an FFmpeg run ended: exit status, what it wrote to stderr, the last `-progress` values."""

    returncode: int
    stderr: str
    progress: dict[str, str]


async def run_with_progress(
    command: list[str],
    duration: float,
    on_progress: Callable[[int], Awaitable[None]],
    time_limit: float,
    *,
    cwd: Path | None = None,
    check: bool = True,
) -> Finished:
    """Run FFmpeg, reporting percent done from `-progress` output; killed past `time_limit` seconds.

    A failed run raises, unless `check` is false: then the caller reads the outcome."""
    process = await asyncio.create_subprocess_exec(
        *command,
        cwd=cwd,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        preexec_fn=_die_with_parent,
    )
    assert process.stdout is not None
    assert process.stderr is not None
    stderr_task = asyncio.create_task(process.stderr.read())

    progress: dict[str, str] = {}

    async def follow() -> None:
        assert process.stdout is not None
        last = -1
        async for raw in process.stdout:
            key, _, value = raw.decode(errors="replace").strip().partition("=")
            progress[key] = value
            if key == "out_time_us" and value.lstrip("-").isdigit():
                percent = max(0, min(99, int(int(value) / 1e6 / duration * 100)))
                if percent > last:
                    last = percent
                    await on_progress(percent)
        await process.wait()

    try:
        await asyncio.wait_for(follow(), timeout=time_limit)
    except TimeoutError as exc:
        process.kill()
        await process.wait()
        raise TimeLimitExceeded(f"transcoding exceeded its time limit of {int(time_limit)} s") from exc
    err = (await stderr_task).decode(errors="replace")
    returncode = process.returncode or 0
    if check and returncode != 0:
        _raise_if_disk_full(err)
        raise RuntimeError(f"ffmpeg exited with {returncode}: {err[-600:]}")
    return Finished(returncode, err, progress)


async def extract_poster(source: Path, target: Path, info: Probe) -> None:
    """A poster frame a little into the video (input seeking: fast even on long sources)."""
    at = min(info.duration * 0.1, 5.0)
    height = min(720, info.height - info.height % 2)
    process = await asyncio.create_subprocess_exec(
        "ffmpeg",
        "-hide_banner",
        "-nostdin",
        "-y",
        "-v",
        "error",
        "-ss",
        f"{at:.2f}",
        "-i",
        str(source),
        "-frames:v",
        "1",
        "-vf",
        f"scale=-2:{height}",
        "-q:v",
        "3",
        str(target),
        stderr=asyncio.subprocess.PIPE,
        preexec_fn=_die_with_parent,
    )
    _, err = await process.communicate()
    if process.returncode != 0 or not await asyncio.to_thread(target.exists):
        _raise_if_disk_full(err.decode(errors="replace"))
        raise RuntimeError(f"poster extraction failed: {err.decode(errors='replace')[-300:]}")


def sprite_index(info: Probe, sheet_url: Callable[[int], str]) -> str:
    """WebVTT mapping each time range to its thumbnail's rectangle in the sprite sheets."""
    interval = sprite_interval(info.duration)
    height = thumb_height(info)
    per_sheet = SPRITE_COLUMNS * SPRITE_ROWS
    lines = ["WEBVTT", ""]
    count = max(1, math.ceil(info.duration / interval))
    for i in range(count):
        start, end = i * interval, min((i + 1) * interval, info.duration)
        sheet, slot = divmod(i, per_sheet)
        x, y = (slot % SPRITE_COLUMNS) * THUMB_WIDTH, (slot // SPRITE_COLUMNS) * height
        lines += [f"{_vtt_time(start)} --> {_vtt_time(end)}", f"{sheet_url(sheet)}#xywh={x},{y},{THUMB_WIDTH},{height}"]
        lines.append("")
    return "\n".join(lines)


def _vtt_time(seconds: float) -> str:
    millis = round(seconds * 1000)
    hours, rest = divmod(millis, 3_600_000)
    minutes, rest = divmod(rest, 60_000)
    secs, ms = divmod(rest, 1000)
    return f"{hours:02d}:{minutes:02d}:{secs:02d}.{ms:03d}"


TS_PACKET = 188
LOW_DISK_BYTES = 8 * 1024 * 1024


def verify_hls(playlist: Path, expected_seconds: float, tolerance: float = 0.5) -> list[tuple[float, str, int]]:
    """Check what FFmpeg's HLS muxer wrote before anything points at it: it exits 0 even when a
    write failed (a full disk leaves truncated segments and an empty playlist, with no error).

    Returns (duration, segment name, bytes) per segment. A short or damaged output on a nearly
    full disk is DiskFull; otherwise a RuntimeError (retried).
    """
    entries: list[tuple[float, str, int]] = []
    problem = None
    try:
        pending: float | None = None
        for line in playlist.read_text().splitlines():
            if line.startswith("#EXTINF:"):
                pending = float(line[8:].split(",")[0])
            elif line and not line.startswith("#") and pending is not None:
                size = (playlist.parent / line).stat().st_size
                if size == 0 or size % TS_PACKET:
                    problem = f"segment {line} is truncated ({size} bytes)"
                entries.append((pending, line, size))
                pending = None
    except OSError as exc:
        problem = f"{type(exc).__name__}: {exc}"
    total = sum(seconds for seconds, _, _ in entries)
    if problem is None and (not entries or abs(total - expected_seconds) > tolerance):
        problem = f"{total:.2f} s of segments where {expected_seconds:.2f} s were expected"
    if problem is None:
        return entries
    if shutil.disk_usage(playlist.parent).free < LOW_DISK_BYTES:
        raise DiskFull("no space left on the transcoding disk")
    raise RuntimeError(f"the encoder wrote an incomplete HLS output: {problem}")


@dataclass(frozen=True)
class PlaylistStats:
    duration: float
    bandwidth: int
    average_bandwidth: int


def playlist_stats(playlist: Path) -> PlaylistStats:
    """Peak and average bits per second of a media playlist, from its segments' real sizes."""
    duration_total, bytes_total, peak = 0.0, 0, 0
    pending: float | None = None
    for line in playlist.read_text().splitlines():
        if line.startswith("#EXTINF:"):
            pending = float(line[8:].split(",")[0])
        elif line and not line.startswith("#") and pending is not None:
            size = (playlist.parent / line).stat().st_size
            duration_total += pending
            bytes_total += size
            if pending > 0.5:
                peak = max(peak, int(size * 8 / pending))
            pending = None
    average = int(bytes_total * 8 / duration_total) if duration_total else 0
    return PlaylistStats(duration_total, max(peak, average), average)
