"""Discussion pages: a course's threads with search and "ask a question", a thread with its replies,
and the moderation queue for course staff. Plain forms; every rule is the service's."""

from __future__ import annotations

from typing import Annotated, Any
from uuid import UUID

from litestar import Controller, get, post
from litestar.di import NamedDependency
from litestar.params import FromPath, QueryParameter
from litestar.response import Redirect, Template
from litestar.status_codes import HTTP_200_OK

from lms.db.providers import DbSession
from lms.discussions.guards import requires_member
from lms.discussions.services import (
    MAX_BODY,
    MAX_REASON,
    MAX_TITLE,
    PAGE_SIZE,
    REPLIES_PER_PAGE,
    DiscussionService,
    format_video_time,
    newest_reply_link,
    parse_video_time,
)
from lms.identity.guards import Principal
from lms.lib.errors import DomainError, NotFound
from lms.lib.params import AppRequest
from lms.web.forms import FormData, FormErrors, service_message
from lms.web.i18n import gettext as _
from lms.web.layout import before_page, page

Offset = Annotated[int, QueryParameter(ge=0, le=1_000_000)]


def _base(course_id: UUID) -> str:
    return f"/courses/{course_id}/discussions"


class DiscussionPagesController(Controller):
    guards = [requires_member]
    include_in_schema = False
    before_request = staticmethod(before_page)

    async def _list(
        self,
        request: AppRequest,
        service: DiscussionService,
        course_id: UUID,
        *,
        q: str = "",
        lesson_id: UUID | None = None,
        unanswered: bool = False,
        offset: int = 0,
        status: int = 200,
        errors: FormErrors | None = None,
        form: dict[str, str] | None = None,
        flash: str | None = None,
    ) -> Template:
        access, threads, total = await service.threads(
            course_id, query=q, lesson_id=lesson_id, unanswered=unanswered, limit=PAGE_SIZE, offset=offset
        )
        return page(
            request,
            "discussions/threads.html",
            status_code=status,
            access=access,
            course=access.course,
            threads=threads,
            total=total,
            limit=PAGE_SIZE,
            offset=offset,
            q=q,
            lesson_id=lesson_id,
            unanswered=unanswered,
            errors=errors or FormErrors(),
            form=form or {},
            video_time=format_video_time,
            flash=flash,
        )

    @get("/courses/{course_id:uuid}/discussions")
    async def threads(
        self,
        request: AppRequest,
        db_session: DbSession,
        principal: NamedDependency[Principal],
        course_id: FromPath[UUID],
        q: Annotated[str, QueryParameter(max_length=200)] = "",
        lesson_id: Annotated[UUID | None, QueryParameter()] = None,
        at: Annotated[str, QueryParameter(max_length=12)] = "",
        unanswered: Annotated[bool, QueryParameter()] = False,
        offset: Offset = 0,
        saved: Annotated[str, QueryParameter(max_length=20)] = "",
    ) -> Template:
        form = {"lesson_id": str(lesson_id) if lesson_id else "", "video_time": at}
        flash = {"on": _("Discussions are on for this course."), "off": _("Discussions are off for this course.")}
        return await self._list(
            request,
            DiscussionService(db_session, principal),
            course_id,
            q=q,
            lesson_id=lesson_id,
            unanswered=unanswered,
            offset=offset,
            form=form,
            flash=flash.get(saved),
        )

    @post("/courses/{course_id:uuid}/discussions", status_code=HTTP_200_OK)
    async def start(
        self,
        request: AppRequest,
        db_session: DbSession,
        principal: NamedDependency[Principal],
        course_id: FromPath[UUID],
    ) -> Template | Redirect:
        service = DiscussionService(db_session, principal)
        form = await FormData.read(request)
        title = form.text("title", MAX_TITLE, required=_("Enter a title for your question."))
        body = form.text("body", MAX_BODY, required=_("Describe your question."), strip=False)
        kind = "discussion" if form.text("kind", 12) == "discussion" else "question"
        lesson_text = form.text("lesson_id", 40)
        seconds: int | None = None
        lesson_id: UUID | None = None
        try:
            lesson_id = UUID(lesson_text) if lesson_text else None
            seconds = parse_video_time(form.text("video_time", 12))
        except ValueError:
            form.errors["lesson_id"] = _("Choose a lesson of this course.")
        except DomainError as exc:
            form.errors["video_time"] = service_message(exc)
        if not form.errors:
            try:
                thread = await service.start_thread(
                    course_id, title, body, kind=kind, lesson_id=lesson_id, video_seconds=seconds
                )
            except DomainError as exc:
                if exc.status in (403, 404):
                    raise
                field = {"video_seconds": "video_time"}.get(exc.field or "", exc.field or "body")
                form.errors[field] = service_message(exc)
            else:
                return Redirect(f"{_base(course_id)}/{thread.id}", status_code=303)
        return await self._list(request, service, course_id, status=422, errors=form.errors, form=form.fields)

    @post("/courses/{course_id:uuid}/discussions/settings", status_code=HTTP_200_OK)
    async def settings(
        self,
        request: AppRequest,
        db_session: DbSession,
        principal: NamedDependency[Principal],
        course_id: FromPath[UUID],
    ) -> Redirect:
        form = await FormData.read(request)
        enabled = form.text("enabled", 5) == "true"
        await DiscussionService(db_session, principal).set_enabled(course_id, enabled)
        return Redirect(f"{_base(course_id)}?saved={'on' if enabled else 'off'}", status_code=303)

    @get("/courses/{course_id:uuid}/discussions/moderation")
    async def moderation(
        self,
        request: AppRequest,
        db_session: DbSession,
        principal: NamedDependency[Principal],
        course_id: FromPath[UUID],
        offset: Offset = 0,
    ) -> Template:
        service = DiscussionService(db_session, principal)
        rows, total = await service.moderation_queue(course_id, PAGE_SIZE, offset)
        access = await service.access(course_id)
        return page(
            request,
            "discussions/moderation.html",
            course=access.course,
            rows=rows,
            total=total,
            limit=PAGE_SIZE,
            offset=offset,
        )

    async def _thread(
        self,
        request: AppRequest,
        service: DiscussionService,
        thread_id: UUID,
        offset: int = 0,
        status: int = 200,
        **context: Any,
    ) -> Template:
        view = await service.thread_page(thread_id, limit=REPLIES_PER_PAGE, offset=offset)
        context.setdefault("errors", FormErrors())
        return page(
            request,
            "discussions/thread.html",
            status_code=status,
            view=view,
            course=view.access.course,
            viewer_id=service.principal.user_id,
            video_time=format_video_time,
            limit=REPLIES_PER_PAGE,
            offset=offset,
            **context,
        )

    @get("/courses/{course_id:uuid}/discussions/{thread_id:uuid}")
    async def thread(
        self,
        request: AppRequest,
        db_session: DbSession,
        principal: NamedDependency[Principal],
        course_id: FromPath[UUID],
        thread_id: FromPath[UUID],
        offset: Offset = 0,
        done: Annotated[str, QueryParameter(max_length=20)] = "",
    ) -> Template:
        messages = {
            "reported": _("Thank you. The post is hidden until the course's staff review it."),
            "answer": _("Marked as the answer."),
            "moderated": _("Done."),
        }
        return await self._thread(
            request, DiscussionService(db_session, principal), thread_id, offset, flash=messages.get(done)
        )

    async def _act(self, request: AppRequest, course_id: UUID, thread_id: UUID, done: str = "") -> Redirect:
        suffix = f"?done={done}" if done else ""
        return Redirect(f"{_base(course_id)}/{thread_id}{suffix}", status_code=303)

    @post("/courses/{course_id:uuid}/discussions/{thread_id:uuid}/reply", status_code=HTTP_200_OK)
    async def reply(
        self,
        request: AppRequest,
        db_session: DbSession,
        principal: NamedDependency[Principal],
        course_id: FromPath[UUID],
        thread_id: FromPath[UUID],
    ) -> Template | Redirect:
        service = DiscussionService(db_session, principal)
        form = await FormData.read(request)
        body = form.text("body", MAX_BODY, required=_("Write your reply."), strip=False)
        if not form.errors:
            try:
                created = await service.reply(thread_id, body)
            except DomainError as exc:
                if exc.status in (403, 404):
                    raise
                form.errors["body"] = service_message(exc)
            else:
                thread, _access = await service.thread_of(thread_id)
                return Redirect(newest_reply_link(thread, created.id), status_code=303)
        return await self._thread(request, service, thread_id, status=422, errors=form.errors, reply=body)

    @post("/courses/{course_id:uuid}/discussions/{thread_id:uuid}/follow", status_code=HTTP_200_OK)
    async def follow(
        self,
        request: AppRequest,
        db_session: DbSession,
        principal: NamedDependency[Principal],
        course_id: FromPath[UUID],
        thread_id: FromPath[UUID],
    ) -> Redirect:
        form = await FormData.read(request)
        await DiscussionService(db_session, principal).follow(thread_id, form.text("follow", 5) == "true")
        return await self._act(request, course_id, thread_id)

    @post("/courses/{course_id:uuid}/discussions/{thread_id:uuid}/lock", status_code=HTTP_200_OK)
    async def lock(
        self,
        request: AppRequest,
        db_session: DbSession,
        principal: NamedDependency[Principal],
        course_id: FromPath[UUID],
        thread_id: FromPath[UUID],
    ) -> Redirect:
        form = await FormData.read(request)
        await DiscussionService(db_session, principal).lock(thread_id, form.text("locked", 5) == "true")
        return await self._act(request, course_id, thread_id, "moderated")

    @post(
        "/courses/{course_id:uuid}/discussions/{thread_id:uuid}/posts/{post_id:uuid}/{action:str}",
        status_code=HTTP_200_OK,
    )
    async def post_action(
        self,
        request: AppRequest,
        db_session: DbSession,
        principal: NamedDependency[Principal],
        course_id: FromPath[UUID],
        thread_id: FromPath[UUID],
        post_id: FromPath[UUID],
        action: FromPath[str],
    ) -> Template | Redirect:
        """vote / unvote, answer / unanswer, report (with a reason), hide / restore / delete (staff)."""
        service = DiscussionService(db_session, principal)
        form = await FormData.read(request)
        reason = form.text("reason", MAX_REASON)
        done = ""
        try:
            if action in ("vote", "unvote"):
                await service.vote(post_id, action == "vote")
            elif action in ("answer", "unanswer"):
                await service.mark_answer(post_id, action == "answer")
                done = "answer" if action == "answer" else ""
            elif action == "report":
                await service.report(post_id, reason)
                done = "reported"
            elif action == "hide":
                await service.hide(post_id, reason)
                done = "moderated"
            elif action == "restore":
                await service.restore(post_id)
                done = "moderated"
            elif action == "delete":
                await service.delete_post(post_id, reason)
                done = "moderated"
            else:
                raise NotFound("no such action", field="action")
        except DomainError as exc:
            if exc.status in (403, 404) or exc.field != "reason":
                raise
            form.errors[f"reason-{post_id}"] = service_message(exc)
            return await self._thread(request, service, thread_id, status=422, errors=form.errors)
        if form.text("back", 20) == "moderation":
            return Redirect(f"{_base(course_id)}/moderation", status_code=303)
        if action == "delete":
            try:
                await service.thread_of(thread_id)
            except NotFound:  # the question itself was deleted, and its thread with it
                return Redirect(_base(course_id), status_code=303)
        return await self._act(request, course_id, thread_id, done)


def N_(message: str) -> str:
    return message


# The service's messages a member can meet on these pages, so that the catalogues translate them.
SERVICE_MESSAGES = (
    N_("Enter the title."),
    N_("Enter the text."),
    N_("Enter the reason."),
    N_("You are posting too fast; wait a minute and try again."),
    N_("This thread is locked; no new replies."),
    N_("Enter the video time as minutes:seconds, such as 02:13."),
    N_("No such lesson in this course."),
    N_("A video time needs a lesson."),
    N_("The video time must be between 0 and 24 hours."),
    N_("You have already reported this post."),
    N_("You cannot report your own post."),
    N_("You cannot vote for your own post."),
)
