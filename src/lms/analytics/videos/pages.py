"""The studio's page for one video lesson: the watch-through curve (viewers reaching each point, views
with re-watches), where viewers stopped, re-watched parts and the playback quality; charts as
server-side SVG with their tables, everything read from the video rollups."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from litestar import Controller, get
from litestar.di import NamedDependency
from litestar.params import FromPath
from litestar.response import Template

from lms.analytics.videos.models import BUCKETS
from lms.analytics.videos.services import BucketFigures, taught_video, video_analytics
from lms.catalog.guards import requires_author
from lms.db.providers import DbSession
from lms.identity.guards import Principal, requires_user
from lms.lib.params import AppRequest
from lms.web.charts import Series, bar_chart, line_chart
from lms.web.i18n import gettext as _
from lms.web.layout import before_page, page

SEGMENTS = 10


def clock_time(seconds: float) -> str:
    """A position in the video as the player shows it: 4:05, 1:02:03."""
    whole = round(seconds)
    hours, rest = divmod(whole, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"


def segments(buckets: list[BucketFigures], duration: float) -> list[dict[str, Any]]:
    """The buckets summed into tenths of the video, for the bar charts (a hundred bars would not read)."""
    size = BUCKETS // SEGMENTS
    rows = []
    for index in range(SEGMENTS):
        part = buckets[index * size : (index + 1) * size]
        start, end = duration * index / SEGMENTS, duration * (index + 1) / SEGMENTS
        rows.append(
            {
                "label": _("%(start)s to %(end)s", start=clock_time(start), end=clock_time(end)),
                "stops": sum(b.stops for b in part),
                "rewatches": round(sum(b.rewatches for b in part) / size, 1),
            }
        )
    return rows


class VideoAnalyticsPagesController(Controller):
    guards = [requires_user, requires_author]
    include_in_schema = False
    before_request = staticmethod(before_page)
    path = "/teach/courses/{course_id:uuid}/analytics/videos"

    @get("/{lesson_id:uuid}")
    async def video(
        self,
        request: AppRequest,
        db_session: DbSession,
        principal: NamedDependency[Principal],
        course_id: FromPath[UUID],
        lesson_id: FromPath[UUID],
    ) -> Template:
        course, lesson = await taught_video(db_session, principal, course_id, lesson_id)
        data = await video_analytics(db_session, lesson.id, float(lesson.duration_seconds or 0), lesson.media_asset_id)
        labels = [clock_time(b.start_seconds) for b in data.buckets]
        curve = line_chart(
            _("Viewers who reached each point of the video"),
            labels,
            [
                Series(_("Viewers"), [float(b.viewers) for b in data.buckets]),
                Series(_("Views, re-watches included"), [round(b.views, 1) for b in data.buckets]),
            ],
            "chart-curve",
        )
        parts = segments(data.buckets, data.duration_seconds)
        stops = bar_chart(
            _("Viewers whose last position is in this part"),
            [p["label"] for p in parts],
            [float(p["stops"]) for p in parts],
            "chart-stops",
        )
        rewatches = bar_chart(
            _("Re-watches: views beyond each viewer's first, on average over this part"),
            [p["label"] for p in parts],
            [float(p["rewatches"]) for p in parts],
            "chart-rewatches",
        )
        return page(
            request,
            "analytics/videos/video.html",
            course=course,
            lesson=lesson,
            data=data,
            curve=curve,
            stops=stops,
            rewatches=rewatches,
            parts=parts,
            clock_time=clock_time,
        )
