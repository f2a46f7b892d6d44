"""Rendering: a notification's title and body in the reader's language, and the branded e-mail
(HTML with a plain-text part) with the tenant's name, sender name and a one-click unsubscribe link."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from functools import cache
from typing import Any
from urllib.parse import urlencode
from uuid import UUID

import jinja2
from sqlalchemy.ext.asyncio import AsyncSession

from lms.config import Settings
from lms.identity.queries import UserContact
from lms.lib import clock
from lms.lib.signing import link_key, sign, verify
from lms.notifications.schemas import KINDS, Kind
from lms.tenancy.queries import tenant_profile
from lms.web import i18n
from lms.web.branding import DEFAULT_LOGO, DEFAULT_PRIMARY, readable_on

UNSUBSCRIBE_PURPOSE = "notifications-unsubscribe"
UNSUBSCRIBE_LIFETIME_SECONDS = 366 * 24 * 3600
# The unsubscribe "kind" of a digest: it stops every e-mail the user may turn off.
ALL_KINDS = "all"
_SITE_MEMO = "notifications_site"


@dataclass(frozen=True)
class Site:
    """The tenant as its e-mails show it."""

    id: UUID
    name: str
    base_url: str
    logo_url: str
    primary_color: str
    default_locale: str | None = None
    on_primary: str = field(default="#ffffff")
    # The "From" name of its e-mails: the admin's choice (Branding), else the site's name.
    sender_name: str = ""


async def tenant_site(session: AsyncSession, settings: Settings, tenant_id: UUID) -> Site:
    """Name, brand and public base URL of the tenant (custom domain first); remembered per session."""
    memo: dict[UUID, Site] = session.sync_session.info.setdefault(_SITE_MEMO, {})
    if tenant_id in memo:
        return memo[tenant_id]
    profile = await tenant_profile(session, tenant_id)
    if profile is None:
        raise LookupError(f"tenant {tenant_id} not found")
    host = profile.custom_hostname or f"{profile.slug}.{settings.public_base_domain}"
    base_url = f"https://{host}"
    logo = str(profile.branding.get("logo_url") or DEFAULT_LOGO)
    primary = str(profile.branding.get("primary_color") or DEFAULT_PRIMARY)
    memo[tenant_id] = Site(
        id=profile.id,
        name=profile.name,
        base_url=base_url,
        logo_url=logo if logo.startswith("https://") else f"{base_url}{logo}",
        primary_color=primary,
        default_locale=profile.branding.get("default_locale"),
        on_primary=readable_on(primary),
        sender_name=str(profile.branding.get("email_sender_name") or profile.name),
    )
    return memo[tenant_id]


class _Params(dict[str, Any]):
    """Missing parameters render empty instead of failing a whole digest."""

    def __missing__(self, key: str) -> str:
        return ""


def render_text(message: str, params: dict[str, Any]) -> str:
    """`message` translated into the current locale, with `%(name)s` parameters filled in."""
    translated = i18n.translations(i18n.current_locale()).gettext(message) if message else ""
    try:
        return translated % _Params(params)
    except (TypeError, ValueError):
        return translated


def _params_of(spec: Kind, params: dict[str, Any]) -> dict[str, Any]:
    """The kind's translated parameters are catalogue messages themselves: rendered in the reader's
    language (with the other parameters) before they go into the title or body; its moments are
    written in the reader's language and time zone."""
    params = {**params, **{key: shown_moment(str(params[key])) for key in spec.moments if key in params}}
    if not spec.translated:
        return params
    plain = {key: value for key, value in params.items() if key not in spec.translated}
    return {**params, **{key: render_text(str(params.get(key) or ""), plain) for key in spec.translated}}


def shown_moment(value: str) -> str:
    """An ISO 8601 moment as the reader reads it: a day (or a due date chosen as a day) as a date, a
    time in their time zone. Anything else (a notice stored before moments were) is shown as stored."""
    try:
        if len(value) == 10:
            return i18n.format_day(date.fromisoformat(value))
        moment = datetime.fromisoformat(value)
        if moment.tzinfo is not None and i18n.ends_a_day(moment):
            return i18n.format_due(moment)
        return i18n.format_datetime(moment, "short")
    except ValueError:
        return value


def title_of(kind: str, params: dict[str, Any]) -> str:
    spec = KINDS.get(kind)
    return render_text(spec.title, _params_of(spec, params)) if spec else kind


def body_of(kind: str, params: dict[str, Any]) -> str:
    spec = KINDS.get(kind)
    return render_text(spec.body, _params_of(spec, params)) if spec else ""


def locale_for(user: UserContact, site: Site) -> str:
    return i18n.choose_locale(user.locale, "", site.default_locale)


def unsubscribe_token(settings: Settings, tenant_id: UUID, user_id: UUID, kind: str) -> str:
    expires = int(clock.timestamp()) + UNSUBSCRIBE_LIFETIME_SECONDS
    return sign(link_key(settings.secret_key, UNSUBSCRIBE_PURPOSE), f"{tenant_id}:{user_id}:{kind}", expires)


def unsubscribe_token_valid(settings: Settings, tenant_id: UUID, user_id: UUID, kind: str, token: str) -> bool:
    key = link_key(settings.secret_key, UNSUBSCRIBE_PURPOSE)
    return verify(key, f"{tenant_id}:{user_id}:{kind}", token)


def unsubscribe_url(settings: Settings, site: Site, user_id: UUID, kind: str) -> str:
    token = unsubscribe_token(settings, site.id, user_id, kind)
    return f"{site.base_url}/unsubscribe?" + urlencode({"u": str(user_id), "k": kind, "t": token})


@cache
def email_templates(templates_dir: str) -> jinja2.Environment:
    environment = jinja2.Environment(
        loader=jinja2.FileSystemLoader(templates_dir),
        autoescape=jinja2.select_autoescape(enabled_extensions=("html",), default_for_string=False),
        extensions=["jinja2.ext.i18n"],
        trim_blocks=True,
        lstrip_blocks=True,
    )
    environment.install_gettext_callables(  # type: ignore[attr-defined]
        lambda message: i18n.translations(i18n.current_locale()).gettext(message),
        lambda singular, plural, n: i18n.translations(i18n.current_locale()).ngettext(singular, plural, n),
        newstyle=True,
    )
    environment.globals.update(i18n.template_globals())
    return environment


@dataclass(frozen=True)
class RenderedEmail:
    subject: str
    text: str
    html: str
    headers: dict[str, str]
    sender_name: str


@dataclass(frozen=True)
class EmailItem:
    """One notification as an e-mail (or a digest) shows it."""

    kind: Kind
    title: str
    body: str
    action_url: str | None
    action: str


def email_item(site: Site, kind: str, params: dict[str, Any], link: str | None) -> EmailItem:
    spec = KINDS[kind]
    if link and link.startswith("/"):
        link = f"{site.base_url}{link}"
    return EmailItem(spec, title_of(kind, params), body_of(kind, params), link, render_text(spec.action, {}))


def render_email(
    settings: Settings,
    site: Site,
    user: UserContact,
    items: list[EmailItem],
    *,
    digest: bool,
) -> RenderedEmail:
    """The e-mail in the current locale. The subject names the tenant; the unsubscribe link stops this
    kind (or, for a digest, every e-mail the user may turn off); transactional kinds carry none."""
    _ = i18n.gettext
    unsubscribe_kind = ALL_KINDS if digest else items[0].kind.name
    required = not digest and items[0].kind.required
    unsubscribe = None if required else unsubscribe_url(settings, site, user.id, unsubscribe_kind)
    if digest:
        subject = _("%(site)s: your daily summary (%(count)s)", site=site.name, count=len(items))
    else:
        subject = f"{site.name}: {items[0].title}" if site.name not in items[0].title else items[0].title
    context = {
        "site": site,
        "user": user,
        "items": items,
        "digest": digest,
        "subject": subject,
        "unsubscribe_url": unsubscribe,
        "preferences_url": f"{site.base_url}/notifications/preferences",
        "locale": i18n.current_locale(),
    }
    templates = email_templates(str(settings.branding_dir / "templates"))
    html = templates.get_template("notifications/email.html").render(context)
    text = templates.get_template("notifications/email.txt").render(context)
    headers: dict[str, str] = {}
    if unsubscribe is not None:
        headers["List-Unsubscribe"] = f"<{unsubscribe}>"
        headers["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"
    return RenderedEmail(subject[:300], text, html, headers, site.sender_name or site.name)
