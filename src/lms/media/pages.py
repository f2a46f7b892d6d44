"""The learner-facing video player page (server-rendered; hls.js served from this site)."""

from __future__ import annotations

from typing import Annotated
from uuid import UUID

from litestar import Controller, get
from litestar.di import NamedDependency
from litestar.params import FromPath, QueryParameter
from litestar.response import Template

from lms.db.providers import DbSession
from lms.identity.guards import Principal, requires_user
from lms.lib.errors import Forbidden, NotFound
from lms.lib.lookup import get_or_404
from lms.lib.params import AppRequest
from lms.media.guards import is_media_staff, may_watch
from lms.media.models import MediaAsset
from lms.media.services import learning_link
from lms.web.controllers import page


class PlayerPagesController(Controller):
    """The learner-facing player page (hls.js served from this site)."""

    include_in_schema = False
    guards = [requires_user]

    @get("/media/{asset_id:uuid}/watch")
    async def watch(
        self,
        request: AppRequest,
        db_session: DbSession,
        principal: NamedDependency[Principal],
        asset_id: FromPath[UUID],
        lesson_id: Annotated[UUID | None, QueryParameter(name="lesson")] = None,
    ) -> Template:
        """The player; with `?lesson=<id>` it reports progress and resumes through the learning API."""
        asset = await get_or_404(db_session, MediaAsset, asset_id, "no such video")
        if not await may_watch(db_session, principal, asset_id):
            raise Forbidden("only enrolled learners and the course's staff can watch this video")
        lesson = await learning_link.lesson_showing(db_session, lesson_id, asset_id) if lesson_id else None
        if lesson_id and lesson is None:
            raise NotFound("this lesson does not show this video", field="lesson")
        return page(
            request,
            "media/player.html",
            asset=asset,
            is_staff=is_media_staff(principal),
            lesson_id=lesson.id if lesson else None,
            course_id=lesson.course_id if lesson else None,
        )
