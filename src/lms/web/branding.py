"""The tenant's look: its branding over the default theme, as template context."""

from __future__ import annotations

from dataclasses import dataclass

from lms.tenancy.services.branding import contrast_ratio, relative_luminance
from lms.tenancy.services.resolver import ResolvedTenant

__all__ = ["Brand", "brand_for", "contrast_ratio", "readable_on", "relative_luminance"]

DEFAULT_LOGO = "/static/logo.svg"
DEFAULT_PRIMARY = "#1f4e9c"
DEFAULT_ACCENT = "#e0892b"
DARK_TEXT = "#1b1f24"
LIGHT_TEXT = "#ffffff"
AA_BODY_TEXT = 4.5


@dataclass(frozen=True)
class Brand:
    name: str
    logo_url: str
    primary_color: str
    accent_color: str

    @property
    def on_primary(self) -> str:
        """Text colour on the primary colour: whichever of dark or white reads better."""
        return readable_on(self.primary_color)

    @property
    def on_accent(self) -> str:
        return readable_on(self.accent_color)


def readable_on(background: str) -> str:
    """A text colour with at least 4.5:1 (WCAG AA) on `background`: the theme's dark text or white,
    and pure black for the few mid-tones where neither reaches it (black always does, >= 4.58:1)."""
    best = max((DARK_TEXT, LIGHT_TEXT), key=lambda text: contrast_ratio(background, text))
    return best if contrast_ratio(background, best) >= AA_BODY_TEXT else "#000000"


def brand_for(tenant: ResolvedTenant | None) -> Brand:
    """Values were validated (hex colours, https or /static logo) before they were stored.
    Without a tenant (an unknown host) the platform's default look is used."""
    if tenant is None:
        return Brand("Learning", DEFAULT_LOGO, DEFAULT_PRIMARY, DEFAULT_ACCENT)
    branding = tenant.branding
    return Brand(
        name=tenant.name,
        logo_url=branding.get("logo_url") or DEFAULT_LOGO,
        primary_color=branding.get("primary_color") or DEFAULT_PRIMARY,
        accent_color=branding.get("accent_color") or DEFAULT_ACCENT,
    )
