"""Completion rules: when a lesson counts as done, from what the learner actually did.

Defaults: video 90% of its duration actually played (merged watched ranges, so seeking adds
nothing and rewatching is not double counted); text 80% scrolled; quiz and assignment when
passed (recorded by the assessments domain); file when opened. A course overrides the video and
text thresholds in `completion_rules` ({"video": {"watched_pct": 75}, "text": {"scroll_pct": 100}}).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

DEFAULT_VIDEO_WATCHED_PCT = 90.0
DEFAULT_TEXT_SCROLL_PCT = 80.0
MILESTONES = (25, 50, 75, 100)


def merge_ranges(ranges: Iterable[Iterable[float]], duration: float | None = None) -> list[list[float]]:
    """Union of [start, end] ranges, clamped to [0, duration], sorted and non-overlapping."""
    cleaned: list[list[float]] = []
    for start, end in (tuple(r) for r in ranges):
        lo, hi = max(0.0, float(start)), float(end)
        if duration is not None:
            hi = min(hi, float(duration))
        if hi > lo:
            cleaned.append([lo, hi])
    cleaned.sort()
    merged: list[list[float]] = []
    for lo, hi in cleaned:
        if merged and lo <= merged[-1][1]:
            merged[-1][1] = max(merged[-1][1], hi)
        else:
            merged.append([lo, hi])
    return merged


def covered_seconds(ranges: Iterable[list[float]]) -> float:
    return round(sum(hi - lo for lo, hi in ranges), 3)


def thresholds(rules: Mapping[str, Any] | None) -> tuple[float, float]:
    rules = rules or {}
    video = float((rules.get("video") or {}).get("watched_pct", DEFAULT_VIDEO_WATCHED_PCT))
    text = float((rules.get("text") or {}).get("scroll_pct", DEFAULT_TEXT_SCROLL_PCT))
    return video, text


def lesson_is_complete(
    lesson_type: str,
    *,
    duration_seconds: float | None,
    watched_seconds: float,
    scroll_depth: float,
    passed: bool | None,
    viewed: bool,
    rules: Mapping[str, Any] | None = None,
) -> bool:
    """Whether the signals so far satisfy the rule for this lesson type."""
    video_pct, text_pct = thresholds(rules)
    if lesson_type == "video":
        return bool(duration_seconds) and watched_seconds >= duration_seconds * video_pct / 100 - 1e-6  # type: ignore[operator]
    if lesson_type == "text":
        return scroll_depth * 100 >= text_pct - 1e-6
    if lesson_type in ("quiz", "assignment"):
        return passed is True
    return viewed  # file


def crossed_milestones(before: float, after: float) -> list[int]:
    return [m for m in MILESTONES if before < m <= after]
