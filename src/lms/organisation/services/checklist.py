"""The setup checklist a new tenant's admin lands on; every item is read from the tenant's real state."""

from __future__ import annotations

from dataclasses import dataclass
from uuid import UUID

from sqlalchemy.ext.asyncio import AsyncSession

from lms.catalog.queries import own_course_count
from lms.identity.queries import account_counts, sso_provider_count
from lms.tenancy.queries import tenant_profile


@dataclass(frozen=True)
class ChecklistItem:
    key: str
    done: bool
    # What the state is now, as numbers the page words for itself (no text here: pages translate).
    detail: dict[str, int | str | None]


@dataclass(frozen=True)
class Checklist:
    items: list[ChecklistItem]

    @property
    def done(self) -> int:
        return sum(1 for item in self.items if item.done)

    @property
    def complete(self) -> bool:
        return self.done == len(self.items)


async def setup_checklist(session: AsyncSession, tenant_id: UUID) -> Checklist:
    """Branding, custom domain, single sign-on, people imported, first course: each done or not."""
    profile = await tenant_profile(session, tenant_id)
    branding = profile.branding if profile is not None else {}
    branded = bool(branding.get("logo_url") or branding.get("primary_color"))
    hostname = profile.custom_hostname if profile is not None else None
    providers = await sso_provider_count(session)
    accounts = await account_counts(session)
    courses, published = await own_course_count(session)
    return Checklist(
        [
            ChecklistItem("branding", branded, {"logo_url": branding.get("logo_url")}),
            ChecklistItem("domain", hostname is not None, {"hostname": hostname}),
            ChecklistItem("sso", providers > 0, {"providers": providers}),
            # People beyond the admins themselves: someone was invited, imported or provisioned.
            ChecklistItem("users", accounts.total > accounts.admins, {"users": accounts.total}),
            ChecklistItem("course", courses > 0, {"courses": courses, "published": published}),
        ]
    )
