"""The design system's own page: every component, as it renders with the tenant's brand."""

from __future__ import annotations

from datetime import UTC, datetime

from litestar import Controller, get
from litestar.response import Template

from lms.identity.guards import requires_role
from lms.identity.models import Role
from lms.lib.params import AppRequest
from lms.web.i18n import gettext as _
from lms.web.layout import before_page, load_viewer, page

__all__ = ["DesignSystemController", "page"]


class DesignSystemController(Controller):
    before_request = staticmethod(before_page)
    """One internal page that renders every component, for the staff who build course pages."""

    include_in_schema = False
    guards = [requires_role(Role.INSTRUCTOR, Role.TENANT_ADMIN)]

    @get("/design-system")
    async def components(self, request: AppRequest) -> Template:
        await load_viewer(request)
        return page(
            request,
            "web/design_system.html",
            example_date=datetime(2026, 3, 14, 15, 9, tzinfo=UTC),
            errors={"example_email": _("Enter an e-mail address like name@example.com.")},
        )
