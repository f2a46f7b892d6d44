"""Notification pages: the inbox, the header's unread badge (polled by htmx), preferences, and the
one-click unsubscribe page an e-mail links to."""

from __future__ import annotations

from typing import Annotated
from uuid import UUID

from litestar import Controller, MediaType, Response, get, post
from litestar.di import NamedDependency
from litestar.params import FromPath, FromQuery, QueryParameter
from litestar.response import Redirect, Template
from litestar.status_codes import HTTP_200_OK

from lms.config import Settings
from lms.db.providers import DbSession
from lms.identity.guards import Principal, requires_user
from lms.lib.errors import DomainError
from lms.lib.params import AppRequest
from lms.notifications import services
from lms.notifications.guards import public_unsubscribe
from lms.notifications.schemas import CHANNELS, KINDS
from lms.notifications.services.emails import ALL_KINDS, body_of, title_of
from lms.web.forms import FormData
from lms.web.i18n import gettext as _
from lms.web.layout import before_page, load_viewer, page

PAGE_SIZE = 30


class NotificationPagesController(Controller):
    guards = [requires_user]
    include_in_schema = False
    before_request = staticmethod(before_page)

    @get("/notifications")
    async def inbox(
        self,
        request: AppRequest,
        db_session: DbSession,
        principal: NamedDependency[Principal],
        offset: Annotated[int, QueryParameter(ge=0, le=1_000_000)] = 0,
        saved: FromQuery[str] = "",
    ) -> Template:
        items, total = await services.inbox(db_session, principal.user_id, PAGE_SIZE, offset)
        shown = [
            {
                "id": item.id,
                "title": title_of(item.kind, item.params),
                "body": body_of(item.kind, item.params),
                "read": item.read_at is not None,
                "at": item.created_at,
                "link": item.link,
            }
            for item in items
        ]
        messages = {"all": _("All notifications are marked as read.")}
        return page(
            request,
            "notifications/inbox.html",
            items=shown,
            total=total,
            limit=PAGE_SIZE,
            offset=offset,
            unread=await services.unread_count(db_session, principal.user_id),
            flash=messages.get(saved[:10]),
        )

    @get("/notifications/badge")
    async def badge(
        self, request: AppRequest, db_session: DbSession, principal: NamedDependency[Principal]
    ) -> Template:
        """The header's bell with the unread count; htmx replaces it every 30 seconds."""
        return page(
            request, "notifications/_badge.html", unread=await services.unread_count(db_session, principal.user_id)
        )

    @post("/notifications/{notification_id:uuid}/open", status_code=HTTP_200_OK)
    async def open(
        self, db_session: DbSession, principal: NamedDependency[Principal], notification_id: FromPath[UUID]
    ) -> Redirect:
        """Mark read and go where the notification points (or back to the inbox)."""
        item = await services.mark_read(db_session, principal.user_id, notification_id)
        target = item.link if item.link and item.link.startswith("/") and not item.link.startswith("//") else None
        return Redirect(target or "/notifications", status_code=303)

    @post("/notifications/read-all", status_code=HTTP_200_OK)
    async def read_all(self, db_session: DbSession, principal: NamedDependency[Principal]) -> Redirect:
        await services.mark_all_read(db_session, principal.user_id)
        return Redirect("/notifications?saved=all", status_code=303)

    @get("/notifications/preferences")
    async def preferences(
        self,
        request: AppRequest,
        db_session: DbSession,
        principal: NamedDependency[Principal],
        saved: FromQuery[bool] = False,
    ) -> Template:
        prefs = await services.preferences(db_session, principal.user_id, principal.roles)
        return page(
            request,
            "notifications/preferences.html",
            prefs=prefs,
            in_app_modes=[("instant", _("Show")), ("off", _("Off"))],
            email_modes=[("instant", _("Right away")), ("digest", _("Daily summary")), ("off", _("Off"))],
            flash=_("Your notification settings are saved.") if saved else None,
        )

    @post("/notifications/preferences", status_code=HTTP_200_OK)
    async def save_preferences(
        self, request: AppRequest, db_session: DbSession, principal: NamedDependency[Principal]
    ) -> Redirect:
        """One select per kind and channel, named `<channel>:<kind>`; unknown fields are ignored."""
        form = await FormData.read(request)
        choices = []
        for kind in services.visible_kinds(principal.roles):
            if kind.required:
                continue
            for channel in CHANNELS:
                mode = form.text(f"{channel}:{kind.name}", 12)
                if mode:
                    choices.append((kind.name, channel, mode))
        await services.set_preferences(db_session, principal.tenant_id, principal.user_id, choices)
        return Redirect("/notifications/preferences?saved=true", status_code=303)


class UnsubscribePagesController(Controller):
    guards = [public_unsubscribe]
    include_in_schema = False
    before_request = staticmethod(before_page)

    @get("/unsubscribe")
    async def confirm(
        self,
        request: AppRequest,
        u: Annotated[str, QueryParameter(max_length=64)] = "",
        k: Annotated[str, QueryParameter(max_length=40)] = "",
        t: Annotated[str, QueryParameter(max_length=128)] = "",
    ) -> Template:
        """Asks before acting: mail scanners follow links, and a GET must not unsubscribe anyone."""
        return page(request, "notifications/unsubscribe.html", u=u, k=k, t=t, label=_kind_label(k), done=None)

    @post("/unsubscribe", status_code=HTTP_200_OK)
    async def unsubscribe(
        self,
        request: AppRequest,
        db_session: DbSession,
        settings: NamedDependency[Settings],
        u: Annotated[str, QueryParameter(max_length=64)] = "",
        k: Annotated[str, QueryParameter(max_length=40)] = "",
        t: Annotated[str, QueryParameter(max_length=128)] = "",
    ) -> Template | Response[str]:
        """RFC 8058 one-click (the mail client posts `List-Unsubscribe=One-Click` to the header's
        address) and the confirm button of the page; both carry the signed query."""
        await load_viewer(request)
        tenant = request.scope.get("state", {}).get("tenant")
        failed = False
        try:
            if tenant is None:
                raise ValueError("no tenant")
            await services.unsubscribe(db_session, settings, tenant.id, UUID(u), k, t)
        except (ValueError, DomainError):
            failed = True
        if failed:
            return page(
                request,
                "notifications/unsubscribe.html",
                status_code=400,
                u=u,
                k=k,
                t=t,
                label=_kind_label(k),
                done=False,
            )
        if "one-click" in (await request.body()).decode("utf-8", "replace").lower():
            return Response("unsubscribed", media_type=MediaType.TEXT)
        return page(request, "notifications/unsubscribe.html", u=u, k=k, t=t, label=_kind_label(k), done=True)


def _kind_label(kind: str) -> str:
    if kind == ALL_KINDS:
        return _("all e-mails you can turn off")
    spec = KINDS.get(kind)
    return _(spec.label) if spec is not None else ""
