"""What every page shares: the signed-in person (if any), navigation by role, locale, CSRF token."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from typing import Any
from uuid import UUID

from litestar import MediaType
from litestar.datastructures import Cookie
from litestar.response import Template

from lms.db.binding import tenant_session
from lms.identity.guards import CSRF_COOKIE, CSRF_FORM_FIELD, SESSION_COOKIE, Principal, authenticate
from lms.identity.models import Role, User
from lms.lib.errors import DomainError
from lms.lib.params import AppRequest
from lms.web import i18n
from lms.web.branding import brand_for

CSRF_FIELD = CSRF_FORM_FIELD
CSRF_LIFETIME_SECONDS = 14 * 24 * 3600


@dataclass(frozen=True)
class Viewer:
    """The signed-in person as pages show them."""

    user_id: UUID
    display_name: str
    email: str
    roles: frozenset[str]
    locale: str | None
    time_zone: str | None


@dataclass(frozen=True)
class NavItem:
    label: str
    href: str


def navigation(viewer: Viewer | None) -> list[NavItem]:
    """Learner entries for everyone signed in; staff entries only for their roles."""
    _ = i18n.gettext
    if viewer is None:
        return []
    items = [
        NavItem(_("My learning"), "/"),
        NavItem(_("Catalogue"), "/courses"),
        NavItem(_("Certificates"), "/certificates"),
    ]
    if Role.INSTRUCTOR.value in viewer.roles:
        items.append(NavItem(_("Teaching"), "/teach"))
    if Role.TENANT_ADMIN.value in viewer.roles:
        items.append(NavItem(_("Administration"), "/admin"))
    return items


async def load_viewer(request: AppRequest) -> Viewer | None:
    """The signed-in person, or None for a visitor (an expired or foreign session counts as none).
    Cached on the request; also sets the request's locale and time zone."""
    state = request.scope.setdefault("state", {})
    if "viewer" in state:
        return state["viewer"]  # type: ignore[no-any-return]
    viewer: Viewer | None = None
    principal = state.get("principal")
    if not isinstance(principal, Principal) and request.cookies.get(SESSION_COOKIE) is not None:
        try:
            principal = await authenticate(request)
        except DomainError:
            principal = None
    if isinstance(principal, Principal):
        async with tenant_session(request.app.state.db.app_sessions, principal.tenant_id) as session:
            user = await session.get(User, principal.user_id)
        if user is not None:
            viewer = Viewer(user.id, user.display_name, user.email, principal.roles, user.locale, user.time_zone)
    state["viewer"] = viewer
    activate_locale(request, viewer)
    return viewer


async def before_page(request: AppRequest) -> None:
    """`before_request` of page controllers: who is signed in, and so the language, before any text."""
    await load_viewer(request)


def activate_locale(request: AppRequest, viewer: Viewer | None) -> str:
    tenant = request.scope.get("state", {}).get("tenant")
    tenant_locale = tenant.branding.get("default_locale") if tenant is not None else None
    locale = i18n.choose_locale(
        viewer.locale if viewer else None, request.headers.get("accept-language", ""), tenant_locale
    )
    i18n.activate(locale, (viewer.time_zone if viewer else None) or "UTC")
    request.scope["state"]["locale"] = locale
    return locale


def csrf_token(request: AppRequest) -> tuple[str, list[Cookie]]:
    """The double-submit token for forms; a visitor without one gets a new cookie with this page."""
    existing = request.cookies.get(CSRF_COOKIE)
    if existing:
        return existing, []
    state = request.scope.setdefault("state", {})
    token = state.get("new_csrf") or secrets.token_urlsafe(24)
    state["new_csrf"] = token
    cookie = Cookie(
        key=CSRF_COOKIE,
        value=token,
        path="/",
        max_age=CSRF_LIFETIME_SECONDS,
        httponly=False,
        secure=True,
        samesite="lax",
    )
    return token, [cookie]


def page_context(request: AppRequest, **context: Any) -> dict[str, Any]:
    state = request.scope.setdefault("state", {})
    tenant = state.get("tenant")
    viewer = state.get("viewer")
    locale = state.get("locale") or activate_locale(request, viewer)
    token, _ = csrf_token(request)
    return {
        "brand": brand_for(tenant),
        "tenant": tenant,
        "viewer": viewer,
        "nav": navigation(viewer),
        "current_path": request.url.path,
        "locale": locale,
        "text_direction": i18n.text_direction(locale),
        "csrf_field": CSRF_FIELD,
        "csrf_token": token,
        "request_id": state.get("request_id", ""),
        **context,
    }


def page(request: AppRequest, template: str, *, status_code: int = 200, **context: Any) -> Template:
    """A page in the base layout. Call `await load_viewer(request)` first to show the signed-in state."""
    full_context = page_context(request, **context)
    _, cookies = csrf_token(request)
    # Pages carry a CSRF token and often personal data: no shared cache may keep them.
    headers = {"Cache-Control": "private, no-store"}
    # Explicit: a handler that may also answer JSON (`-> Any`) would otherwise label the page as JSON.
    return Template(
        template_name=template,
        context=full_context,
        status_code=status_code,
        cookies=cookies,
        headers=headers,
        media_type=MediaType.HTML,
    )
