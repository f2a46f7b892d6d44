"""Discussion reads other domains may call. They run on the caller's tenant-bound session, so RLS
scopes them like any discussion query."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from lms.discussions.models import Post, Thread


async def post_records_of_author(session: AsyncSession, user_id: UUID) -> list[dict[str, Any]]:
    """What a person wrote in discussions (opening posts and replies, with the thread's title), oldest
    first, for their personal data export."""
    rows = await session.execute(
        select(
            Post.id,
            Post.thread_id,
            Thread.title,
            Post.course_id,
            Post.opening,
            Post.body,
            Post.created_at,
            Post.updated_at,
            Post.deleted_at,
        )
        .join(Thread, Thread.id == Post.thread_id)
        .where(Post.author_id == user_id)
        .order_by(Post.created_at, Post.id)
    )
    return [
        {
            "id": post_id,
            "thread_id": thread_id,
            "thread_title": title,
            "course_id": course_id,
            "opening_post": opening,
            "body": body,
            "created_at": created_at,
            "updated_at": updated_at,
            "deleted_at": deleted_at,
        }
        for post_id, thread_id, title, course_id, opening, body, created_at, updated_at, deleted_at in rows
    ]
