"""SCIM tokens for tenant admins: the list with when each was last used, a new token shown exactly once,
and revoking one after a confirmation."""

from __future__ import annotations

from typing import Annotated
from uuid import UUID

from litestar import Controller, get, post
from litestar.di import NamedDependency
from litestar.params import FromPath, QueryParameter
from litestar.response import Redirect, Template
from litestar.status_codes import HTTP_200_OK

from lms.billing.guards import requires_feature
from lms.db.providers import DbSession
from lms.identity.guards import requires_role
from lms.identity.models import Role, ScimToken
from lms.identity.scim.services.provisioning import (
    create_scim_token,
    list_scim_tokens,
    live_scim_token,
    revoke_scim_token,
)
from lms.lib.pagination import PageParams
from lms.lib.params import AppRequest
from lms.tenancy.schemas import ResolvedTenant
from lms.tenancy.services.audit import AdminAudit
from lms.web.forms import FormData, FormErrors, expired_form_message
from lms.web.i18n import gettext as _
from lms.web.layout import admin_sections, before_page, page

ALL_TOKENS = PageParams(limit=200, offset=0)


def scim_base_url(request: AppRequest) -> str:
    return f"{request.url.scheme}://{request.headers.get('host', '')}/scim/v2"


class ScimTokenPagesController(Controller):
    """The bearer tokens an identity provider uses to create, change and deactivate people by SCIM."""

    guards = [requires_role(Role.TENANT_ADMIN), requires_feature("scim")]
    include_in_schema = False
    before_request = staticmethod(before_page)

    async def render(
        self,
        request: AppRequest,
        db_session: DbSession,
        status: int = 200,
        errors: FormErrors | None = None,
        name: str = "",
        flash: str | None = None,
        created: tuple[ScimToken, str] | None = None,
    ) -> Template:
        tokens = (await list_scim_tokens(db_session, ALL_TOKENS)).items
        return page(
            request,
            "admin/scim.html",
            status_code=status,
            sections=admin_sections(),
            tokens=[t for t in tokens if t.revoked_at is None],
            revoked=[t for t in tokens if t.revoked_at is not None],
            scim_url=scim_base_url(request),
            errors=errors or FormErrors(),
            name=name,
            flash=flash,
            created=created,
        )

    @get("/admin/scim")
    async def tokens(
        self,
        request: AppRequest,
        db_session: DbSession,
        done: Annotated[str, QueryParameter(max_length=20)] = "",
    ) -> Template:
        flash = _("The token is revoked. Its client is refused from now on.") if done == "revoked" else None
        return await self.render(request, db_session, flash=flash)

    @post("/admin/scim", status_code=HTTP_200_OK)
    async def create(
        self,
        request: AppRequest,
        db_session: DbSession,
        tenant: NamedDependency[ResolvedTenant],
        audit: NamedDependency[AdminAudit],
    ) -> Template:
        """Create a token and show it on this answer only: it is stored as a hash."""
        form = await FormData.read(request)
        name = form.text("name", 200, required=_("Enter a name, such as the identity provider that uses it."))
        if not form.csrf_valid(request):
            form.errors.setdefault("name", expired_form_message())
        if form.errors:
            return await self.render(request, db_session, 422, form.errors, name)
        token, raw = await create_scim_token(db_session, tenant.id, name, audit)
        return await self.render(request, db_session, 201, created=(token, raw))

    @get("/admin/scim/{token_id:uuid}/revoke")
    async def confirm_revoke(self, request: AppRequest, db_session: DbSession, token_id: FromPath[UUID]) -> Template:
        """Check before revoking: the client using it stops provisioning at once."""
        token = await live_scim_token(db_session, token_id)
        return page(request, "admin/scim_revoke.html", sections=admin_sections(), token=token, errors=FormErrors())

    @post("/admin/scim/{token_id:uuid}/revoke", status_code=HTTP_200_OK)
    async def revoke(
        self,
        request: AppRequest,
        db_session: DbSession,
        audit: NamedDependency[AdminAudit],
        token_id: FromPath[UUID],
    ) -> Template | Redirect:
        form = await FormData.read(request)
        if not form.csrf_valid(request):
            token = await live_scim_token(db_session, token_id)
            errors = FormErrors(confirm=expired_form_message())
            return page(
                request,
                "admin/scim_revoke.html",
                status_code=400,
                sections=admin_sections(),
                token=token,
                errors=errors,
            )
        await revoke_scim_token(db_session, token_id, audit)
        return Redirect("/admin/scim?done=revoked", status_code=303)
