"""Discussion rows."""

from __future__ import annotations

import uuid
from typing import Any
from uuid import UUID

from sqlalchemy.ext.asyncio import AsyncSession

from lms.discussions.models import CourseDiscussionSettings, Post, PostReport, PostVote, Thread, ThreadFollow
from lms.lib import clock
from tests.factories.base import add, row_factory
from tests.factories.identity import make_user


@row_factory("course_discussion_settings")
async def make_discussion_settings(session: AsyncSession, tenant_id: UUID, **fields: Any) -> CourseDiscussionSettings:
    values: dict[str, Any] = {"course_id": uuid.uuid4(), "enabled": False, **fields}
    return await add(session, CourseDiscussionSettings(tenant_id=tenant_id, **values))


@row_factory("discussion_threads")
async def make_thread(session: AsyncSession, tenant_id: UUID, **fields: Any) -> Thread:
    if "author_id" not in fields:
        fields["author_id"] = (await make_user(session, tenant_id)).id
    values: dict[str, Any] = {"course_id": uuid.uuid4(), "title": "How do I report phishing?"}
    values.update(fields)
    return await add(session, Thread(tenant_id=tenant_id, last_activity_at=clock.now(), **values))


@row_factory("discussion_posts")
async def make_post(session: AsyncSession, tenant_id: UUID, **fields: Any) -> Post:
    if "thread_id" not in fields:
        thread = await make_thread(session, tenant_id)
        fields.update(thread_id=thread.id, course_id=thread.course_id, author_id=thread.author_id)
    values: dict[str, Any] = {"body": "Use the button.", "body_html": "<p>Use the button.</p>"}
    values.update(fields)
    return await add(session, Post(tenant_id=tenant_id, **values))


@row_factory("discussion_votes")
async def make_vote(session: AsyncSession, tenant_id: UUID) -> PostVote:
    post = await make_post(session, tenant_id)
    return await add(session, PostVote(tenant_id=tenant_id, post_id=post.id, user_id=post.author_id))


@row_factory("discussion_follows")
async def make_follow(session: AsyncSession, tenant_id: UUID) -> ThreadFollow:
    thread = await make_thread(session, tenant_id)
    return await add(session, ThreadFollow(tenant_id=tenant_id, thread_id=thread.id, user_id=thread.author_id))


@row_factory("discussion_reports")
async def make_report(session: AsyncSession, tenant_id: UUID) -> PostReport:
    post = await make_post(session, tenant_id)
    return await add(
        session,
        PostReport(
            tenant_id=tenant_id, post_id=post.id, course_id=post.course_id, reporter_id=post.author_id, reason="spam"
        ),
    )
