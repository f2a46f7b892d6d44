"""A video lesson's analytics as JSON, under the course: the same figures as the studio page, for the
same people (the course's instructors and the tenant's admins)."""

from __future__ import annotations

from uuid import UUID

from litestar import Controller, get
from litestar.di import NamedDependency
from litestar.params import FromPath

from lms.analytics.videos.schemas import VideoAnalyticsOut, VideoBucketOut, VideoQualityOut
from lms.analytics.videos.services import VideoAnalytics, taught_video, video_analytics
from lms.catalog.guards import requires_author
from lms.db.providers import DbSession
from lms.identity.guards import Principal, requires_user


def analytics_out(course_id: UUID, title: str, data: VideoAnalytics) -> VideoAnalyticsOut:
    quality = data.quality
    return VideoAnalyticsOut(
        course_id=course_id,
        lesson_id=data.lesson_id,
        title=title,
        duration_seconds=data.duration_seconds,
        viewers=data.viewers,
        buckets=[
            VideoBucketOut(
                b.bucket, round(b.start_seconds, 3), b.viewers, round(b.views, 3), round(b.rewatches, 3), b.stops
            )
            for b in data.buckets
        ],
        quality=None
        if quality is None
        else VideoQualityOut(
            sessions=quality.sessions,
            time_to_first_frame_p50_ms=quality.ttff_p50_ms,
            time_to_first_frame_p90_ms=quality.ttff_p90_ms,
            time_to_first_frame_p95_ms=quality.ttff_p95_ms,
            stalls=quality.stalls,
            stalls_per_session=round(quality.stalls_per_session, 3),
            stalled_ms_per_session=round(quality.stalled_ms_per_session, 1),
            errors=quality.errors,
            rendition_switches=quality.switches,
            played_to_end=quality.ended,
        ),
        refreshed_to=data.refreshed_to,
    )


class VideoAnalyticsController(Controller):
    path = "/api/v1/courses/{course_id:uuid}/analytics/videos"
    guards = [requires_user, requires_author]
    tags = ["analytics"]

    @get("/{lesson_id:uuid}")
    async def video(
        self,
        db_session: DbSession,
        principal: NamedDependency[Principal],
        course_id: FromPath[UUID],
        lesson_id: FromPath[UUID],
    ) -> VideoAnalyticsOut:
        """Watch-through per hundredth of the video (viewers reaching it, views with re-watches, viewers
        who stopped there) and the playback quality, from the rollups the worker keeps (about a minute
        behind). For the course's instructors and the tenant's admins."""
        _course, lesson = await taught_video(db_session, principal, course_id, lesson_id)
        data = await video_analytics(db_session, lesson.id, float(lesson.duration_seconds or 0), lesson.media_asset_id)
        return analytics_out(course_id, lesson.title, data)
