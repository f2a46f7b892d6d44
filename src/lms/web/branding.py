"""The tenant's look: its branding over the default theme, as template context."""

from __future__ import annotations

from dataclasses import dataclass

from lms.tenancy.resolver import ResolvedTenant

DEFAULT_LOGO = "/static/logo.svg"
DEFAULT_PRIMARY = "#1f4e9c"
DEFAULT_ACCENT = "#e0892b"


@dataclass(frozen=True)
class Brand:
    name: str
    logo_url: str
    primary_color: str
    accent_color: str


def brand_for(tenant: ResolvedTenant) -> Brand:
    """Values were validated (hex colours, https or /static logo) before they were stored."""
    branding = tenant.branding
    return Brand(
        name=tenant.name,
        logo_url=branding.get("logo_url") or DEFAULT_LOGO,
        primary_color=branding.get("primary_color") or DEFAULT_PRIMARY,
        accent_color=branding.get("accent_color") or DEFAULT_ACCENT,
    )
