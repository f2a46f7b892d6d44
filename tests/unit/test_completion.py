"""Completion rules and watched-range arithmetic."""

from __future__ import annotations

from lms.learning.services.completion import covered_seconds, crossed_milestones, lesson_is_complete, merge_ranges


def test_overlapping_and_rewatched_ranges_count_once() -> None:
    merged = merge_ranges([[40, 50], [0, 45], [60, 70], [69, 80]])
    assert merged == [[0, 50], [60, 80]]
    assert covered_seconds(merged) == 70


def test_ranges_are_clamped_to_the_duration_and_empty_ones_dropped() -> None:
    assert merge_ranges([[-5, 10], [90, 130], [20, 20]], duration=100) == [[0, 10], [90, 100]]


def test_video_needs_ninety_percent_actually_watched_by_default() -> None:
    assert not lesson_is_complete(
        "video", duration_seconds=100, watched_seconds=89, scroll_depth=0, passed=None, viewed=True
    )
    assert lesson_is_complete(
        "video", duration_seconds=100, watched_seconds=90, scroll_depth=0, passed=None, viewed=True
    )


def test_course_rules_override_the_thresholds() -> None:
    rules = {"video": {"watched_pct": 50}, "text": {"scroll_pct": 100}}
    assert lesson_is_complete(
        "video", duration_seconds=100, watched_seconds=50, scroll_depth=0, passed=None, viewed=True, rules=rules
    )
    assert not lesson_is_complete(
        "text", duration_seconds=None, watched_seconds=0, scroll_depth=0.9, passed=None, viewed=True, rules=rules
    )


def test_text_quiz_assignment_and_file_rules() -> None:
    assert lesson_is_complete(
        "text", duration_seconds=None, watched_seconds=0, scroll_depth=0.8, passed=None, viewed=True
    )
    assert not lesson_is_complete(
        "quiz", duration_seconds=None, watched_seconds=0, scroll_depth=1, passed=False, viewed=True
    )
    assert lesson_is_complete(
        "assignment", duration_seconds=None, watched_seconds=0, scroll_depth=0, passed=True, viewed=False
    )
    assert lesson_is_complete(
        "file", duration_seconds=None, watched_seconds=0, scroll_depth=0, passed=None, viewed=True
    )


def test_milestones_crossed_between_two_percentages() -> None:
    assert crossed_milestones(0, 60) == [25, 50]
    assert crossed_milestones(60, 100) == [75, 100]
    assert crossed_milestones(100, 100) == []
