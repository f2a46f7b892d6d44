"""Branded error pages for browsers; API clients keep the JSON envelope.

One content negotiation decides: a request outside `/api/` whose `Accept` names `text/html` (before
any JSON) gets a page. A signed-out visitor who asks for a protected page is sent to sign in and brought back.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from litestar import Litestar, MediaType, Request, Response
from litestar.enums import ScopeType
from litestar.response import Redirect
from litestar.types import Scope

from lms.lib.errors import DomainError
from lms.lib.params import AppRequest
from lms.tenancy.models import TenantStatus
from lms.tenancy.services.resolver import ResolvedTenant
from lms.web import i18n
from lms.web.branding import brand_for
from lms.web.forms import service_message
from lms.web.layout import load_viewer, navigation

ERROR_TEMPLATE = "errors/error.html"
# Errors whose own message tells the person what to do (what a locked lesson needs first): their
# page shows it, in the page's language (lms.web.service_messages), under the general advice.
EXPLAINED_CODES = frozenset({"lesson_locked"})


def wants_html(path: str, accept: str) -> bool:
    """Browsers name `text/html` in `Accept`; `/api/` and every other client get the JSON envelope."""
    if path.startswith("/api/"):
        return False
    accept = accept.lower()
    html_at = accept.find("text/html")
    if html_at == -1:
        return False
    json_at = accept.find("application/json")
    return json_at == -1 or html_at < json_at


def explanation(status: int, code: str) -> tuple[str, str]:
    """Title and what to do, in the page's language. Internal codes stay in the JSON."""
    _ = i18n.gettext
    if code == "tenant_suspended":
        return _("This site is suspended"), _(
            "This learning site is not available at the moment. Contact your administrator."
        )
    if code == "upgrade_required":
        return _("Your plan does not include this"), _(
            "Upgrade your plan on the Seats & billing page to use this feature."
        )
    if code == "billing_suspended":
        return _("This site is paused"), _(
            "Access for learners is paused until the subscription is paid. Your administrator has been told."
        )
    if status == 404 and code == "no_site":
        return _("No learning site here"), _("No learning site is configured for this address. Check the link.")
    texts = {
        401: (_("Please sign in"), _("You need to sign in to see this page.")),
        403: (
            _("You do not have access"),
            _("Your account cannot open this page. Ask your administrator if you need access."),
        ),
        404: (_("Page not found"), _("We could not find this page. Check the address, or go back to the home page.")),
        405: (_("This action is not available"), _("Go back and try again.")),
        409: (_("That did not work"), _("Something changed in the meantime. Go back, reload and try again.")),
        413: (_("That file is too large"), _("Choose a smaller file and try again.")),
        429: (_("Too many attempts"), _("Please wait a minute before you try again.")),
    }
    if status in texts:
        return texts[status]
    if status >= 500:
        return _("Something went wrong on our side"), _(
            "Please try again in a moment. If it keeps happening, contact support with the reference below."
        )
    return _("That did not work"), _("Go back, check what you entered and try again.")


def render_error_html(
    app: Litestar,
    status: int,
    code: str,
    tenant: ResolvedTenant | None,
    accept_language: str,
    request_id: str = "",
    viewer: Any = None,
    error: BaseException | None = None,
) -> str:
    """The error page as HTML; also used by the tenant middleware, which answers before routing."""
    tenant_locale = tenant.branding.get("default_locale") if tenant is not None else None
    locale = i18n.choose_locale(getattr(viewer, "locale", None), accept_language, tenant_locale)
    with i18n.using_locale(locale):
        title, advice = explanation(status, code)
        detail = service_message(error) if isinstance(error, DomainError) and code in EXPLAINED_CODES else ""
        template = app.template_engine.get_template(ERROR_TEMPLATE)  # type: ignore[union-attr]
        return str(
            template.render(
                brand=brand_for(tenant),
                tenant=tenant,
                viewer=viewer,
                nav=navigation(viewer),
                current_path="",
                locale=locale,
                text_direction=i18n.text_direction(locale),
                status=status,
                title=title,
                advice=advice,
                detail=detail,
                request_id=request_id,
                show_home=tenant is not None and code != "tenant_suspended",
                upgrade_url="/admin/billing" if code == "upgrade_required" else "",
            )
        )


async def prepare_error_page(error: Exception, scope: Scope) -> None:
    """An `after_exception` hook (it runs before the exception handlers) that gathers what a browser's
    error page shows. An address that matches no route never passes the tenant middleware: look the
    host's tenant up here, so its error page is branded too. Who is signed in is read unless the page
    did (a 404 for an unknown address, a guard's 403), so the header and language are the viewer's."""
    if scope["type"] != ScopeType.HTTP:
        return
    state = scope.setdefault("state", {})
    state["error"] = error
    headers = dict(scope["headers"])
    path = scope.get("path", "")
    if not wants_html(path, headers.get(b"accept", b"").decode("latin-1")):
        return
    if "tenant" not in state:
        host = headers.get(b"host", b"").decode("latin-1")
        tenant = await scope["litestar_app"].state.tenant_resolver.resolve(host) if host else None
        if tenant is not None and tenant.status is TenantStatus.ACTIVE:
            state["tenant"] = tenant
    if "viewer" not in state and "tenant" in state:
        i18n.begin_request()
        try:
            await load_viewer(Request[None, None, Any](scope))
        except Exception:
            state["viewer"] = None


def sign_in_redirect(request: AppRequest) -> Redirect:
    target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    return Redirect(f"/sign-in?next={quote(target, safe='/')}", status_code=303)


def localised_message(request: AppRequest, exc: DomainError) -> str | None:
    """A service's message in the language the browser asks for (the viewer's or the site's when it
    asks for none it supports), for page scripts that show an API error (the uploader); None for
    clients that send no Accept-Language."""
    accept = request.headers.get("accept-language", "")
    if not accept:
        return None
    tenant = request.scope.get("state", {}).get("tenant")
    viewer = request.scope.get("state", {}).get("viewer")
    tenant_locale = tenant.branding.get("default_locale") if tenant is not None else None
    locale = i18n.choose_locale(viewer.locale if viewer else None, accept, tenant_locale)
    with i18n.using_locale(locale, (viewer.time_zone if viewer else None) or "UTC"):
        return service_message(exc)


def error_page(request: AppRequest, status: int, body: dict[str, Any]) -> Response[Any] | None:
    """The browser's answer to an error, or None when the client wants JSON."""
    if not wants_html(request.url.path, request.headers.get("accept", "")):
        return None
    code = str(body.get("error", {}).get("code", ""))
    if status == 401 and request.method in ("GET", "HEAD"):
        return sign_in_redirect(request)
    state = request.scope.get("state", {})
    html = render_error_html(
        request.app,
        status,
        code,
        state.get("tenant"),
        request.headers.get("accept-language", ""),
        state.get("request_id", ""),
        state.get("viewer"),
        state.get("error"),
    )
    headers = {"Cache-Control": "no-store"}
    if status == 429:
        headers["Retry-After"] = "60"
    return Response(html, status_code=status, media_type=MediaType.HTML, headers=headers)
