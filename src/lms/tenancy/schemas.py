"""Shapes of tenant data on the wire and in manifests; constraints name the field on failure."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Any
from uuid import UUID

import msgspec

from lms.tenancy.models import Plan, TenantStatus

# The request's tenant as the tenant middleware resolved it: other domains' handlers take it as `tenant`.
from lms.tenancy.services.resolver import ResolvedTenant as ResolvedTenant

Slug = Annotated[
    str,
    msgspec.Meta(
        pattern=r"^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$",
        description="lower-case letters, digits and hyphens; also the subdomain",
    ),
]
Hostname = Annotated[
    str,
    msgspec.Meta(
        pattern=r"^(?=.{1,253}$)(?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z][a-z0-9-]{0,61}[a-z0-9]$",
        description="a fully qualified, lower-case host name such as learn.acme.com",
    ),
]
Colour = Annotated[str, msgspec.Meta(pattern=r"^#[0-9a-fA-F]{6}$", description="#rrggbb")]
LogoUrl = Annotated[
    str,
    msgspec.Meta(
        pattern=r"^(https://[^\s\"'<>()]+|/static/[A-Za-z0-9._/-]+|/brand/logo/[A-Za-z0-9._-]+)$", max_length=2048
    ),
]
Name = Annotated[str, msgspec.Meta(min_length=1, max_length=200)]
# Goes into a From header: no line breaks, angle brackets or quotes.
SenderName = Annotated[str, msgspec.Meta(min_length=1, max_length=100, pattern=r"^[^\r\n<>\"]+$")]
Seats = Annotated[int, msgspec.Meta(ge=0, le=1_000_000)]

RESERVED_SLUGS = frozenset({"www", "api", "admin", "app", "static", "ops", "operator", "mail", "status"})


class Branding(msgspec.Struct, forbid_unknown_fields=True, omit_defaults=True):
    logo_url: LogoUrl | None = None
    primary_color: Colour | None = None
    accent_color: Colour | None = None
    # The language of pages for people whose own setting and browser name none of the supported ones.
    default_locale: Annotated[str, msgspec.Meta(pattern=r"^(en|de|fr)$")] | None = None
    # The name e-mails come from ("Acme Academy <no-reply@...>"); the site's name when absent.
    email_sender_name: SenderName | None = None


class BrandingChange(msgspec.Struct, forbid_unknown_fields=True):
    """A tenant admin's change: only the fields given; an empty string clears one."""

    primary_color: Annotated[str, msgspec.Meta(pattern=r"^(#[0-9a-fA-F]{6})?$")] | None = None
    accent_color: Annotated[str, msgspec.Meta(pattern=r"^(#[0-9a-fA-F]{6})?$")] | None = None
    default_locale: Annotated[str, msgspec.Meta(pattern=r"^(en|de|fr)?$")] | None = None
    email_sender_name: Annotated[str, msgspec.Meta(max_length=100, pattern=r"^[^\r\n<>\"]*$")] | None = None


class SsoSettings(msgspec.Struct, forbid_unknown_fields=True, omit_defaults=True):
    """Placeholder until single sign-on lands: only whether SSO will be required."""

    required: bool = False


AdminEmail = Annotated[
    str,
    msgspec.Meta(pattern=r"^[^@\s]{1,64}@[^@\s]+\.[^@\s]+$", max_length=320, description="an e-mail address"),
]


class TenantCreate(msgspec.Struct, forbid_unknown_fields=True):
    slug: Slug
    name: Name
    plan: Plan = Plan.TRIAL
    seats: Seats = 0
    branding: Branding = msgspec.field(default_factory=Branding)
    # The first tenant admin: invited by e-mail as soon as the tenant exists.
    admin_email: AdminEmail | None = None
    admin_name: Name | None = None


class TenantUpdate(msgspec.Struct, forbid_unknown_fields=True):
    """A partial change: only the fields sent are changed (branding is replaced as a whole)."""

    name: Name | msgspec.UnsetType = msgspec.UNSET
    plan: Plan | msgspec.UnsetType = msgspec.UNSET
    seats: Seats | msgspec.UnsetType = msgspec.UNSET
    branding: Branding | msgspec.UnsetType = msgspec.UNSET


class DomainCreate(msgspec.Struct, forbid_unknown_fields=True):
    hostname: Hostname
    primary: bool = False


class StatusChange(msgspec.Struct, forbid_unknown_fields=True):
    reason: Annotated[str, msgspec.Meta(min_length=1, max_length=500)]


class DomainOut(msgspec.Struct):
    hostname: str
    verified: bool
    primary: bool
    verification_token: str
    verification_record: str


class FirstAdminOut(msgspec.Struct):
    user_id: UUID
    email: str
    invited: bool


class TenantOut(msgspec.Struct):
    id: UUID
    slug: str
    name: str
    status: TenantStatus
    plan: Plan
    seats: int
    branding: dict[str, Any]
    created_at: datetime
    status_reason: str | None = None
    domains: list[DomainOut] = msgspec.field(default_factory=list)
    usage: dict[str, int] = msgspec.field(default_factory=dict)
    # Set on creation when a first admin was invited: their account id and the invitation's address.
    first_admin: FirstAdminOut | None = None


class AuditEntryOut(msgspec.Struct):
    id: UUID
    actor: str
    action: str
    target_tenant_id: UUID | None
    before: dict[str, Any] | None
    after: dict[str, Any] | None
    created_at: datetime
    request_id: str | None


class UsageDayOut(msgspec.Struct):
    """One day of a tenant's usage; the seat counts are null on a day without a seat snapshot."""

    day: date
    seats_used: int | None
    seats_licensed: int | None
    enrolments: int
    completions: int
    # Bytes of media; null on a day without a snapshot (or one taken before storage was recorded).
    storage_bytes: int | None = None


class UsageOut(msgspec.Struct):
    tenant_id: UUID
    days: list[UsageDayOut]


class AdminAuditEntryOut(msgspec.Struct):
    """One administrative change in the tenant."""

    id: UUID
    created_at: datetime
    actor: str
    actor_user_id: UUID | None
    action: str
    target_type: str
    target_id: str | None
    target: str | None
    before: dict[str, Any] | None
    after: dict[str, Any] | None
    request_id: str | None


class DomainClaim(msgspec.Struct, forbid_unknown_fields=True):
    hostname: Hostname


class DnsRecordOut(msgspec.Struct):
    name: str
    type: str
    value: str
    purpose: str


class SiteDomainOut(msgspec.Struct):
    """A custom domain as its site's admins see it: its state and the DNS records to create."""

    hostname: str
    status: str  # pending | verified | failing (verified once, not any more)
    verified_at: datetime | None
    last_checked_at: datetime | None
    next_check_at: datetime | None
    last_error: str | None
    records: list[DnsRecordOut]
