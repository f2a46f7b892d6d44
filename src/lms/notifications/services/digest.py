"""The daily digest (one e-mail per user with what waited for it, in the user's morning) and the
batched instant e-mails an announcement owes."""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime, timedelta
from uuid import UUID
from zoneinfo import ZoneInfo

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from lms.config import Settings
from lms.identity.queries import UserContact, user_contacts
from lms.lib import clock
from lms.lib.mail import queue_email
from lms.notifications.models import Notification
from lms.notifications.services.emails import email_item, locale_for, render_email, tenant_site
from lms.web import i18n

# Digests go out at this local hour; a user whose hour was missed gets theirs within a day anyway.
DIGEST_HOUR = 7
DIGEST_MAX_WAIT = timedelta(hours=26)
BATCH = 500


def local_hour(user: UserContact, at: datetime) -> int:
    try:
        zone = ZoneInfo(user.time_zone or "UTC")
    except (KeyError, ValueError):
        zone = ZoneInfo("UTC")
    return at.astimezone(zone).hour


async def send_digests(session: AsyncSession, settings: Settings, tenant_id: UUID, force: bool = False) -> int:
    """One digest e-mail per user whose local time is the digest hour (or whose oldest waiting item is
    older than a day); `force` sends every waiting digest. Idempotent: sent items leave the digest."""
    now = clock.now()
    rows = list(
        await session.scalars(
            select(Notification)
            .where(Notification.email_state == "digest")
            .order_by(Notification.user_id, Notification.created_at)
            .with_for_update(skip_locked=True)
        )
    )
    if not rows:
        return 0
    waiting: dict[UUID, list[Notification]] = defaultdict(list)
    for row in rows:
        waiting[row.user_id].append(row)
    users = await user_contacts(session, set(waiting))
    site = await tenant_site(session, settings, tenant_id)
    sent = 0
    for user_id, items in waiting.items():
        user = users.get(user_id)
        if user is None:
            continue
        due = force or local_hour(user, now) == DIGEST_HOUR or now - items[0].created_at >= DIGEST_MAX_WAIT
        if not due:
            continue
        with i18n.using_locale(locale_for(user, site), user.time_zone or "UTC"):
            shown = [email_item(site, i.kind, {"site": site.name, **i.params}, i.link) for i in items]
            rendered = render_email(settings, site, user, shown, digest=True)
        await queue_email(
            session,
            settings,
            tenant_id,
            user.email,
            rendered.subject,
            rendered.text,
            html_body=rendered.html,
            sender_name=rendered.sender_name,
            headers=rendered.headers,
        )
        for item in items:
            item.email_state = "digested"
        sent += 1
    await session.flush()
    return sent


async def send_pending(session: AsyncSession, settings: Settings, tenant_id: UUID) -> int:
    """Instant e-mails owed by an announcement, a batch at a time; returns how many were queued (0 = done)."""
    rows = list(
        await session.scalars(
            select(Notification)
            .where(Notification.email_state == "instant")
            .order_by(Notification.created_at)
            .limit(BATCH)
            .with_for_update(skip_locked=True)
        )
    )
    if not rows:
        return 0
    users = await user_contacts(session, {row.user_id for row in rows})
    site = await tenant_site(session, settings, tenant_id)
    for row in rows:
        user = users.get(row.user_id)
        if user is not None:
            with i18n.using_locale(locale_for(user, site), user.time_zone or "UTC"):
                item = email_item(site, row.kind, {"site": site.name, **row.params}, row.link)
                rendered = render_email(settings, site, user, [item], digest=False)
            await queue_email(
                session,
                settings,
                tenant_id,
                user.email,
                rendered.subject,
                rendered.text,
                html_body=rendered.html,
                sender_name=rendered.sender_name,
                headers=rendered.headers,
            )
    await session.execute(
        update(Notification).where(Notification.id.in_([row.id for row in rows])).values(email_state="sent")
    )
    return len(rows)
