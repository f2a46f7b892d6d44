"""Catalogue pages: search with facets and sorting, and the course page (outline, progress, enrol)."""

from __future__ import annotations

from typing import Annotated, cast
from urllib.parse import urlencode
from uuid import UUID

from litestar import Controller, get, post
from litestar.di import NamedDependency
from litestar.params import FromPath, FromQuery, QueryParameter
from litestar.response import Redirect, Template
from litestar.status_codes import HTTP_200_OK

from lms.analytics.recommendations.services import recommend
from lms.catalog.models import Difficulty
from lms.catalog.schemas import PriceFilter, SearchQuery, SortOrder
from lms.catalog.services import CatalogueService
from lms.catalog.services.search import CourseSearch
from lms.db.providers import DbSession
from lms.identity.guards import Principal, requires_user
from lms.identity.queries import user_contacts
from lms.learning.queries import enrollment_in_course, progress_in_courses
from lms.learning.services import EnrollmentService
from lms.learning.services.views import module_locks
from lms.lib.params import AppRequest
from lms.web.forms import service_message
from lms.web.i18n import gettext as _
from lms.web.layout import before_page, page

PAGE_SIZE = 12


class CataloguePagesController(Controller):
    guards = [requires_user]
    include_in_schema = False
    before_request = staticmethod(before_page)

    @get("/courses")
    async def catalogue(
        self,
        request: AppRequest,
        db_session: DbSession,
        principal: NamedDependency[Principal],
        q: Annotated[str, QueryParameter(name="q", max_length=200)] = "",
        difficulty: Annotated[str, QueryParameter(name="difficulty", max_length=20)] = "",
        price: Annotated[str, QueryParameter(name="price", max_length=10)] = "",
        sort: Annotated[str, QueryParameter(name="sort", max_length=20)] = "relevance",
        offset: Annotated[int, QueryParameter(name="offset", ge=0, le=10_000)] = 0,
    ) -> Template:
        """The filter form sends every field, empty ones included: an empty or unknown value means "any"."""
        level = Difficulty(difficulty) if difficulty in set(Difficulty) else None
        price_filter = cast(PriceFilter, price) if price in ("free", "paid") else None
        order = cast(SortOrder, sort) if sort in ("relevance", "popularity", "newest") else "relevance"
        query = SearchQuery(
            q=q.strip() or None, difficulty=level, price=price_filter, sort=order, limit=PAGE_SIZE, offset=offset
        )
        result = await CourseSearch(db_session, principal.tenant_id).search(query)
        # Cards of courses the learner is enrolled in show their progress.
        progress = await progress_in_courses(db_session, principal.user_id, [hit.id for hit in result.items])
        filters = {"q": q, "difficulty": level or "", "price": price_filter or "", "sort": order}
        base = "/courses?" + urlencode({k: v for k, v in filters.items() if v}) + "&"
        # htmx (filters changed in place) gets only the results; a plain request gets the whole page.
        template = "catalog/_results.html" if request.headers.get("hx-request") else "catalog/catalogue.html"
        return page(request, template, result=result, progress=progress, filters=filters, page_base=base)

    @get("/courses/{course_id:uuid}")
    async def course(
        self,
        request: AppRequest,
        db_session: DbSession,
        principal: NamedDependency[Principal],
        course_id: FromPath[UUID],
        enrolled: FromQuery[bool] = False,
    ) -> Template:
        catalogue = CatalogueService(db_session, principal)
        course = await catalogue.describe(await catalogue.get_course(course_id), with_structure=True)
        enrollment = await enrollment_in_course(db_session, principal.user_id, course_id)
        # Why a module is still locked for this learner, in the page's language.
        locks = await module_locks(db_session, principal.user_id, course_id) if enrollment is not None else {}
        teachers = await user_contacts(db_session, set(course.instructor_ids))
        lessons = sum(len(module.lessons) for module in course.modules or [])
        minutes = sum(lesson.duration_seconds or 0 for module in course.modules or [] for lesson in module.lessons)
        return page(
            request,
            "catalog/course.html",
            course=course,
            enrollment=enrollment,
            locks={module_id: service_message(reason) for module_id, reason in locks.items()},
            lesson_count=lessons,
            instructors=sorted(contact.display_name for contact in teachers.values()),
            total_seconds=minutes,
            flash=_("You are enrolled.") if enrolled and enrollment is not None else None,
            recommendations=await recommend(db_session, principal.user_id, limit=3, context_course=course_id),
            discussions_open=enrollment is not None or course_staff(principal, course.instructor_ids),
        )

    @post("/courses/{course_id:uuid}/enrol", status_code=HTTP_200_OK)
    async def enrol(
        self,
        db_session: DbSession,
        principal: NamedDependency[Principal],
        course_id: FromPath[UUID],
    ) -> Redirect:
        """Self-enrolment (the session guard has checked the form's CSRF field); back to the course page."""
        await EnrollmentService(db_session, principal).enroll(course_id)
        return Redirect(f"/courses/{course_id}?enrolled=1", status_code=303)


def course_staff(principal: Principal, instructor_ids: list[UUID] | None) -> bool:
    return "tenant_admin" in principal.roles or principal.user_id in (instructor_ids or [])
