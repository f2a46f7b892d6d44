"""The learner's home, "My learning": where to continue, what is due, in progress and completed.
Signed-out visitors get the site's welcome instead."""

from __future__ import annotations

from typing import Any

from litestar import Controller, Request, get
from litestar.response import Template
from sqlalchemy.ext.asyncio import AsyncSession

from lms.identity.principal import Principal, allows_anonymous
from lms.learning.models import EnrollmentStatus
from lms.learning.views import continue_learning, my_courses
from lms.web.layout import before_page, load_viewer, page


class MyLearningPagesController(Controller):
    include_in_schema = False
    guards = [allows_anonymous("the site's landing page, with the tenant's branding, precedes sign-in")]
    before_request = staticmethod(before_page)

    @get("/")
    async def home(self, request: Request[Any, Any, Any], db_session: AsyncSession) -> Template:
        viewer = await load_viewer(request)
        if viewer is None:
            return page(request, "home.html")
        principal: Principal = request.scope["state"]["principal"]
        courses = await my_courses(db_session, principal, limit=200)
        due = sorted(
            (c for c in courses if c.due_at is not None and c.status is EnrollmentStatus.ACTIVE),
            key=lambda c: c.due_at or 0,
        )
        return page(
            request,
            "learning/my_learning.html",
            continue_card=await continue_learning(db_session, principal),
            due=due,
            in_progress=[c for c in courses if c.status is EnrollmentStatus.ACTIVE and c.due_at is None],
            completed=[c for c in courses if c.status is EnrollmentStatus.COMPLETED],
        )
