"""JSON shapes of the discussion API."""

from __future__ import annotations

from datetime import datetime
from typing import Literal
from uuid import UUID

import msgspec


class ThreadIn(msgspec.Struct, forbid_unknown_fields=True):
    title: str
    body: str
    kind: Literal["question", "discussion"] = "question"
    lesson_id: UUID | None = None
    video_seconds: int | None = None


class ReplyIn(msgspec.Struct, forbid_unknown_fields=True):
    body: str


class VoteIn(msgspec.Struct, forbid_unknown_fields=True):
    up: bool = True


class AnswerIn(msgspec.Struct, forbid_unknown_fields=True):
    answer: bool = True


class FollowIn(msgspec.Struct, forbid_unknown_fields=True):
    follow: bool = True


class LockIn(msgspec.Struct, forbid_unknown_fields=True):
    locked: bool = True


class ReportIn(msgspec.Struct, forbid_unknown_fields=True):
    reason: str


class ModerateIn(msgspec.Struct, forbid_unknown_fields=True):
    action: Literal["hide", "restore", "delete"]
    reason: str = ""


class SettingsIn(msgspec.Struct, forbid_unknown_fields=True):
    enabled: bool


class SettingsOut(msgspec.Struct):
    course_id: UUID
    enabled: bool


class ThreadOut(msgspec.Struct):
    id: UUID
    course_id: UUID
    lesson_id: UUID | None
    video_seconds: int | None
    title: str
    kind: str
    author_id: UUID
    answered: bool
    locked: bool
    reply_count: int
    last_activity_at: datetime


class PostOut(msgspec.Struct):
    id: UUID
    thread_id: UUID
    author_id: UUID
    author_name: str
    body: str
    body_html: str
    staff: bool
    answer: bool
    votes: int
    voted: bool
    hidden: bool
    created_at: datetime


class ThreadDetailOut(msgspec.Struct):
    thread: ThreadOut
    question: PostOut
    replies: list[PostOut]
    total_replies: int
    limit: int
    offset: int
    following: bool


class VotesOut(msgspec.Struct):
    votes: int


class QueueItemOut(msgspec.Struct):
    post: PostOut
    thread_title: str
    reasons: list[str]


class ReportedOut(msgspec.Struct):
    post_id: UUID
    hidden: bool
