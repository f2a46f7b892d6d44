"""The learner's certificates page: each certificate with its download, verification and sharing links."""

from __future__ import annotations

from typing import Annotated

from litestar import Controller, get
from litestar.di import NamedDependency
from litestar.params import QueryParameter
from litestar.response import Template

from lms.certificates.controllers import MyCertificatesController
from lms.certificates.services import lifecycle
from lms.db.providers import DbSession
from lms.identity.guards import Principal, requires_user
from lms.lib.pagination import PageParams
from lms.lib.params import AppRequest
from lms.web.layout import before_page, page

PAGE_SIZE = 20


class CertificatePagesController(Controller):
    guards = [requires_user]
    include_in_schema = False
    before_request = staticmethod(before_page)

    @get("/certificates")
    async def mine(
        self,
        request: AppRequest,
        db_session: DbSession,
        principal: NamedDependency[Principal],
        offset: Annotated[int, QueryParameter(name="offset", ge=0, le=100_000)] = 0,
    ) -> Template:
        settings = request.app.state.settings
        mine = await lifecycle.certificates_of(
            db_session,
            settings,
            principal.user_id,
            PageParams(limit=PAGE_SIZE, offset=offset),
            MyCertificatesController.path,
        )
        return page(
            request, "certificates/mine.html", certificates=mine.items, total=mine.total, limit=PAGE_SIZE, offset=offset
        )
