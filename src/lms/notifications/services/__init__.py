"""The notification service every domain calls: `notify` (one user), `announce` (many), the inbox and
preferences. A notification is a row in the caller's transaction; an instant e-mail is a row in the mail
outbox in the same transaction (SMTP sends it after commit); a digest e-mail waits for the daily job."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any
from uuid import UUID

from sqlalchemy import DateTime, String, and_, case, cast, func, insert, literal, select, text, update
from sqlalchemy.dialects.postgresql import ARRAY, JSONB
from sqlalchemy.dialects.postgresql import UUID as PG_UUID
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncSession

from lms.config import Settings, get_settings
from lms.identity.queries import user_contact
from lms.lib import clock
from lms.lib.errors import NotFound, ValidationFailed
from lms.lib.ids import new_id
from lms.lib.jobs import enqueue_after_commit
from lms.lib.mail import queue_email
from lms.notifications.models import Notification, NotificationPreference
from lms.notifications.schemas import CHANNELS, KINDS, MODES, Kind
from lms.notifications.services.emails import (
    ALL_KINDS,
    email_item,
    locale_for,
    render_email,
    tenant_site,
    unsubscribe_token_valid,
)
from lms.notifications.tasks import SEND_PENDING_TASK
from lms.web import i18n

__all__ = [
    "KINDS",
    "announce",
    "mark_all_read",
    "mark_read",
    "notify",
    "preferences",
    "send_email_now",
    "set_preferences",
    "unread_count",
    "unsubscribe",
]


def _kind(kind: str) -> Kind:
    spec = KINDS.get(kind)
    if spec is None:
        raise ValidationFailed(f"unknown notification kind {kind!r}", field="kind")
    return spec


async def _modes(session: AsyncSession, user_id: UUID, spec: Kind) -> tuple[str, str]:
    """(in-app mode, e-mail mode) for one user and kind: their choice, else the kind's default."""
    if spec.required:
        return spec.in_app, "instant"
    rows = await session.execute(
        select(NotificationPreference.channel, NotificationPreference.mode).where(
            NotificationPreference.user_id == user_id, NotificationPreference.kind == spec.name
        )
    )
    chosen = {channel: mode for channel, mode in rows}
    return chosen.get("in_app", spec.in_app), chosen.get("email", spec.email)


async def notify(
    session: AsyncSession,
    tenant_id: UUID,
    user_id: UUID,
    kind: str,
    params: dict[str, Any] | None = None,
    *,
    link: str | None = None,
    dedupe_key: str | None = None,
    settings: Settings | None = None,
) -> bool:
    """Tell one user about an event, on the channels their preferences choose; True when something was
    written. `link` is a path on the tenant's site or, for transactional kinds (invitation, password
    reset), the full sign-in link, which is e-mailed and never stored in the inbox. A repeated
    `dedupe_key` writes nothing."""
    spec = _kind(kind)
    settings = settings or get_settings()
    params = {key: str(value) for key, value in (params or {}).items()}
    in_app, email = await _modes(session, user_id, spec)
    if in_app == "off" and email == "off":
        return False
    if spec.required:
        # The link holds a secret: e-mail only, no inbox row.
        return await send_email_now(session, settings, tenant_id, user_id, kind, params, link)
    # An instant e-mail is queued below in this transaction, so the row records it as sent.
    email_state = {"instant": "sent", "digest": "digest"}.get(email, "none")
    at = clock.now()
    statement = (
        pg_insert(Notification)
        .values(
            id=new_id(),
            tenant_id=tenant_id,
            user_id=user_id,
            kind=kind,
            params=params,
            link=link if link is None or link.startswith("/") else None,
            in_app=in_app != "off",
            email_state=email_state,
            dedupe_key=dedupe_key[:200] if dedupe_key else None,
            created_at=at,
            updated_at=at,
        )
        .on_conflict_do_nothing(index_elements=["tenant_id", "dedupe_key"], index_where=text("dedupe_key IS NOT NULL"))
        .returning(Notification.id)
    )
    written = (await session.execute(statement)).first() is not None
    if written and email_state == "sent":
        await send_email_now(session, settings, tenant_id, user_id, kind, params, link)
    return written


async def send_email_now(
    session: AsyncSession,
    settings: Settings,
    tenant_id: UUID,
    user_id: UUID,
    kind: str,
    params: dict[str, Any],
    link: str | None,
) -> bool:
    """Render one notification as a branded e-mail in the user's language and queue it in the outbox."""
    user = await user_contact(session, user_id)
    if user is None:
        return False
    site = await tenant_site(session, settings, tenant_id)
    params = {"site": site.name, "name": user.display_name, **params}
    with i18n.using_locale(locale_for(user, site), user.time_zone or "UTC"):
        rendered = render_email(settings, site, user, [email_item(site, kind, params, link)], digest=False)
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
    return True


@dataclass(frozen=True)
class Announced:
    recipients: int


async def announce(
    session: AsyncSession,
    tenant_id: UUID,
    user_ids: list[UUID],
    kind: str,
    params: dict[str, Any],
    *,
    link: str | None = None,
) -> Announced:
    """One event for many users in one statement: each row takes the user's preferences (else the
    kind's defaults); instant e-mails join the next digest run rather than 100,000 SMTP jobs at once."""
    spec = _kind(kind)
    if spec.required:
        raise ValidationFailed("a transactional kind is sent to one user at a time", field="kind")
    if link is not None and not link.startswith("/"):
        raise ValidationFailed("the link must be a path on this site", field="link")
    prefs = NotificationPreference.__table__
    in_app_pref, email_pref = prefs.alias("in_app_pref"), prefs.alias("email_pref")
    recipients = select(func.unnest(cast(literal(user_ids, ARRAY(PG_UUID())), ARRAY(PG_UUID()))).label("user_id"))
    r = recipients.subquery("r")
    email_mode = func.coalesce(email_pref.c.mode, spec.email)
    in_app_mode = func.coalesce(in_app_pref.c.mode, spec.in_app)
    at = clock.now()
    rows = (
        select(
            func.gen_random_uuid(),
            literal(tenant_id, PG_UUID()),
            r.c.user_id,
            literal(kind),
            cast(literal(json.dumps(params)), JSONB),
            literal(link, String()),
            in_app_mode != "off",
            case((email_mode == "off", "none"), else_=email_mode),
            literal(at, DateTime(timezone=True)),
            literal(at, DateTime(timezone=True)),
        )
        .select_from(r)
        .outerjoin(
            in_app_pref,
            and_(in_app_pref.c.user_id == r.c.user_id, in_app_pref.c.kind == kind, in_app_pref.c.channel == "in_app"),
        )
        .outerjoin(
            email_pref,
            and_(email_pref.c.user_id == r.c.user_id, email_pref.c.kind == kind, email_pref.c.channel == "email"),
        )
        .where(~and_(in_app_mode == "off", email_mode == "off"))
    )
    statement = insert(Notification).from_select(
        ["id", "tenant_id", "user_id", "kind", "params", "link", "in_app", "email_state", "created_at", "updated_at"],
        rows,
    )
    result = await session.execute(statement)
    # Instant e-mails of an announcement go out from a job, in batches, after commit.
    enqueue_after_commit(session, SEND_PENDING_TASK, str(tenant_id))
    return Announced(recipients=result.rowcount or 0)  # type: ignore[attr-defined]


async def inbox(
    session: AsyncSession, user_id: UUID, limit: int, offset: int, unread_only: bool = False
) -> tuple[list[Notification], int]:
    """The user's in-app notifications, newest first."""
    where = [Notification.user_id == user_id, Notification.in_app.is_(True)]
    if unread_only:
        where.append(Notification.read_at.is_(None))
    items = list(
        await session.scalars(
            select(Notification).where(*where).order_by(Notification.created_at.desc()).limit(limit).offset(offset)
        )
    )
    total = await session.scalar(select(func.count()).select_from(Notification).where(*where)) or 0
    return items, total


async def unread_count(session: AsyncSession, user_id: UUID) -> int:
    query = select(func.count()).where(
        Notification.user_id == user_id, Notification.in_app.is_(True), Notification.read_at.is_(None)
    )
    return await session.scalar(query) or 0


async def mark_read(session: AsyncSession, user_id: UUID, notification_id: UUID) -> Notification:
    """Mark one of the user's own notifications read (another user's is not found)."""
    item = await session.get(Notification, notification_id)
    if item is None or item.user_id != user_id or not item.in_app:
        raise NotFound("no such notification")
    if item.read_at is None:
        item.read_at = clock.now()
        await session.flush()
    return item


async def mark_all_read(session: AsyncSession, user_id: UUID) -> int:
    result = await session.execute(
        update(Notification)
        .where(Notification.user_id == user_id, Notification.in_app.is_(True), Notification.read_at.is_(None))
        .values(read_at=clock.now())
    )
    return result.rowcount or 0  # type: ignore[attr-defined]


@dataclass(frozen=True)
class Preference:
    kind: Kind
    in_app: str
    email: str


def visible_kinds(roles: frozenset[str]) -> list[Kind]:
    staff = bool(roles & {"instructor", "tenant_admin"})
    return [kind for kind in KINDS.values() if staff or not kind.staff_only]


async def preferences(session: AsyncSession, user_id: UUID, roles: frozenset[str]) -> list[Preference]:
    """Every kind the user can receive, with their choice per channel or the default."""
    rows = await session.execute(
        select(NotificationPreference.kind, NotificationPreference.channel, NotificationPreference.mode).where(
            NotificationPreference.user_id == user_id
        )
    )
    chosen = {(kind, channel): mode for kind, channel, mode in rows}
    return [
        Preference(
            kind,
            "instant" if kind.required else chosen.get((kind.name, "in_app"), kind.in_app),
            "instant" if kind.required else chosen.get((kind.name, "email"), kind.email),
        )
        for kind in visible_kinds(roles)
    ]


async def set_preferences(
    session: AsyncSession, tenant_id: UUID, user_id: UUID, choices: list[tuple[str, str, str]]
) -> None:
    """Store (kind, channel, mode) choices; all are checked before any is written."""
    for kind, channel, mode in choices:
        spec = KINDS.get(kind)
        if spec is None:
            raise ValidationFailed(f"unknown notification kind {kind!r}", field="kind")
        if channel not in CHANNELS:
            raise ValidationFailed("channel must be in_app or email", field="channel")
        if mode not in MODES or (channel == "in_app" and mode == "digest"):
            allowed = "instant or off" if channel == "in_app" else "instant, digest or off"
            raise ValidationFailed(f"mode must be {allowed}", field="mode")
        if spec.required:
            raise ValidationFailed(f"{kind} e-mails are always sent", field="kind")
    at = clock.now()
    for kind, channel, mode in choices:
        statement = pg_insert(NotificationPreference).values(
            id=new_id(),
            tenant_id=tenant_id,
            user_id=user_id,
            kind=kind,
            channel=channel,
            mode=mode,
            created_at=at,
            updated_at=at,
        )
        await session.execute(
            statement.on_conflict_do_update(
                index_elements=["tenant_id", "user_id", "kind", "channel"],
                set_={"mode": statement.excluded.mode, "updated_at": at},
            )
        )


async def unsubscribe(
    session: AsyncSession, settings: Settings, tenant_id: UUID, user_id: UUID, kind: str, token: str
) -> list[str]:
    """The one-click unsubscribe: turn e-mail off for `kind` (or every optional kind for a digest's
    link). The signed token is the authorization; the kinds turned off are returned."""
    if not unsubscribe_token_valid(settings, tenant_id, user_id, kind, token):
        raise ValidationFailed("this unsubscribe link is invalid or expired", field="t")
    if kind != ALL_KINDS and (kind not in KINDS or KINDS[kind].required):
        raise ValidationFailed("this unsubscribe link is invalid or expired", field="k")
    kinds = [k.name for k in KINDS.values() if not k.required] if kind == ALL_KINDS else [kind]
    await set_preferences(session, tenant_id, user_id, [(k, "email", "off") for k in kinds])
    # What was waiting for the digest is not sent either.
    await session.execute(
        update(Notification)
        .where(Notification.user_id == user_id, Notification.kind.in_(kinds), Notification.email_state == "digest")
        .values(email_state="none")
    )
    return kinds
