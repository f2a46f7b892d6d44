"""Transcripts: a caption track's cues as rows a learner reads beside the player and search matches.

Captions are uploaded as WebVTT; each cue becomes one row (`media_transcript_cues`) with its text
stripped of markup and a generated `tsvector`, replaced whenever the track is.
"""

from __future__ import annotations

import html
import re
from dataclasses import dataclass
from uuid import UUID

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from lms.media.models import TranscriptCue

_TIMING = re.compile(r"^\s*((?:\d+:)?\d{1,2}:\d{2}\.\d{3})\s+-->\s+((?:\d+:)?\d{1,2}:\d{2}\.\d{3})")
_TAG = re.compile(r"<[^>]*>")
MAX_CUE_CHARS = 2000


@dataclass(frozen=True)
class Cue:
    start: float
    end: float
    text: str


def vtt_seconds(stamp: str) -> float:
    parts = stamp.split(":")
    seconds = float(parts[-1])
    minutes = int(parts[-2])
    hours = int(parts[-3]) if len(parts) == 3 else 0
    return hours * 3600 + minutes * 60 + seconds


def parse_webvtt(text: str) -> list[Cue]:
    """The cues of a WebVTT file, in order, as plain text (voice, class and timestamp tags removed;
    NOTE, STYLE and REGION blocks skipped)."""
    cues = []
    for block in re.split(r"\r?\n\s*\r?\n", text.replace("\r\n", "\n")):
        lines = block.strip("\n").split("\n")
        timing_at = next((i for i, line in enumerate(lines) if "-->" in line), None)
        if timing_at is None:
            continue
        match = _TIMING.match(lines[timing_at])
        if match is None:
            continue
        body = " ".join(html.unescape(_TAG.sub("", line)).strip() for line in lines[timing_at + 1 :])
        body = " ".join(body.split())[:MAX_CUE_CHARS]
        if body:
            cues.append(Cue(vtt_seconds(match.group(1)), vtt_seconds(match.group(2)), body))
    return cues


async def replace_transcript(session: AsyncSession, tenant_id: UUID, asset_id: UUID, language: str, vtt: str) -> int:
    """Make the asset's transcript in `language` the cues of this caption file; returns the count."""
    await delete_transcript(session, asset_id, language)
    cues = parse_webvtt(vtt)
    session.add_all(
        TranscriptCue(
            tenant_id=tenant_id,
            asset_id=asset_id,
            language=language,
            position=position,
            start_seconds=cue.start,
            end_seconds=cue.end,
            text=cue.text,
        )
        for position, cue in enumerate(cues)
    )
    await session.flush()
    return len(cues)


async def delete_transcript(session: AsyncSession, asset_id: UUID, language: str) -> None:
    await session.execute(
        delete(TranscriptCue).where(TranscriptCue.asset_id == asset_id, TranscriptCue.language == language)
    )


async def transcript(session: AsyncSession, asset_id: UUID, language: str) -> list[TranscriptCue]:
    rows = await session.scalars(
        select(TranscriptCue)
        .where(TranscriptCue.asset_id == asset_id, TranscriptCue.language == language)
        .order_by(TranscriptCue.position)
    )
    return list(rows)


async def transcript_for_viewer(
    session: AsyncSession, asset_id: UUID, preferred: str
) -> tuple[str | None, list[TranscriptCue]]:
    """The transcript in the viewer's language when the video has one, else in its first language."""
    languages = list(
        await session.scalars(
            select(TranscriptCue.language)
            .where(TranscriptCue.asset_id == asset_id)
            .distinct()
            .order_by(TranscriptCue.language)
        )
    )
    if not languages:
        return None, []
    base = preferred.split("-", 1)[0].lower()
    language = next((lang for lang in languages if lang.split("-", 1)[0] == base), languages[0])
    return language, await transcript(session, asset_id, language)
