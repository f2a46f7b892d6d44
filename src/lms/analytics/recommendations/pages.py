"""The weekly-goal form of "My learning" (the page itself belongs to learning and shows streak,
goal and recommendations from this sub-domain's services)."""

from __future__ import annotations

from litestar import Controller, post
from litestar.di import NamedDependency
from litestar.response import Redirect
from litestar.status_codes import HTTP_200_OK

from lms.analytics.recommendations import services
from lms.analytics.recommendations.guards import requires_learner
from lms.db.providers import DbSession
from lms.identity.guards import Principal
from lms.lib.errors import ValidationFailed
from lms.lib.params import AppRequest
from lms.web.forms import FormData
from lms.web.i18n import gettext as _
from lms.web.layout import before_page


class LearningGoalPagesController(Controller):
    guards = [requires_learner]
    include_in_schema = False
    before_request = staticmethod(before_page)

    @post("/learning-goal", status_code=HTTP_200_OK)
    async def set_goal(
        self, request: AppRequest, db_session: DbSession, principal: NamedDependency[Principal]
    ) -> Redirect:
        form = await FormData.read(request)
        raw = form.text("weekly_minutes", 6)
        if raw and not raw.isdigit():
            raise ValidationFailed(_("Enter the minutes as a whole number."), field="weekly_minutes")
        await services.set_weekly_goal(db_session, principal.tenant_id, principal.user_id, int(raw) if raw else None)
        return Redirect("/?goal=saved", status_code=303)
