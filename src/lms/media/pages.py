"""Media pages: the learner-facing video player (hls.js served from this site), and for the studio a
video's processing status (polled by htmx while it transcodes) and its captions (upload, remove)."""

from __future__ import annotations

import re
from typing import Annotated
from uuid import UUID

from litestar import Controller, get, post
from litestar.datastructures import UploadFile
from litestar.di import NamedDependency
from litestar.params import FromPath, QueryParameter
from litestar.response import Redirect, Template
from litestar.status_codes import HTTP_200_OK

from lms.catalog.guards import requires_author
from lms.db.providers import DbSession
from lms.identity.guards import Principal, requires_user
from lms.lib.errors import DomainError, Forbidden, NotFound
from lms.lib.lookup import get_or_404
from lms.lib.params import AppRequest
from lms.lib.storage import Storage
from lms.media.guards import is_media_staff, may_watch
from lms.media.models import MediaAsset
from lms.media.services import AssetService, app_storage, learning_link, transcripts
from lms.media.services.delivery import poster_url
from lms.web.controllers import page
from lms.web.forms import FormErrors, service_message
from lms.web.i18n import current_locale
from lms.web.i18n import gettext as _
from lms.web.layout import before_page

LANGUAGE = re.compile(r"^[A-Za-z]{2,3}(-[A-Za-z0-9]{2,8})*$")
MAX_CAPTION_FORM_BYTES = 4 * 1024 * 1024


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
        language, cues = await transcripts.transcript_for_viewer(db_session, asset_id, current_locale())
        return page(
            request,
            "media/player.html",
            asset=asset,
            transcript=cues,
            transcript_language=language,
            is_staff=is_media_staff(principal),
            lesson_id=lesson.id if lesson else None,
            course_id=lesson.course_id if lesson else None,
            chapters=(lesson.content.get("chapters") or []) if lesson else [],
        )


def _back(value: object) -> str:
    """Where to return after a caption change: a studio page of this site, nothing else."""
    back = str(value or "")
    return back if back.startswith("/teach/") and "//" not in back and "\\" not in back else "/teach"


class MediaStudioPagesController(Controller):
    """A video's processing status and its captions, as the studio's lesson editor shows them."""

    include_in_schema = False
    guards = [requires_user, requires_author]
    before_request = staticmethod(before_page)
    path = "/teach/media/{asset_id:uuid}"

    @get("/status")
    async def status(self, request: AppRequest, db_session: DbSession, asset_id: FromPath[UUID]) -> Template:
        """The status fragment; it polls itself (htmx) until the video is ready or has failed."""
        asset = await AssetService(db_session, _storage(request)).get(asset_id)
        poster = poster_url(request.app.state.settings, asset)
        return page(request, "media/studio/_status.html", asset=asset, lesson_url="", video={"poster_url": poster})

    @post("/captions", status_code=HTTP_200_OK, request_max_body_size=MAX_CAPTION_FORM_BYTES + 64 * 1024)
    async def add_caption(self, request: AppRequest, db_session: DbSession, asset_id: FromPath[UUID]) -> Redirect:
        """A WebVTT file for one language (replaces that language's captions)."""
        form = await request.form()
        back = _back(form.get("back"))
        errors = FormErrors()
        language = str(form.get("language", "")).strip()
        label = str(form.get("label", "")).strip()[:100]
        upload = form.get("file")
        # The editor sends the edited text; the upload form a file.
        edited = str(form.get("text", "")) if "text" in form else None
        if not LANGUAGE.match(language):
            errors["language"] = _("Enter a language code, for example en or de.")
        if not label:
            errors["label"] = _("Enter the name learners pick, for example English.")
        if edited is None and (not isinstance(upload, UploadFile) or not upload.filename):
            errors["file"] = _("Choose a WebVTT (.vtt) file.")
        if not errors:
            body = edited.encode() if edited is not None else await upload.read()  # type: ignore[union-attr]
            try:
                await AssetService(db_session, _storage(request)).put_caption(asset_id, language.lower(), label, body)
            except DomainError as exc:
                if exc.status not in (413, 422):
                    raise
                errors["file"] = service_message(exc)
        if errors:
            field, message = next(iter(errors.items()))
            return Redirect(_with(back, caption_error=f"{field}:{message}"), status_code=303)
        return Redirect(_with(back, notice="captions"), status_code=303)

    @get("/captions/{language:str}/edit")
    async def edit_caption(
        self,
        request: AppRequest,
        db_session: DbSession,
        asset_id: FromPath[UUID],
        language: FromPath[str],
        back: Annotated[str, QueryParameter(name="back", max_length=400)] = "",
    ) -> Template:
        """A caption track's WebVTT text in a plain editor: fix a word or a time, save, and the player,
        the transcript and the search use it."""
        asset = await AssetService(db_session, _storage(request)).get(asset_id)
        caption, text = await AssetService(db_session, _storage(request)).caption(asset_id, language.lower()[:35])
        return page(request, "media/studio/caption.html", asset=asset, caption=caption, text=text, back=_back(back))

    @post("/captions/{language:str}/delete", status_code=HTTP_200_OK)
    async def delete_caption(
        self, request: AppRequest, db_session: DbSession, asset_id: FromPath[UUID], language: FromPath[str]
    ) -> Redirect:
        form = await request.form()
        await AssetService(db_session, _storage(request)).delete_caption(asset_id, language.lower()[:20])
        return Redirect(_with(_back(form.get("back")), notice="deleted"), status_code=303)


def _storage(request: AppRequest) -> Storage:
    return app_storage(request.app.state, request.app.state.settings)


def _with(url: str, **params: str) -> str:
    from urllib.parse import urlencode

    return f"{url}{'&' if '?' in url else '?'}{urlencode(params)}"
