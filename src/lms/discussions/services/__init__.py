"""Discussions of a course: who may take part, threads and replies, votes, answers, follows,
mentions, search and moderation. Every member-facing rule lives here; pages and the API call it."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from uuid import UUID

from sqlalchemy import delete, func, or_, select, union_all, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from lms.catalog.queries import CourseFacts, course_facts, lesson_facts
from lms.discussions.models import CourseDiscussionSettings, Post, PostReport, PostVote, Thread, ThreadFollow
from lms.discussions.services.markdown import mentioned_handles, render_markdown
from lms.identity.guards import Principal
from lms.identity.queries import user_contacts
from lms.learning.queries import enrolled_user_ids, is_enrolled
from lms.lib import clock
from lms.lib.errors import Conflict, Forbidden, NotFound, RateLimited, ValidationFailed
from lms.lib.ids import new_id
from lms.notifications import services as notifications

MAX_TITLE = 200
MAX_BODY = 20_000
MAX_REASON = 500
# Per user, across the tenant: a burst, and a sustained rate.
POSTS_PER_MINUTE = 5
POSTS_PER_HOUR = 60
REPORTS_PER_HOUR = 20
PAGE_SIZE = 50
# The thread page shows the question, the marked answer and this many replies; the rest are a link away.
REPLIES_PER_PAGE = 20
KINDS = ("question", "discussion")


@dataclass(frozen=True)
class Access:
    """What the caller may do in a course's discussions."""

    course: CourseFacts
    staff: bool
    enabled: bool


@dataclass(frozen=True)
class ThreadPage:
    thread: Thread
    opening: Post
    replies: list[Post]
    total_replies: int
    voted: set[UUID]
    following: bool
    authors: dict[UUID, str]
    access: Access


def _text(value: str, field: str, limit: int, label: str) -> str:
    value = value.strip()
    if "\x00" in value:
        raise ValidationFailed(f"the {label} contains a character that is not allowed", field=field)
    if not value:
        raise ValidationFailed(f"enter the {label}", field=field)
    if len(value) > limit:
        raise ValidationFailed(f"the {label} may have at most {limit} characters", field=field)
    return value


class DiscussionService:
    """Discussions as seen by one signed-in person; RLS keeps every query inside their tenant."""

    def __init__(self, session: AsyncSession, principal: Principal) -> None:
        self.session = session
        self.principal = principal

    # -- who may do what -------------------------------------------------------------------------

    async def access(self, course_id: UUID, *, write: bool = False) -> Access:
        """Course staff (its instructors, tenant admins) always; learners only when enrolled and the
        course's discussions are on. Another tenant's course is not found."""
        course = await course_facts(self.session, course_id)
        if course is None:
            raise NotFound("course not found", field="course_id")
        staff = "tenant_admin" in self.principal.roles or self.principal.user_id in course.instructor_ids
        enabled = await self.enabled(course_id)
        if not staff:
            if not await is_enrolled(self.session, self.principal.user_id, course_id):
                raise Forbidden("enrol in this course to take part in its discussions")
            if not enabled:
                raise Forbidden("discussions are turned off for this course")
        elif write and not enabled:
            raise Conflict("discussions are turned off for this course; turn them on first")
        return Access(course, staff, enabled)

    async def enabled(self, course_id: UUID) -> bool:
        row = await self.session.scalar(
            select(CourseDiscussionSettings.enabled).where(CourseDiscussionSettings.course_id == course_id)
        )
        return True if row is None else bool(row)

    async def set_enabled(self, course_id: UUID, enabled: bool) -> bool:
        access = await self.access(course_id)
        if not access.staff:
            raise Forbidden("only the course's instructors can turn discussions on or off")
        at = clock.now()
        statement = pg_insert(CourseDiscussionSettings).values(
            id=new_id(),
            tenant_id=self.principal.tenant_id,
            course_id=course_id,
            enabled=enabled,
            created_at=at,
            updated_at=at,
        )
        await self.session.execute(
            statement.on_conflict_do_update(
                index_elements=["tenant_id", "course_id"], set_={"enabled": enabled, "updated_at": at}
            )
        )
        return enabled

    async def _rate_limit(self) -> None:
        now = clock.now()
        recent = (
            await self.session.execute(
                select(
                    func.count().filter(Post.created_at > now - timedelta(minutes=1)),
                    func.count(),
                ).where(Post.author_id == self.principal.user_id, Post.created_at > now - timedelta(hours=1))
            )
        ).one()
        if recent[0] >= POSTS_PER_MINUTE or recent[1] >= POSTS_PER_HOUR:
            raise RateLimited("you are posting too fast; wait a minute and try again")

    # -- threads and posts -----------------------------------------------------------------------

    async def start_thread(
        self,
        course_id: UUID,
        title: str,
        body: str,
        *,
        kind: str = "question",
        lesson_id: UUID | None = None,
        video_seconds: int | None = None,
    ) -> Thread:
        """A new question or discussion; its author follows it."""
        access = await self.access(course_id, write=True)
        title = _text(title, "title", MAX_TITLE, "title")
        body = _text(body, "body", MAX_BODY, "text")
        if kind not in KINDS:
            raise ValidationFailed("kind must be question or discussion", field="kind")
        if lesson_id is not None:
            lesson = await lesson_facts(self.session, lesson_id)
            if lesson is None or lesson.course_id != course_id:
                raise ValidationFailed("no such lesson in this course", field="lesson_id")
        if video_seconds is not None:
            if lesson_id is None:
                raise ValidationFailed("a video time needs a lesson", field="video_seconds")
            if not 0 <= video_seconds <= 24 * 3600:
                raise ValidationFailed("the video time must be between 0 and 24 hours", field="video_seconds")
        await self._rate_limit()
        now = clock.now()
        thread = Thread(
            tenant_id=self.principal.tenant_id,
            course_id=course_id,
            lesson_id=lesson_id,
            video_seconds=video_seconds,
            author_id=self.principal.user_id,
            title=title,
            kind=kind,
            last_activity_at=now,
        )
        self.session.add(thread)
        await self.session.flush()
        await self._write_post(thread, access, body, opening=True)
        await self._follow(thread.id)
        return thread

    async def _write_post(self, thread: Thread, access: Access, body: str, *, opening: bool) -> tuple[Post, set[UUID]]:
        """The post, and who it mentions (they were told)."""
        post = Post(
            tenant_id=self.principal.tenant_id,
            thread_id=thread.id,
            course_id=thread.course_id,
            author_id=self.principal.user_id,
            opening=opening,
            body=body,
            body_html=render_markdown(body),
            staff=access.staff,
        )
        self.session.add(post)
        await self.session.flush()
        return post, await self._notify_mentions(thread, access, post)

    async def reply(self, thread_id: UUID, body: str) -> Post:
        """A reply; followers are told (mentioned members get a mention instead), and the author follows."""
        thread, access = await self.thread_of(thread_id, write=True)
        body = _text(body, "body", MAX_BODY, "text")
        if thread.locked and not access.staff:
            raise Conflict("this thread is locked; no new replies")
        await self._rate_limit()
        # Counted first: links to the new reply name the page it lands on.
        thread.reply_count += 1
        post, mentioned = await self._write_post(thread, access, body, opening=False)
        thread.last_activity_at = clock.now()
        await self._follow(thread.id)
        followers = set(
            await self.session.scalars(select(ThreadFollow.user_id).where(ThreadFollow.thread_id == thread.id))
        )
        author = await self._name(self.principal.user_id)
        for user_id in followers - mentioned - {self.principal.user_id}:
            await notifications.notify(
                self.session,
                self.principal.tenant_id,
                user_id,
                "thread_reply",
                {"author": author, "thread": thread.title, "excerpt": _excerpt(body), "course": access.course.title},
                link=newest_reply_link(thread, post.id),
                dedupe_key=f"reply:{post.id}:{user_id}",
            )
        return post

    async def _notify_mentions(self, thread: Thread, access: Access, post: Post) -> set[UUID]:
        handles = mentioned_handles(post.body)
        if not handles:
            return set()
        members = await enrolled_user_ids(self.session, thread.course_id) | set(access.course.instructor_ids)
        contacts = await user_contacts(self.session, members)
        by_handle = {c.email.split("@", 1)[0].lower(): c.id for c in contacts.values()}
        mentioned = {by_handle[h] for h in handles if h in by_handle} - {self.principal.user_id}
        author = await self._name(self.principal.user_id)
        for user_id in mentioned:
            await notifications.notify(
                self.session,
                self.principal.tenant_id,
                user_id,
                "mention",
                {"author": author, "thread": thread.title, "excerpt": _excerpt(post.body)},
                link=_post_link(thread, post.id) if post.opening else newest_reply_link(thread, post.id),
                dedupe_key=f"mention:{post.id}:{user_id}",
            )
        return mentioned

    async def _name(self, user_id: UUID) -> str:
        contacts = await user_contacts(self.session, {user_id})
        return contacts[user_id].display_name if user_id in contacts else ""

    async def thread_of(self, thread_id: UUID, *, write: bool = False) -> tuple[Thread, Access]:
        thread = await self.session.get(Thread, thread_id)
        if thread is None or thread.deleted_at is not None:
            raise NotFound("thread not found", field="thread_id")
        return thread, await self.access(thread.course_id, write=write)

    async def _post(self, post_id: UUID, *, write: bool = False) -> tuple[Post, Thread, Access]:
        post = await self.session.get(Post, post_id)
        if post is None or post.deleted_at is not None:
            raise NotFound("post not found", field="post_id")
        thread, access = await self.thread_of(post.thread_id, write=write)
        if post.hidden and not access.staff and post.author_id != self.principal.user_id:
            raise NotFound("post not found", field="post_id")
        return post, thread, access

    # -- reading -----------------------------------------------------------------------------------

    async def threads(
        self,
        course_id: UUID,
        *,
        query: str = "",
        lesson_id: UUID | None = None,
        unanswered: bool = False,
        limit: int = PAGE_SIZE,
        offset: int = 0,
    ) -> tuple[Access, list[Thread], int]:
        """A course's threads, most recently active first; `query` searches titles and posts."""
        access = await self.access(course_id)
        where = [Thread.course_id == course_id, Thread.deleted_at.is_(None)]
        if lesson_id is not None:
            where.append(Thread.lesson_id == lesson_id)
        if unanswered:
            where.extend([Thread.kind == "question", Thread.answer_post_id.is_(None)])
        query = query.strip()[:200].replace("\x00", "")
        if query:
            tsquery = func.plainto_tsquery("simple", query)
            visible = [Post.deleted_at.is_(None)] if access.staff else [Post.deleted_at.is_(None), ~Post.hidden]
            matching = select(Post.thread_id).where(
                Post.course_id == course_id, Post.search_vector.op("@@")(tsquery), *visible
            )
            where.append(or_(Thread.title.ilike(f"%{_like(query)}%"), Thread.id.in_(matching)))
        total = await self.session.scalar(select(func.count()).select_from(Thread).where(*where)) or 0
        rows = await self.session.scalars(
            select(Thread).where(*where).order_by(Thread.last_activity_at.desc()).limit(limit).offset(offset)
        )
        return access, list(rows), total

    async def thread_page(self, thread_id: UUID, *, limit: int = PAGE_SIZE, offset: int = 0) -> ThreadPage:
        """The thread with one page of replies in order; the marked answer first."""
        thread, access = await self.thread_of(thread_id)
        me = self.principal.user_id
        voted = select(PostVote.id).where(PostVote.post_id == Post.id, PostVote.user_id == me).exists().label("voted")
        # One round trip: the opening post (its partial index), the marked answer on the first page, and
        # one page of replies (the (tenant, thread, created_at) index: a long thread is not scanned).
        # `opening` bare (not `IS true`): the predicate of the partial index, so the planner uses it.
        parts = [select(Post, voted).where(Post.thread_id == thread.id, Post.opening).limit(1)]
        if thread.answer_post_id is not None and offset == 0:
            parts.append(
                select(Post, voted).where(
                    Post.id == thread.answer_post_id, Post.thread_id == thread.id, Post.deleted_at.is_(None)
                )
            )
        replies_where = [Post.thread_id == thread.id, Post.deleted_at.is_(None), ~Post.opening]
        if thread.answer_post_id is not None:
            replies_where.append(Post.id != thread.answer_post_id)
        parts.append(select(Post, voted).where(*replies_where).order_by(Post.created_at).limit(limit).offset(offset))
        page = union_all(*parts).subquery("page")
        listed = aliased(Post, page)
        rows = (await self.session.execute(select(listed, page.c.voted))).all()
        opening = next((post for post, _ in rows if post.opening), None)
        if opening is None:
            raise NotFound("thread not found", field="thread_id")
        answer = next((post for post, _ in rows if post.id == thread.answer_post_id), None)
        replies = sorted(
            (post for post, _ in rows if not post.opening and post is not answer), key=lambda p: (p.created_at, p.id)
        )
        if answer is not None:
            replies.insert(0, answer)
        voted_ids = {post.id for post, has_vote in rows if has_vote}
        following = bool(
            await self.session.scalar(
                select(
                    select(ThreadFollow.id)
                    .where(ThreadFollow.thread_id == thread.id, ThreadFollow.user_id == me)
                    .exists()
                )
            )
        )
        # The maintained count: a long thread's replies are not counted.
        total = thread.reply_count
        contacts = await user_contacts(self.session, {opening.author_id, *(p.author_id for p in replies)})
        authors = {user_id: contact.display_name for user_id, contact in contacts.items()}
        return ThreadPage(thread, opening, replies, total, voted_ids, following, authors, access)

    # -- votes, answers, follows -------------------------------------------------------------------

    async def vote(self, post_id: UUID, up: bool = True) -> int:
        """Upvote (or take back the vote); one vote per member and post; your own posts cannot be voted on."""
        post, _, _ = await self._post(post_id)
        if post.author_id == self.principal.user_id:
            raise Conflict("you cannot vote for your own post")
        if up:
            statement = (
                pg_insert(PostVote)
                .values(
                    id=new_id(),
                    tenant_id=self.principal.tenant_id,
                    post_id=post.id,
                    user_id=self.principal.user_id,
                    created_at=clock.now(),
                    updated_at=clock.now(),
                )
                .on_conflict_do_nothing(index_elements=["tenant_id", "post_id", "user_id"])
                .returning(PostVote.id)
            )
            changed = (await self.session.execute(statement)).first() is not None
        else:
            result = await self.session.execute(
                delete(PostVote).where(PostVote.post_id == post.id, PostVote.user_id == self.principal.user_id)
            )
            changed = bool(result.rowcount)  # type: ignore[attr-defined]
        if changed:
            await self.session.execute(
                update(Post).where(Post.id == post.id).values(vote_count=Post.vote_count + (1 if up else -1))
            )
            await self.session.refresh(post, ["vote_count"])
        return post.vote_count

    async def mark_answer(self, post_id: UUID, answer: bool = True) -> Thread:
        """The thread's author or course staff mark a reply as the answer; the asker is told."""
        post, thread, access = await self._post(post_id)
        if thread.author_id != self.principal.user_id and not access.staff:
            raise Forbidden("only the person who asked or the course's staff can mark the answer")
        if post.opening:
            raise ValidationFailed("mark a reply as the answer, not the question", field="post_id")
        if not answer:
            if thread.answer_post_id == post.id:
                thread.answer_post_id = None
            return thread
        thread.answer_post_id = post.id
        thread.last_activity_at = clock.now()
        await self.session.flush()
        if thread.author_id != self.principal.user_id:
            await notifications.notify(
                self.session,
                self.principal.tenant_id,
                thread.author_id,
                "question_answered",
                {
                    "thread": thread.title,
                    "author": await self._name(self.principal.user_id),
                    "course": access.course.title,
                },
                link=_post_link(thread, post.id),
                dedupe_key=f"answered:{thread.id}:{post.id}",
            )
        return thread

    async def _follow(self, thread_id: UUID) -> None:
        statement = pg_insert(ThreadFollow).values(
            id=new_id(),
            tenant_id=self.principal.tenant_id,
            thread_id=thread_id,
            user_id=self.principal.user_id,
            created_at=clock.now(),
            updated_at=clock.now(),
        )
        await self.session.execute(
            statement.on_conflict_do_nothing(index_elements=["tenant_id", "thread_id", "user_id"])
        )

    async def follow(self, thread_id: UUID, follow: bool = True) -> bool:
        thread, _ = await self.thread_of(thread_id)
        if follow:
            await self._follow(thread.id)
        else:
            await self.session.execute(
                delete(ThreadFollow).where(
                    ThreadFollow.thread_id == thread.id, ThreadFollow.user_id == self.principal.user_id
                )
            )
        return follow

    # -- moderation --------------------------------------------------------------------------------

    async def report(self, post_id: UUID, reason: str) -> Post:
        """Any member reports a post once; it is hidden from learners until staff review it, and the
        course's instructors are told."""
        post, thread, access = await self._post(post_id)
        reason = _text(reason, "reason", MAX_REASON, "reason")
        if post.author_id == self.principal.user_id:
            raise Conflict("you cannot report your own post")
        recent = await self.session.scalar(
            select(func.count()).where(
                PostReport.reporter_id == self.principal.user_id,
                PostReport.created_at > clock.now() - timedelta(hours=1),
            )
        )
        if (recent or 0) >= REPORTS_PER_HOUR:
            raise RateLimited("you have reported many posts; wait an hour and try again")
        statement = (
            pg_insert(PostReport)
            .values(
                id=new_id(),
                tenant_id=self.principal.tenant_id,
                post_id=post.id,
                course_id=post.course_id,
                reporter_id=self.principal.user_id,
                reason=reason,
                created_at=clock.now(),
                updated_at=clock.now(),
            )
            .on_conflict_do_nothing(index_elements=["tenant_id", "post_id", "reporter_id"])
            .returning(PostReport.id)
        )
        if (await self.session.execute(statement)).first() is None:
            raise Conflict("you have already reported this post")
        post.report_count += 1
        post.hidden = True
        await self.session.flush()
        for staff_id in access.course.instructor_ids:
            await notifications.notify(
                self.session,
                self.principal.tenant_id,
                staff_id,
                "post_reported",
                {"course": access.course.title, "thread": thread.title},
                link=f"/courses/{thread.course_id}/discussions/moderation",
                dedupe_key=f"reported:{post.id}:{staff_id}",
            )
        return post

    async def _staff_post(self, post_id: UUID) -> tuple[Post, Thread, Access]:
        post, thread, access = await self._post(post_id)
        if not access.staff:
            raise Forbidden("only the course's staff can moderate its discussions")
        return post, thread, access

    async def _resolve_reports(self, post_id: UUID, resolution: str) -> None:
        await self.session.execute(
            update(PostReport)
            .where(PostReport.post_id == post_id, PostReport.resolved_at.is_(None))
            .values(resolved_at=clock.now(), resolution=resolution)
        )

    async def hide(self, post_id: UUID, reason: str) -> Post:
        post, _, _ = await self._staff_post(post_id)
        post.hidden = True
        post.moderation_reason = _text(reason, "reason", MAX_REASON, "reason")
        await self._resolve_reports(post.id, "hidden")
        return post

    async def restore(self, post_id: UUID) -> Post:
        """Staff found nothing wrong: the post is shown again and its reports are closed."""
        post, _, _ = await self._staff_post(post_id)
        post.hidden = False
        post.moderation_reason = None
        await self._resolve_reports(post.id, "restored")
        return post

    async def delete_post(self, post_id: UUID, reason: str) -> Post:
        """Staff delete a post with a reason (the opening post deletes its thread)."""
        post, thread, _ = await self._staff_post(post_id)
        post.moderation_reason = _text(reason, "reason", MAX_REASON, "reason")
        post.deleted_at = clock.now()
        await self._resolve_reports(post.id, "deleted")
        if post.opening:
            thread.deleted_at = post.deleted_at
        else:
            thread.reply_count = max(0, thread.reply_count - 1)
            if thread.answer_post_id == post.id:
                thread.answer_post_id = None
        return post

    async def lock(self, thread_id: UUID, locked: bool = True) -> Thread:
        thread, access = await self.thread_of(thread_id)
        if not access.staff:
            raise Forbidden("only the course's staff can lock a thread")
        thread.locked = locked
        return thread

    async def moderation_queue(
        self, course_id: UUID, limit: int = PAGE_SIZE, offset: int = 0
    ) -> tuple[list[tuple[Post, Thread, list[str]]], int]:
        """Hidden or reported posts awaiting review in the course, oldest first, with the reasons given."""
        access = await self.access(course_id)
        if not access.staff:
            raise Forbidden("only the course's staff can see the moderation queue")
        open_reports = select(PostReport.post_id).where(
            PostReport.course_id == course_id, PostReport.resolved_at.is_(None)
        )
        where = [Post.course_id == course_id, Post.deleted_at.is_(None), Post.id.in_(open_reports)]
        total = await self.session.scalar(select(func.count()).select_from(Post).where(*where)) or 0
        rows = (
            await self.session.execute(
                select(Post, Thread)
                .join(Thread, Thread.id == Post.thread_id)
                .where(*where)
                .order_by(Post.created_at)
                .limit(limit)
                .offset(offset)
            )
        ).all()
        reasons: dict[UUID, list[str]] = {}
        if rows:
            for post_id, reason in await self.session.execute(
                select(PostReport.post_id, PostReport.reason).where(
                    PostReport.post_id.in_([post.id for post, _ in rows]), PostReport.resolved_at.is_(None)
                )
            ):
                reasons.setdefault(post_id, []).append(reason)
        return [(post, thread, reasons.get(post.id, [])) for post, thread in rows], total


def _like(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def _excerpt(body: str, limit: int = 160) -> str:
    flat = " ".join(body.split())
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"


def _post_link(thread: Thread, post_id: UUID) -> str:
    return f"/courses/{thread.course_id}/discussions/{thread.id}#post-{post_id}"


def newest_reply_link(thread: Thread, post_id: UUID) -> str:
    """The page of the thread's newest reply (the last one; the marked answer is shown first instead)."""
    listed = max(thread.reply_count - (1 if thread.answer_post_id else 0), 1)
    offset = (listed - 1) // REPLIES_PER_PAGE * REPLIES_PER_PAGE
    page = f"?offset={offset}" if offset else ""
    return f"/courses/{thread.course_id}/discussions/{thread.id}{page}#post-{post_id}"


def format_video_time(seconds: int | None) -> str:
    """02:13 for 133 seconds; 1:02:03 past an hour."""
    if seconds is None:
        return ""
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes:02d}:{secs:02d}"


def parse_video_time(text: str) -> int | None:
    """ "02:13" or "1:02:13" or "133" -> seconds; empty -> None; anything else is a field error."""
    text = text.strip()
    if not text:
        return None
    parts = text.split(":")
    if len(parts) > 3 or not all(part.isdigit() for part in parts):
        raise ValidationFailed("enter the video time as minutes:seconds, such as 02:13", field="video_seconds")
    seconds = 0
    for part in parts:
        seconds = seconds * 60 + int(part)
    return seconds
