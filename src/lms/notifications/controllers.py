"""The notification API: the signed-in user's inbox and preferences, and announcements by admins."""

from __future__ import annotations

from typing import Annotated
from uuid import UUID

from litestar import Controller, get, post, put
from litestar.di import NamedDependency
from litestar.params import FromPath, JSONBody, QueryParameter
from litestar.status_codes import HTTP_200_OK, HTTP_201_CREATED

from lms.db.providers import DbSession, Session
from lms.identity.guards import Principal, requires_user
from lms.identity.queries import active_user_ids
from lms.lib.errors import ValidationFailed
from lms.lib.pagination import Page, PageParams
from lms.lib.params import AppRequest
from lms.notifications import services
from lms.notifications.guards import requires_tenant_admin
from lms.notifications.models import Notification
from lms.notifications.schemas import (
    AnnouncementIn,
    AnnouncementOut,
    MarkedRead,
    NotificationOut,
    NotificationPage,
    PreferenceOut,
    PreferencesIn,
    UnreadCount,
)
from lms.notifications.services.emails import body_of, title_of
from lms.web.i18n import gettext
from lms.web.layout import load_viewer

MAX_SUBJECT = 200
MAX_MESSAGE = 4000


def notification_out(item: Notification) -> NotificationOut:
    """Title and body in the current locale (the reader's)."""
    return NotificationOut(
        id=item.id,
        kind=item.kind,
        title=title_of(item.kind, item.params),
        body=body_of(item.kind, item.params),
        link=item.link,
        read=item.read_at is not None,
        created_at=item.created_at,
    )


async def preferences_out(session: Session, principal: Principal) -> Page[PreferenceOut]:
    """Every kind at once (a short, fixed list), in the one page shape of every list."""
    prefs = await services.preferences(session, principal.user_id, principal.roles)
    items = [PreferenceOut(p.kind.name, gettext(p.kind.label), p.in_app, p.email, p.kind.required) for p in prefs]
    return Page(items=items, total=len(items), limit=len(items), offset=0)


class MyNotificationsController(Controller):
    path = "/api/v1/me/notifications"
    guards = [requires_user]
    tags = ["notifications"]

    @get("/")
    async def list_mine(
        self,
        request: AppRequest,
        db_session: DbSession,
        principal: NamedDependency[Principal],
        page: NamedDependency[PageParams],
        unread: Annotated[bool, QueryParameter(description="only unread notifications")] = False,
    ) -> NotificationPage:
        """The signed-in user's in-app notifications, newest first, in their language."""
        await load_viewer(request)
        items, total = await services.inbox(db_session, principal.user_id, page.limit, page.offset, unread)
        return NotificationPage(
            items=[notification_out(item) for item in items],
            total=total,
            limit=page.limit,
            offset=page.offset,
            unread=await services.unread_count(db_session, principal.user_id),
        )

    @get("/unread-count")
    async def unread_count(self, db_session: DbSession, principal: NamedDependency[Principal]) -> UnreadCount:
        """How many of your in-app notifications are unread (the header badge polls this)."""
        return UnreadCount(unread=await services.unread_count(db_session, principal.user_id))

    @post("/{notification_id:uuid}/read", status_code=HTTP_200_OK)
    async def mark_read(
        self,
        request: AppRequest,
        db_session: DbSession,
        principal: NamedDependency[Principal],
        notification_id: FromPath[UUID],
    ) -> NotificationOut:
        """Mark one of your notifications read; another user's is 404."""
        await load_viewer(request)
        return notification_out(await services.mark_read(db_session, principal.user_id, notification_id))

    @post("/read-all", status_code=HTTP_200_OK)
    async def mark_all_read(self, db_session: DbSession, principal: NamedDependency[Principal]) -> MarkedRead:
        """Mark every one of your notifications read; how many changed."""
        return MarkedRead(marked=await services.mark_all_read(db_session, principal.user_id))


class MyNotificationPreferencesController(Controller):
    path = "/api/v1/me/notification-preferences"
    guards = [requires_user]
    tags = ["notifications"]

    @get("/")
    async def get_preferences(
        self, request: AppRequest, db_session: DbSession, principal: NamedDependency[Principal]
    ) -> Page[PreferenceOut]:
        """Every kind you can receive, with your choice per channel (or the default)."""
        await load_viewer(request)
        return await preferences_out(db_session, principal)

    @put("/")
    async def set_preferences(
        self,
        request: AppRequest,
        db_session: DbSession,
        principal: NamedDependency[Principal],
        data: JSONBody[PreferencesIn],
    ) -> Page[PreferenceOut]:
        """Set `mode` (instant, digest, off; in-app: instant or off) per `kind` and `channel`."""
        if len(data.preferences) > 200:
            raise ValidationFailed("at most 200 preferences at once", field="preferences")
        choices = [(p.kind, p.channel, p.mode) for p in data.preferences]
        await services.set_preferences(db_session, principal.tenant_id, principal.user_id, choices)
        await load_viewer(request)
        return await preferences_out(db_session, principal)


class AnnouncementController(Controller):
    path = "/api/v1/notifications/announcements"
    guards = [requires_tenant_admin]
    tags = ["notifications"]

    @post("/", status_code=HTTP_201_CREATED)
    async def announce(
        self,
        db_session: DbSession,
        principal: NamedDependency[Principal],
        data: JSONBody[AnnouncementIn],
    ) -> AnnouncementOut:
        """Tell every active person on the site: in the inbox, and by e-mail as each one chose."""
        subject, message = data.subject.strip(), data.message.strip()
        if not subject or len(subject) > MAX_SUBJECT:
            raise ValidationFailed(f"the subject needs 1 to {MAX_SUBJECT} characters", field="subject")
        if not message or len(message) > MAX_MESSAGE:
            raise ValidationFailed(f"the message needs 1 to {MAX_MESSAGE} characters", field="message")
        if data.link is not None and (not data.link.startswith("/") or data.link.startswith("//")):
            raise ValidationFailed("the link must be a path on this site, such as /courses", field="link")
        users = await active_user_ids(db_session)
        result = await services.announce(
            db_session,
            principal.tenant_id,
            users,
            "announcement",
            {"subject": subject, "message": message},
            link=data.link,
        )
        return AnnouncementOut(recipients=result.recipients)
