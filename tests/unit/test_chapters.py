"""Chapters of a video lesson: read from the author's lines, written back the same way, checked from the API."""

from __future__ import annotations

import pytest

from lms.catalog.services.chapters import ChapterError, chapters_text, check_chapters, parse_chapters
from lms.lib.errors import ValidationFailed


def test_lines_become_chapters_in_order_and_back() -> None:
    text = "0:00 Welcome\n\n1:30  Fire exits \n1:02:05 The drill"
    chapters = parse_chapters(text)
    assert chapters == [
        {"start_seconds": 0, "title": "Welcome"},
        {"start_seconds": 90, "title": "Fire exits"},
        {"start_seconds": 3725, "title": "The drill"},
    ]
    assert parse_chapters(chapters_text(chapters)) == chapters
    assert parse_chapters("") == []


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("Welcome", "line 1: write a time"),
        ("0:00 Start\n0:75 Bad seconds", "line 2: write a time"),
        ("1:00 Later\n0:30 Earlier", "line 2: each chapter starts after"),
        ("1:00 Same\n1:00 Same again", "line 2: each chapter starts after"),
        ("\n".join(f"{n}:00 C{n}" for n in range(51)), "at most 50"),
    ],
)
def test_unreadable_lines_are_named(text: str, problem: str) -> None:
    with pytest.raises(ChapterError, match=problem):
        parse_chapters(text)


@pytest.mark.parametrize(
    "value",
    [
        "0:00 Welcome",
        [{"start_seconds": 10, "title": "B"}, {"start_seconds": 5, "title": "A"}],
        [{"start_seconds": True, "title": "A"}],
        [{"start_seconds": 0, "title": ""}],
        [{"start_seconds": 0, "title": "x" * 121}],
        [{"start_seconds": 0}],
        ["0:00 Welcome"],
    ],
)
def test_the_api_refuses_chapters_of_another_shape(value: object) -> None:
    with pytest.raises(ValidationFailed) as refused:
        check_chapters(value)
    assert (refused.value.field or "").startswith("content.chapters")
