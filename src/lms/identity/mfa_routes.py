"""Multi-factor routes: a user's own TOTP set-up, enrolment forced at sign-in, and the tenant's MFA policy."""

from __future__ import annotations

from typing import Annotated

import msgspec
from litestar import Controller, Response, get, post, put
from litestar.di import NamedDependency
from litestar.params import JSONBody
from litestar.status_codes import HTTP_200_OK
from sqlalchemy.ext.asyncio import AsyncSession

from lms.identity.controllers import sessions_of, tenant_id_of, totp_of
from lms.identity.mfa import mfa_required_for, settings_of
from lms.identity.models import ActionPurpose, IdentitySettings, Role, User
from lms.identity.principal import Principal, allows_anonymous, requires_role, requires_user
from lms.identity.sessions import session_cookies
from lms.identity.signin import consume_link, peek_link
from lms.lib.errors import NotFound
from lms.lib.params import AppRequest

Code = Annotated[str, msgspec.Meta(min_length=6, max_length=32)]
Token = Annotated[str, msgspec.Meta(min_length=8, max_length=200)]


class EnrolmentOut(msgspec.Struct):
    secret: str
    otpauth_uri: str
    qr_png: str


class CodeIn(msgspec.Struct, forbid_unknown_fields=True):
    code: Code


class EnrolmentTokenIn(msgspec.Struct, forbid_unknown_fields=True):
    enrolment_token: Token


class EnrolmentConfirmIn(msgspec.Struct, forbid_unknown_fields=True):
    enrolment_token: Token
    code: Code


class RecoveryCodesOut(msgspec.Struct):
    recovery_codes: list[str]


class MfaStatusOut(msgspec.Struct):
    enabled: bool
    required: bool
    recovery_codes_left: int


class EnrolledSignInOut(msgspec.Struct):
    access_token: str
    refresh_token: str
    expires_in: int
    recovery_codes: list[str]
    token_type: str = "Bearer"


class IdentitySettingsIn(msgspec.Struct, forbid_unknown_fields=True):
    mfa_required_for_staff: bool


class IdentitySettingsOut(msgspec.Struct):
    mfa_required_for_staff: bool


async def current_user(db_session: AsyncSession, principal: Principal) -> User:
    user = await db_session.get(User, principal.user_id)
    if user is None:
        raise NotFound("user not found")
    return user


class MyMfaController(Controller):
    """A signed-in user sets up, inspects and turns off their own second factor."""

    path = "/api/v1/me/mfa"
    guards = [requires_user]
    tags = ["identity"]

    @get("/")
    async def status(
        self,
        request: AppRequest,
        db_session: NamedDependency[AsyncSession],
        principal: NamedDependency[Principal],
    ) -> MfaStatusOut:
        user = await current_user(db_session, principal)
        return MfaStatusOut(
            enabled=user.mfa_enabled,
            required=await mfa_required_for(db_session, user),
            recovery_codes_left=await totp_of(request, db_session).recovery_codes_left(user.id),
        )

    @post("/totp", status_code=HTTP_200_OK)
    async def begin(
        self,
        request: AppRequest,
        db_session: NamedDependency[AsyncSession],
        principal: NamedDependency[Principal],
    ) -> EnrolmentOut:
        enrolment = await totp_of(request, db_session).begin_enrolment(await current_user(db_session, principal))
        return EnrolmentOut(enrolment.secret, enrolment.otpauth_uri, enrolment.qr_png_data_uri)

    @post("/totp/confirm", status_code=HTTP_200_OK)
    async def confirm(
        self,
        request: AppRequest,
        db_session: NamedDependency[AsyncSession],
        principal: NamedDependency[Principal],
        data: JSONBody[CodeIn],
    ) -> RecoveryCodesOut:
        codes = await totp_of(request, db_session).confirm(await current_user(db_session, principal), data.code)
        return RecoveryCodesOut(codes)

    @post("/recovery-codes", status_code=HTTP_200_OK)
    async def regenerate(
        self,
        request: AppRequest,
        db_session: NamedDependency[AsyncSession],
        principal: NamedDependency[Principal],
        data: JSONBody[CodeIn],
    ) -> RecoveryCodesOut:
        factor = totp_of(request, db_session)
        user = await current_user(db_session, principal)
        await factor.verify(user, data.code)
        return RecoveryCodesOut(await factor.new_recovery_codes(user))

    @post("/disable", status_code=HTTP_200_OK)
    async def disable(
        self,
        request: AppRequest,
        db_session: NamedDependency[AsyncSession],
        principal: NamedDependency[Principal],
        data: JSONBody[CodeIn],
    ) -> dict[str, str]:
        await totp_of(request, db_session).disable(await current_user(db_session, principal), data.code)
        return {"status": "multi-factor sign-in disabled"}


class MfaEnrolmentController(Controller):
    """Enrolment demanded at sign-in (tenant requires MFA): the enrolment token stands in for a session."""

    path = "/api/v1/auth/mfa/enrol"
    guards = [allows_anonymous("the person has proven their password and holds a short-lived enrolment token")]
    tags = ["identity"]

    @post("/", status_code=HTTP_200_OK)
    async def begin(
        self,
        request: AppRequest,
        db_session: NamedDependency[AsyncSession],
        data: JSONBody[EnrolmentTokenIn],
    ) -> EnrolmentOut:
        user = await peek_link(db_session, data.enrolment_token, ActionPurpose.MFA_ENROLMENT)
        enrolment = await totp_of(request, db_session).begin_enrolment(user)
        return EnrolmentOut(enrolment.secret, enrolment.otpauth_uri, enrolment.qr_png_data_uri)

    @post("/confirm", status_code=HTTP_200_OK)
    async def confirm(
        self,
        request: AppRequest,
        db_session: NamedDependency[AsyncSession],
        data: JSONBody[EnrolmentConfirmIn],
    ) -> Response[EnrolledSignInOut]:
        user = await consume_link(db_session, data.enrolment_token, ActionPurpose.MFA_ENROLMENT)
        codes = await totp_of(request, db_session).confirm(user, data.code)
        pair = await sessions_of(request, db_session).start(user)
        body = EnrolledSignInOut(pair.access_token, pair.refresh_token, pair.expires_in, codes)
        return Response(body, cookies=session_cookies(pair))


class IdentitySettingsController(Controller):
    """The tenant's sign-in policy."""

    path = "/api/v1/identity/settings"
    guards = [requires_role(Role.TENANT_ADMIN)]
    tags = ["identity"]

    @get("/")
    async def read(self, db_session: NamedDependency[AsyncSession]) -> IdentitySettingsOut:
        settings = await settings_of(db_session)
        return IdentitySettingsOut(mfa_required_for_staff=bool(settings and settings.mfa_required_for_staff))

    @put("/")
    async def write(
        self,
        request: AppRequest,
        db_session: NamedDependency[AsyncSession],
        data: JSONBody[IdentitySettingsIn],
    ) -> IdentitySettingsOut:
        settings = await settings_of(db_session)
        if settings is None:
            settings = IdentitySettings(tenant_id=tenant_id_of(request))
            db_session.add(settings)
        settings.mfa_required_for_staff = data.mfa_required_for_staff
        await db_session.flush()
        return IdentitySettingsOut(mfa_required_for_staff=settings.mfa_required_for_staff)
