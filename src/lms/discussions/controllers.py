"""The discussion API: threads and replies of a course, votes, answers, follows, reports, moderation."""

from __future__ import annotations

from typing import Annotated
from uuid import UUID

from litestar import Controller, get, post, put
from litestar.di import NamedDependency
from litestar.params import FromPath, JSONBody, QueryParameter
from litestar.status_codes import HTTP_200_OK, HTTP_201_CREATED

from lms.db.providers import DbSession
from lms.discussions.guards import requires_member
from lms.discussions.models import Post, Thread
from lms.discussions.schemas import (
    AnswerIn,
    FollowIn,
    LockIn,
    ModerateIn,
    PostOut,
    QueueItemOut,
    ReplyIn,
    ReportedOut,
    ReportIn,
    SettingsIn,
    SettingsOut,
    ThreadDetailOut,
    ThreadIn,
    ThreadOut,
    VoteIn,
    VotesOut,
)
from lms.discussions.services import DiscussionService
from lms.identity.guards import Principal
from lms.lib.pagination import Page, PageParams


def thread_out(thread: Thread) -> ThreadOut:
    return ThreadOut(
        id=thread.id,
        course_id=thread.course_id,
        lesson_id=thread.lesson_id,
        video_seconds=thread.video_seconds,
        title=thread.title,
        kind=thread.kind,
        author_id=thread.author_id,
        answered=thread.answer_post_id is not None,
        locked=thread.locked,
        reply_count=thread.reply_count,
        last_activity_at=thread.last_activity_at,
    )


def post_out(
    post: Post, thread: Thread, authors: dict[UUID, str], voted: set[UUID], staff: bool, viewer: UUID
) -> PostOut:
    """A hidden post's text reaches only staff and its author."""
    shown = not post.hidden or staff or post.author_id == viewer
    return PostOut(
        id=post.id,
        thread_id=post.thread_id,
        author_id=post.author_id,
        author_name=authors.get(post.author_id, ""),
        body=post.body if shown else "",
        body_html=post.body_html if shown else "",
        staff=post.staff,
        answer=thread.answer_post_id == post.id,
        votes=post.vote_count,
        voted=post.id in voted,
        hidden=post.hidden,
        created_at=post.created_at,
    )


class CourseDiscussionController(Controller):
    path = "/api/v1/courses/{course_id:uuid}/discussions"
    guards = [requires_member]
    tags = ["discussions"]

    @get("/")
    async def list_threads(
        self,
        db_session: DbSession,
        principal: NamedDependency[Principal],
        page: NamedDependency[PageParams],
        course_id: FromPath[UUID],
        q: Annotated[str, QueryParameter(max_length=200, description="search titles and posts")] = "",
        lesson_id: Annotated[UUID | None, QueryParameter()] = None,
        unanswered: Annotated[bool, QueryParameter()] = False,
    ) -> Page[ThreadOut]:
        """The course's threads, most recently active first (enrolled learners and course staff)."""
        _, threads, total = await DiscussionService(db_session, principal).threads(
            course_id, query=q, lesson_id=lesson_id, unanswered=unanswered, limit=page.limit, offset=page.offset
        )
        return page.of([thread_out(t) for t in threads], total)

    @post("/", status_code=HTTP_201_CREATED)
    async def start_thread(
        self,
        db_session: DbSession,
        principal: NamedDependency[Principal],
        course_id: FromPath[UUID],
        data: JSONBody[ThreadIn],
    ) -> ThreadOut:
        """Ask a question or start a discussion, optionally at a lesson and a second of its video."""
        thread = await DiscussionService(db_session, principal).start_thread(
            course_id,
            data.title,
            data.body,
            kind=data.kind,
            lesson_id=data.lesson_id,
            video_seconds=data.video_seconds,
        )
        return thread_out(thread)

    @put("/settings")
    async def settings(
        self,
        db_session: DbSession,
        principal: NamedDependency[Principal],
        course_id: FromPath[UUID],
        data: JSONBody[SettingsIn],
    ) -> SettingsOut:
        """Course staff turn the course's discussions on or off."""
        enabled = await DiscussionService(db_session, principal).set_enabled(course_id, data.enabled)
        return SettingsOut(course_id=course_id, enabled=enabled)

    @get("/moderation")
    async def moderation_queue(
        self,
        db_session: DbSession,
        principal: NamedDependency[Principal],
        page: NamedDependency[PageParams],
        course_id: FromPath[UUID],
    ) -> Page[QueueItemOut]:
        """Reported posts awaiting review, oldest first (course staff)."""
        rows, total = await DiscussionService(db_session, principal).moderation_queue(
            course_id, page.limit, page.offset
        )
        items = [
            QueueItemOut(post_out(p, t, {}, set(), True, principal.user_id), t.title, reasons) for p, t, reasons in rows
        ]
        return page.of(items, total)


class DiscussionController(Controller):
    path = "/api/v1/discussions"
    guards = [requires_member]
    tags = ["discussions"]

    @get("/threads/{thread_id:uuid}")
    async def get_thread(
        self,
        db_session: DbSession,
        principal: NamedDependency[Principal],
        page: NamedDependency[PageParams],
        thread_id: FromPath[UUID],
    ) -> ThreadDetailOut:
        """The question, and one page of replies (the marked answer first)."""
        view = await DiscussionService(db_session, principal).thread_page(
            thread_id, limit=page.limit, offset=page.offset
        )
        staff, me = view.access.staff, principal.user_id
        return ThreadDetailOut(
            thread=thread_out(view.thread),
            question=post_out(view.opening, view.thread, view.authors, view.voted, staff, me),
            replies=[post_out(p, view.thread, view.authors, view.voted, staff, me) for p in view.replies],
            total_replies=view.total_replies,
            limit=page.limit,
            offset=page.offset,
            following=view.following,
        )

    @post("/threads/{thread_id:uuid}/posts", status_code=HTTP_201_CREATED)
    async def reply(
        self,
        db_session: DbSession,
        principal: NamedDependency[Principal],
        thread_id: FromPath[UUID],
        data: JSONBody[ReplyIn],
    ) -> PostOut:
        """Reply in a thread (not in a locked one, unless staff); followers and mentioned members are told."""
        service = DiscussionService(db_session, principal)
        created = await service.reply(thread_id, data.body)
        thread, access = await service.thread_of(thread_id)
        return post_out(created, thread, {}, set(), access.staff, principal.user_id)

    @post("/threads/{thread_id:uuid}/follow", status_code=HTTP_200_OK)
    async def follow(
        self,
        db_session: DbSession,
        principal: NamedDependency[Principal],
        thread_id: FromPath[UUID],
        data: JSONBody[FollowIn],
    ) -> FollowIn:
        """Follow a thread (or stop): followers are told of new replies."""
        return FollowIn(follow=await DiscussionService(db_session, principal).follow(thread_id, data.follow))

    @post("/threads/{thread_id:uuid}/lock", status_code=HTTP_200_OK)
    async def lock(
        self,
        db_session: DbSession,
        principal: NamedDependency[Principal],
        thread_id: FromPath[UUID],
        data: JSONBody[LockIn],
    ) -> ThreadOut:
        """Course staff lock a thread (no new replies) or unlock it."""
        return thread_out(await DiscussionService(db_session, principal).lock(thread_id, data.locked))

    @post("/posts/{post_id:uuid}/vote", status_code=HTTP_200_OK)
    async def vote(
        self,
        db_session: DbSession,
        principal: NamedDependency[Principal],
        post_id: FromPath[UUID],
        data: JSONBody[VoteIn],
    ) -> VotesOut:
        """Upvote a post, or take the vote back (`up: false`); the post's vote count."""
        return VotesOut(votes=await DiscussionService(db_session, principal).vote(post_id, data.up))

    @post("/posts/{post_id:uuid}/answer", status_code=HTTP_200_OK)
    async def answer(
        self,
        db_session: DbSession,
        principal: NamedDependency[Principal],
        post_id: FromPath[UUID],
        data: JSONBody[AnswerIn],
    ) -> ThreadOut:
        """The asker or course staff mark (or unmark) a reply as the answer."""
        return thread_out(await DiscussionService(db_session, principal).mark_answer(post_id, data.answer))

    @post("/posts/{post_id:uuid}/report", status_code=HTTP_200_OK)
    async def report(
        self,
        db_session: DbSession,
        principal: NamedDependency[Principal],
        post_id: FromPath[UUID],
        data: JSONBody[ReportIn],
    ) -> ReportedOut:
        """Report a post: it is hidden from learners until staff review it."""
        reported = await DiscussionService(db_session, principal).report(post_id, data.reason)
        return ReportedOut(post_id=reported.id, hidden=reported.hidden)

    @post("/posts/{post_id:uuid}/moderate", status_code=HTTP_200_OK)
    async def moderate(
        self,
        db_session: DbSession,
        principal: NamedDependency[Principal],
        post_id: FromPath[UUID],
        data: JSONBody[ModerateIn],
    ) -> ModerateIn:
        """Course staff hide (with a reason), restore, or delete (with a reason) a post."""
        service = DiscussionService(db_session, principal)
        if data.action == "hide":
            await service.hide(post_id, data.reason)
        elif data.action == "restore":
            await service.restore(post_id)
        else:
            await service.delete_post(post_id, data.reason)
        return data
