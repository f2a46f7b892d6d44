"""The learner's recommendations, streak and weekly goal as JSON."""

from __future__ import annotations

from typing import Annotated
from uuid import UUID

from litestar import Controller, get, put
from litestar.di import NamedDependency
from litestar.params import JSONBody, QueryParameter

from lms.analytics.recommendations import services
from lms.analytics.recommendations.guards import requires_learner
from lms.analytics.recommendations.schemas import DayOut, GoalIn, RecommendationOut, RecommendationPage, StreakOut
from lms.db.providers import DbSession
from lms.identity.guards import Principal
from lms.identity.queries import user_contact
from lms.lib.params import AppRequest
from lms.web.i18n import gettext as _
from lms.web.layout import load_viewer


def reason_text(item: services.Recommendation) -> str:
    """The reason as the learner reads it, in their language."""
    if item.reason == "track":
        return _("Next in the program after %(course)s", course=item.because)
    if item.reason == "similar":
        return _("Because you took %(course)s", course=item.because)
    return _("Popular in your team %(team)s", team=item.because)


def recommendation_out(item: services.Recommendation) -> RecommendationOut:
    return RecommendationOut(item.course_id, item.title, item.summary, item.reason, item.because, reason_text(item))


class MyRecommendationsController(Controller):
    path = "/api/v1/me"
    guards = [requires_learner]
    tags = ["recommendations"]

    @get("/recommendations")
    async def recommendations(
        self,
        request: AppRequest,
        db_session: DbSession,
        principal: NamedDependency[Principal],
        limit: Annotated[int, QueryParameter(ge=1, le=20)] = 6,
        course_id: Annotated[UUID | None, QueryParameter(description="the course page being viewed")] = None,
    ) -> RecommendationPage:
        """Courses for you, each with its reason; never one you are enrolled in or finished, nor one you
        cannot enrol in."""
        await load_viewer(request)
        items = await services.recommend(db_session, principal.user_id, limit=limit, context_course=course_id)
        return RecommendationPage([recommendation_out(i) for i in items], len(items), limit, 0)

    @get("/streak")
    async def streak(self, db_session: DbSession, principal: NamedDependency[Principal]) -> StreakOut:
        """Consecutive days with learning, and this week's minutes against your weekly goal."""
        contact = await user_contact(db_session, principal.user_id)
        found = await services.streak_of(db_session, principal.user_id, contact.time_zone if contact else None)
        return StreakOut(
            found.days,
            found.active_today,
            found.week_minutes,
            found.goal_minutes,
            [DayOut(day.date(), minutes) for day, minutes in found.week],
        )

    @put("/learning-goal")
    async def set_goal(
        self, db_session: DbSession, principal: NamedDependency[Principal], data: JSONBody[GoalIn]
    ) -> GoalIn:
        """Set your weekly goal in minutes (null or 0 clears it)."""
        goal = await services.set_weekly_goal(db_session, principal.tenant_id, principal.user_id, data.weekly_minutes)
        return GoalIn(weekly_minutes=goal)
