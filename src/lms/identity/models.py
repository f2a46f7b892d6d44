"""Tenant user accounts and their sign-in records. Platform operators are separate (lms.tenancy.models.Operator)."""

from __future__ import annotations

import enum
from datetime import datetime
from typing import Any
from uuid import UUID

from advanced_alchemy.types import DateTimeUTC
from sqlalchemy import Enum, ForeignKeyConstraint, Index, LargeBinary, String, text
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.orm import Mapped, mapped_column

from lms.db.base import Base, JsonDict, TenantScoped


class UserStatus(enum.StrEnum):
    INVITED = "invited"
    ACTIVE = "active"
    DEACTIVATED = "deactivated"


class Role(enum.StrEnum):
    LEARNER = "learner"
    INSTRUCTOR = "instructor"
    TENANT_ADMIN = "tenant_admin"


def _user_fk() -> ForeignKeyConstraint:
    # Composite: a row can only ever point at a user of its own tenant.
    return ForeignKeyConstraint(["tenant_id", "user_id"], ["users.tenant_id", "users.id"], ondelete="CASCADE")


# An erased person's address: unique, and never deliverable (.invalid is reserved).
ERASED_EMAIL_DOMAIN = "@erased.invalid"


class User(TenantScoped, Base):
    """A person in one tenant; e-mail is unique per tenant, case-insensitively."""

    __tablename__ = "users"
    __usage_label__ = "users"
    __tenant_table_args__ = (
        Index("ux_users_tenant_email", "tenant_id", text("lower(email)"), unique=True),
        Index("ix_users_tenant_manager", "tenant_id", "manager_id"),
        # The admin user list pages by creation order.
        Index("ix_users_tenant_created", "tenant_id", "created_at", "id"),
        ForeignKeyConstraint(["tenant_id", "manager_id"], ["users.tenant_id", "users.id"], name="fk_users_manager"),
        Index(
            "ux_users_tenant_external_id",
            "tenant_id",
            "external_id",
            unique=True,
            postgresql_where=text("external_id IS NOT NULL"),
        ),
    )

    email: Mapped[str] = mapped_column(String(320))
    display_name: Mapped[str] = mapped_column(String(200))
    status: Mapped[UserStatus] = mapped_column(
        Enum(UserStatus, name="user_status", values_callable=lambda e: [m.value for m in e]),
        default=UserStatus.ACTIVE,
    )
    roles: Mapped[list[str]] = mapped_column(ARRAY(String(32)), default=lambda: [Role.LEARNER.value])
    # argon2id; None for accounts that only sign in through single sign-on or have not accepted yet.
    password_hash: Mapped[str | None] = mapped_column(String(255), default=None)
    password_changed_at: Mapped[datetime | None] = mapped_column(DateTimeUTC(timezone=True), default=None)
    manager_id: Mapped[UUID | None] = mapped_column(default=None)
    groups: Mapped[list[str]] = mapped_column(ARRAY(String(200)), default=list)
    last_login_at: Mapped[datetime | None] = mapped_column(DateTimeUTC(timezone=True), default=None)
    # The identity provider's id for this person (SCIM externalId).
    external_id: Mapped[str | None] = mapped_column(String(255), default=None)
    # TOTP secret (Fernet under SECRET_KEY); set at enrolment, active once mfa_enabled.
    totp_secret_encrypted: Mapped[bytes | None] = mapped_column(LargeBinary, default=None)
    mfa_enabled: Mapped[bool] = mapped_column(default=False)
    # Access tokens issued before this instant are refused (deactivation, password change or reset).
    tokens_revoked_at: Mapped[datetime | None] = mapped_column(DateTimeUTC(timezone=True), default=None)
    # The person's own language and time zone for pages and e-mails; None follows the browser and the tenant.
    locale: Mapped[str | None] = mapped_column(String(16), default=None)
    time_zone: Mapped[str | None] = mapped_column(String(64), default=None)
    # Custom attributes from an import or SCIM (department, location, ...); dynamic groups match on them.
    attributes: Mapped[dict[str, Any]] = mapped_column(JsonDict, default=dict, server_default=text("'{}'::jsonb"))

    @property
    def erased(self) -> bool:
        """Whether the person's data was erased (the row stays for the learning records it holds)."""
        return self.email.endswith(ERASED_EMAIL_DOMAIN)


class MfaRecoveryCode(TenantScoped, Base):
    """A single-use recovery code (SHA-256 hash) for when the authenticator is lost."""

    __tablename__ = "mfa_recovery_codes"
    __tenant_table_args__ = (Index("ix_mfa_recovery_codes_tenant_user", "tenant_id", "user_id"), _user_fk())

    user_id: Mapped[UUID]
    code_hash: Mapped[str] = mapped_column(String(64))
    used_at: Mapped[datetime | None] = mapped_column(DateTimeUTC(timezone=True), default=None)


class IdentitySettings(TenantScoped, Base):
    """A tenant's sign-in policy, edited by its admins (one row per tenant, absent = defaults)."""

    __tablename__ = "identity_settings"
    __tenant_table_args__ = (Index("ux_identity_settings_tenant", "tenant_id", unique=True),)

    # Instructors and tenant admins must use a second factor for password sign-in.
    mfa_required_for_staff: Mapped[bool] = mapped_column(default=False)


class UserGroup(TenantScoped, Base):
    """A named group (SCIM Group). Membership is the group name in `users.groups`."""

    __tablename__ = "user_groups"
    __tenant_table_args__ = (Index("ux_user_groups_tenant_name", "tenant_id", "display_name", unique=True),)

    display_name: Mapped[str] = mapped_column(String(200))
    external_id: Mapped[str | None] = mapped_column(String(255), default=None)


class ScimToken(TenantScoped, Base):
    """A bearer token an identity provider uses for SCIM provisioning into this tenant (hash stored)."""

    __tablename__ = "scim_tokens"
    __tenant_table_args__ = (Index("ux_scim_tokens_tenant_hash", "tenant_id", "token_hash", unique=True),)

    name: Mapped[str] = mapped_column(String(200))
    token_hash: Mapped[str] = mapped_column(String(64))
    last_used_at: Mapped[datetime | None] = mapped_column(DateTimeUTC(timezone=True), default=None)
    revoked_at: Mapped[datetime | None] = mapped_column(DateTimeUTC(timezone=True), default=None)


class RefreshToken(TenantScoped, Base):
    """One opaque refresh token (stored as a SHA-256 hash). Rotation keeps the family; reuse revokes it."""

    __tablename__ = "refresh_tokens"
    __tenant_table_args__ = (
        Index("ux_refresh_tokens_tenant_hash", "tenant_id", "token_hash", unique=True),
        Index("ix_refresh_tokens_tenant_family", "tenant_id", "family_id"),
        Index("ix_refresh_tokens_tenant_user", "tenant_id", "user_id"),
        _user_fk(),
    )

    user_id: Mapped[UUID]
    family_id: Mapped[UUID]
    token_hash: Mapped[str] = mapped_column(String(64))
    expires_at: Mapped[datetime] = mapped_column(DateTimeUTC(timezone=True))
    used_at: Mapped[datetime | None] = mapped_column(DateTimeUTC(timezone=True), default=None)
    revoked_at: Mapped[datetime | None] = mapped_column(DateTimeUTC(timezone=True), default=None)
    # The SSO provider the session was started through (None = password); single logout ends only those.
    sso_provider_id: Mapped[UUID | None] = mapped_column(default=None)


class ActionPurpose(enum.StrEnum):
    INVITATION = "invitation"
    PASSWORD_RESET = "password_reset"
    MFA_ENROLMENT = "mfa_enrolment"


class ActionToken(TenantScoped, Base):
    """A single-use, expiring link (invitation or password reset), bound to its tenant by RLS."""

    __tablename__ = "action_tokens"
    __tenant_table_args__ = (
        Index("ux_action_tokens_tenant_hash", "tenant_id", "token_hash", unique=True),
        Index("ix_action_tokens_tenant_user", "tenant_id", "user_id"),
        _user_fk(),
    )

    user_id: Mapped[UUID]
    purpose: Mapped[str] = mapped_column(String(32))
    token_hash: Mapped[str] = mapped_column(String(64))
    expires_at: Mapped[datetime] = mapped_column(DateTimeUTC(timezone=True))
    used_at: Mapped[datetime | None] = mapped_column(DateTimeUTC(timezone=True), default=None)


class SsoKind(enum.StrEnum):
    SAML = "saml"
    OIDC = "oidc"


class SsoProvider(TenantScoped, Base):
    """A tenant's identity provider (SAML 2.0 IdP or OpenID provider), configured by its admins."""

    __tablename__ = "sso_providers"
    __tenant_table_args__ = (Index("ux_sso_providers_tenant_name", "tenant_id", "name", unique=True),)

    kind: Mapped[str] = mapped_column(String(8))
    name: Mapped[str] = mapped_column(String(200))
    enabled: Mapped[bool] = mapped_column(default=True)
    # People whose address ends in one of these are sent to this provider by the sign-in page.
    email_domains: Mapped[list[str]] = mapped_column(ARRAY(String(253)), default=list)
    # OIDC: issuer, client_id, scopes. SAML: the parsed IdP metadata (entity id, SSO/SLO URLs, certificates).
    config: Mapped[dict[str, Any]] = mapped_column(JsonDict, default=dict)
    # OIDC client secret, Fernet-encrypted under SECRET_KEY.
    secret_encrypted: Mapped[bytes | None] = mapped_column(LargeBinary, default=None)
    # email / name / groups claim names, group -> role map, default roles.
    attribute_mapping: Mapped[dict[str, Any]] = mapped_column(JsonDict, default=dict)


class SamlAssertionSeen(TenantScoped, Base):
    """A SAML assertion id already consumed; kept until the assertion expires so a replay is refused."""

    __tablename__ = "saml_assertions_seen"
    __tenant_table_args__ = (
        Index("ux_saml_assertions_seen_tenant_assertion", "tenant_id", "assertion_id", unique=True),
    )

    assertion_id: Mapped[str] = mapped_column(String(256))
    expires_at: Mapped[datetime] = mapped_column(DateTimeUTC(timezone=True))


class SsoIdentity(TenantScoped, Base):
    """A person's account at one provider (its `sub` or SAML NameID), linked to one user of the tenant."""

    __tablename__ = "sso_identities"
    __tenant_table_args__ = (
        Index("ux_sso_identities_tenant_provider_subject", "tenant_id", "provider_id", "subject", unique=True),
        Index("ix_sso_identities_tenant_user", "tenant_id", "user_id"),
        _user_fk(),
        ForeignKeyConstraint(
            ["tenant_id", "provider_id"], ["sso_providers.tenant_id", "sso_providers.id"], ondelete="CASCADE"
        ),
    )

    provider_id: Mapped[UUID]
    subject: Mapped[str] = mapped_column(String(512))
    user_id: Mapped[UUID]
    # The address the provider gave when the link was made (for admins reading the table).
    email_at_link: Mapped[str] = mapped_column(String(320))
