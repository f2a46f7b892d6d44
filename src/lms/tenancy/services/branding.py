"""Branding run by tenant admins: colours checked for contrast, the default language, the e-mail sender
name and an uploaded logo (raster only: an SVG can carry script, so it is refused rather than trusted).

The tenant row is the platform's: the application role may change only its `branding` column (a
column grant), and RLS keeps that to the admin's own tenant.
"""

from __future__ import annotations

from typing import Any
from uuid import UUID

import msgspec
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from lms.lib import clock
from lms.lib.errors import NotFound, ValidationFailed
from lms.lib.images import CONTENT_TYPES, content_name, inspect_raster
from lms.lib.storage import ObjectMissing, Storage
from lms.tenancy.models import Tenant
from lms.tenancy.schemas import Branding, BrandingChange
from lms.tenancy.services.audit import AdminAudit

# WCAG 2.1 AA: body text 4.5:1; the primary colour is used for links and as a button background.
TEXT_CONTRAST = 4.5
# The accent colour marks non-text things (focus rings, progress bars): 3:1 against white.
UI_CONTRAST = 3.0
WHITE = "#ffffff"
MAX_LOGO_BYTES = 512 * 1024
MAX_LOGO_PIXELS = 2000
LOGO_PATH = "/brand/logo/"


def relative_luminance(hex_colour: str) -> float:
    """WCAG 2.1 relative luminance of `#rrggbb`."""
    channels = [int(hex_colour[i : i + 2], 16) / 255 for i in (1, 3, 5)]
    linear = [c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4 for c in channels]
    return 0.2126 * linear[0] + 0.7152 * linear[1] + 0.0722 * linear[2]


def contrast_ratio(first: str, second: str) -> float:
    lighter, darker = sorted((relative_luminance(first), relative_luminance(second)), reverse=True)
    return (lighter + 0.05) / (darker + 0.05)


def check_contrast(change: BrandingChange) -> None:
    """Refuse colours that would make links or controls hard to read, naming the ratio."""
    if change.primary_color:
        ratio = contrast_ratio(change.primary_color, WHITE)
        if ratio < TEXT_CONTRAST:
            raise ValidationFailed(
                f"the primary colour has a contrast of {ratio:.1f}:1 on white; links and buttons need "
                f"at least {TEXT_CONTRAST}:1, so choose a darker shade",
                field="primary_color",
            )
    if change.accent_color:
        ratio = contrast_ratio(change.accent_color, WHITE)
        if ratio < UI_CONTRAST:
            raise ValidationFailed(
                f"the accent colour has a contrast of {ratio:.1f}:1 on white; it needs at least "
                f"{UI_CONTRAST}:1, so choose a darker shade",
                field="accent_color",
            )


def logo_key(tenant_id: UUID, name: str) -> str:
    return f"t/{tenant_id}/branding/{name}"


def inspect_logo(data: bytes) -> tuple[str, str]:
    """(file extension, content type) of an acceptable raster logo, or a field error saying why not."""
    return inspect_raster(data, field="logo", what="the logo", max_bytes=MAX_LOGO_BYTES, max_pixels=MAX_LOGO_PIXELS)


class BrandingSelfService:
    """The current tenant's branding, as its admins change it (the session is RLS-bound)."""

    def __init__(self, session: AsyncSession, tenant_id: UUID, storage: Storage, audit: AdminAudit | None) -> None:
        self.session = session
        self.tenant_id = tenant_id
        self.storage = storage
        self.audit = audit

    async def current(self) -> Branding:
        row = await self.session.execute(select(Tenant.branding).where(Tenant.id == self.tenant_id))
        stored = row.scalar_one_or_none()
        if stored is None:
            raise NotFound("no such site")
        return msgspec.convert(stored, Branding)

    async def change(self, change: BrandingChange) -> Branding:
        """Apply the fields given (an empty string clears one); colours are checked before anything is stored."""
        check_contrast(change)
        before = msgspec.to_builtins(await self.current())
        after = dict(before)
        for field in ("primary_color", "accent_color", "default_locale", "email_sender_name"):
            value = getattr(change, field)
            if value is None:
                continue
            if value == "":
                after.pop(field, None)
            else:
                after[field] = value
        return await self._store(before, after)

    async def upload_logo(self, data: bytes) -> Branding:
        """Store a checked logo under a name derived from its content (cached for ever) and use it."""
        extension, content_type = inspect_logo(data)
        name = content_name("logo", data, extension)
        self.storage.put_bytes(logo_key(self.tenant_id, name), data, content_type)
        before = msgspec.to_builtins(await self.current())
        return await self._store(before, {**before, "logo_url": LOGO_PATH + name})

    async def remove_logo(self) -> Branding:
        before = msgspec.to_builtins(await self.current())
        return await self._store(before, {k: v for k, v in before.items() if k != "logo_url"})

    async def _store(self, before: dict[str, Any], after: dict[str, Any]) -> Branding:
        branding = msgspec.convert(after, Branding)
        await self.session.execute(
            update(Tenant)
            .where(Tenant.id == self.tenant_id)
            .values(branding=msgspec.to_builtins(branding), updated_at=clock.now())
        )
        if self.audit is not None:
            await self.audit.record_change("branding.changed", "branding", None, None, before, after)
        return branding


def read_logo(storage: Storage, tenant_id: UUID, name: str) -> tuple[bytes, str]:
    """A stored logo and its content type; NotFound for anything else."""
    extension = name.rpartition(".")[2]
    types = CONTENT_TYPES
    if not name.startswith("logo-") or extension not in types:
        raise NotFound("no such logo")
    try:
        return storage.get_bytes(logo_key(tenant_id, name)), types[extension]
    except ObjectMissing as exc:
        raise NotFound("no such logo") from exc
