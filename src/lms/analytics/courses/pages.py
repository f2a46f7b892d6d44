"""Course analytics pages for the course's staff: enrolments and completions over time, the funnel by
module, drop-off per lesson (charts as server-side SVG, each with its table), and the gradebook with
filters, sorting and a CSV export. Everything is read from the rollups the worker maintains."""

from __future__ import annotations

from typing import Annotated, Any
from uuid import UUID

from litestar import Controller, Response, get
from litestar.di import NamedDependency
from litestar.params import FromPath, QueryParameter
from litestar.response import Template

from lms.analytics.courses.services import course_analytics, gradebook, gradebook_csv
from lms.catalog.guards import requires_author
from lms.catalog.schemas import CourseOut
from lms.catalog.services import CatalogueService
from lms.db.providers import DbSession
from lms.identity.guards import Principal, requires_user
from lms.identity.queries import user_contacts
from lms.lib.params import AppRequest
from lms.web.charts import Series, bar_chart, line_chart
from lms.web.i18n import format_datetime, format_day
from lms.web.i18n import gettext as _
from lms.web.layout import before_page, page

Choice = Annotated[str, QueryParameter(max_length=20)]


async def _course(db_session: DbSession, principal: Principal, course_id: UUID) -> CourseOut:
    """The course with its outline, if the caller teaches it (403 otherwise, 404 for other tenants)."""
    catalogue = CatalogueService(db_session, principal)
    return await catalogue.describe(await catalogue.editable_course(course_id), with_structure=True)


class CourseAnalyticsPagesController(Controller):
    guards = [requires_user, requires_author]
    include_in_schema = False
    before_request = staticmethod(before_page)
    path = "/teach/courses/{course_id:uuid}"

    @get("/analytics")
    async def analytics(
        self,
        request: AppRequest,
        db_session: DbSession,
        principal: NamedDependency[Principal],
        course_id: FromPath[UUID],
    ) -> Template:
        course = await _course(db_session, principal, course_id)
        data = await course_analytics(db_session, course_id)
        labels = [format_day(day) for day, _e, _c in data.days]
        over_time = line_chart(
            _("Enrolments and completions per day"),
            labels,
            [
                Series(_("Enrolments"), [float(e) for _d, e, _c in data.days]),
                Series(_("Completions"), [float(c) for _d, _e, c in data.days]),
            ],
            "chart-days",
        )
        lessons = [(m, lesson) for m in course.modules or [] for lesson in m.lessons]
        lesson_rows: list[dict[str, Any]] = []
        for module, lesson in lessons:
            started, completed, score = data.lessons.get(lesson.id, (0, 0, None))
            lesson_rows.append(
                {
                    "module": module.title,
                    "title": lesson.title,
                    "started": started,
                    "completed": completed,
                    "dropped": max(started - completed, 0),
                    "drop_rate": (started - completed) / started if started else 0.0,
                    "score": score,
                    "video_url": f"/teach/courses/{course.id}/analytics/videos/{lesson.id}"
                    if lesson.type == "video"
                    else None,
                }
            )
        module_rows: list[dict[str, Any]] = []
        for module in course.modules or []:
            done = [data.lessons.get(lesson.id, (0, 0, None))[1] for lesson in module.lessons if lesson.required]
            module_rows.append({"title": module.title, "completed": min(done) if done else 0})
        funnel = bar_chart(
            _("Learners who completed each module"),
            [_("Enrolled")] + [m["title"] for m in module_rows],
            [float(data.learners)] + [float(m["completed"]) for m in module_rows],
            "chart-funnel",
        )
        drop_off = bar_chart(
            _("Learners who started a lesson but did not complete it"),
            [r["title"] for r in lesson_rows],
            [float(r["dropped"]) for r in lesson_rows],
            "chart-drop",
        )
        return page(
            request,
            "analytics/courses/analytics.html",
            course=course,
            data=data,
            over_time=over_time,
            funnel=funnel,
            drop_off=drop_off,
            lesson_rows=lesson_rows,
            module_rows=module_rows,
        )

    @get("/gradebook")
    async def gradebook_page(
        self,
        request: AppRequest,
        db_session: DbSession,
        principal: NamedDependency[Principal],
        course_id: FromPath[UUID],
        status: Choice = "",
        sort: Choice = "activity",
        q: Annotated[str, QueryParameter(name="q", max_length=100)] = "",
    ) -> Template:
        """Learners with progress, average score and last activity; filter by status or name, sort."""
        course = await _course(db_session, principal, course_id)
        rows = await _gradebook_rows(db_session, course_id, status, sort, q)
        return page(
            request,
            "analytics/courses/gradebook.html",
            course=course,
            rows=rows,
            filters={"status": status, "sort": sort, "q": q},
        )

    @get("/gradebook.csv")
    async def gradebook_export(
        self,
        db_session: DbSession,
        principal: NamedDependency[Principal],
        course_id: FromPath[UUID],
        status: Choice = "",
        sort: Choice = "activity",
        q: Annotated[str, QueryParameter(name="q", max_length=100)] = "",
    ) -> Response[bytes]:
        course = await _course(db_session, principal, course_id)
        rows = await _gradebook_rows(db_session, course_id, status, sort, q)
        body = gradebook_csv(
            [
                {
                    "name": r["name"],
                    "email": r["email"],
                    "status": r["status"],
                    "progress_pct": round(r["progress"] * 100, 1),
                    "lessons_completed": r["lessons_completed"],
                    "average_score": "" if r["score"] is None else round(r["score"], 1),
                    "last_activity": r["last_activity"].isoformat() if r["last_activity"] else "",
                    "completed_at": r["completed_at"].isoformat() if r["completed_at"] else "",
                }
                for r in rows
            ]
        )
        return Response(
            body,
            media_type="text/csv; charset=utf-8",
            headers={
                "Content-Disposition": f'attachment; filename="gradebook-{course.slug}.csv"',
                "Cache-Control": "no-store",
            },
        )


async def _gradebook_rows(
    db_session: DbSession, course_id: UUID, status: str, sort: str, q: str
) -> list[dict[str, Any]]:
    wanted = status if status in ("active", "completed", "expired", "refunded") else None
    learners = await gradebook(db_session, course_id, status=wanted, sort=sort)
    contacts = await user_contacts(db_session, {row.user_id for row in learners})
    rows: list[dict[str, Any]] = []
    needle = q.strip().lower()
    for row in learners:
        contact = contacts.get(row.user_id)
        name, email = (contact.display_name, contact.email) if contact else ("?", "")
        if needle and needle not in name.lower() and needle not in email.lower():
            continue
        rows.append(
            {
                "user_id": row.user_id,
                "name": name,
                "email": email,
                "status": row.status,
                # completion_pct is a percentage (0 to 100), as the progress fold stores it
                "progress": min(row.completion_pct / 100, 1.0),
                "lessons_completed": row.lessons_completed,
                "score": row.average_score,
                "last_activity": row.last_activity_at,
                "last_activity_text": format_datetime(row.last_activity_at) if row.last_activity_at else "",
                "completed_at": row.completed_at,
            }
        )
    if sort == "name":
        rows.sort(key=lambda r: r["name"].lower())
    return rows
