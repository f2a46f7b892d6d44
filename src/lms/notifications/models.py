"""Notification rows: one per recipient and event, and each user's choices per kind and channel."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import UUID

from advanced_alchemy.types import DateTimeUTC
from sqlalchemy import ForeignKeyConstraint, Index, String, text
from sqlalchemy.orm import Mapped, mapped_column

from lms.db.base import Base, JsonDict, TenantScoped


class Notification(TenantScoped, Base):
    """One event for one user. Text is rendered when shown, in the reader's language, from `kind` and
    `params`; `email_state` says what the e-mail channel still owes (none, digest, sent, off)."""

    __tablename__ = "notifications"
    __tenant_table_args__ = (
        ForeignKeyConstraint(["tenant_id", "user_id"], ["users.tenant_id", "users.id"], ondelete="CASCADE"),
        Index("ix_notifications_inbox", "tenant_id", "user_id", "created_at"),
        Index(
            "ix_notifications_unread",
            "tenant_id",
            "user_id",
            postgresql_where=text("read_at IS NULL AND in_app"),
        ),
        Index(
            "ix_notifications_digest_due",
            "tenant_id",
            "user_id",
            postgresql_where=text("email_state = 'digest'"),
        ),
        Index(
            "ux_notifications_dedupe",
            "tenant_id",
            "dedupe_key",
            unique=True,
            postgresql_where=text("dedupe_key IS NOT NULL"),
        ),
    )

    user_id: Mapped[UUID] = mapped_column()
    kind: Mapped[str] = mapped_column(String(40))
    params: Mapped[dict[str, Any]] = mapped_column(JsonDict, default=dict)
    # A path on the tenant's site ("/courses/..."), never an outside address.
    link: Mapped[str | None] = mapped_column(String(500), default=None)
    in_app: Mapped[bool] = mapped_column(default=True)
    read_at: Mapped[datetime | None] = mapped_column(DateTimeUTC(timezone=True), default=None)
    # none (no e-mail) | instant (queued to the outbox now) | digest (waiting for the daily digest) | digested
    email_state: Mapped[str] = mapped_column(String(12), default="none")
    dedupe_key: Mapped[str | None] = mapped_column(String(200), default=None)


class NotificationPreference(TenantScoped, Base):
    """A user's choice for one kind and channel; absent rows mean the kind's default."""

    __tablename__ = "notification_preferences"
    __tenant_table_args__ = (
        ForeignKeyConstraint(["tenant_id", "user_id"], ["users.tenant_id", "users.id"], ondelete="CASCADE"),
        Index("ux_notification_preferences", "tenant_id", "user_id", "kind", "channel", unique=True),
    )

    user_id: Mapped[UUID] = mapped_column()
    kind: Mapped[str] = mapped_column(String(40))
    # in_app | email
    channel: Mapped[str] = mapped_column(String(12))
    # instant | digest | off (in-app knows instant and off)
    mode: Mapped[str] = mapped_column(String(12))
