"""Multi-factor routes: a user's own TOTP set-up, enrolment forced at sign-in, and the tenant's MFA policy."""

from __future__ import annotations

from typing import Annotated

import msgspec
from litestar import Controller, Response, get, post, put
from litestar.di import NamedDependency
from litestar.params import JSONBody
from litestar.status_codes import HTTP_200_OK

from lms.db.providers import DbSession
from lms.identity.accounts.services.own_account import current_user
from lms.identity.controllers import IDENTITY_SERVICES
from lms.identity.guards import Principal, allows_anonymous, requires_role, requires_user
from lms.identity.mfa.services import TotpFactor, mfa_required_for, require_mfa_for_staff, settings_of
from lms.identity.models import ActionPurpose, Role
from lms.identity.signin.services.local import consume_link, peek_link
from lms.identity.signin.services.sessions import SessionIssuer, session_cookies
from lms.tenancy.schemas import ResolvedTenant
from lms.tenancy.services.audit import AdminAudit

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


class MyMfaController(Controller):
    """A signed-in user sets up, inspects and turns off their own second factor."""

    path = "/api/v1/me/mfa"
    guards = [requires_user]
    dependencies = IDENTITY_SERVICES
    tags = ["identity"]

    @get("/")
    async def status(
        self,
        totp: NamedDependency[TotpFactor],
        db_session: DbSession,
        principal: NamedDependency[Principal],
    ) -> MfaStatusOut:
        """Whether TOTP is on and how many recovery codes are left."""
        user = await current_user(db_session, principal)
        return MfaStatusOut(
            enabled=user.mfa_enabled,
            required=await mfa_required_for(db_session, user),
            recovery_codes_left=await totp.recovery_codes_left(user.id),
        )

    @post("/totp", status_code=HTTP_200_OK)
    async def begin(
        self,
        totp: NamedDependency[TotpFactor],
        db_session: DbSession,
        principal: NamedDependency[Principal],
    ) -> EnrolmentOut:
        """Start enrolling an authenticator app (TOTP)."""
        enrolment = await totp.begin_enrolment(await current_user(db_session, principal))
        return EnrolmentOut(enrolment.secret, enrolment.otpauth_uri, enrolment.qr_png_data_uri)

    @post("/totp/confirm", status_code=HTTP_200_OK)
    async def confirm(
        self,
        totp: NamedDependency[TotpFactor],
        db_session: DbSession,
        principal: NamedDependency[Principal],
        data: JSONBody[CodeIn],
    ) -> RecoveryCodesOut:
        """Confirm the authenticator with a code; returns one-time recovery codes."""
        codes = await totp.confirm(await current_user(db_session, principal), data.code)
        return RecoveryCodesOut(codes)

    @post("/recovery-codes", status_code=HTTP_200_OK)
    async def regenerate(
        self,
        totp: NamedDependency[TotpFactor],
        db_session: DbSession,
        principal: NamedDependency[Principal],
        data: JSONBody[CodeIn],
    ) -> RecoveryCodesOut:
        """Replace the recovery codes."""
        user = await current_user(db_session, principal)
        await totp.verify(user, data.code)
        return RecoveryCodesOut(await totp.new_recovery_codes(user))

    @post("/disable", status_code=HTTP_200_OK)
    async def disable(
        self,
        totp: NamedDependency[TotpFactor],
        db_session: DbSession,
        principal: NamedDependency[Principal],
        data: JSONBody[CodeIn],
    ) -> dict[str, str]:
        """Turn off TOTP (needs a current code)."""
        await totp.disable(await current_user(db_session, principal), data.code)
        return {"status": "multi-factor sign-in disabled"}


class MfaEnrolmentController(Controller):
    """Enrolment demanded at sign-in (tenant requires MFA): the enrolment token stands in for a session."""

    path = "/api/v1/auth/mfa/enrol"
    guards = [allows_anonymous("the person has proven their password and holds a short-lived enrolment token")]
    dependencies = IDENTITY_SERVICES
    tags = ["identity"]

    @post("/", status_code=HTTP_200_OK)
    async def begin(
        self,
        totp: NamedDependency[TotpFactor],
        db_session: DbSession,
        data: JSONBody[EnrolmentTokenIn],
    ) -> EnrolmentOut:
        """First sign-in where MFA is required: start TOTP enrolment with the enrolment token."""
        user = await peek_link(db_session, data.enrolment_token, ActionPurpose.MFA_ENROLMENT)
        enrolment = await totp.begin_enrolment(user)
        return EnrolmentOut(enrolment.secret, enrolment.otpauth_uri, enrolment.qr_png_data_uri)

    @post("/confirm", status_code=HTTP_200_OK)
    async def confirm(
        self,
        totp: NamedDependency[TotpFactor],
        sessions: NamedDependency[SessionIssuer],
        db_session: DbSession,
        data: JSONBody[EnrolmentConfirmIn],
    ) -> Response[EnrolledSignInOut]:
        """Confirm TOTP enrolment with a code; signs in and returns recovery codes."""
        user = await consume_link(db_session, data.enrolment_token, ActionPurpose.MFA_ENROLMENT)
        codes = await totp.confirm(user, data.code)
        pair = await sessions.start(user)
        body = EnrolledSignInOut(pair.access_token, pair.refresh_token, pair.expires_in, codes)
        return Response(body, cookies=session_cookies(pair))


class IdentitySettingsController(Controller):
    """The tenant's sign-in policy."""

    path = "/api/v1/identity/settings"
    guards = [requires_role(Role.TENANT_ADMIN)]
    tags = ["identity"]

    @get("/")
    async def read(self, db_session: DbSession) -> IdentitySettingsOut:
        """This site's sign-in settings (such as whether MFA is required)."""
        settings = await settings_of(db_session)
        return IdentitySettingsOut(mfa_required_for_staff=bool(settings and settings.mfa_required_for_staff))

    @put("/")
    async def write(
        self,
        tenant: NamedDependency[ResolvedTenant],
        db_session: DbSession,
        audit: NamedDependency[AdminAudit],
        data: JSONBody[IdentitySettingsIn],
    ) -> IdentitySettingsOut:
        """Change this site's sign-in settings."""
        settings = await require_mfa_for_staff(db_session, tenant.id, data.mfa_required_for_staff, audit)
        return IdentitySettingsOut(mfa_required_for_staff=settings.mfa_required_for_staff)
