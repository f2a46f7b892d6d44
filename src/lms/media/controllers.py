"""Media routes: uploads and assets (staff), playback (enrolled viewers), signed stream delivery, player."""

from __future__ import annotations

import asyncio
from typing import Annotated
from uuid import UUID

from litestar import Controller, MediaType, Response, delete, get, post, put
from litestar.di import NamedDependency, Provide
from litestar.params import FromPath, FromQuery, JSONBody, PathParameter, QueryParameter, RawBody
from litestar.status_codes import HTTP_200_OK, HTTP_201_CREATED, HTTP_202_ACCEPTED

from lms.config import Settings
from lms.db.providers import DbSession, Session
from lms.identity.guards import (
    Principal,
    allows_anonymous,
    requires_role,
    requires_user,
)
from lms.identity.schemas import Role
from lms.lib.errors import Conflict, Forbidden, NotFound
from lms.lib.pagination import Page, PageParams
from lms.lib.params import AppRequest, PartNumber
from lms.lib.storage import ObjectMissing, Storage, media_prefix
from lms.media.guards import may_watch
from lms.media.models import AssetStatus, MediaAsset, MediaUpload
from lms.media.schemas import (
    MAX_PART_SIZE,
    AssetOut,
    CaptionOut,
    PartOut,
    PartUrl,
    PlaybackBeacons,
    PlaybackOut,
    PlaybackSessionSummary,
    RenditionOut,
    UploadCreate,
    UploadOut,
)
from lms.media.services import AssetService, PlaybackEventService, UploadService, app_storage
from lms.media.services.delivery import (
    PLAYLIST_CACHE,
    SEGMENT_CACHE,
    SERVABLE_PATH,
    StreamSigner,
    caption_playlist,
    master_playlist,
)
from lms.media.services.pipeline import content_type_for
from lms.tenancy.schemas import ResolvedTenant

LANGUAGE = r"^[A-Za-z]{2,3}(-[A-Za-z0-9]{2,8})*$"


def provide_storage(request: AppRequest, settings: NamedDependency[Settings]) -> Storage:
    """One storage client per app, built on first use from STORAGE_URL."""
    return app_storage(request.app.state, settings)


def provide_uploads(
    db_session: DbSession,
    storage: NamedDependency[Storage],
    settings: NamedDependency[Settings],
    tenant: NamedDependency[ResolvedTenant],
) -> UploadService:
    return UploadService(db_session, storage, settings, tenant.id)


def provide_assets(db_session: DbSession, storage: NamedDependency[Storage]) -> AssetService:
    return AssetService(db_session, storage)


def provide_playback_log(db_session: DbSession) -> PlaybackEventService:
    return PlaybackEventService(db_session)


async def upload_out(service: UploadService, upload: MediaUpload) -> UploadOut:
    # Storage calls are blocking (boto3): keep them off the event loop.
    received = await asyncio.to_thread(service.received, upload)
    done = sum(received.values())
    missing = [
        PartUrl(number=n, size=upload.expected_part_size(n), url=service.part_url(upload, n))
        for n in range(1, upload.part_count + 1)
        if n not in received and upload.status.value == "open"
    ]
    return UploadOut(
        id=upload.id,
        asset_id=upload.asset_id,
        status=upload.status.value,
        total_bytes=upload.total_bytes,
        part_size=upload.part_size,
        part_count=upload.part_count,
        bytes_received=done if upload.status.value == "open" else upload.total_bytes,
        progress=round(100 * done / upload.total_bytes, 2) if upload.status.value == "open" else 100.0,
        parts_received=sorted(received),
        missing_parts=missing,
        expires_at=upload.expires_at,
    )


async def asset_out(service: AssetService, asset: MediaAsset) -> AssetOut:
    renditions = await service.renditions(asset.id)
    captions = await service.captions(asset.id)
    return AssetOut(
        id=asset.id,
        title=asset.title,
        status=asset.status.value,
        progress=asset.progress,
        failure_reason=asset.failure_reason,
        size_bytes=asset.size_bytes,
        duration_seconds=asset.duration_seconds,
        width=asset.width,
        height=asset.height,
        attempts=asset.attempts,
        renditions=[RenditionOut(r.name, r.width, r.height, r.bandwidth) for r in renditions],
        captions=[CaptionOut(c.language, c.label) for c in captions],
        created_at=asset.created_at,
        ready_at=asset.ready_at,
        playable=asset.playable,
        playable_at=asset.playable_at,
    )


_DEPENDENCIES = {
    "storage": Provide(provide_storage, sync_to_thread=False),
    "uploads": Provide(provide_uploads, sync_to_thread=False),
    "assets": Provide(provide_assets, sync_to_thread=False),
    "playback_log": Provide(provide_playback_log, sync_to_thread=False),
}


class MediaStaffController(Controller):
    """Instructors and tenant admins upload videos, follow processing and manage captions."""

    path = "/api/v1/media"
    guards = [requires_role(Role.INSTRUCTOR, Role.TENANT_ADMIN)]
    dependencies = _DEPENDENCIES
    tags = ["media"]

    @post("/uploads", status_code=HTTP_201_CREATED)
    async def create_upload(
        self,
        uploads: NamedDependency[UploadService],
        principal: NamedDependency[Principal],
        data: JSONBody[UploadCreate],
    ) -> UploadOut:
        """Start a resumable upload of a video: the part size and each part's URL."""
        return await upload_out(uploads, await uploads.create(data, principal.user_id))

    @get("/uploads/{upload_id:uuid}")
    async def get_upload(self, uploads: NamedDependency[UploadService], upload_id: FromPath[UUID]) -> UploadOut:
        """An upload's progress."""
        return await upload_out(uploads, await uploads.get(upload_id))

    @put("/uploads/{upload_id:uuid}/parts/{number:int}", request_max_body_size=MAX_PART_SIZE + 1)
    async def put_part(
        self, body: RawBody, uploads: NamedDependency[UploadService], upload_id: FromPath[UUID], number: PartNumber
    ) -> PartOut:
        """Upload one part of a resumable upload (the body is the bytes)."""
        upload, received = await uploads.put_part(upload_id, number, body)
        done = sum(received.values())
        return PartOut(number, len(body), done, round(100 * done / upload.total_bytes, 2))

    @post("/uploads/{upload_id:uuid}/complete", status_code=HTTP_202_ACCEPTED)
    async def complete_upload(
        self,
        db_session: DbSession,
        uploads: NamedDependency[UploadService],
        assets: NamedDependency[AssetService],
        upload_id: FromPath[UUID],
    ) -> AssetOut:
        """Finish an upload once every part is in."""
        return await asset_out(assets, await uploads.complete(upload_id))

    @delete("/uploads/{upload_id:uuid}", status_code=HTTP_200_OK)
    async def abort_upload(self, uploads: NamedDependency[UploadService], upload_id: FromPath[UUID]) -> UploadOut:
        """Abandon an upload in progress."""
        return await upload_out(uploads, await uploads.abort(upload_id))

    @get("/assets")
    async def list_assets(
        self,
        db_session: DbSession,
        assets: NamedDependency[AssetService],
        page: NamedDependency[PageParams],
        status: FromQuery[AssetStatus | None] = None,
    ) -> Page[AssetOut]:
        """Videos of this site; filter by `status`."""
        found, total = await assets.list_assets(page.limit, page.offset, status)
        return page.of([await asset_out(assets, a) for a in found], total)

    @get("/assets/{asset_id:uuid}")
    async def get_asset(
        self, db_session: DbSession, assets: NamedDependency[AssetService], asset_id: FromPath[UUID]
    ) -> AssetOut:
        """One video with its status, renditions and captions."""
        return await asset_out(assets, await assets.get(asset_id))

    @put("/assets/{asset_id:uuid}/captions/{language:str}", request_max_body_size=4 * 1024 * 1024)
    async def put_caption(
        self,
        body: RawBody,
        assets: NamedDependency[AssetService],
        asset_id: FromPath[UUID],
        language: Annotated[str, PathParameter(pattern=LANGUAGE)],
        label: Annotated[str, QueryParameter(min_length=1, max_length=100)],
    ) -> CaptionOut:
        """Add or replace the captions of one language (the body is the WebVTT file)."""
        caption = await assets.put_caption(asset_id, language.lower(), label, body)
        return CaptionOut(caption.language, caption.label)

    @delete("/assets/{asset_id:uuid}/captions/{language:str}", status_code=HTTP_200_OK)
    async def delete_caption(
        self,
        assets: NamedDependency[AssetService],
        asset_id: FromPath[UUID],
        language: FromPath[str],
    ) -> dict[str, str]:
        """Remove the captions of one language."""
        await assets.delete_caption(asset_id, language.lower())
        return {"status": "deleted", "language": language.lower()}

    @get("/assets/{asset_id:uuid}/playback-sessions")
    async def playback_sessions(
        self,
        assets: NamedDependency[AssetService],
        playback_log: NamedDependency[PlaybackEventService],
        asset_id: FromPath[UUID],
        page: NamedDependency[PageParams],
    ) -> Page[PlaybackSessionSummary]:
        """Playback sessions of one video: time to first frame, stalls, rendition switches."""
        await assets.get(asset_id)
        return page.slice(await playback_log.sessions(asset_id))


async def _watchable(session: Session, assets: AssetService, principal: Principal, asset_id: UUID) -> MediaAsset:
    asset = await assets.get(asset_id)
    if not await may_watch(session, principal, asset_id):
        raise Forbidden("only enrolled learners and the course's staff can watch this video")
    if not asset.playable:
        raise Conflict(f"this video is not ready yet ({asset.status.value})")
    return asset


class PlaybackController(Controller):
    """Per-viewer playback: signed master playlist, player metadata, quality beacons."""

    path = "/api/v1/media/assets/{asset_id:uuid}"
    guards = [requires_user]
    dependencies = _DEPENDENCIES
    tags = ["media"]

    @get("/playback")
    async def playback(
        self,
        db_session: DbSession,
        assets: NamedDependency[AssetService],
        playback_log: NamedDependency[PlaybackEventService],
        settings: NamedDependency[Settings],
        principal: NamedDependency[Principal],
        asset_id: FromPath[UUID],
    ) -> PlaybackOut:
        """What a player needs: playlist URL, captions and where to resume."""
        asset = await _watchable(db_session, assets, principal, asset_id)
        signer = StreamSigner(settings)
        base = signer.base_url(asset.tenant_id, asset.id)
        captions = await assets.captions(asset.id)
        resume = await playback_log.last_position(asset.id, principal.user_id)
        duration = asset.duration_seconds or 0.0
        return PlaybackOut(
            asset_id=asset.id,
            title=asset.title,
            duration_seconds=duration,
            master_url=f"/api/v1/media/assets/{asset.id}/master.m3u8",
            poster_url=f"{base}/poster.jpg",
            thumbnails_url=f"{base}/thumbs/thumbnails.vtt",
            captions=[CaptionOut(c.language, c.label) for c in captions],
            # Near the end counts as finished: start again from the beginning.
            resume_position_seconds=resume if resume < duration - 5 else 0.0,
            expires_at=int(base.rsplit("/", 1)[1].split(".")[0]),
        )

    @get("/master.m3u8")
    async def master(
        self,
        db_session: DbSession,
        assets: NamedDependency[AssetService],
        settings: NamedDependency[Settings],
        principal: NamedDependency[Principal],
        asset_id: FromPath[UUID],
    ) -> Response[str]:
        """The HLS master playlist of a video."""
        asset = await _watchable(db_session, assets, principal, asset_id)
        renditions = await assets.renditions(asset.id)
        captions = await assets.captions(asset.id)
        body = master_playlist(StreamSigner(settings).base_url(asset.tenant_id, asset.id), renditions, captions)
        return Response(
            body,
            media_type="application/vnd.apple.mpegurl",
            headers={"Cache-Control": "private, no-store"},
        )

    @post("/playback-events", status_code=HTTP_202_ACCEPTED)
    async def playback_events(
        self,
        db_session: DbSession,
        assets: NamedDependency[AssetService],
        playback_log: NamedDependency[PlaybackEventService],
        principal: NamedDependency[Principal],
        asset_id: FromPath[UUID],
        data: JSONBody[PlaybackBeacons],
    ) -> dict[str, int]:
        """Player measurements (time to first frame, stalls, switches) for quality reports."""
        asset = await _watchable(db_session, assets, principal, asset_id)
        recorded = await playback_log.record(asset.tenant_id, asset.id, principal.user_id, data)
        return {"recorded": recorded}


class StreamController(Controller):
    """Signed delivery from storage; the HMAC token in the path is the authorization."""

    path = "/media/s"
    dependencies = _DEPENDENCIES
    include_in_schema = False
    # Public by design: a short-lived token bound to tenant and asset authorizes each request,
    # so players (and a CDN in front) fetch without cookies or bearer tokens.
    guards = [allows_anonymous("a signed, expiring URL bound to the tenant and the asset is the authorization")]

    @get("/{asset_id:uuid}/{token:str}/{path:path}", media_type=MediaType.TEXT)
    async def serve(
        self,
        db_session: DbSession,
        storage: NamedDependency[Storage],
        settings: NamedDependency[Settings],
        tenant: NamedDependency[ResolvedTenant],
        asset_id: FromPath[UUID],
        token: FromPath[str],
        path: FromPath[str],
    ) -> Response[bytes]:
        """A file of a video (playlist, segment, caption, poster) behind a signed, expiring link."""
        tenant_id = tenant.id
        relative = path.lstrip("/")
        if not StreamSigner(settings).check(tenant_id, asset_id, token):
            raise Forbidden("this media link has expired or is not valid")
        if not SERVABLE_PATH.match(relative):
            raise NotFound("no such media file")
        prefix = media_prefix(tenant_id, asset_id)
        if relative.startswith("captions/") and relative.endswith(".m3u8"):
            asset = await AssetService(db_session, storage).find(asset_id)
            language = relative.removeprefix("captions/").removesuffix(".m3u8")
            if asset is None or not storage.exists(f"{prefix}captions/{language}.vtt"):
                raise NotFound("no such caption track")
            body = caption_playlist(language, asset.duration_seconds or 0.0).encode()
            return Response(body, media_type=content_type_for(relative), headers={"Cache-Control": PLAYLIST_CACHE})
        try:
            body = await asyncio.to_thread(storage.get_bytes, prefix + relative)
        except ObjectMissing as exc:
            raise NotFound("no such media file") from exc
        # Segments, sprites and posters never change under a key; playlists and captions may.
        mutable = relative.endswith((".m3u8", ".vtt"))
        cache = PLAYLIST_CACHE if mutable else SEGMENT_CACHE
        return Response(body, media_type=content_type_for(relative), headers={"Cache-Control": cache})
