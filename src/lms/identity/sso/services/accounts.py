"""SSO accounts: identities keyed by (provider, subject), linking rules, and role mapping that never
strands a tenant without an admin.

A first sign-in links to an existing account only when the provider vouches for the address (it says
the address is verified, or the tenant set the provider to trust its addresses) and the provider's
`link_by_verified_email` setting is on. An address the provider does not vouch for neither links nor
creates an account.
"""

from __future__ import annotations

import structlog
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from lms.compliance.services import schedule_sync
from lms.identity.models import Role, SsoIdentity, SsoProvider, User, UserStatus
from lms.identity.sso.services.provisioning import AssertedIdentity, SsoFailed, mapping_of
from lms.lib.errors import Conflict

log = structlog.get_logger(__name__)


def vouches_for_email(provider: SsoProvider, identity: AssertedIdentity) -> bool:
    """The provider says the address is verified, or the tenant trusts this provider's addresses."""
    return identity.email_verified or bool(provider.config.get("trust_unverified_email", False))


async def linked_user(session: AsyncSession, provider: SsoProvider, subject: str) -> User | None:
    link = (
        await session.execute(
            select(SsoIdentity).where(SsoIdentity.provider_id == provider.id, SsoIdentity.subject == subject)
        )
    ).scalar_one_or_none()
    return None if link is None else await session.get(User, link.user_id)


async def subject_of(session: AsyncSession, provider: SsoProvider, user_id: object) -> str | None:
    """The person's subject at this provider (for the NameID of a LogoutRequest)."""
    return (
        await session.execute(
            select(SsoIdentity.subject)
            .where(SsoIdentity.provider_id == provider.id, SsoIdentity.user_id == user_id)
            .order_by(SsoIdentity.created_at.desc())
            .limit(1)
        )
    ).scalar_one_or_none()


async def _other_active_admins(session: AsyncSession, user_id: object) -> int:
    count = await session.execute(
        select(func.count())
        .select_from(User)
        .where(
            User.id != user_id,
            User.status == UserStatus.ACTIVE,
            User.roles.contains([Role.TENANT_ADMIN.value]),
        )
    )
    return int(count.scalar_one())


async def mapped_roles(
    session: AsyncSession, provider: SsoProvider, user: User, identity: AssertedIdentity
) -> list[str]:
    """The user's roles after this sign-in: roles the mapping manages follow the IdP groups, others stay.

    `tenant_admin` is never taken from the last active admin of the tenant."""
    mapping = mapping_of(provider)
    managed = set((mapping.get("group_roles") or {}).values())
    current = set(user.roles or [])
    roles = (current - managed) | identity.group_roles
    if not roles:
        roles = set(mapping.get("default_roles") or [Role.LEARNER.value])
    admin = Role.TENANT_ADMIN.value
    if admin in current and admin not in roles and await _other_active_admins(session, user.id) == 0:
        log.warning("sso_role_mapping_kept_last_admin", user_id=str(user.id), provider_id=str(provider.id))
        roles.add(admin)
    return sorted(roles)


async def _account_to_link(session: AsyncSession, provider: SsoProvider, identity: AssertedIdentity) -> User | None:
    """An existing account this first sign-in may take over, None when a new one is to be made."""
    existing = (
        await session.execute(select(User).where(func.lower(User.email) == identity.email.lower()))
    ).scalar_one_or_none()
    if existing is None:
        return None
    if not provider.config.get("link_by_verified_email", False):
        raise SsoFailed(
            f"an account for {identity.email} already exists and {provider.name} may not sign in to it; "
            "ask an administrator to allow linking by verified e-mail"
        )
    already = await subject_of(session, provider, existing.id)
    if already is not None:
        raise SsoFailed(f"the account for {identity.email} is linked to another {provider.name} account")
    return existing


async def _first_sign_in(session: AsyncSession, provider: SsoProvider, identity: AssertedIdentity) -> User:
    """Link the identity to an existing account, or make one, under the rules above."""
    if not vouches_for_email(provider, identity):
        raise SsoFailed(f"{provider.name} did not confirm that {identity.email} is verified")
    user = await _account_to_link(session, provider, identity)
    try:
        # A savepoint: two first sign-ins of one person at once make one account; the other is told to retry.
        async with session.begin_nested():
            if user is None:
                mapping = mapping_of(provider)
                default_roles = set(mapping.get("default_roles") or [Role.LEARNER.value])
                user = User(
                    tenant_id=provider.tenant_id,
                    email=identity.email,
                    display_name=identity.display_name,
                    roles=sorted(default_roles | identity.group_roles),
                    groups=identity.groups,
                    status=UserStatus.ACTIVE,
                )
                session.add(user)
                await session.flush()
            session.add(
                SsoIdentity(
                    tenant_id=provider.tenant_id,
                    provider_id=provider.id,
                    subject=identity.subject,
                    user_id=user.id,
                    email_at_link=identity.email,
                )
            )
            await session.flush()
    except IntegrityError as exc:
        raise Conflict("another sign-in of this person was under way; sign in again", field="subject") from exc
    return user


async def provision_user(session: AsyncSession, provider: SsoProvider, identity: AssertedIdentity) -> User:
    """The account of this (provider, subject): linked, linked now under the rules above, or created."""
    domain = identity.email.rsplit("@", 1)[1].lower()
    if provider.email_domains and domain not in {d.lower() for d in provider.email_domains}:
        raise SsoFailed(f"{provider.name} may not sign in addresses at {domain}")
    user = await linked_user(session, provider, identity.subject)
    first_sign_in = user is None
    if user is None:
        try:
            user = await _first_sign_in(session, provider, identity)
        except SsoFailed:
            # The same person's other first sign-in may have committed between the two reads above:
            # its link, now visible, is this identity's account.
            user = await linked_user(session, provider, identity.subject)
            if user is None:
                raise
    if user.status is UserStatus.DEACTIVATED:
        raise SsoFailed("this account is deactivated")
    user.status = UserStatus.ACTIVE
    user.display_name = identity.display_name
    joined = first_sign_in or sorted(user.groups or []) != sorted(identity.groups)
    user.groups = identity.groups
    user.roles = await mapped_roles(session, provider, user, identity)
    await session.flush()
    if joined:
        # The groups the provider asserts may carry assigned training.
        await schedule_sync(session, provider.tenant_id)
    return user
