"""Chapters of a video lesson: titled points in the video that the player lists and seeks to.

Authors write them one a line, `m:ss Title` (or `h:mm:ss Title`); they are stored in the lesson's
content as `chapters: [{"start_seconds", "title"}]`, in order."""

from __future__ import annotations

import re
from typing import Any

from lms.lib.errors import ValidationFailed

MAX_CHAPTERS = 50
MAX_TITLE = 120
_LINE = re.compile(r"^\s*(?:(\d{1,2}):)?(\d{1,3}):(\d{2})\s+(.+?)\s*$")


class ChapterError(ValueError):
    """A chapter line that cannot be read; the message names the line."""


def parse_chapters(text: str) -> list[dict[str, Any]]:
    """The chapters a text describes, in order of time (empty lines skipped)."""
    chapters: list[dict[str, Any]] = []
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        match = _LINE.match(line)
        if match is None or int(match.group(3)) >= 60:
            raise ChapterError(f"line {number}: write a time and a title, for example 1:30 Fire exits")
        hours, minutes, seconds, title = match.groups()
        start = int(hours or 0) * 3600 + int(minutes) * 60 + int(seconds)
        if chapters and start <= chapters[-1]["start_seconds"]:
            raise ChapterError(f"line {number}: each chapter starts after the one before")
        chapters.append({"start_seconds": start, "title": title[:MAX_TITLE]})
    if len(chapters) > MAX_CHAPTERS:
        raise ChapterError(f"at most {MAX_CHAPTERS} chapters")
    return chapters


def chapters_text(chapters: list[dict[str, Any]]) -> str:
    """The chapters as the author writes them (the inverse of `parse_chapters`)."""
    return "\n".join(f"{_clock(int(c['start_seconds']))} {c['title']}" for c in chapters)


def _clock(seconds: int) -> str:
    hours, rest = divmod(seconds, 3600)
    minutes, seconds = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{seconds:02d}" if hours else f"{minutes}:{seconds:02d}"


def check_chapters(value: Any) -> None:
    """Chapters given through the API: a list of `{start_seconds, title}` in increasing time."""
    field = "content.chapters"
    if not isinstance(value, list) or len(value) > MAX_CHAPTERS:
        raise ValidationFailed(f"chapters are a list of at most {MAX_CHAPTERS}", field=field)
    previous = -1
    for index, chapter in enumerate(value):
        start = chapter.get("start_seconds") if isinstance(chapter, dict) else None
        title = chapter.get("title") if isinstance(chapter, dict) else None
        at = f"{field}[{index}]"
        if not isinstance(start, int) or isinstance(start, bool) or start <= previous:
            raise ValidationFailed("each chapter starts (whole seconds) after the one before", field=at)
        if not isinstance(title, str) or not title.strip() or len(title) > MAX_TITLE:
            raise ValidationFailed(f"a chapter has a title of at most {MAX_TITLE} characters", field=at)
        previous = start
