"""Tenant admins manage their tenant's accounts: create or invite, list, update, deactivate, reactivate."""

from __future__ import annotations

import builtins
import enum
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from uuid import UUID

import msgspec
from sqlalchemy import ColumnElement, delete, func, or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from lms.compliance.services import schedule_sync
from lms.config import Settings
from lms.identity.models import ActionPurpose, ActionToken, MfaRecoveryCode, RefreshToken, Role, User, UserStatus
from lms.identity.schemas import UserCreate, UserOut, UserUpdate
from lms.identity.signin.services.sessions import new_opaque_token, revoke_user_sessions, token_hash
from lms.lib import clock
from lms.lib.errors import Conflict, ValidationFailed
from lms.lib.lookup import get_or_404
from lms.lib.pagination import count_and_fetch
from lms.notifications import services as notifications
from lms.tenancy.services.audit import AdminAudit

INVITATION_LIFETIME = timedelta(days=7)
PASSWORD_RESET_LIFETIME = timedelta(hours=1)

# Called when a user stops occupying a seat (deactivation, SCIM active=false). Billing registers
# the function that frees the seat; identity only announces the event, inside the same transaction.
SeatReleaseHook = Callable[[AsyncSession, UUID, UUID], Awaitable[None]]
seat_release_hooks: list[SeatReleaseHook] = []


# Called before a deactivated user becomes active again (an admin, SCIM active=true): the seat
# licence may refuse it. The app registers learning's seat check; identity only announces the event.
seat_take_hooks: list[SeatReleaseHook] = []


async def take_seat_of(session: AsyncSession, tenant_id: UUID, user_id: UUID) -> None:
    """The one call site that gives a returning user their seat back (or refuses, when none is free)."""
    for hook in seat_take_hooks:
        await hook(session, tenant_id, user_id)


async def release_seat_of(session: AsyncSession, tenant_id: UUID, user_id: UUID) -> None:
    """The one call site that frees a user's seat; runs every registered seat-release hook."""
    for hook in seat_release_hooks:
        await hook(session, tenant_id, user_id)


class SignedIn(enum.StrEnum):
    """The last sign-in filter of the admin user list."""

    NEVER = "never"
    WITHIN_30_DAYS = "30d"
    WITHIN_90_DAYS = "90d"
    NOT_IN_90_DAYS = "over90d"


class UserSort(enum.StrEnum):
    """Orders of the admin user list; a leading "-" reverses."""

    NAME = "name"
    NAME_DESC = "-name"
    EMAIL = "email"
    EMAIL_DESC = "-email"
    CREATED = "created"
    CREATED_DESC = "-created"
    LAST_SIGN_IN = "last_sign_in"
    LAST_SIGN_IN_DESC = "-last_sign_in"


@dataclass(frozen=True)
class UserFilters:
    status: UserStatus | None = None
    role: Role | None = None
    q: str | None = None
    group: str | None = None
    manager_id: UUID | None = None
    signed_in: SignedIn | None = None
    sort: UserSort = UserSort.CREATED


@dataclass(frozen=True)
class SignInEntry:
    """One sign-in (a session: its refresh-token family), newest first on the user's page."""

    started_at: datetime
    last_active_at: datetime
    single_sign_on: bool
    ended: bool


def _order(sort: UserSort) -> list[ColumnElement[object]]:
    column = {
        "name": func.lower(User.display_name),
        "email": func.lower(User.email),
        "created": User.created_at,
        "last_sign_in": User.last_login_at,
    }[sort.value.lstrip("-")]
    first = column.desc().nulls_last() if sort.value.startswith("-") else column.asc().nulls_first()
    return [first, User.id]  # type: ignore[list-item]


def _audited(user: User) -> dict[str, Any]:
    """The administered fields of an account, as the audit log records them."""
    return {
        "display_name": user.display_name,
        "roles": list(user.roles),
        "status": user.status.value,
        "manager_id": str(user.manager_id) if user.manager_id else None,
        "groups": list(user.groups or []),
        "attributes": dict(user.attributes or {}),
    }


def _attributes(raw: dict[str, str]) -> dict[str, str]:
    """Trimmed values; an empty one means the attribute is not set."""
    return {name: value.strip() for name, value in raw.items() if value.strip()}


def user_out(user: User) -> UserOut:
    return UserOut(
        id=str(user.id),
        email=user.email,
        display_name=user.display_name,
        status=user.status,
        roles=list(user.roles),
        manager_id=str(user.manager_id) if user.manager_id else None,
        groups=list(user.groups or []),
        has_password=user.password_hash is not None,
        created_at=user.created_at,
        last_login_at=user.last_login_at,
        mfa_enabled=user.mfa_enabled,
        external_id=user.external_id,
        attributes={str(k): str(v) for k, v in (user.attributes or {}).items() if v not in (None, "")},
        erased=user.erased,
    )


def _uuid(value: str, field: str) -> UUID:
    try:
        return UUID(value)
    except ValueError as exc:
        raise ValidationFailed("not a valid id", field=field) from exc


async def create_action_link(session: AsyncSession, user: User, purpose: ActionPurpose, lifetime: timedelta) -> str:
    """A single-use, expiring token for `user`; only its hash is stored."""
    raw = new_opaque_token("lk")
    session.add(
        ActionToken(
            tenant_id=user.tenant_id,
            user_id=user.id,
            purpose=purpose.value,
            token_hash=token_hash(raw),
            expires_at=clock.now() + lifetime,
        )
    )
    await session.flush()
    return raw


class UserDirectory:
    """Accounts of the current tenant (the session is RLS-bound to it)."""

    def __init__(
        self, session: AsyncSession, tenant_id: UUID, settings: Settings, site_url: str, audit: AdminAudit | None = None
    ) -> None:
        self.session = session
        self.tenant_id = tenant_id
        self.settings = settings
        self.site_url = site_url.rstrip("/")
        # Set when an administrator acts: each change is then written to the tenant's audit log.
        self.audit = audit

    async def _audit(self, action: str, user: User, before: dict[str, Any], after: dict[str, Any]) -> None:
        if self.audit is not None:
            await self.audit.record_change(action, "user", user.id, user.email, before, after)

    async def get(self, user_id: UUID) -> User:
        user = await get_or_404(self.session, User, user_id, "user not found")
        return user

    async def changeable(self, user_id: UUID) -> User:
        """A person whose account may still be changed: an erased one keeps only its learning records."""
        user = await self.get(user_id)
        if user.erased:
            raise Conflict("this person's data was erased; the account cannot be changed", field="user_id")
        return user

    async def find_by_email(self, email: str) -> User | None:
        row = await self.session.execute(select(User).where(func.lower(User.email) == email.strip().lower()))
        return row.scalar_one_or_none()

    async def list(
        self, limit: int, offset: int, status: UserStatus | None, role: Role | None, q: str | None
    ) -> tuple[list[User], int]:
        return await self.search(UserFilters(status=status, role=role, q=q), limit, offset)

    async def search(self, filters: UserFilters, limit: int, offset: int) -> tuple[builtins.list[User], int]:
        """The admin user list: search text, role, status, group, manager, last sign-in; sorted and paged."""
        query = select(User)
        if filters.status is not None:
            query = query.where(User.status == filters.status)
        if filters.role is not None:
            query = query.where(User.roles.contains([filters.role.value]))
        if filters.q:
            q = filters.q
            pattern = "%" + q.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
            query = query.where(or_(User.email.ilike(pattern), User.display_name.ilike(pattern), User.external_id == q))
        if filters.group:
            query = query.where(User.groups.contains([filters.group]))
        if filters.manager_id is not None:
            query = query.where(User.manager_id == filters.manager_id)
        if filters.signed_in is not None:
            now = clock.now()
            query = query.where(
                {
                    SignedIn.NEVER: User.last_login_at.is_(None),
                    SignedIn.WITHIN_30_DAYS: User.last_login_at >= now - timedelta(days=30),
                    SignedIn.WITHIN_90_DAYS: User.last_login_at >= now - timedelta(days=90),
                    SignedIn.NOT_IN_90_DAYS: or_(
                        User.last_login_at.is_(None), User.last_login_at < now - timedelta(days=90)
                    ),
                }[filters.signed_in]
            )
        return await count_and_fetch(self.session, query.order_by(*_order(filters.sort)), limit, offset)

    async def reset_mfa(self, user_id: UUID) -> User:
        """Turn off a person's second factor (lost phone): they enrol again at their next sign-in if
        required. Their sessions end, so whoever holds the old device is signed out too."""
        user = await self.changeable(user_id)
        before = {"mfa_enabled": user.mfa_enabled}
        user.mfa_enabled = False
        user.totp_secret_encrypted = None
        await self.session.execute(delete(MfaRecoveryCode).where(MfaRecoveryCode.user_id == user.id))
        await self.session.flush()
        await revoke_user_sessions(self.session, user.id)
        await self._audit("user.mfa_reset", user, before, {"mfa_enabled": False})
        return user

    async def sign_in_history(self, user_id: UUID, limit: int = 20) -> builtins.list[SignInEntry]:
        """The person's latest sign-ins (one per session), with whether each came through single sign-on."""
        now = clock.now()
        rows = await self.session.execute(
            select(
                func.min(RefreshToken.created_at),
                func.max(RefreshToken.created_at),
                func.bool_or(RefreshToken.sso_provider_id.is_not(None)),
                func.bool_and(
                    or_(
                        RefreshToken.revoked_at.is_not(None),
                        RefreshToken.used_at.is_not(None),
                        RefreshToken.expires_at <= now,
                    )
                ),
            )
            .where(RefreshToken.user_id == user_id)
            .group_by(RefreshToken.family_id)
            .order_by(func.min(RefreshToken.created_at).desc())
            .limit(limit)
        )
        return [SignInEntry(started, last, bool(sso), bool(ended)) for started, last, sso, ended in rows.all()]

    async def managers(self, user_ids: set[UUID]) -> dict[UUID, User]:
        if not user_ids:
            return {}
        rows = await self.session.execute(select(User).where(User.id.in_(user_ids)))
        return {u.id: u for u in rows.scalars()}

    async def groups_in_use(self) -> builtins.list[str]:
        """Every group name a user of this tenant is in (for the list's group filter)."""
        rows = await self.session.scalars(select(func.unnest(User.groups)).distinct())
        return sorted(rows)

    async def create(self, data: UserCreate) -> User:
        """A new account: `invited` (with an e-mailed link) or, without invitation, `active` for SSO sign-in."""
        user, _ = await self.create_with_link(data)
        return user

    async def create_with_link(self, data: UserCreate) -> tuple[User, str | None]:
        """`create`, also returning the invitation link (for the operator CLI, which prints it)."""
        if await self.find_by_email(data.email) is not None:
            raise Conflict("a user with this e-mail already exists", field="email")
        manager_id = await self._manager(data.manager_id, None)
        user = User(
            tenant_id=self.tenant_id,
            email=data.email.strip(),
            display_name=data.display_name,
            roles=sorted({r.value for r in data.roles}),
            manager_id=manager_id,
            groups=sorted(set(data.groups)),
            attributes=_attributes(data.attributes),
            status=UserStatus.INVITED if data.send_invitation else UserStatus.ACTIVE,
        )
        self.session.add(user)
        try:
            await self.session.flush()
        except IntegrityError as exc:
            raise Conflict("a user with this e-mail already exists", field="email") from exc
        link = await self.send_invitation(user) if data.send_invitation else None
        if self.audit is not None:
            created = {key: value for key, value in _audited(user).items() if value not in (None, [], {})}
            await self.audit.record("user.invited", "user", user.id, user.email, None, created)
        if user.groups or user.attributes:
            await schedule_sync(self.session, self.tenant_id)
        return user, link

    async def update(self, user_id: UUID, data: UserUpdate, acting_user_id: UUID) -> User:
        user = await self.changeable(user_id)
        before = _audited(user)
        if not isinstance(data.display_name, msgspec.UnsetType):
            user.display_name = data.display_name
        if not isinstance(data.roles, msgspec.UnsetType):
            roles = sorted({r.value for r in data.roles})
            if user.id == acting_user_id and Role.TENANT_ADMIN.value not in roles:
                raise ValidationFailed("you cannot remove your own tenant_admin role", field="roles")
            user.roles = roles
        if not isinstance(data.manager_id, msgspec.UnsetType):
            user.manager_id = await self._manager(data.manager_id, user.id)
        regrouped = False
        if not isinstance(data.groups, msgspec.UnsetType):
            groups = sorted(set(data.groups))
            regrouped = groups != sorted(user.groups or [])
            user.groups = groups
        if not isinstance(data.attributes, msgspec.UnsetType):
            attributes = _attributes(data.attributes)
            # A dynamic group's members follow their attributes (applied by the sync).
            regrouped = regrouped or attributes != (user.attributes or {})
            user.attributes = attributes
        await self.session.flush()
        await self._audit("user.updated", user, before, _audited(user))
        if regrouped:
            await schedule_sync(self.session, self.tenant_id)
        return user

    async def deactivate(self, user_id: UUID, acting_user_id: UUID | None) -> User:
        """Deactivated users cannot sign in; their sessions end and their seat is freed."""
        user = await self.get(user_id)
        if acting_user_id is not None and user.id == acting_user_id:
            raise ValidationFailed("you cannot deactivate your own account", field="id")
        if user.status is not UserStatus.DEACTIVATED:
            before = _audited(user)
            user.status = UserStatus.DEACTIVATED
            await self.session.flush()
            await revoke_user_sessions(self.session, user.id)
            await release_seat_of(self.session, self.tenant_id, user.id)
            await self._audit("user.deactivated", user, before, _audited(user))
        return user

    async def reactivate(self, user_id: UUID) -> User:
        user = await self.changeable(user_id)
        if user.status is UserStatus.DEACTIVATED:
            before = _audited(user)
            await take_seat_of(self.session, self.tenant_id, user.id)
            user.status = UserStatus.ACTIVE if user.password_hash or user.last_login_at else UserStatus.INVITED
            await self.session.flush()
            await self._audit("user.reactivated", user, before, _audited(user))
            if user.groups or user.attributes:
                await schedule_sync(self.session, self.tenant_id)
        return user

    async def resend_invitation(self, user_id: UUID) -> str:
        """A new invitation link for an invited user (the old one stops working)."""
        user = await self.get(user_id)
        link = await self.send_invitation(user)
        if self.audit is not None:
            await self.audit.record("user.invitation_sent", "user", user.id, user.email)
        return link

    async def send_invitation(self, user: User) -> str:
        if user.status is not UserStatus.INVITED:
            raise Conflict("only invited users can be sent an invitation", field="status")
        raw = await create_action_link(self.session, user, ActionPurpose.INVITATION, INVITATION_LIFETIME)
        link = f"{self.site_url}/accept-invitation?token={raw}"
        await self.session.flush()
        await notifications.notify(
            self.session, self.tenant_id, user.id, "invitation", link=link, settings=self.settings
        )
        return link

    async def _manager(self, raw: str | None, user_id: UUID | None) -> UUID | None:
        if raw is None:
            return None
        manager_id = _uuid(raw, "manager_id")
        if manager_id == user_id:
            raise ValidationFailed("a user cannot be their own manager", field="manager_id")
        if await self.session.get(User, manager_id) is None:
            raise ValidationFailed("no such user in this tenant", field="manager_id")
        return manager_id
