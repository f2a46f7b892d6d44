"""Tenant pages. Every page extends branding/templates/base.html."""

from __future__ import annotations

from typing import Any

from litestar import Controller, get
from litestar.response import Template

from lms.identity.principal import allows_anonymous
from lms.lib.params import AppRequest
from lms.web.branding import brand_for


def page(request: AppRequest, template: str, **context: Any) -> Template:
    tenant = request.scope["state"]["tenant"]
    return Template(template_name=template, context={"brand": brand_for(tenant), "tenant": tenant, **context})


class TenantPagesController(Controller):
    include_in_schema = False
    guards = [allows_anonymous("the site's landing page, with the tenant's branding, precedes sign-in")]

    @get("/")
    async def home(self, request: AppRequest) -> Template:
        return page(request, "home.html")
