"""The tenant admin console: its navigation section and the setup checklist (HTML over the same services)."""

from __future__ import annotations

from litestar import Controller, get
from litestar.di import NamedDependency
from litestar.response import Template

from lms.db.providers import DbSession
from lms.lib.params import AppRequest
from lms.organisation.guards import requires_tenant_admin
from lms.organisation.services.checklist import setup_checklist
from lms.tenancy.schemas import ResolvedTenant
from lms.web.i18n import gettext as _
from lms.web.layout import before_page, page


def admin_sections(current: str) -> list[tuple[str, str, int | None]]:
    """The admin console's own navigation (tabs under the page title), same on every admin page."""
    del current
    return [
        ("/admin", _("Setup"), None),
        ("/admin/users", _("Users"), None),
        ("/admin/users/import", _("Import users"), None),
    ]


class AdminPagesController(Controller):
    before_request = staticmethod(before_page)
    guards = [requires_tenant_admin]
    include_in_schema = False

    @get("/admin")
    async def setup(
        self, request: AppRequest, db_session: DbSession, tenant: NamedDependency[ResolvedTenant]
    ) -> Template:
        """The first page a tenant admin sees: what is set up and the one link that does the rest."""
        checklist = await setup_checklist(db_session, tenant.id)
        return page(
            request,
            "admin/setup.html",
            checklist=checklist,
            items={item.key: item for item in checklist.items},
            sections=admin_sections("/admin"),
        )
