"""The tenant admins' audit log page: filter, read the changes, export them."""

from __future__ import annotations

from datetime import timedelta

from litestar import Controller, get
from litestar.di import NamedDependency, Provide
from litestar.params import FromQuery
from litestar.response import Template

from lms.identity.guards import requires_role
from lms.identity.schemas import Role
from lms.lib.params import AppRequest, Offset
from lms.tenancy.controllers import admin_audit_entry_out, provide_audit_filter
from lms.tenancy.services.audit import AdminAudit, AuditFilter
from lms.web.i18n import gettext as _
from lms.web.layout import before_page, load_viewer, page

PAGE_SIZE = 50


def action_labels() -> dict[str, str]:
    """Plain words for the recorded actions; an action without words shows as recorded."""
    return {
        "user.invited": _("Invited a user"),
        "user.updated": _("Changed a user"),
        "user.deactivated": _("Deactivated a user"),
        "user.reactivated": _("Reactivated a user"),
        "user.invitation_sent": _("Sent an invitation again"),
        "sso.provider_created": _("Added a sign-in provider"),
        "sso.provider_updated": _("Changed a sign-in provider"),
        "sso.provider_deleted": _("Removed a sign-in provider"),
        "scim.token_created": _("Created a SCIM token"),
        "scim.token_revoked": _("Revoked a SCIM token"),
        "settings.mfa_required_changed": _("Changed the two-step sign-in rule"),
    }


def field_labels() -> dict[str, str]:
    return {
        "display_name": _("Name"),
        "roles": _("Roles"),
        "status": _("Status"),
        "manager_id": _("Manager"),
        "groups": _("Groups"),
        "kind": _("Kind"),
        "mfa_required_for_staff": _("Two-step sign-in required for staff"),
    }


def shown(value: object) -> str:
    """A recorded value in plain words: lists joined, nothing as a dash, yes/no for flags."""
    if value is None or value == [] or value == "":
        return "—"
    if isinstance(value, bool):
        return _("Yes") if value else _("No")
    if isinstance(value, list):
        return ", ".join(str(item) for item in value)
    return str(value)


class AuditPagesController(Controller):
    guards = [requires_role(Role.TENANT_ADMIN)]
    include_in_schema = False
    before_request = staticmethod(before_page)
    dependencies = {"audit_filter": Provide(provide_audit_filter, sync_to_thread=False)}

    @get("/admin/audit")
    async def audit_log(
        self,
        request: AppRequest,
        audit: NamedDependency[AdminAudit],
        audit_filter: NamedDependency[AuditFilter],
        offset: FromQuery[Offset] = 0,
    ) -> Template:
        await load_viewer(request)
        entries, total = await audit.entries(audit_filter, PAGE_SIZE, offset)
        labels = action_labels()
        query = "&".join(f"{k}={v}" for k, v in request.query_params.items() if k != "offset" and v)
        return page(
            request,
            "tenancy/audit.html",
            entries=[admin_audit_entry_out(e) for e in entries],
            labels=labels,
            fields=field_labels(),
            shown=shown,
            actions=[(a, labels.get(a, a)) for a in await audit.actions()],
            selected=audit_filter,
            timedelta_day=timedelta(days=1),
            total=total,
            limit=PAGE_SIZE,
            offset=offset,
            base=f"/admin/audit?{query}&" if query else "/admin/audit?",
            export_href="/api/v1/admin/audit/export.csv" + (f"?{query}" if query else ""),
        )
