"""Identity routes: the public key set, who am I, sign-in and sessions, and account administration."""

from __future__ import annotations

from typing import Annotated, Any
from uuid import UUID

import msgspec
from litestar import Controller, Response, get, patch, post
from litestar.di import NamedDependency, Provide
from litestar.params import FromPath, FromQuery, JSONBody
from litestar.status_codes import HTTP_200_OK, HTTP_201_CREATED, HTTP_202_ACCEPTED
from redis.asyncio import Redis

from lms.config import Settings
from lms.db.providers import DbSession, Reads
from lms.identity.accounts.services.directory import SignedIn, UserDirectory, UserFilters, UserSort, user_out
from lms.identity.accounts.services.profiles import cached_profile, read_own_profile, remember_profile
from lms.identity.guards import (
    REFRESH_COOKIE,
    Principal,
    allows_anonymous,
    authenticate,
    require_csrf,
    requires_role,
    requires_user,
)
from lms.identity.mfa.services import TotpFactor
from lms.identity.models import Role, User, UserStatus
from lms.identity.schemas import (
    AcceptInvitation,
    PasswordChange,
    PasswordResetConfirm,
    PasswordResetRequest,
    RefreshIn,
    SignIn,
    TokenOut,
    UserCreate,
    UserOut,
    UserUpdate,
)
from lms.identity.signin.services.keys import KeyRing
from lms.identity.signin.services.local import (
    PasswordSignIn,
    accept_invitation,
    change_password,
    request_password_reset,
    reset_password,
)
from lms.identity.signin.services.sessions import SessionIssuer, TokenPair, cleared_cookies, session_cookies
from lms.identity.signin.services.throttle import SignInThrottle
from lms.lib.errors import Forbidden, NotFound, Unauthorized, error_body
from lms.lib.lookup import get_or_404
from lms.lib.pagination import Page, PageParams
from lms.lib.params import AppRequest
from lms.tenancy.schemas import ResolvedTenant
from lms.tenancy.services.audit import AdminAudit

SearchText = Annotated[str, msgspec.Meta(max_length=200)]


@get(
    "/.well-known/jwks.json",
    include_in_schema=False,
    cache_control=None,
    guards=[allows_anonymous("relying parties fetch the public signing keys to verify tokens")],
)
async def jwks(request: AppRequest) -> dict[str, Any]:
    """Public keys that verify access tokens (current and not yet expired retired keys)."""
    return await request.app.state.key_ring.jwks()  # type: ignore[no-any-return]


def provide_session_issuer(
    db_session: DbSession, key_ring: NamedDependency[KeyRing], settings: NamedDependency[Settings]
) -> SessionIssuer:
    return SessionIssuer(db_session, key_ring, settings.access_token_minutes)


def provide_throttle(
    redis: NamedDependency[Redis], tenant: NamedDependency[ResolvedTenant], settings: NamedDependency[Settings]
) -> SignInThrottle:
    return SignInThrottle(redis, tenant.id, namespace=settings.celery_queue)


def provide_totp(
    db_session: DbSession,
    redis: NamedDependency[Redis],
    tenant: NamedDependency[ResolvedTenant],
    settings: NamedDependency[Settings],
) -> TotpFactor:
    return TotpFactor(db_session, redis, settings.celery_queue, settings.secret_key, tenant.name)


def provide_audited_directory(
    request: AppRequest,
    db_session: DbSession,
    tenant: NamedDependency[ResolvedTenant],
    settings: NamedDependency[Settings],
    audit: NamedDependency[AdminAudit],
) -> UserDirectory:
    """`directory` for administrators: every change they make is written to the audit log."""
    return UserDirectory(db_session, tenant.id, settings, site_url(request), audit)


def provide_directory(
    request: AppRequest,
    db_session: DbSession,
    tenant: NamedDependency[ResolvedTenant],
    settings: NamedDependency[Settings],
) -> UserDirectory:
    return UserDirectory(db_session, tenant.id, settings, site_url(request))


IDENTITY_SERVICES = {
    "sessions": Provide(provide_session_issuer, sync_to_thread=False),
    "throttle": Provide(provide_throttle, sync_to_thread=False),
    "totp": Provide(provide_totp, sync_to_thread=False),
    "directory": Provide(provide_directory, sync_to_thread=False),
}


class MeOut(msgspec.Struct):
    id: str
    tenant_id: str
    email: str
    display_name: str
    roles: list[str]
    status: str


class MeController(Controller):
    path = "/api/v1/me"
    guards = [requires_user]
    tags = ["identity"]

    @get("/")
    async def me(self, request: AppRequest, reads: Reads, principal: NamedDependency[Principal]) -> MeOut:
        """The signed-in user's profile and roles."""
        cached = cached_profile(principal.tenant_id, principal.user_id)
        if isinstance(cached, MeOut):
            return cached
        # The principal's tenant is the host's tenant (checked when the token was accepted). A cache miss
        # reads on a connection of its own (no session), which keeps this hot route cheap; so does asking
        # for `reads` alone (it depends on `principal`), not also for `settings` beside them (independent
        # dependencies are resolved in a task group).
        user = await read_own_profile(reads, principal.user_id)
        if user is None:
            raise NotFound("user not found")
        profile = MeOut(
            id=str(user.id),
            tenant_id=str(user.tenant_id),
            email=user.email,
            display_name=user.display_name,
            roles=list(user.roles),
            status=user.status.value,
        )
        settings: Settings = request.app.state.settings
        remember_profile(user.tenant_id, user.id, profile, settings.profile_cache_seconds)
        return profile


class PasswordController(Controller):
    path = "/api/v1/me/password"
    guards = [requires_user]
    dependencies = IDENTITY_SERVICES
    tags = ["identity"]

    @post("/", status_code=HTTP_200_OK)
    async def change(
        self,
        request: AppRequest,
        db_session: DbSession,
        sessions: NamedDependency[SessionIssuer],
        throttle: NamedDependency[SignInThrottle],
        principal: NamedDependency[Principal],
        data: JSONBody[PasswordChange],
    ) -> Response[TokenOut]:
        """Change the password: every other session ends; this one continues with new tokens."""
        user = await get_or_404(db_session, User, principal.user_id, "user not found")
        ip = request.client.host if request.client else "unknown"
        await change_password(db_session, user, data.current_password, data.new_password, throttle, ip)
        return signed_in(await sessions.start(user))


def site_url(request: AppRequest) -> str:
    return f"{request.url.scheme}://{request.headers.get('host', '')}"


async def presented_session(request: AppRequest) -> UUID | None:
    """The session (refresh-token family) of the request's valid access token, if it has one."""
    try:
        return (await authenticate(request)).session_id
    except (Unauthorized, Forbidden):
        return None


def signed_in(pair: TokenPair, status_code: int = HTTP_200_OK) -> Response[TokenOut]:
    body = TokenOut(access_token=pair.access_token, refresh_token=pair.refresh_token, expires_in=pair.expires_in)
    return Response(body, status_code=status_code, cookies=session_cookies(pair))


class AuthController(Controller):
    """Sign-in, token refresh and sign-out; invitation and password-reset links."""

    path = "/api/v1/auth"
    guards = [allows_anonymous("signing in and redeeming e-mailed links happen before there is a session")]
    dependencies = IDENTITY_SERVICES
    tags = ["identity"]

    @post("/login", status_code=HTTP_200_OK)
    async def login(
        self,
        request: AppRequest,
        db_session: DbSession,
        tenant: NamedDependency[ResolvedTenant],
        throttle: NamedDependency[SignInThrottle],
        totp: NamedDependency[TotpFactor],
        sessions: NamedDependency[SessionIssuer],
        data: JSONBody[SignIn],
    ) -> Response[TokenOut]:
        """Password sign-in: returns tokens and sets the browser session cookies."""
        signin = PasswordSignIn(db_session, tenant.id, throttle)
        ip = request.client.host if request.client else "unknown"
        user = await signin.authenticate(data.email, data.password, ip)
        enrolment_token = await signin.complete(user, data.mfa_code, totp, ip)
        if enrolment_token is not None:
            body = error_body(
                "mfa_enrolment_required",
                "your organisation requires multi-factor sign-in: enrol an authenticator app to continue",
            )
            # Response[Any]: this branch answers with an error body rather than tokens.
            return Response({**body, "enrolment_token": enrolment_token}, status_code=403)  # type: ignore[arg-type]
        return signed_in(await sessions.start(user))

    @post("/refresh", status_code=HTTP_200_OK)
    async def refresh(
        self,
        request: AppRequest,
        db_session: DbSession,
        sessions: NamedDependency[SessionIssuer],
        data: JSONBody[RefreshIn | None] = None,
    ) -> Response[TokenOut]:
        """Exchange a refresh token (body, or the lms_refresh cookie) for a new pair."""
        raw = data.refresh_token if data is not None else None
        if raw is None:
            raw = request.cookies.get(REFRESH_COOKIE)
            if raw:
                require_csrf(request)
        if not raw:
            raise Unauthorized("no refresh token")
        return signed_in(await sessions.rotate(raw))

    @post("/logout", status_code=HTTP_200_OK)
    async def logout(
        self,
        request: AppRequest,
        db_session: DbSession,
        sessions: NamedDependency[SessionIssuer],
        data: JSONBody[RefreshIn | None] = None,
    ) -> Response[dict[str, str]]:
        """End this session (and no other): its refresh-token family is revoked, its access tokens
        stop working within seconds and the cookies are cleared. The session is named by its refresh
        token (body or cookie) or, without one, by the access token presented."""
        raw = data.refresh_token if data is not None else None
        if raw is None:
            raw = request.cookies.get(REFRESH_COOKIE)
            if raw:
                require_csrf(request)
        issuer = sessions
        if raw:
            await issuer.revoke(raw)
        elif (session_id := await presented_session(request)) is not None:
            await issuer.revoke_family(session_id)
        # This process re-reads revocations on its next request; the others within the poll interval.
        request.app.state.revoked_tokens.invalidate()
        return Response({"status": "signed out"}, cookies=cleared_cookies())

    @post(
        "/invitations/accept", status_code=HTTP_200_OK, description="Accept an invitation: set a password and sign in."
    )
    async def accept(
        self,
        request: AppRequest,
        db_session: DbSession,
        tenant: NamedDependency[ResolvedTenant],
        sessions: NamedDependency[SessionIssuer],
        data: JSONBody[AcceptInvitation],
    ) -> Response[TokenOut]:
        user = await accept_invitation(db_session, tenant.id, data.token, data.password, data.display_name)
        return signed_in(await sessions.start(user))

    @post(
        "/password-reset",
        status_code=HTTP_202_ACCEPTED,
        description="Ask for a password reset e-mail; always 202, and only active accounts get a link.",
    )
    async def request_reset(
        self,
        request: AppRequest,
        db_session: DbSession,
        throttle: NamedDependency[SignInThrottle],
        directory: NamedDependency[UserDirectory],
        data: JSONBody[PasswordResetRequest],
    ) -> dict[str, str]:
        await request_password_reset(directory, data.email, throttle)
        return {"status": "if this address has an account, a reset link is on its way"}

    @post(
        "/password-reset/confirm",
        status_code=HTTP_200_OK,
        description="Set a new password with the token from the reset e-mail.",
    )
    async def confirm_reset(
        self,
        request: AppRequest,
        db_session: DbSession,
        tenant: NamedDependency[ResolvedTenant],
        data: JSONBody[PasswordResetConfirm],
    ) -> dict[str, str]:
        await reset_password(db_session, tenant.id, data.token, data.password)
        return {"status": "password changed; sign in again"}


class UsersController(Controller):
    """Account administration for tenant admins."""

    path = "/api/v1/users"
    guards = [requires_role(Role.TENANT_ADMIN)]
    dependencies = {**IDENTITY_SERVICES, "directory": Provide(provide_audited_directory, sync_to_thread=False)}
    tags = ["identity"]

    @get("/")
    async def list_users(
        self,
        directory: NamedDependency[UserDirectory],
        page: NamedDependency[PageParams],
        status: FromQuery[UserStatus | None] = None,
        role: FromQuery[Role | None] = None,
        q: FromQuery[SearchText | None] = None,
        group: FromQuery[SearchText | None] = None,
        manager_id: FromQuery[UUID | None] = None,
        signed_in: FromQuery[SignedIn | None] = None,
        sort: FromQuery[UserSort] = UserSort.CREATED,
    ) -> Page[UserOut]:
        """Users of this site. Filters: `status`, `role`, search text `q` (name, e-mail or external id),
        `group`, `manager_id`, last sign-in `signed_in` (never, 30d, 90d, over90d); `sort` by name, email,
        created or last_sign_in (a leading "-" reverses)."""
        filters = UserFilters(
            status=status, role=role, q=q, group=group, manager_id=manager_id, signed_in=signed_in, sort=sort
        )
        users, total = await directory.search(filters, page.limit, page.offset)
        return Page(items=[user_out(u) for u in users], total=total, limit=page.limit, offset=page.offset)

    @post("/", status_code=HTTP_201_CREATED)
    async def create_user(self, directory: NamedDependency[UserDirectory], data: JSONBody[UserCreate]) -> UserOut:
        """Invite a user: the account is created and an invitation e-mail sent."""
        return user_out(await directory.create(data))

    @get("/{user_id:uuid}")
    async def get_user(self, directory: NamedDependency[UserDirectory], user_id: FromPath[UUID]) -> UserOut:
        """One user of this site."""
        return user_out(await directory.get(user_id))

    @patch("/{user_id:uuid}")
    async def update_user(
        self,
        directory: NamedDependency[UserDirectory],
        principal: NamedDependency[Principal],
        user_id: FromPath[UUID],
        data: JSONBody[UserUpdate],
    ) -> UserOut:
        """Change a user's name or roles."""
        return user_out(await directory.update(user_id, data, principal.user_id))

    @post("/{user_id:uuid}/deactivate", status_code=HTTP_200_OK)
    async def deactivate_user(
        self,
        directory: NamedDependency[UserDirectory],
        principal: NamedDependency[Principal],
        user_id: FromPath[UUID],
    ) -> UserOut:
        """Deactivate an account: it can no longer sign in and its seat is freed."""
        return user_out(await directory.deactivate(user_id, principal.user_id))

    @post("/{user_id:uuid}/reactivate", status_code=HTTP_200_OK)
    async def reactivate_user(self, directory: NamedDependency[UserDirectory], user_id: FromPath[UUID]) -> UserOut:
        """Reactivate a deactivated account (it takes a seat again)."""
        return user_out(await directory.reactivate(user_id))

    @post("/{user_id:uuid}/mfa/reset", status_code=HTTP_200_OK)
    async def reset_user_mfa(self, directory: NamedDependency[UserDirectory], user_id: FromPath[UUID]) -> UserOut:
        """Turn off a user's two-step sign-in (a lost phone); their sessions end and they enrol again."""
        return user_out(await directory.reset_mfa(user_id))

    @post("/{user_id:uuid}/invitation", status_code=HTTP_202_ACCEPTED)
    async def resend_invitation(
        self, directory: NamedDependency[UserDirectory], user_id: FromPath[UUID]
    ) -> dict[str, str]:
        """Send the invitation e-mail again, with a new link."""
        await directory.resend_invitation(user_id)
        return {"status": "invitation sent"}
