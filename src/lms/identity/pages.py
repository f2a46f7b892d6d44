"""Sign-in pages (server-rendered, tenant-branded): sign in, accept an invitation, reset a password."""

from __future__ import annotations

from typing import Annotated

from litestar import Controller, get
from litestar.params import QueryParameter
from litestar.response import Template

from lms.identity.principal import allows_anonymous
from lms.lib.params import AppRequest
from lms.web.controllers import page


class SignInPagesController(Controller):
    guards = [allows_anonymous("these pages are where anonymous visitors sign in")]
    include_in_schema = False

    @get("/sign-in")
    async def sign_in(self, request: AppRequest) -> Template:
        return page(request, "identity/sign_in.html")

    @get("/accept-invitation")
    async def accept_invitation(
        self, request: AppRequest, token: Annotated[str, QueryParameter(max_length=200)] = ""
    ) -> Template:
        return page(
            request,
            "identity/set_password.html",
            heading="Choose your password",
            token=token,
            endpoint="/api/v1/auth/invitations/accept",
        )

    @get("/reset-password")
    async def reset_password(
        self, request: AppRequest, token: Annotated[str, QueryParameter(max_length=200)] = ""
    ) -> Template:
        return page(
            request,
            "identity/set_password.html",
            heading="Reset your password",
            token=token,
            endpoint="/api/v1/auth/password-reset/confirm",
        )
