"""JSON shapes of recommendations, streaks and goals."""

from __future__ import annotations

from datetime import date
from uuid import UUID

import msgspec


class RecommendationOut(msgspec.Struct):
    course_id: UUID
    title: str
    summary: str
    reason: str
    because: str
    reason_text: str


class RecommendationPage(msgspec.Struct):
    items: list[RecommendationOut]
    total: int
    limit: int
    offset: int


class DayOut(msgspec.Struct):
    day: date
    minutes: int


class StreakOut(msgspec.Struct):
    streak_days: int
    active_today: bool
    week_minutes: int
    weekly_goal_minutes: int | None
    week: list[DayOut]


class GoalIn(msgspec.Struct, forbid_unknown_fields=True):
    weekly_minutes: int | None
